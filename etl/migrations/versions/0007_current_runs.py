"""Current and backdated analytics runs.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05

``analytics_run.kind``: ``current`` for a run computed for its own day (the nightly run), or
``backdated`` for a past day recomputed (``--as-of`` in the past). The ``customer_habits`` view
shows the latest *current* run, no longer the highest run id: recomputing a past day for a
report must not change what the push sends to Sugar the next night. Runs stored before are
current (they were shown as such).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

# Frozen, like 0002's: the view as this revision makes it.
_COLUMNS = (
    "m.run_id, m.as_of, m.customer_key, m.source,"
    " m.customer_id, COALESCE(c.sugar_account_id, m.sugar_account_id) AS sugar_account_id,"
    " c.name AS customer_name, m.n_orders, m.first_order_at, m.last_order_at, m.recency_days,"
    " m.mean_days_between_orders, m.orders_per_month, m.total_amount, m.avg_order_amount,"
    " m.avg_items_per_order, m.top_category, m.category_share, m.preferred_payment_method,"
    " m.avg_payment_delay_days, m.late_payment_share, m.preferred_channel,"
    " m.repeat_purchase_days, m.r_score, m.f_score, m.m_score, m.rfm_segment,"
    " m.lifecycle_stage, m.p_alive, m.expected_orders_90d, m.clv_12m"
    " FROM customer_metrics m JOIN dim_customer c ON c.customer_key = m.customer_key"
)
VIEW_SQL = (
    f"CREATE VIEW customer_habits AS SELECT {_COLUMNS}"
    " WHERE m.run_id = (SELECT MAX(r.run_id) FROM analytics_run r WHERE r.kind = 'current')"
)
PREVIOUS_VIEW_SQL = (
    f"CREATE VIEW customer_habits AS SELECT {_COLUMNS}"
    " WHERE m.run_id = (SELECT MAX(run_id) FROM customer_metrics)"
)


def upgrade() -> None:
    op.add_column(
        "analytics_run",
        sa.Column("kind", sa.String(length=16), nullable=False, server_default="current"),
    )
    op.execute("DROP VIEW IF EXISTS customer_habits")
    op.execute(VIEW_SQL)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS customer_habits")
    with op.batch_alter_table("analytics_run") as batch:
        batch.drop_column("kind")
    op.execute(PREVIOUS_VIEW_SQL)
