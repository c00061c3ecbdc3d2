"""Order files for the ETL tests: deterministic canonical CSVs and warehouse fingerprints."""

from __future__ import annotations

import csv
import random
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from connectors.orders.canonical import CANONICAL_COLUMNS
from etl.schema import dim_customer, dim_date, dim_product, fact_order, fact_order_line

HEADER = [
    "order_id", "line_no", "ordered_at", "customer_id", "customer_name", "customer_email",
    "sku", "product_name", "category", "quantity", "unit_price", "discount", "currency",
    "payment_method", "channel", "status", "invoiced_at", "due_at", "paid_at",
]  # fmt: skip
assert set(HEADER) <= set(CANONICAL_COLUMNS)

CATEGORIES = ["flat screens", "in-car video", "communication tools", "accessories", "services"]
METHODS = ["card", "transfer", "cheque", "financing"]


def order_rows(n_orders: int, seed: int = 1, prefix: str = "O") -> list[dict[str, str]]:
    """Canonical rows of ``n_orders`` valid orders (1-4 lines each), contiguous per order."""
    rng = random.Random(seed)
    rows: list[dict[str, str]] = []
    start = date(2023, 1, 1)
    for n in range(n_orders):
        ordered = start + timedelta(days=rng.randrange(700))
        invoiced = ordered + timedelta(days=rng.randrange(3))
        due = invoiced + timedelta(days=30)
        paid = invoiced + timedelta(days=rng.randrange(60))
        customer = f"C{rng.randrange(max(2, n_orders // 3))}"
        method = rng.choice(METHODS)
        for line in range(1, rng.randrange(1, 5) + 1):
            sku = f"SKU{rng.randrange(40)}"
            rows.append(
                {
                    "order_id": f"{prefix}{n}",
                    "line_no": str(line),
                    "ordered_at": ordered.isoformat(),
                    "customer_id": customer,
                    "customer_name": f"Customer {customer}",
                    "customer_email": f"{customer.lower()}@example.com",
                    "sku": sku,
                    "product_name": f"Product {sku}",
                    "category": CATEGORIES[int(sku[3:]) % len(CATEGORIES)],
                    "quantity": str(rng.randrange(1, 5)),
                    "unit_price": f"{rng.randrange(100, 300000) / 100:.2f}",
                    "discount": "0" if rng.random() < 0.8 else "1.50",
                    "currency": "EUR",
                    "payment_method": method,
                    "channel": "web",
                    "status": "completed",
                    "invoiced_at": invoiced.isoformat(),
                    "due_at": due.isoformat(),
                    "paid_at": paid.isoformat(),
                }
            )
    return rows


def write_csv(path: Path, rows: list[dict[str, str]], header: list[str] | None = None) -> Path:
    """Write canonical rows (UTF-8, comma, \\n)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header or HEADER, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


# Each fact key and the table it must be found in: on SQLite the loader does not have the
# engine check them row by row (etl.db.load_connection), and Spider never does.
_KEYS = (
    (fact_order.c.customer_key, dim_customer.c.customer_key),
    (fact_order.c.order_date_key, dim_date.c.date_key),
    (fact_order_line.c.order_key, fact_order.c.order_key),
    (fact_order_line.c.product_key, dim_product.c.product_key),
    (fact_order_line.c.customer_key, dim_customer.c.customer_key),
)


def dangling_keys(conn: Any) -> dict[str, int]:
    """Per fact key, how many rows name a row that is not there (all zero in a sound warehouse)."""
    counts = {}
    for key, target in _KEYS:
        missing = ~select(target).where(target == key).exists()
        counts[f"{key.table.name}.{key.name}"] = conn.execute(
            select(func.count()).select_from(key.table).where(missing)
        ).scalar_one()
    return counts


def fingerprint(engine: Engine) -> dict[str, Any]:
    """Row counts and sums of the star schema: equal fingerprints = equal warehouses. Fails if a
    fact key names a row that is not there."""
    with engine.connect() as conn:
        dangling = {k: n for k, n in dangling_keys(conn).items() if n}
        assert not dangling, f"fact keys naming no row: {dangling}"

        def one(query: Any) -> Any:
            return conn.execute(query).one()

        orders = one(
            select(
                func.count(),
                func.sum(fact_order.c.total_amount),
                func.sum(fact_order.c.n_lines),
                func.sum(fact_order.c.payment_delay_days),
            )
        )
        lines = one(
            select(
                func.count(),
                func.sum(fact_order_line.c.amount),
                func.sum(fact_order_line.c.quantity),
                func.sum(fact_order_line.c.line_no),
            )
        )
        return {
            "orders": orders[0],
            "total": round(Decimal(str(orders[1] or 0)), 2),
            "n_lines": int(orders[2] or 0),
            "delay": int(orders[3] or 0),
            "lines": lines[0],
            "amount": round(Decimal(str(lines[1] or 0)), 2),
            "quantity": round(Decimal(str(lines[2] or 0)), 3),
            "line_nos": int(lines[3] or 0),
            "customers": conn.scalar(select(func.count()).select_from(dim_customer)),
            "products": conn.scalar(select(func.count()).select_from(dim_product)),
            "dates": conn.scalar(select(func.count()).select_from(dim_date)),
        }


def empty_warehouse(engine: Engine) -> None:
    """Delete every row of every table (children first), keeping the schema."""
    from etl.schema import metadata

    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
