"""Migration 0015: SQLite keeps order lines in their key's b-tree (WITHOUT ROWID), rows kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from etl.db import alembic_config, create_engine_for, current_revision, upgrade

LINES = "SELECT * FROM fact_order_line ORDER BY order_key, line_no"


def _ddl(engine: Engine) -> str:
    with engine.connect() as conn:
        sql = conn.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'fact_order_line'"
        ).scalar_one()
    return " ".join(str(sql).split())


def _indexes(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("PRAGMA index_list(fact_order_line)").fetchall()
    return {r[1] for r in rows}


def _fill(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO dim_customer (customer_key, source, source_customer_id, first_seen_at,"
            " updated_at) VALUES (1, 'csv', 'C1', '2026-01-02 10:00:00', '2026-01-02 10:00:00')"
        ))  # fmt: skip
        conn.execute(text(
            "INSERT INTO dim_product (product_key, sku, updated_at)"
            " VALUES (7, 'SKU7', '2026-01-02 10:00:00')"
        ))  # fmt: skip
        conn.execute(text(
            "INSERT INTO dim_date (date_key, date, year, quarter, month, day, weekday, iso_week,"
            " is_weekend) VALUES (20260102, '2026-01-02', 2026, 1, 1, 2, 4, 1, FALSE)"
        ))  # fmt: skip
        conn.execute(text(
            "INSERT INTO fact_order (order_key, source, source_order_id, customer_key,"
            " order_date_key, ordered_at, currency, status, n_lines, n_items, total_amount,"
            " etl_run_id, content_hash, updated_at) VALUES (5, 'csv', 'O1', 1, 20260102,"
            " '2026-01-02 10:00:00', 'EUR', 'completed', 2, 3, 30.123456, 1, 'h',"
            " '2026-01-02 10:00:00')"
        ))  # fmt: skip
        for line_no, price in ((2, 10.123456), (1, 20.0)):  # out of key order on purpose
            conn.execute(
                text(
                    "INSERT INTO fact_order_line (order_key, line_no, product_key, quantity,"
                    " unit_price, discount, amount, customer_key)"
                    " VALUES (5, :n, 7, 1.5, :p, 0, :p, 1)"
                ),
                {"n": line_no, "p": price},
            )


def test_a_new_sqlite_warehouse_stores_lines_without_rowid(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'w.db'}")
    upgrade(engine)
    assert _ddl(engine).endswith("WITHOUT ROWID")
    engine.dispose()


def test_upgrade_keeps_every_line_and_key_and_downgrade_restores_the_rowid_table(
    tmp_path: Path,
) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'w.db'}")
    upgrade(engine, "0014")
    _fill(engine)
    assert "WITHOUT ROWID" not in _ddl(engine)
    with engine.connect() as conn:
        before = conn.exec_driver_sql(LINES).fetchall()
    upgrade(engine, "0015")
    assert current_revision(engine) == "0015"
    assert _ddl(engine).endswith("WITHOUT ROWID")
    assert _indexes(engine) >= {"ix_fact_order_line_product_key"}
    with engine.connect() as conn:
        assert conn.exec_driver_sql(LINES).fetchall() == before
        assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
    # The key and the foreign keys still hold.
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO fact_order_line VALUES (5, 1, 7, 1, 1, 0, 1, 1)")
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO fact_order_line VALUES (99, 1, 7, 1, 1, 0, 1, 1)")
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0014")
    assert "WITHOUT ROWID" not in _ddl(engine)
    assert "ix_fact_order_line_product_key" in _indexes(engine)
    with engine.connect() as conn:
        assert conn.exec_driver_sql(LINES).fetchall() == before
    upgrade(engine)
    assert _ddl(engine).endswith("WITHOUT ROWID")
    engine.dispose()
