"""Analytics tables: analytics runs, per-customer metrics per run, the customer_habits view.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24

Explicit tables, matching the "analytics" section of ``etl/schema.py`` at this revision; the view
as it was created at this revision (``etl.schema.customer_habits_select()`` generates the current
one from the metrics table; ``tests/etl/test_views.py`` checks a migrated warehouse against it).
"""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

# Frozen: a migration keeps creating what it created at its revision, whatever the metrics
# table becomes; a later migration that changes the view recreates it with its own frozen SQL.
CUSTOMER_HABITS_VIEW_SQL = (
    "CREATE VIEW customer_habits AS SELECT m.run_id, m.as_of, m.customer_key, m.source,"
    " m.customer_id, COALESCE(c.sugar_account_id, m.sugar_account_id) AS sugar_account_id,"
    " c.name AS customer_name, m.n_orders, m.first_order_at, m.last_order_at, m.recency_days,"
    " m.mean_days_between_orders, m.orders_per_month, m.total_amount, m.avg_order_amount,"
    " m.avg_items_per_order, m.top_category, m.category_share, m.preferred_payment_method,"
    " m.avg_payment_delay_days, m.late_payment_share, m.preferred_channel,"
    " m.repeat_purchase_days, m.r_score, m.f_score, m.m_score, m.rfm_segment,"
    " m.lifecycle_stage, m.p_alive, m.expected_orders_90d, m.clv_12m"
    " FROM customer_metrics m JOIN dim_customer c ON c.customer_key = m.customer_key"
    " WHERE m.run_id = (SELECT MAX(run_id) FROM customer_metrics)"
)


def _id() -> sa.types.TypeEngine[int]:
    # BIGINT on servers; SQLite autoincrements only INTEGER PRIMARY KEY columns.
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _money() -> sa.Numeric[Decimal]:
    return sa.Numeric(14, 2)


def upgrade() -> None:
    op.create_table(
        "analytics_run",
        sa.Column("run_id", _id(), autoincrement=False, nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("n_customers", sa.Integer(), nullable=False),
        sa.Column("n_buyers", sa.Integer(), nullable=False),
        sa.Column("time_unit", sa.String(length=8), nullable=False),
        sa.Column("models", sa.JSON(), nullable=True),
        sa.Column("portfolio", sa.JSON(), nullable=True),
        sa.Column("config", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["etl_run.run_id"], name=op.f("fk_analytics_run_run_id_etl_run")
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_analytics_run")),
    )
    op.create_index(op.f("ix_analytics_run_as_of"), "analytics_run", ["as_of"])
    op.create_table(
        "customer_metrics",
        sa.Column("run_id", _id(), nullable=False),
        sa.Column("customer_key", _id(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=128), nullable=False),
        sa.Column("sugar_account_id", sa.String(length=36), nullable=True),
        sa.Column("n_orders", sa.Integer(), nullable=False),
        sa.Column("first_order_at", sa.DateTime(), nullable=True),
        sa.Column("last_order_at", sa.DateTime(), nullable=True),
        sa.Column("recency_days", sa.Integer(), nullable=True),
        sa.Column("mean_days_between_orders", sa.Double(), nullable=True),
        sa.Column("orders_per_month", sa.Double(), nullable=True),
        sa.Column("total_amount", _money(), nullable=False),
        sa.Column("avg_order_amount", _money(), nullable=True),
        sa.Column("avg_items_per_order", sa.Double(), nullable=True),
        sa.Column("top_category", sa.String(length=64), nullable=True),
        sa.Column("category_share", sa.JSON(), nullable=True),
        sa.Column("preferred_payment_method", sa.String(length=16), nullable=True),
        sa.Column("avg_payment_delay_days", sa.Double(), nullable=True),
        sa.Column("late_payment_share", sa.Double(), nullable=True),
        sa.Column("preferred_channel", sa.String(length=16), nullable=True),
        sa.Column("repeat_purchase_days", sa.Integer(), nullable=True),
        sa.Column("r_score", sa.SmallInteger(), nullable=True),
        sa.Column("f_score", sa.SmallInteger(), nullable=True),
        sa.Column("m_score", sa.SmallInteger(), nullable=True),
        sa.Column("rfm_segment", sa.String(length=32), nullable=True),
        sa.Column("lifecycle_stage", sa.String(length=16), nullable=False),
        sa.Column("p_alive", sa.Double(), nullable=True),
        sa.Column("expected_orders_90d", sa.Double(), nullable=True),
        sa.Column("clv_12m", _money(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["analytics_run.run_id"],
            name=op.f("fk_customer_metrics_run_id_analytics_run"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_key"],
            ["dim_customer.customer_key"],
            name=op.f("fk_customer_metrics_customer_key_dim_customer"),
        ),
        sa.PrimaryKeyConstraint("run_id", "customer_key", name=op.f("pk_customer_metrics")),
    )
    op.create_index(
        op.f("ix_customer_metrics_customer_key_run_id"),
        "customer_metrics",
        ["customer_key", "run_id"],
    )
    op.create_index(
        op.f("ix_customer_metrics_run_id_rfm_segment"),
        "customer_metrics",
        ["run_id", "rfm_segment"],
    )
    op.execute(CUSTOMER_HABITS_VIEW_SQL)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS customer_habits")
    op.drop_table("customer_metrics")
    op.drop_table("analytics_run")
