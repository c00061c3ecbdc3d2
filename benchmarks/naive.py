"""The naive loader: what a 30-line script does — csv module + ``executemany`` into two tables.

It reads the canonical file with ``csv.reader``, keeps the text as read, and inserts orders (one
row per order: its first line's order-level fields) and lines into two tables of its own keyed
on natural keys, one transaction per batch, through the bare DBAPI cursor. No validation, no
rejects, no dimensions, no content hash, no merge, no checkpoint: the baseline any loader that
reads the file and writes two tables pays, and the one issue 18 compares the ETL with.
"""

from __future__ import annotations

import csv
import time
from typing import Any

from connectors.orders.canonical import DEFAULT_BATCH_LINES

ORDER_COLUMNS = ("order_id", "ordered_at", "customer_id", "currency", "payment_method",
                 "channel", "status", "invoiced_at", "due_at", "paid_at")  # fmt: skip
LINE_COLUMNS = ("order_id", "line_no", "sku", "quantity", "unit_price", "discount")


def _ddl() -> list[str]:
    text = "VARCHAR(128)"
    money = "DECIMAL(18,6)"
    return [
        "DROP TABLE IF EXISTS naive_line",
        "DROP TABLE IF EXISTS naive_order",
        f"CREATE TABLE naive_order ({', '.join(f'{c} {text}' for c in ORDER_COLUMNS)}, "
        "PRIMARY KEY (order_id))",
        f"CREATE TABLE naive_line (order_id {text}, line_no INTEGER, sku {text}, "
        f"quantity {money}, unit_price {money}, discount {money}, PRIMARY KEY (order_id, line_no))",
    ]


def naive_load(url: str, path: str, batch_lines: int = DEFAULT_BATCH_LINES) -> dict[str, float]:
    """Load ``path`` the naive way (tables created beforehand, untimed); returns lines, seconds."""
    from etl.db import create_engine_for

    engine = create_engine_for(url)
    with engine.begin() as conn:
        for statement in _ddl():
            conn.exec_driver_sql(statement)
    mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    insert_order = (f"INSERT INTO naive_order ({', '.join(ORDER_COLUMNS)}) "
                    f"VALUES ({', '.join([mark] * len(ORDER_COLUMNS))})")  # fmt: skip
    insert_line = (f"INSERT INTO naive_line ({', '.join(LINE_COLUMNS)}) "
                   f"VALUES ({', '.join([mark] * len(LINE_COLUMNS))})")  # fmt: skip
    start = time.perf_counter()
    lines = 0
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        oid = header.index("order_id")
        order_at = [header.index(c) for c in ORDER_COLUMNS]
        line_at = [header.index(c) for c in LINE_COLUMNS]
        orders: list[tuple[str | None, ...]] = []
        rows: list[tuple[str | None, ...]] = []
        current = None
        for record in reader:
            if record[oid] != current:
                if len(rows) >= batch_lines:
                    _flush(engine, insert_order, insert_line, orders, rows)
                    lines += len(rows)
                    orders, rows = [], []
                current = record[oid]
                orders.append(tuple([record[i] or None for i in order_at]))
            rows.append(tuple([record[i] or None for i in line_at]))
        _flush(engine, insert_order, insert_line, orders, rows)
        lines += len(rows)
    seconds = time.perf_counter() - start
    engine.dispose()
    return {"lines": float(lines), "seconds": seconds}


def _flush(
    engine: Any, insert_order: str, insert_line: str, orders: list[Any], rows: list[Any]
) -> None:
    """One transaction: the driver's ``executemany`` for the orders, then for the lines."""
    with engine.begin() as conn:
        conn.exec_driver_sql(insert_order, orders)
        conn.exec_driver_sql(insert_line, rows)
