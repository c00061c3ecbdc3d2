"""Migration 0003 builds exactly the push tables of etl/schema.py."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect

from etl import schema
from etl.db import create_engine_for, upgrade

PUSH_TABLES = ("push_run", "push_log", "push_snapshot", "push_followup", "push_match_issue")


def test_migration_matches_schema(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'w.db'}")
    upgrade(engine)
    insp = inspect(engine)
    for name in PUSH_TABLES:
        migrated = {c["name"]: c["nullable"] for c in insp.get_columns(name)}
        declared = {c.name: c.nullable for c in schema.metadata.tables[name].columns}
        assert migrated == declared, name
        pk = insp.get_pk_constraint(name)["constrained_columns"]
        assert pk == [c.name for c in schema.metadata.tables[name].primary_key.columns], name
    uniques = insp.get_unique_constraints("push_followup")
    assert [u["column_names"] for u in uniques] == [
        ["account_id", "rule", "from_value", "to_value", "from_run_id", "parent_type"]
    ]
    engine.dispose()
