"""The operational CRM: Sugar's records extracted into the warehouse (issue 16).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06

Explicit tables, matching the "operational CRM" section of ``etl/schema.py``: accounts,
contacts, leads, opportunities, cases, activities (calls, meetings, tasks, notes), target lists
and their members, the campaign log, and the per-module extraction watermark.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def _id() -> sa.types.TypeEngine[int]:
    # BIGINT on servers; SQLite autoincrements only INTEGER PRIMARY KEY columns.
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _sugar_id(name: str, *, nullable: bool = True) -> sa.Column[str]:
    return sa.Column(name, sa.String(length=36), nullable=nullable)


def _text(name: str, length: int) -> sa.Column[str]:
    return sa.Column(name, sa.String(length=length), nullable=True)


def _common(table: str) -> list[sa.schema.SchemaItem]:
    return [
        sa.Column("date_entered", sa.DateTime(), nullable=True),
        sa.Column("date_modified", sa.DateTime(), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("extra", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("extracted_run_id", _id(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
    ]


def upgrade() -> None:
    op.create_table(
        "crm_account",
        _sugar_id("id", nullable=False),
        _text("name", 255),
        _text("account_type", 100),
        _text("industry", 100),
        _text("billing_city", 100),
        _text("billing_country", 100),
        _sugar_id("assigned_user_id"),
        sa.Column("customer_key", _id(), nullable=True),
        *_common("crm_account"),
    )
    op.create_index("ix_crm_account_customer_key", "crm_account", ["customer_key"])

    op.create_table(
        "crm_contact",
        _sugar_id("id", nullable=False),
        _sugar_id("account_id"),
        _text("first_name", 100),
        _text("last_name", 100),
        _text("email1", 255),
        _text("lead_source", 100),
        _sugar_id("assigned_user_id"),
        sa.Column("customer_key", _id(), nullable=True),
        *_common("crm_contact"),
    )
    op.create_index("ix_crm_contact_account_id", "crm_contact", ["account_id"])
    op.create_index("ix_crm_contact_customer_key", "crm_contact", ["customer_key"])

    op.create_table(
        "crm_lead",
        _sugar_id("id", nullable=False),
        _sugar_id("account_id"),
        _text("status", 100),
        _text("lead_source", 100),
        sa.Column("converted", sa.Boolean(), nullable=True),
        _sugar_id("contact_id"),
        _text("account_name", 255),
        _sugar_id("opportunity_id"),
        _sugar_id("assigned_user_id"),
        *_common("crm_lead"),
    )
    op.create_index("ix_crm_lead_account_id", "crm_lead", ["account_id"])

    op.create_table(
        "crm_opportunity",
        _sugar_id("id", nullable=False),
        _sugar_id("account_id"),
        _text("name", 255),
        _text("sales_stage", 100),
        sa.Column("amount", sa.Numeric(precision=18, scale=6), nullable=True),
        _sugar_id("currency_id"),
        sa.Column("probability", sa.Integer(), nullable=True),
        sa.Column("date_closed", sa.Date(), nullable=True),
        _sugar_id("assigned_user_id"),
        *_common("crm_opportunity"),
    )
    op.create_index("ix_crm_opportunity_account_id", "crm_opportunity", ["account_id"])

    op.create_table(
        "crm_case",
        _sugar_id("id", nullable=False),
        _sugar_id("account_id"),
        sa.Column("case_number", sa.Integer(), nullable=True),
        _text("status", 100),
        _text("state", 100),
        _text("priority", 100),
        _text("type", 255),
        _sugar_id("assigned_user_id"),
        *_common("crm_case"),
    )
    op.create_index("ix_crm_case_account_id", "crm_case", ["account_id"])

    op.create_table(
        "crm_activity",
        _sugar_id("id", nullable=False),
        sa.Column("module", sa.String(length=16), nullable=False),
        _text("parent_type", 100),
        _sugar_id("parent_id"),
        _sugar_id("account_id"),
        _sugar_id("contact_id"),
        _text("status", 100),
        _text("direction", 100),
        sa.Column("date_start", sa.DateTime(), nullable=True),
        sa.Column("duration_minutes", sa.Integer(), nullable=True),
        _text("name", 255),
        *_common("crm_activity"),
    )
    op.create_index(
        "ix_crm_activity_account_id_date_start", "crm_activity", ["account_id", "date_start"]
    )
    op.create_index("ix_crm_activity_contact_id", "crm_activity", ["contact_id"])

    op.create_table(
        "crm_target_list",
        _sugar_id("id", nullable=False),
        _text("name", 255),
        _text("list_type", 100),
        *_common("crm_target_list"),
    )

    op.create_table(
        "crm_target_list_member",
        _sugar_id("list_id", nullable=False),
        sa.Column("module", sa.String(length=32), nullable=False),
        _sugar_id("record_id", nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("extracted_run_id", _id(), nullable=False),
        sa.PrimaryKeyConstraint("list_id", "module", "record_id", name="pk_crm_target_list_member"),
    )
    op.create_index("ix_crm_target_list_member_record_id", "crm_target_list_member", ["record_id"])

    op.create_table(
        "crm_campaign_log",
        _sugar_id("id", nullable=False),
        _sugar_id("campaign_id"),
        _sugar_id("target_id"),
        _text("target_type", 100),
        _text("activity_type", 100),
        sa.Column("activity_date", sa.DateTime(), nullable=True),
        _sugar_id("related_id"),
        _text("related_type", 100),
        *_common("crm_campaign_log"),
    )
    op.create_index("ix_crm_campaign_log_target_id", "crm_campaign_log", ["target_id"])

    op.create_table(
        "crm_extract_state",
        sa.Column("module", sa.String(length=32), nullable=False),
        sa.Column("watermark", sa.DateTime(), nullable=True),
        _sugar_id("watermark_id"),
        sa.Column("last_full_at", sa.DateTime(), nullable=True),
        sa.Column("run_id", _id(), nullable=False),
        sa.PrimaryKeyConstraint("module", name="pk_crm_extract_state"),
    )


def downgrade() -> None:
    for table in (
        "crm_extract_state",
        "crm_campaign_log",
        "crm_target_list_member",
        "crm_target_list",
        "crm_activity",
        "crm_case",
        "crm_opportunity",
        "crm_lead",
        "crm_contact",
        "crm_account",
    ):
        op.drop_table(table)
