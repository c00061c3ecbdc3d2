"""Every real line kept: prices and amounts with up to 6 decimals, an optional line_amount,
the columnar reader's fallback, the money migration and MariaDB's multi-row inserts.

Run on SQLite and (marker ``mysql``) on MariaDB through the ``warehouse`` fixture.
"""

from __future__ import annotations

import csv
import random
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import select, text
from sqlalchemy.engine import Engine

import connectors.orders.csv_source as csv_source
from etl import load_csv
from etl.db import (
    alembic_config,
    create_engine_for,
    current_revision,
    ensure_current,
    head_revision,
)
from etl.schema import etl_reject, fact_order, fact_order_line
from tests.etl.data import HEADER, empty_warehouse, fingerprint, order_rows, write_csv

SIX = Decimal("0.000001")


def cdnow_rows(n_orders: int, seed: int = 3) -> list[dict[str, str]]:
    """Lines like CDNOW's transactions: an amount and a quantity, unit price = amount / quantity
    written with 6 decimals (38.71 / 3 = 12.903333)."""
    rng = random.Random(seed)
    rows = []
    for n in range(n_orders):
        for line in range(1, rng.randrange(1, 4) + 1):
            quantity = rng.randrange(1, 8)
            amount = Decimal(rng.randrange(100, 50_000)) / 100
            price = (amount / quantity).quantize(SIX, ROUND_HALF_UP)
            rows.append(
                {
                    "order_id": f"CD{n}",
                    "line_no": str(line),
                    "ordered_at": f"1997-0{1 + n % 9}-1{n % 10}",
                    "customer_id": f"U{n % 97}",
                    "sku": f"CD{rng.randrange(500)}",
                    "quantity": str(quantity),
                    "unit_price": f"{price:f}",
                    "line_amount": f"{amount:f}",
                }
            )
    return rows


CDNOW_HEADER = [
    "order_id", "line_no", "ordered_at", "customer_id", "sku", "quantity", "unit_price",
    "line_amount",
]  # fmt: skip


def test_cdnow_like_file_loads_every_line_exactly(warehouse: Engine, tmp_path: Path) -> None:
    rows = cdnow_rows(300)
    assert any(len(r["unit_price"].split(".")[1]) == 6 for r in rows)  # the case of issue 18
    path = write_csv(tmp_path / "cdnow.csv", rows, CDNOW_HEADER)
    info = load_csv(warehouse, path)
    assert (info.rows_loaded, info.rows_rejected) == (len(rows), 0)
    with warehouse.connect() as conn:
        stored = conn.execute(
            select(
                fact_order.c.source_order_id,
                fact_order_line.c.line_no,
                fact_order_line.c.unit_price,
                fact_order_line.c.amount,
            ).join(fact_order, fact_order.c.order_key == fact_order_line.c.order_key)
        ).all()
        totals = {
            r[0]: r[1]
            for r in conn.execute(select(fact_order.c.source_order_id, fact_order.c.total_amount))
        }
    got = {(r[0], r[1]): (Decimal(r[2]), Decimal(r[3])) for r in stored}
    for row in rows:
        price, amount = got[(row["order_id"], int(row["line_no"]))]
        assert price == Decimal(row["unit_price"])  # all 6 decimals, exactly
        assert amount == Decimal(row["line_amount"])  # the given amount, not quantity × price
    for order_id, total in totals.items():
        expected = sum(Decimal(r["line_amount"]) for r in rows if r["order_id"] == order_id)
        assert Decimal(total) == expected


def test_line_amount_beyond_a_cent_is_rejected_naming_both_values(
    warehouse: Engine, tmp_path: Path
) -> None:
    rows = cdnow_rows(5)
    rows[0]["line_amount"] = str(
        Decimal(rows[0]["quantity"]) * Decimal(rows[0]["unit_price"]) + Decimal("0.02")
    )
    path = write_csv(tmp_path / "cdnow.csv", rows, CDNOW_HEADER)
    info = load_csv(warehouse, path)
    assert info.rows_rejected == 1
    with warehouse.connect() as conn:
        reject = conn.execute(select(etl_reject)).one()
    assert reject.rule == "amount_mismatch"
    assert reject.source_key == "cdnow.csv:2"
    assert f"line_amount {rows[0]['line_amount']}" in reject.reason
    assert f"{rows[0]['quantity']} × {rows[0]['unit_price']}" in reject.reason


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("unit_price", "12.9033331", "bad_price"),  # 7 decimals
        ("unit_price", "-0.000001", "negative_price"),
        ("unit_price", "NaN", "not_a_number"),
        ("unit_price", "-inf", "not_a_number"),
        ("unit_price", "99999999999", "bad_price"),  # absurd magnitude
        ("quantity", "1e20", "bad_quantity"),
        ("line_amount", "1e13", "bad_amount"),
        ("discount", "0.0000001", "bad_discount"),
    ],
)
def test_hostile_numbers_stay_rejected(
    warehouse: Engine, tmp_path: Path, field: str, value: str, rule: str
) -> None:
    rows = cdnow_rows(3)
    for row in rows:
        row["discount"] = "0"
    rows[1][field] = value
    path = write_csv(tmp_path / "h.csv", rows, [*CDNOW_HEADER, "discount"])
    info = load_csv(warehouse, path)
    assert (info.rows_loaded, info.rows_rejected) == (len(rows) - 1, 1)
    with warehouse.connect() as conn:
        assert conn.scalar(select(etl_reject.c.rule)) == rule


def test_huge_computed_amount_is_rejected_not_a_crash(warehouse: Engine, tmp_path: Path) -> None:
    rows = order_rows(3)
    rows[0].update(quantity="99999999999", unit_price="9999999999")
    path = write_csv(tmp_path / "o.csv", rows)
    info = load_csv(warehouse, path)
    assert info.rows_rejected == 1
    with warehouse.connect() as conn:
        assert conn.scalar(select(etl_reject.c.rule)) == "bad_amount"


def test_careful_reader_takes_over_mid_file_with_exact_line_numbers(
    warehouse: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Blocks of plain lines go to pyarrow; from the first unusual block on (here a quoted line
    break, a blank line and a short line, far into the file) the csv module reads, and every
    key still names the right line."""
    monkeypatch.setattr(csv_source, "_BLOCK_BYTES", 1000)
    rows = order_rows(60)
    path = tmp_path / "mixed.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=HEADER, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows[:100])
        handle.write("\n")  # a blank line (line 102)
        writer.writerows([dict(rows[100], product_name="Two\nlines")])  # lines 103-104
        handle.write("short,line\n")  # line 105
        writer.writerows(rows[101:])
    info = load_csv(warehouse, path, batch_lines=17)
    with warehouse.connect() as conn:
        rejects = conn.execute(select(etl_reject.c.source_key, etl_reject.c.rule)).all()
    assert rejects == [("mixed.csv:105", "wrong_field_count")]
    assert info.rows_loaded == len(rows)
    reference = tmp_path / "ref"
    write_csv(reference / "mixed.csv", rows)
    engine = create_engine_for(f"sqlite:///{tmp_path / 'ref.db'}")
    load_csv(engine, reference / "mixed.csv")
    expected = fingerprint(engine)
    engine.dispose()
    assert fingerprint(warehouse) == expected  # a product name is the only difference


def test_money_migration_keeps_loaded_orders(tmp_path: Path) -> None:
    """0004 -> 0005 on a warehouse with orders: rows kept, then 6 decimals fit."""
    url = f"sqlite:///{tmp_path / 'w.db'}"
    engine = create_engine_for(url)
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0004")
    assert current_revision(engine) == "0004"
    # Rows as 0004's tables hold them (the loader itself needs the current schema).
    with engine.begin() as conn:
        for statement in (
            "INSERT INTO dim_customer (source, source_customer_id, first_seen_at, updated_at) "
            "VALUES ('csv', 'C1', '2024-01-01', '2024-01-01')",
            "INSERT INTO dim_date (date_key, date, year, quarter, month, day, weekday, iso_week, "
            "is_weekend) VALUES (20240101, '2024-01-01', 2024, 1, 1, 1, 0, 1, 0)",
            "INSERT INTO dim_product (sku, updated_at) VALUES ('S', '2024-01-01')",
            "INSERT INTO fact_order (source, source_order_id, customer_key, order_date_key, "
            "ordered_at, currency, status, n_lines, n_items, total_amount, etl_run_id, "
            "content_hash, updated_at) VALUES ('csv', 'X1', 1, 20240101, '2024-01-01', 'EUR', "
            "'completed', 1, 2, 25.8, 1, 'h', '2024-01-01')",
            "INSERT INTO fact_order_line (order_key, line_no, product_key, quantity, unit_price, "
            "discount, amount) VALUES (1, 1, 1, 2, 12.9, 0, 25.8)",
        ):
            conn.execute(text(statement))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        line = conn.execute(select(fact_order_line)).one()
        total = conn.scalar(select(fact_order.c.total_amount))
    assert (line.unit_price, line.amount, total) == (
        Decimal("12.9"),
        Decimal("25.8"),
        Decimal("25.8"),
    )
    info = load_csv(engine, write_csv(tmp_path / "c.csv", cdnow_rows(20), CDNOW_HEADER))
    assert info.rows_rejected == 0
    engine.dispose()


@pytest.mark.mysql
def test_pymysql_sends_multi_row_inserts(
    mysql_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PyMySQL rewrites the loader's executemany of INSERT ... VALUES into multi-row INSERTs:
    a few statements for hundreds of lines, not one per line."""
    import pymysql.cursors

    warehouse = create_engine_for(mysql_url)
    ensure_current(warehouse)
    empty_warehouse(warehouse)

    statements: list[str] = []
    query = pymysql.cursors.Cursor._query

    def counting(self: pymysql.cursors.Cursor, q: str | bytes | bytearray) -> int:
        statements.append(q if isinstance(q, str) else bytes(q).decode())
        return query(self, q)

    monkeypatch.setattr(pymysql.cursors.Cursor, "_query", counting)
    rows = order_rows(300)
    load_csv(warehouse, write_csv(tmp_path / "o.csv", rows))
    line_inserts = [s for s in statements if s.startswith("INSERT INTO fact_order_line")]
    assert len(line_inserts) == 1  # every line of the batch in one statement
    assert line_inserts[0].count("),(") == len(rows) - 1
    empty_warehouse(warehouse)
    warehouse.dispose()
