"""CRM statistics per customer and the prospect scores.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06

``customer_metrics`` gains the figures computed from the operational CRM extracted from Sugar
(after-sales cases, calls and meetings held, the open pipeline, campaign responses; NULL for a
shop without that source) and ``prospect_score``; the ``customer_habits`` view is recreated with
them. ``prospect_score`` holds one row per scored prospect (a Sugar lead or an account without
orders) and analytics run.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None

_NEW_COLUMNS = (
    "cases_open",
    "cases_12m",
    "case_resolution_days",
    "last_contact_at",
    "contacts_12m",
    "contacts_per_month",
    "open_opportunities",
    "pipeline_amount",
    "weighted_pipeline_amount",
    "pipeline_by_stage",
    "campaign_targeted_12m",
    "campaign_responses_12m",
    "prospect_score",
)

# Frozen, like 0007's: the view as this revision makes it.
_COLUMNS = (
    "m.run_id, m.as_of, m.customer_key, m.source,"
    " m.customer_id, COALESCE(c.sugar_account_id, m.sugar_account_id) AS sugar_account_id,"
    " c.name AS customer_name, m.n_orders, m.first_order_at, m.last_order_at, m.recency_days,"
    " m.mean_days_between_orders, m.orders_per_month, m.total_amount, m.avg_order_amount,"
    " m.avg_items_per_order, m.top_category, m.category_share, m.preferred_payment_method,"
    " m.avg_payment_delay_days, m.late_payment_share, m.preferred_channel,"
    " m.repeat_purchase_days, m.r_score, m.f_score, m.m_score, m.rfm_segment,"
    " m.lifecycle_stage, m.p_alive, m.expected_orders_90d, m.clv_12m"
)
_FROM = (
    " FROM customer_metrics m JOIN dim_customer c ON c.customer_key = m.customer_key"
    " WHERE m.run_id = (SELECT MAX(r.run_id) FROM analytics_run r WHERE r.kind = 'current')"
)
VIEW_SQL = (
    f"CREATE VIEW customer_habits AS SELECT {_COLUMNS}, "
    + ", ".join(f"m.{name}" for name in _NEW_COLUMNS)
    + _FROM
)
PREVIOUS_VIEW_SQL = f"CREATE VIEW customer_habits AS SELECT {_COLUMNS}{_FROM}"


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.execute("DROP VIEW IF EXISTS customer_habits")
    with op.batch_alter_table("customer_metrics") as batch:
        batch.add_column(sa.Column("cases_open", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("cases_12m", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("case_resolution_days", sa.Double(), nullable=True))
        batch.add_column(sa.Column("last_contact_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("contacts_12m", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("contacts_per_month", sa.Double(), nullable=True))
        batch.add_column(sa.Column("open_opportunities", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("pipeline_amount", sa.Numeric(14, 2), nullable=True))
        batch.add_column(sa.Column("weighted_pipeline_amount", sa.Numeric(14, 2), nullable=True))
        batch.add_column(sa.Column("pipeline_by_stage", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("campaign_targeted_12m", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("campaign_responses_12m", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("prospect_score", sa.Double(), nullable=True))
    op.create_table(
        "prospect_score",
        sa.Column("run_id", _id(), nullable=False),
        sa.Column("module", sa.String(length=16), nullable=False),
        sa.Column("record_id", sa.String(length=36), nullable=False),
        sa.Column("customer_key", _id(), nullable=True),
        sa.Column("score", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["analytics_run.run_id"],
            name=op.f("fk_prospect_score_run_id_analytics_run"),
        ),
        sa.PrimaryKeyConstraint("run_id", "module", "record_id", name=op.f("pk_prospect_score")),
    )
    op.create_index(
        op.f("ix_prospect_score_module_record_id"), "prospect_score", ["module", "record_id"]
    )
    op.execute(VIEW_SQL)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS customer_habits")
    op.drop_index(op.f("ix_prospect_score_module_record_id"), table_name="prospect_score")
    op.drop_table("prospect_score")
    with op.batch_alter_table("customer_metrics") as batch:
        for name in reversed(_NEW_COLUMNS):
            batch.drop_column(name)
    op.execute(PREVIOUS_VIEW_SQL)
