"""Writing validated orders into the star schema, one transaction per batch.

``write_batch`` runs inside the caller's transaction and writes everything a batch covers: the
dimensions it needs, its orders and lines, its rejects, the source's checkpoint (watermark and
file progress) and the run's counters. Committed together, they make a batch all-or-nothing, so a
killed loader leaves the warehouse at the end of its last committed batch.

Load semantics (``LoadMode``):
- ``merge`` (default): upsert on the natural key (source, order id). An order whose content hash
  is unchanged is not touched (a rerun writes nothing); a changed order is updated and its lines
  replaced; a new one is inserted.
- ``append``: insert only; an order already in the warehouse is an error (fast first loads).
- ``replace``: the source's orders are deleted first (by the caller, in the first batch's
  transaction), then inserted.

All statements are SQLAlchemy Core with ``executemany`` parameter lists, portable across SQLite
and MariaDB.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, TypeVar

from sqlalchemy import Date, DateTime, Table, and_, bindparam, delete, func, select, update
from sqlalchemy.engine import Connection

from connectors.orders.base import Checkpoint
from etl.schema import (
    dim_customer,
    dim_date,
    dim_product,
    etl_loaded_file,
    etl_reject,
    etl_run,
    etl_watermark,
    fact_order,
    fact_order_line,
)
from etl.validate import Order, Reject, raw_json

LoadMode = Literal["append", "replace", "merge"]

_ORDERED_AT = operator.attrgetter("ordered_at")
_IN_CHUNK = 500  # values per IN (...) list: well under every engine's parameter limit
T = TypeVar("T")


@dataclass(slots=True)
class BatchResult:
    """What one batch changed."""

    orders_inserted: int = 0
    orders_updated: int = 0
    orders_unchanged: int = 0
    lines_written: int = 0
    lines_loaded: int = 0
    rejects: int = 0


def _chunks(values: Sequence[T], size: int = _IN_CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def date_key(day: date) -> int:
    """The ``dim_date`` key of a day: yyyymmdd."""
    return day.year * 10000 + day.month * 100 + day.day


def _date_row(day: date) -> dict[str, Any]:
    iso = day.isocalendar()
    return {
        "date_key": date_key(day),
        "date": day,
        "year": day.year,
        "quarter": (day.month - 1) // 3 + 1,
        "month": day.month,
        "day": day.day,
        "weekday": day.weekday(),
        "iso_week": iso.week,
        "is_weekend": day.weekday() >= 5,
    }


def _ensure_dates(conn: Connection, days: Iterable[date]) -> None:
    wanted = {date_key(d): d for d in days}
    existing: set[int] = set()
    for part in _chunks(sorted(wanted)):
        existing.update(
            conn.scalars(select(dim_date.c.date_key).where(dim_date.c.date_key.in_(part)))
        )
    missing = [_date_row(wanted[k]) for k in sorted(set(wanted) - existing)]
    if missing:
        conn.execute(dim_date.insert(), missing)


def _customers(conn: Connection, source: str, orders: list[Order], now: datetime) -> dict[str, int]:
    """customer id -> customer_key, inserting new customers and updating changed attributes."""
    attrs: dict[str, dict[str, Any]] = {}
    for order in sorted(orders, key=_ORDERED_AT):
        row = attrs.get(order.customer_id)
        if row is None:
            row = attrs[order.customer_id] = {"first_seen_at": order.ordered_at}
        # The newest order's non-empty values describe the customer best.
        if order.customer_name is not None:
            row["name"] = order.customer_name
        if order.customer_email is not None:
            row["email"] = order.customer_email
        if order.customer_city is not None:
            row["city"] = order.customer_city
        if order.customer_country is not None:
            row["country"] = order.customer_country
    c = dim_customer.c
    keys: dict[str, int] = {}
    updates: list[dict[str, Any]] = []
    for part in _chunks(sorted(attrs)):
        query = select(
            c.customer_key,
            c.source_customer_id,
            c.name,
            c.email,
            c.city,
            c.country,
            c.first_seen_at,
        ).where(c.source == source, c.source_customer_id.in_(part))
        for existing in conn.execute(query):
            keys[existing.source_customer_id] = existing.customer_key
            new = attrs[existing.source_customer_id]
            changes: dict[str, Any] = {
                col: new[col]
                for col in ("name", "email", "city", "country")
                if col in new and new[col] != getattr(existing, col)
            }
            if new["first_seen_at"] < existing.first_seen_at:
                changes["first_seen_at"] = new["first_seen_at"]
            if changes:
                updates.append({"k": existing.customer_key, **_full_customer(existing, changes)})
    if updates:
        conn.execute(
            update(dim_customer)
            .where(c.customer_key == bindparam("k"))
            .values(
                name=bindparam("name"),
                email=bindparam("email"),
                city=bindparam("city"),
                country=bindparam("country"),
                first_seen_at=bindparam("first_seen_at"),
                updated_at=now,
            ),
            updates,
        )
    new_ids = [cid for cid in attrs if cid not in keys]
    if new_ids:
        conn.execute(
            dim_customer.insert(),
            [
                {
                    "source": source,
                    "source_customer_id": cid,
                    "name": attrs[cid].get("name"),
                    "email": attrs[cid].get("email"),
                    "city": attrs[cid].get("city"),
                    "country": attrs[cid].get("country"),
                    "first_seen_at": attrs[cid]["first_seen_at"],
                    "updated_at": now,
                }
                for cid in new_ids
            ],
        )
        for part in _chunks(new_ids):
            query = select(c.source_customer_id, c.customer_key).where(
                c.source == source, c.source_customer_id.in_(part)
            )
            keys.update({r[0]: r[1] for r in conn.execute(query)})
    return keys


def _full_customer(existing: Any, changes: dict[str, Any]) -> dict[str, Any]:
    return {
        col: changes.get(col, getattr(existing, col))
        for col in ("name", "email", "city", "country", "first_seen_at")
    }


def _products(conn: Connection, orders: list[Order], now: datetime) -> dict[str, int]:
    """sku -> product_key, inserting new products and updating changed names/categories."""
    attrs: dict[str, dict[str, Any]] = {}
    for order in sorted(orders, key=_ORDERED_AT):
        for line in order.lines:
            row = attrs.get(line.sku)
            if row is None:
                row = attrs[line.sku] = {}
            if line.product_name is not None:
                row["name"] = line.product_name
            if line.category is not None:
                row["category"] = line.category
            if line.brand is not None:
                row["brand"] = line.brand
    p = dim_product.c
    keys: dict[str, int] = {}
    updates: list[dict[str, Any]] = []
    for part in _chunks(sorted(attrs)):
        query = select(p.product_key, p.sku, p.name, p.category, p.brand).where(p.sku.in_(part))
        for existing in conn.execute(query):
            keys[existing.sku] = existing.product_key
            new = attrs[existing.sku]
            if any(new[col] != getattr(existing, col) for col in new):
                updates.append(
                    {
                        "k": existing.product_key,
                        **{
                            col: new.get(col, getattr(existing, col))
                            for col in ("name", "category", "brand")
                        },
                    }
                )
    if updates:
        conn.execute(
            update(dim_product)
            .where(p.product_key == bindparam("k"))
            .values(
                name=bindparam("name"),
                category=bindparam("category"),
                brand=bindparam("brand"),
                updated_at=now,
            ),
            updates,
        )
    new_skus = [sku for sku in attrs if sku not in keys]
    if new_skus:
        conn.execute(
            dim_product.insert(),
            [
                {
                    "sku": sku,
                    "name": attrs[sku].get("name"),
                    "category": attrs[sku].get("category"),
                    "brand": attrs[sku].get("brand"),
                    "updated_at": now,
                }
                for sku in new_skus
            ],
        )
        for part in _chunks(new_skus):
            query = select(p.sku, p.product_key).where(p.sku.in_(part))
            keys.update({r[0]: r[1] for r in conn.execute(query)})
    return keys


_ORDER_COLUMNS = (
    "source",
    "source_order_id",
    "customer_key",
    "order_date_key",
    "ordered_at",
    "channel",
    "payment_method",
    "currency",
    "status",
    "n_lines",
    "n_items",
    "total_amount",
    "invoiced_at",
    "due_at",
    "paid_at",
    "payment_delay_days",
    "lateness_days",
    "etl_run_id",
    "content_hash",
    "updated_at",
)


def _order_values(
    order: Order, source: str, customer_key: int, run_id: int, digest: str, now: datetime
) -> tuple[Any, ...]:
    """An order's ``fact_order`` values, in the order of ``_ORDER_COLUMNS``."""
    paid, invoiced, due = order.paid_at, order.invoiced_at, order.due_at
    return (
        source,
        order.order_id,
        customer_key,
        date_key(order.ordered_at),
        order.ordered_at,
        order.channel,
        order.payment_method,
        order.currency,
        order.status,
        len(order.lines),
        order.n_items,
        order.total_amount,
        invoiced,
        due,
        paid,
        (paid - invoiced).days if paid and invoiced else None,
        (paid - due).days if paid and due else None,
        run_id,
        digest,
        now,
    )


def _order_row(
    order: Order, source: str, customer_key: int, run_id: int, digest: str, now: datetime
) -> dict[str, Any]:
    return dict(
        zip(
            _ORDER_COLUMNS,
            _order_values(order, source, customer_key, run_id, digest, now),
            strict=True,
        )
    )


_LINE_COLUMNS = (
    "order_key",
    "line_no",
    "product_key",
    "quantity",
    "unit_price",
    "discount",
    "amount",
)


class _Memo(dict[Any, Any]):
    """A bind processor's results by value, each distinct value converted once.

    For the date and datetime columns, whose processors are Python functions (on SQLite) and
    whose values repeat across a batch (invoice, due and payment days, the batch's
    ``updated_at``). Equal values convert alike: the warehouse's datetimes are all naive.
    """

    __slots__ = ("_process",)

    def __init__(self, process: Callable[[Any], Any]) -> None:
        super().__init__()
        self._process = process

    def __missing__(self, value: Any) -> Any:
        result = self[value] = self._process(value)
        return result


def bulk_insert(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """``executemany`` of a compiled Core insert at the driver level.

    The values go through each column type's own bind processor (so they are stored exactly as
    a Core insert stores them), but without building and checking a parameter dict per row —
    the bulk of SQLAlchemy's per-row cost on large batches. Only the columns that have a
    processor are touched, and dates are converted once per distinct value.
    """
    dialect = conn.dialect
    compiled = table.insert().compile(dialect=dialect, column_keys=list(columns))
    convert: list[tuple[int, Callable[[Any], Any]]] = []
    for i, name in enumerate(columns):
        column_type = table.c[name].type
        processor = column_type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None:
            if isinstance(column_type, Date | DateTime):
                convert.append((i, _Memo(processor).__getitem__))
            else:
                convert.append((i, processor))
    if convert:
        converted: list[tuple[Any, ...]] = []
        for row in rows:
            values = list(row)
            for i, process in convert:
                values[i] = process(values[i])
            converted.append(tuple(values))
        rows = converted
    params: list[Any]
    if dialect.positional:
        positions = [list(columns).index(name) for name in compiled.positiontup or ()]
        if positions == list(range(len(columns))):
            params = list(rows)  # already in the statement's order (the usual case)
        else:
            params = [tuple(row[i] for i in positions) for row in rows]
    else:
        params = [dict(zip(columns, row, strict=True)) for row in rows]
    conn.exec_driver_sql(str(compiled), params)


def delete_source(conn: Connection, source: str) -> int:
    """Delete every order (and its lines) of ``source``; for ``replace`` loads. Returns orders."""
    keys = select(fact_order.c.order_key).where(fact_order.c.source == source)
    conn.execute(delete(fact_order_line).where(fact_order_line.c.order_key.in_(keys)))
    return conn.execute(delete(fact_order).where(fact_order.c.source == source)).rowcount


def write_batch(
    conn: Connection,
    *,
    source: str,
    run_id: int,
    orders: list[Order],
    rejects: list[Reject],
    checkpoint: Checkpoint | None,
    rows_read: int,
    mode: LoadMode = "merge",
    now: datetime,
) -> BatchResult:
    """Write one batch in the caller's transaction (see the module docstring)."""
    result = BatchResult(rejects=len(rejects))
    if orders:
        _ensure_dates(conn, {o.ordered_at.date() for o in orders})
        customer_keys = _customers(conn, source, orders, now)
        product_keys = _products(conn, orders, now)
        digests = {o.order_id: o.content_hash() for o in orders}
        existing: dict[str, tuple[int, str]] = {}
        if mode == "merge":
            ids = [o.order_id for o in orders]
            f = fact_order.c
            for part in _chunks(ids):
                query = select(f.source_order_id, f.order_key, f.content_hash).where(
                    f.source == source, f.source_order_id.in_(part)
                )
                existing.update({r[0]: (r[1], r[2]) for r in conn.execute(query)})
        new: list[Order] = []
        changed: list[tuple[int, Order]] = []
        for order in orders:
            found = existing.get(order.order_id)
            if found is None:
                new.append(order)
            elif found[1] == digests[order.order_id]:
                result.orders_unchanged += 1
            else:
                changed.append((found[0], order))
        order_keys: dict[str, int] = {}
        if changed:
            for key_part in _chunks([k for k, _ in changed]):
                conn.execute(
                    delete(fact_order_line).where(fact_order_line.c.order_key.in_(key_part))
                )
            rows = []
            for key, order in changed:
                row = _order_row(
                    order,
                    source,
                    customer_keys[order.customer_id],
                    run_id,
                    digests[order.order_id],
                    now,
                )
                del row["source"], row["source_order_id"]
                rows.append({"k": key, **{f"v_{c}": v for c, v in row.items()}})
                order_keys[order.order_id] = key
            conn.execute(
                update(fact_order)
                .where(fact_order.c.order_key == bindparam("k"))
                .values({c[2:]: bindparam(c) for c in rows[0] if c != "k"}),
                rows,
            )
            result.orders_updated = len(changed)
        if new:
            order_rows = [
                _order_values(
                    o, source, customer_keys[o.customer_id], run_id, digests[o.order_id], now
                )
                for o in new
            ]
            bulk_insert(conn, fact_order, _ORDER_COLUMNS, order_rows)
            f = fact_order.c
            for part in _chunks([o.order_id for o in new]):
                query = select(f.source_order_id, f.order_key).where(
                    f.source == source, f.source_order_id.in_(part)
                )
                order_keys.update({r[0]: r[1] for r in conn.execute(query)})
            result.orders_inserted = len(new)
        line_rows = [
            (
                order_keys[order.order_id],
                line.line_no,
                product_keys[line.sku],
                line.quantity,
                line.unit_price,
                line.discount,
                line.amount,
            )
            for order in (*new, *(o for _, o in changed))
            for line in order.lines
        ]
        if line_rows:
            bulk_insert(conn, fact_order_line, _LINE_COLUMNS, line_rows)
        result.lines_written = len(line_rows)
        result.lines_loaded = sum(len(o.lines) for o in orders)
    if rejects:
        conn.execute(
            etl_reject.insert(),
            [
                {
                    "run_id": run_id,
                    "source": source,
                    "source_key": r.key[:255],
                    "rule": r.rule[:32],
                    "reason": r.reason,
                    "raw": raw_json(r.raw),
                    "created_at": now,
                }
                for r in rejects
            ],
        )
    if checkpoint is not None:
        write_checkpoint(conn, source, run_id, checkpoint, now)
    conn.execute(
        update(etl_run)
        .where(etl_run.c.run_id == run_id)
        .values(
            rows_read=etl_run.c.rows_read + rows_read,
            rows_loaded=etl_run.c.rows_loaded + result.lines_loaded,
            rows_rejected=etl_run.c.rows_rejected + len(rejects),
        )
    )
    return result


def write_checkpoint(
    conn: Connection, source: str, run_id: int, checkpoint: Checkpoint, now: datetime
) -> None:
    """Store a source's watermark and file progress (in the caller's transaction)."""
    if checkpoint.cursor is not None:
        w = etl_watermark.c
        values = {"cursor_value": checkpoint.cursor[:64], "run_id": run_id, "updated_at": now}
        done = conn.execute(update(etl_watermark).where(w.source == source).values(values))
        if done.rowcount == 0:
            conn.execute(etl_watermark.insert().values(source=source, **values))
    progress = checkpoint.file
    if progress is not None:
        lf = etl_loaded_file.c
        values = {
            "sha256": progress.sha256,
            "size_bytes": progress.size_bytes,
            "rows": progress.rows,
            "status": progress.status,
            "run_id": run_id,
            "loaded_at": now,
        }
        where = and_(lf.source == source, lf.file_name == progress.file_name)
        found = conn.execute(select(func.count()).select_from(etl_loaded_file).where(where))
        if found.scalar_one():
            conn.execute(update(etl_loaded_file).where(where).values(values))
        else:
            conn.execute(
                etl_loaded_file.insert().values(
                    source=source, file_name=progress.file_name, **values
                )
            )
