"""Migration 0016: the index of a customer's orders covers what the per-customer aggregates read,
on every engine (on Spider's data nodes too), and a downgrade gives the old index back."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command

from etl.db import alembic_config, create_engine_for, current_revision, upgrade
from tests.etl.fixtures import BACKENDS, scratch_database, table_indexes

OLD = "ix_fact_order_customer_key_ordered_at"
NEW = "ix_fact_order_by_customer"
COVERING = ["customer_key", "ordered_at", "order_date_key", "status", "reporting_amount"]


@pytest.mark.parametrize("kind", BACKENDS)
def test_the_customer_index_covers_the_summary_and_a_downgrade_restores_the_old_one(
    kind: str, tmp_path: Path
) -> None:
    for url in scratch_database(kind, tmp_path):
        engine = create_engine_for(url)
        upgrade(engine, "0015")
        before = table_indexes(engine, "fact_order")
        assert before[OLD] == ["customer_key", "ordered_at"]
        assert NEW not in before
        upgrade(engine, "0016")
        after = table_indexes(engine, "fact_order")
        assert after[NEW] == COVERING
        assert OLD not in after
        assert {k: v for k, v in after.items() if k != NEW} == {
            k: v for k, v in before.items() if k != OLD
        }  # nothing else changed
        with engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0015")
        assert table_indexes(engine, "fact_order") == before
        assert current_revision(engine) == "0015"
        engine.dispose()


def test_the_summary_reads_the_index_alone_on_sqlite(tmp_path: Path) -> None:
    from datetime import date

    from sqlalchemy.dialects import sqlite

    from analytics.summary import model_summary_query

    engine = create_engine_for(f"sqlite:///{tmp_path / 'w.db'}")
    upgrade(engine)
    query = model_summary_query(date(2026, 1, 31))
    sql = str(query.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
    with engine.connect() as conn:
        plan = [str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")]
    engine.dispose()
    scans = [step for step in plan if "fact_order" in step]
    assert scans, plan
    assert all(f"COVERING INDEX {NEW}" in step for step in scans), plan
