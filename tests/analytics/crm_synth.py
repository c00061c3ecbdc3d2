"""CRM records for the analytics tests: rows written straight into the ``crm_*`` tables.

The tables are the contract's (issue 16: the extraction from Sugar creates and fills them);
``ensure_crm_tables`` creates them with that layout where the warehouse does not already have
them, so these tests run whether or not the extraction's schema is in ``etl.schema``.
"""

from __future__ import annotations

import itertools
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    insert,
    inspect,
)
from sqlalchemy.engine import Connection, Engine

contract = MetaData()
Id = BigInteger().with_variant(Integer(), "sqlite")


def _table(name: str, *columns: Column[Any]) -> Table:
    return Table(
        name,
        contract,
        Column("id", String(36), primary_key=True),
        *columns,
        Column("date_entered", DateTime),
        Column("date_modified", DateTime),
        Column("deleted", Boolean, nullable=False),
        Column("extra", JSON),
        Column("extracted_run_id", Id, nullable=False),
    )


_table(
    "crm_account",
    Column("name", String(255)),
    Column("account_type", String(64)),
    Column("industry", String(64)),
    Column("billing_city", String(128)),
    Column("billing_country", String(64)),
    Column("assigned_user_id", String(36)),
    Column("customer_key", Id),
)
_table(
    "crm_contact",
    Column("account_id", String(36)),
    Column("first_name", String(100)),
    Column("last_name", String(100)),
    Column("email1", String(255)),
    Column("lead_source", String(64)),
    Column("assigned_user_id", String(36)),
    Column("customer_key", Id),
)
_table(
    "crm_lead",
    Column("account_id", String(36)),
    Column("status", String(32)),
    Column("lead_source", String(64)),
    Column("converted", Boolean),
    Column("contact_id", String(36)),
    Column("account_name", String(255)),
    Column("opportunity_id", String(36)),
    Column("assigned_user_id", String(36)),
)
_table(
    "crm_opportunity",
    Column("account_id", String(36)),
    Column("name", String(255)),
    Column("sales_stage", String(64)),
    Column("amount", Numeric(18, 6)),
    Column("currency_id", String(36)),
    Column("probability", Integer),
    Column("date_closed", Date),
    Column("assigned_user_id", String(36)),
)
_table(
    "crm_case",
    Column("account_id", String(36)),
    Column("case_number", Integer),
    Column("status", String(64)),
    Column("state", String(16)),
    Column("priority", String(16)),
    Column("type", String(64)),
    Column("assigned_user_id", String(36)),
)
_table(
    "crm_activity",
    Column("module", String(16)),
    Column("parent_type", String(64)),
    Column("parent_id", String(36)),
    Column("account_id", String(36)),
    Column("contact_id", String(36)),
    Column("status", String(64)),
    Column("direction", String(16)),
    Column("date_start", DateTime),
    Column("duration_minutes", Integer),
)
_table(
    "crm_campaign_log",
    Column("campaign_id", String(36)),
    Column("target_id", String(36)),
    Column("target_type", String(64)),
    Column("activity_type", String(64)),
    Column("activity_date", DateTime),
    Column("related_id", String(36)),
    Column("related_type", String(64)),
)

TABLES = tuple(contract.tables)


def ensure_crm_tables(engine: Engine) -> None:
    """Create the contract's CRM tables the warehouse does not have yet."""
    existing = set(inspect(engine).get_table_names())
    missing = [t for name, t in contract.tables.items() if name not in existing]
    contract.create_all(engine, tables=missing)


_ids = itertools.count(1)


def new_id(prefix: str) -> str:
    return f"{prefix}-{next(_ids):06d}"


def add(conn: Connection, table: str, **values: Any) -> str:
    """Insert one CRM row (defaults: not deleted, entered and modified on 2025-01-01)."""
    values.setdefault("id", new_id(table.removeprefix("crm_")))
    values.setdefault("date_entered", datetime(2025, 1, 1))
    values.setdefault("date_modified", values["date_entered"])
    values.setdefault("deleted", False)
    values.setdefault("extracted_run_id", 0)
    if "amount" in values and values["amount"] is not None:
        values["amount"] = Decimal(str(values["amount"]))
    conn.execute(insert(contract.tables[table]).values(**values))
    return str(values["id"])


def day(value: str) -> datetime:
    return datetime.fromisoformat(value)


__all__ = ["TABLES", "add", "date", "day", "ensure_crm_tables", "new_id"]
