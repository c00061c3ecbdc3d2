"""CRM records for the analytics tests: rows written straight into the ``crm_*`` tables (which
the extraction from Sugar fills in production), as the extraction writes them."""

from __future__ import annotations

import itertools
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.engine import Connection

from etl.schema import (
    crm_account,
    crm_activity,
    crm_campaign_log,
    crm_case,
    crm_contact,
    crm_lead,
    crm_opportunity,
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        crm_account,
        crm_contact,
        crm_lead,
        crm_opportunity,
        crm_case,
        crm_activity,
        crm_campaign_log,
    )
}


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
    conn.execute(insert(TABLES[table]).values(**values))
    return str(values["id"])


def day(value: str) -> datetime:
    return datetime.fromisoformat(value)


__all__ = ["TABLES", "add", "date", "day", "new_id"]
