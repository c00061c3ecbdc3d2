"""Currencies: exchange rates, orders converted to the reporting currency.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06

``fx_rate``: the rates loaded from the configured source (units of ``currency`` per one unit of
``base``, the reporting currency, on ``rate_date``). ``fact_order`` keeps its currency and amount
and gains the converted amount beside them (``reporting_currency``, ``fx_rate``,
``fx_rate_date``, ``reporting_amount``; NULL until converted, and while no usable rate exists).
``analytics_run.currency``: the reporting currency of a run's amounts.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision: str | None = "0012"
branch_labels: str | None = None
depends_on: str | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# Frozen: customer_habits as 0010 made it (0011 and 0012 kept it). It reads analytics_run, which
# SQLite's batch mode recreates to drop a column: the view is dropped first and made again after.
_VIEW_SQL = (
    "CREATE VIEW customer_habits AS SELECT"
    " m.run_id, m.as_of, m.customer_key, m.source,"
    " m.customer_id, COALESCE(c.sugar_account_id, m.sugar_account_id) AS sugar_account_id,"
    " c.name AS customer_name, m.n_orders, m.first_order_at, m.last_order_at, m.recency_days,"
    " m.mean_days_between_orders, m.orders_per_month, m.total_amount, m.avg_order_amount,"
    " m.avg_items_per_order, m.top_category, m.category_share, m.preferred_payment_method,"
    " m.avg_payment_delay_days, m.late_payment_share, m.preferred_channel,"
    " m.repeat_purchase_days, m.r_score, m.f_score, m.m_score, m.rfm_segment,"
    " m.lifecycle_stage, m.p_alive, m.expected_orders_90d, m.clv_12m,"
    " m.cases_open, m.cases_12m, m.case_resolution_days, m.last_contact_at, m.contacts_12m,"
    " m.contacts_per_month, m.open_opportunities, m.pipeline_amount,"
    " m.weighted_pipeline_amount, m.pipeline_by_stage, m.campaign_targeted_12m,"
    " m.campaign_responses_12m, m.prospect_score"
    " FROM customer_metrics m JOIN dim_customer c ON c.customer_key = m.customer_key"
    " WHERE m.run_id = (SELECT MAX(r.run_id) FROM analytics_run r WHERE r.kind = 'current')"
)


def upgrade() -> None:
    op.create_table(
        "fx_rate",
        sa.Column("base", sa.String(length=3), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("rate_date", sa.Date(), nullable=False),
        sa.Column("rate", sa.Numeric(18, 8), nullable=False),
        sa.Column("source_key", sa.String(length=255), nullable=False),
        sa.Column("run_id", _ID, nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("base", "currency", "rate_date", name="pk_fx_rate"),
    )
    with op.batch_alter_table("fact_order") as batch:
        batch.add_column(sa.Column("reporting_currency", sa.String(length=3), nullable=True))
        batch.add_column(sa.Column("fx_rate", sa.Numeric(18, 8), nullable=True))
        batch.add_column(sa.Column("fx_rate_date", sa.Date(), nullable=True))
        batch.add_column(sa.Column("reporting_amount", sa.Numeric(18, 6), nullable=True))
    with op.batch_alter_table("analytics_run") as batch:
        batch.add_column(sa.Column("currency", sa.String(length=3), nullable=True))


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS customer_habits")
    with op.batch_alter_table("analytics_run") as batch:
        batch.drop_column("currency")
    op.execute(_VIEW_SQL)
    with op.batch_alter_table("fact_order") as batch:
        batch.drop_column("reporting_amount")
        batch.drop_column("fx_rate_date")
        batch.drop_column("fx_rate")
        batch.drop_column("reporting_currency")
    op.drop_table("fx_rate")
