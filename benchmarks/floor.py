"""The floor of a load: the same rows into the same tables by bare ``executemany``, nothing else.

No validation, no lookups, no content hashes, no merge: the keys are assigned here, each batch is
one transaction with one ``executemany`` per table. What the ETL does on top of this (validating
every field, merging on natural keys, keeping rejects and watermarks) is the price of its
guarantees; the load benchmark reports it as a ratio to this floor. The analytics benchmark also
uses it to fill big warehouses quickly.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from connectors.orders.canonical import DEFAULT_BATCH_LINES
from etl.load import date_key
from etl.schema import dim_customer, dim_date, dim_product, fact_order, fact_order_line

Rows = list[dict[str, Any]]
NOW = datetime(2026, 11, 24, 2, 0)


def _day(text: str) -> date | None:
    return date.fromisoformat(text) if text else None


def _date_row(day: date) -> dict[str, Any]:
    return {
        "date_key": date_key(day),
        "date": day,
        "year": day.year,
        "quarter": (day.month - 1) // 3 + 1,
        "month": day.month,
        "day": day.day,
        "weekday": day.weekday(),
        "iso_week": day.isocalendar().week,
        "is_weekend": day.weekday() >= 5,
    }


class _Keys:
    """Surrogate keys handed out by the floor itself (no read-back)."""

    def __init__(self) -> None:
        self.customers: dict[str, int] = {}
        self.products: dict[str, int] = {}
        self.dates: set[int] = set()
        self.orders = 0


def batches(
    path: Path, batch_lines: int, keys: _Keys, source: str = "csv"
) -> Iterator[dict[str, Rows]]:
    """Rows per table for each batch of whole orders of ``path`` (parsed, typed, keyed)."""
    out: dict[str, Rows] = {"date": [], "customer": [], "product": [], "order": [], "line": []}
    current = ""
    n = 0
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        for row in reader:
            oid = row["order_id"]
            if oid != current:
                if n >= batch_lines:
                    yield out
                    out = {k: [] for k in out}
                    n = 0
                current = oid
                ordered = datetime.fromisoformat(row["ordered_at"])
                dk = date_key(ordered.date())
                if dk not in keys.dates:
                    keys.dates.add(dk)
                    out["date"].append(_date_row(ordered.date()))
                cid = row["customer_id"]
                if cid not in keys.customers:
                    keys.customers[cid] = len(keys.customers) + 1
                    out["customer"].append(
                        {
                            "customer_key": keys.customers[cid],
                            "source": source,
                            "source_customer_id": cid,
                            "name": row["customer_name"],
                            "email": row["customer_email"],
                            "city": row["customer_city"],
                            "country": row["customer_country"],
                            "first_seen_at": ordered,
                            "updated_at": NOW,
                        }
                    )
                keys.orders += 1
                invoiced, due, paid = (_day(row[c]) for c in ("invoiced_at", "due_at", "paid_at"))
                order: dict[str, Any] = {
                    "order_key": keys.orders,
                    "source": source,
                    "source_order_id": oid,
                    "customer_key": keys.customers[cid],
                    "order_date_key": dk,
                    "ordered_at": ordered,
                    "channel": row["channel"],
                    "payment_method": row["payment_method"],
                    "currency": row["currency"],
                    "status": row["status"],
                    "n_lines": 0,
                    "n_items": Decimal(0),
                    "total_amount": Decimal(0),
                    "invoiced_at": invoiced,
                    "due_at": due,
                    "paid_at": paid,
                    "payment_delay_days": (paid - invoiced).days if paid and invoiced else None,
                    "lateness_days": (paid - due).days if paid and due else None,
                    "etl_run_id": 1,
                    "content_hash": "-",
                    "updated_at": NOW,
                }
                out["order"].append(order)
            sku = row["sku"]
            if sku not in keys.products:
                keys.products[sku] = len(keys.products) + 1
                out["product"].append(
                    {
                        "product_key": keys.products[sku],
                        "sku": sku,
                        "name": row["product_name"],
                        "category": row["category"],
                        "brand": row["brand"],
                        "updated_at": NOW,
                    }
                )
            quantity = Decimal(row["quantity"])
            price = Decimal(row["unit_price"])
            discount = Decimal(row["discount"] or "0")
            amount = (quantity * price - discount).quantize(Decimal("0.01"))
            order["n_lines"] += 1
            order["n_items"] += quantity
            order["total_amount"] += amount
            out["line"].append(
                {
                    "order_key": keys.orders,
                    "customer_key": keys.customers[cid],
                    "line_no": int(row["line_no"]),
                    "product_key": keys.products[sku],
                    "quantity": quantity,
                    "unit_price": price,
                    "discount": discount,
                    "amount": amount,
                }
            )
            n += 1
    if n:
        yield out


TABLES = {
    "date": dim_date,
    "customer": dim_customer,
    "product": dim_product,
    "order": fact_order,
    "line": fact_order_line,
}


def insert_batch(engine: Engine, batch: dict[str, Rows]) -> None:
    """One transaction, one SQLAlchemy Core ``executemany`` per table."""
    with engine.begin() as conn:
        for name, table in TABLES.items():
            if batch[name]:
                conn.execute(table.insert(), batch[name])


Prepared = list[tuple[str, list[Any]]]  # (INSERT statement, driver-ready parameter rows)


def prepare_batch(engine: Engine, batch: dict[str, Rows]) -> Prepared:
    """The batch as driver-level statements and parameters, values already converted by each
    column type's bind processor (what any SQLAlchemy insert must do to them)."""
    dialect = engine.dialect
    out: Prepared = []
    for name, table in TABLES.items():
        rows = batch[name]
        if not rows:
            continue
        columns = list(rows[0])
        compiled = table.insert().compile(dialect=dialect, column_keys=columns)
        procs = [table.c[c].type.dialect_impl(dialect).bind_processor(dialect) for c in columns]
        values = [
            tuple(
                v if f is None or v is None else f(v)
                for f, v in zip(procs, (r[c] for c in columns), strict=True)
            )
            for r in rows
        ]
        params: list[Any]
        if dialect.positional:
            order = [columns.index(n) for n in compiled.positiontup or ()]
            params = [tuple(v[i] for i in order) for v in values]
        else:
            params = [dict(zip(columns, v, strict=True)) for v in values]
        out.append((str(compiled), params))
    return out


def floor_load(
    url: str, path: str, batch_lines: int = DEFAULT_BATCH_LINES, level: str = "driver"
) -> dict[str, float]:
    """Parse ``path`` into rows (untimed), then time their bare inserts; also the parse time.

    ``level="driver"``: the DBAPI cursor's ``executemany`` of ready parameter rows (the true
    floor); ``level="core"``: SQLAlchemy Core ``conn.execute(table.insert(), rows)``.
    Returns ``{"parse_s", "insert_s", "lines"}``. The parsed rows are held in memory (the floor
    has no memory target); they are inserted batch by batch, one transaction each, as the ETL.
    """
    from etl.db import create_engine_for

    engine = create_engine_for(url)
    start = time.perf_counter()
    parsed = list(batches(Path(path), batch_lines, _Keys()))
    prepared = [prepare_batch(engine, b) for b in parsed] if level == "driver" else []
    parse_s = time.perf_counter() - start
    start = time.perf_counter()
    if level == "driver":
        for statements in prepared:
            with engine.begin() as conn:
                for sql, params in statements:
                    conn.exec_driver_sql(sql, params)
    else:
        for batch in parsed:
            insert_batch(engine, batch)
    insert_s = time.perf_counter() - start
    engine.dispose()
    return {
        "parse_s": parse_s,
        "insert_s": insert_s,
        "lines": float(sum(len(b["line"]) for b in parsed)),
    }


def bulk_fill(url: str, path: str, batch_lines: int = 100_000) -> int:
    """Fill an empty warehouse from ``path`` the fast way (streamed); returns lines."""
    from etl.db import create_engine_for

    engine = create_engine_for(url)
    lines = 0
    for batch in batches(Path(path), batch_lines, _Keys()):
        insert_batch(engine, batch)
        lines += len(batch["line"])
    engine.dispose()
    return lines
