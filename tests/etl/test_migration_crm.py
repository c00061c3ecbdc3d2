"""Migration 0008 builds exactly the operational CRM tables of etl/schema.py (the contract)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import inspect

from etl import schema
from etl.db import alembic_config, create_engine_for, upgrade

CRM_TABLES = (
    "crm_account",
    "crm_contact",
    "crm_lead",
    "crm_opportunity",
    "crm_case",
    "crm_activity",
    "crm_target_list",
    "crm_target_list_member",
    "crm_campaign_log",
    "crm_extract_state",
)

COMMON = {"id", "date_entered", "date_modified", "deleted", "extra", "extracted_run_id"}
# The columns the contract names (the statistics rely on them): added ones are fine, none missing.
CONTRACT = {
    "crm_account": COMMON
    | {"name", "account_type", "industry", "billing_city", "billing_country"}
    | {"assigned_user_id", "customer_key"},
    "crm_contact": COMMON
    | {"account_id", "first_name", "last_name", "email1", "lead_source", "assigned_user_id"}
    | {"customer_key"},
    "crm_lead": COMMON
    | {"account_id", "status", "lead_source", "converted", "contact_id", "account_name"}
    | {"opportunity_id", "assigned_user_id"},
    "crm_opportunity": COMMON
    | {"account_id", "name", "sales_stage", "amount", "currency_id", "probability"}
    | {"date_closed", "assigned_user_id"},
    "crm_case": COMMON
    | {"account_id", "case_number", "status", "state", "priority", "type", "assigned_user_id"},
    "crm_activity": COMMON
    | {"module", "parent_type", "parent_id", "account_id", "contact_id", "status", "direction"}
    | {"date_start", "duration_minutes"},
    "crm_target_list": COMMON | {"name", "list_type"},
    "crm_target_list_member": {"list_id", "module", "record_id", "deleted", "extracted_run_id"},
    "crm_campaign_log": COMMON
    | {"campaign_id", "target_id", "target_type", "activity_type", "activity_date"}
    | {"related_id", "related_type"},
    "crm_extract_state": {"module", "watermark", "watermark_id", "last_full_at", "run_id"},
}


def test_migration_matches_schema_and_contract(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'w.db'}")
    upgrade(engine)
    insp = inspect(engine)
    for name in CRM_TABLES:
        migrated = {c["name"]: c["nullable"] for c in insp.get_columns(name)}
        declared = {c.name: c.nullable for c in schema.metadata.tables[name].columns}
        assert migrated == declared, name
        assert CONTRACT[name] <= set(migrated), (name, CONTRACT[name] - set(migrated))
        assert migrated.get("deleted", False) is False, name  # deleted is NOT NULL
        pk = insp.get_pk_constraint(name)["constrained_columns"]
        assert pk == [c.name for c in schema.metadata.tables[name].primary_key.columns], name
    assert insp.get_pk_constraint("crm_target_list_member")["constrained_columns"] == [
        "list_id",
        "module",
        "record_id",
    ]
    engine.dispose()


def test_downgrade_removes_the_crm_tables(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'w.db'}")
    upgrade(engine)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0007")
    assert not set(CRM_TABLES) & set(inspect(engine).get_table_names())
    engine.dispose()
