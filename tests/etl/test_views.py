"""The ``customer_habits`` view: generated from the metrics table, and what a migration made.

The schema-drift test (``test_db.test_migrations_match_schema``) compares tables only; a view is
invisible to it. These tests close the gap: the view of a migrated warehouse must expose exactly
the columns that ``etl.schema.customer_habits_select()`` generates from ``customer_metrics``, so a
metrics column added by a migration that forgets to recreate the view fails here.
"""

from __future__ import annotations

from sqlalchemy import create_engine, inspect
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
