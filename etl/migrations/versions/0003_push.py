"""Push tables: runs, per-account log, last pushed snapshot, follow-up dedupe, match issues.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24

Explicit tables, matching the "push" section of ``etl/schema.py``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def _id() -> sa.types.TypeEngine[int]:
    # BIGINT on servers; SQLite autoincrements only INTEGER PRIMARY KEY columns.
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _count(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.Integer(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "push_run",
        sa.Column("run_id", _id(), autoincrement=False, nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("full_push", sa.Boolean(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        _count("customers"),
        _count("matched"),
        _count("ambiguous"),
        _count("unmatched"),
        _count("created"),
        _count("updated"),
        _count("unchanged"),
        _count("failed"),
        _count("verified"),
        _count("list_added"),
        _count("list_removed"),
        _count("tasks_created"),
        _count("sugar_writes"),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["etl_run.run_id"], name=op.f("fk_push_run_run_id_etl_run")
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_push_run")),
    )
    op.create_table(
        "push_log",
        sa.Column("log_id", _id(), autoincrement=True, nullable=False),
        sa.Column("run_id", _id(), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=True),
        sa.Column("customer_key", _id(), nullable=True),
        sa.Column("operation", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("old_values", sa.JSON(), nullable=True),
        sa.Column("new_values", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["push_run.run_id"], name=op.f("fk_push_log_run_id_push_run")
        ),
        sa.PrimaryKeyConstraint("log_id", name=op.f("pk_push_log")),
    )
    op.create_index(op.f("ix_push_log_run_id_status"), "push_log", ["run_id", "status"])
    op.create_index(op.f("ix_push_log_account_id"), "push_log", ["account_id"])
    op.create_table(
        "push_snapshot",
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("customer_key", _id(), nullable=True),
        sa.Column("run_id", _id(), nullable=False),
        sa.Column("pushed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "field", name=op.f("pk_push_snapshot")),
    )
    op.create_table(
        "push_followup",
        sa.Column("followup_id", _id(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("from_value", sa.String(length=255), nullable=False),
        sa.Column("to_value", sa.String(length=255), nullable=False),
        sa.Column("from_run_id", _id(), nullable=False),
        sa.Column("module", sa.String(length=16), nullable=False),
        sa.Column("record_id", sa.String(length=36), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("run_id", _id(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("followup_id", name=op.f("pk_push_followup")),
        sa.UniqueConstraint(
            "account_id",
            "rule",
            "from_value",
            "to_value",
            "from_run_id",
            name=op.f("uq_push_followup_account_id_rule_from_value_to_value_from_run_id"),
        ),
    )
    op.create_table(
        "push_match_issue",
        sa.Column("customer_key", _id(), autoincrement=False, nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=True),
        sa.Column("candidates", sa.JSON(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("run_id", _id(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("customer_key", name=op.f("pk_push_match_issue")),
    )


def downgrade() -> None:
    op.drop_table("push_match_issue")
    op.drop_table("push_followup")
    op.drop_table("push_snapshot")
    op.drop_index(op.f("ix_push_log_account_id"), table_name="push_log")
    op.drop_index(op.f("ix_push_log_run_id_status"), table_name="push_log")
    op.drop_table("push_log")
    op.drop_table("push_run")
