"""Follow-ups that fire on state, capped per owner and day, and account owners.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06

``push_followup`` learns who a follow-up is for and when it ends: ``owner_id`` / ``owner_name``
(the Sugar user it is assigned to), ``as_of`` (the night it was created: the per-owner daily cap
counts them), ``sugar_status`` and ``closed_at`` (read back from Sugar: a rule that watches a state
fires again only once its follow-up is closed and the cool-down passed). ``status`` gains
``waiting`` (over the night's cap, created a later night) and ``dropped`` (a waiting one whose
account left the state). ``dim_customer.owner_name``: the Sugar user owning the customer's account
as the last push saw or assigned it (the report's follow-up list shows it).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None

# Frozen: the view as 0010 made it, recreated after dim_customer's copy on downgrade.
VIEW_SQL = (
    "CREATE VIEW customer_habits AS SELECT m.run_id, m.as_of, m.customer_key, m.source,"
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
    op.add_column("push_followup", sa.Column("owner_id", sa.String(length=36), nullable=True))
    op.add_column("push_followup", sa.Column("owner_name", sa.String(length=64), nullable=True))
    op.add_column("push_followup", sa.Column("as_of", sa.Date(), nullable=True))
    op.add_column("push_followup", sa.Column("sugar_status", sa.String(length=32), nullable=True))
    op.add_column("push_followup", sa.Column("closed_at", sa.DateTime(), nullable=True))
    op.add_column("dim_customer", sa.Column("owner_name", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("push_followup") as batch:
        for column in ("closed_at", "sugar_status", "as_of", "owner_name", "owner_id"):
            batch.drop_column(column)
    # dim_customer is read by the customer_habits view: SQLite's batch copy would break it.
    op.execute("DROP VIEW IF EXISTS customer_habits")
    with op.batch_alter_table("dim_customer") as batch:
        batch.drop_column("owner_name")
    op.execute(VIEW_SQL)
