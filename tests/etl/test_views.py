"""The ``customer_habits`` view: generated from the metrics table, and what a migration made.

The schema-drift test (``test_db.test_migrations_match_schema``) compares tables only; a view is
invisible to it. These tests close the gap: the view of a migrated warehouse must expose exactly
the columns that ``etl.schema.customer_habits_select()`` generates from ``customer_metrics``, so a
metrics column added by a migration that forgets to recreate the view fails here.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Engine

from etl.schema import customer_habits_select, customer_metrics, metadata


def _generated() -> list[str]:
    return [column.name for column in customer_habits_select().selected_columns]


def test_the_generated_view_has_every_metrics_column_and_the_customer_name() -> None:
    names = _generated()
    assert sorted(names) == sorted([*customer_metrics.c.keys(), "customer_name"])
    assert names[:2] == ["run_id", "as_of"]
    assert names.index("customer_name") == names.index("sugar_account_id") + 1


def test_a_migrated_warehouse_has_the_generated_view(warehouse: Engine) -> None:
    # `warehouse` is migrated to head on SQLite, and on MariaDB / PostgreSQL under their markers.
    view = [column["name"] for column in inspect(warehouse).get_columns("customer_habits")]
    assert view == _generated()


def test_create_all_makes_the_generated_view() -> None:
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    view = [column["name"] for column in inspect(engine).get_columns("customer_habits")]
    assert view == _generated()
    metadata.drop_all(engine)
    assert "customer_habits" not in inspect(engine).get_view_names()


def test_0007_keeps_what_the_view_showed_and_skips_backdated_runs(tmp_path: Path) -> None:
    from etl.db import create_engine_for, upgrade

    engine = create_engine_for(f"sqlite:///{tmp_path / 'w.db'}")
    upgrade(engine, "0006")
    now = "2026-01-01 00:00:00"
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO dim_customer (customer_key, source, source_customer_id,"
                f" first_seen_at, updated_at) VALUES (1, 'shop', 'C1', '{now}', '{now}')"
            )
        )
        for run_id in (1, 2):
            conn.execute(
                text(
                    "INSERT INTO etl_run (run_id, job, started_at, status, rows_read,"
                    f" rows_loaded, rows_rejected) VALUES ({run_id}, 'analytics', '{now}',"
                    " 'ok', 0, 0, 0)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO analytics_run (run_id, as_of, n_customers, n_buyers,"
                    f" time_unit, created_at) VALUES ({run_id}, '2025-12-3{run_id - 1}', 1, 1,"
                    f" 'weeks', '{now}')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO customer_metrics (run_id, customer_key, as_of, source,"
                    " customer_id, n_orders, total_amount, lifecycle_stage) VALUES"
                    f" ({run_id}, 1, '2025-12-3{run_id - 1}', 'shop', 'C1', {run_id}, 10,"
                    " 'active')"
                )
            )
    upgrade(engine)
    with engine.begin() as conn:
        kinds = conn.execute(text("SELECT run_id, kind FROM analytics_run ORDER BY 1")).all()
        assert [tuple(k) for k in kinds] == [(1, "current"), (2, "current")]
        assert conn.execute(text("SELECT run_id FROM customer_habits")).scalar() == 2
        conn.execute(text("UPDATE analytics_run SET kind = 'backdated' WHERE run_id = 2"))
        assert conn.execute(text("SELECT run_id FROM customer_habits")).scalar() == 1
    engine.dispose()
