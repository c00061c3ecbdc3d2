"""Persons pushed to Sugar's Contacts.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06

``dim_customer.customer_type`` (b2b | b2c, from the orders' optional ``customer_type``) and
``dim_customer.sugar_contact_id`` (the Contact a person is matched to, as ``sugar_account_id`` is a
company's Account). The push's state says which module a record id belongs to:
``push_snapshot.module`` joins its primary key (an Account and a Contact can never share a
snapshot row), ``push_followup.parent_type`` joins the follow-ups' unique key, ``push_log.module``
and ``push_match_issue.module`` say where a row was written or looked for. Rows stored before are
Accounts' (the server default).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None

_FOLLOWUP_KEY = ["account_id", "rule", "from_value", "to_value", "from_run_id"]
_OLD_KEY = "uq_push_followup_account_id_rule_from_value_to_value_from_run_id"
# Frozen, as 0007 made it: SQLite rebuilds dim_customer to drop a column, and the view on it
# would stop the rebuild, so the downgrade takes the view down and puts it back.
_VIEW_SQL = (
    "CREATE VIEW customer_habits AS SELECT m.run_id, m.as_of, m.customer_key, m.source,"
    " m.customer_id, COALESCE(c.sugar_account_id, m.sugar_account_id) AS sugar_account_id,"
    " c.name AS customer_name, m.n_orders, m.first_order_at, m.last_order_at, m.recency_days,"
    " m.mean_days_between_orders, m.orders_per_month, m.total_amount, m.avg_order_amount,"
    " m.avg_items_per_order, m.top_category, m.category_share, m.preferred_payment_method,"
    " m.avg_payment_delay_days, m.late_payment_share, m.preferred_channel,"
    " m.repeat_purchase_days, m.r_score, m.f_score, m.m_score, m.rfm_segment,"
    " m.lifecycle_stage, m.p_alive, m.expected_orders_90d, m.clv_12m"
    " FROM customer_metrics m JOIN dim_customer c ON c.customer_key = m.customer_key"
    " WHERE m.run_id = (SELECT MAX(r.run_id) FROM analytics_run r WHERE r.kind = 'current')"
)


def upgrade() -> None:
    op.add_column("dim_customer", sa.Column("customer_type", sa.String(length=8), nullable=True))
    op.add_column(
        "dim_customer", sa.Column("sugar_contact_id", sa.String(length=36), nullable=True)
    )
    op.create_index(
        op.f("ix_dim_customer_sugar_contact_id"), "dim_customer", ["sugar_contact_id"], unique=False
    )
    op.add_column("push_log", sa.Column("module", sa.String(length=16), nullable=True))
    op.add_column("push_match_issue", sa.Column("module", sa.String(length=16), nullable=True))
    with op.batch_alter_table("push_snapshot") as batch:
        batch.add_column(
            sa.Column("module", sa.String(length=16), nullable=False, server_default="Accounts")
        )
        batch.drop_constraint("pk_push_snapshot", type_="primary")
        batch.create_primary_key("pk_push_snapshot", ["account_id", "field", "module"])
    with op.batch_alter_table("push_followup") as batch:
        batch.add_column(
            sa.Column(
                "parent_type", sa.String(length=16), nullable=False, server_default="Accounts"
            )
        )
        # op.f: the name as 0003 made it (PostgreSQL's 63-character limit shortened it there).
        batch.drop_constraint(op.f(_OLD_KEY), type_="unique")
        batch.create_unique_constraint(
            op.f("uq_push_followup_transition"), [*_FOLLOWUP_KEY, "parent_type"]
        )


def downgrade() -> None:
    # Contacts' rows cannot live in the Accounts-only tables: they go.
    op.execute("DELETE FROM push_snapshot WHERE module <> 'Accounts'")
    op.execute("DELETE FROM push_followup WHERE parent_type <> 'Accounts'")
    with op.batch_alter_table("push_followup") as batch:
        batch.drop_constraint(op.f("uq_push_followup_transition"), type_="unique")
        batch.create_unique_constraint(op.f(_OLD_KEY), _FOLLOWUP_KEY)
        batch.drop_column("parent_type")
    with op.batch_alter_table("push_snapshot") as batch:
        batch.drop_constraint("pk_push_snapshot", type_="primary")
        batch.create_primary_key("pk_push_snapshot", ["account_id", "field"])
        batch.drop_column("module")
    with op.batch_alter_table("push_match_issue") as batch:
        batch.drop_column("module")
    with op.batch_alter_table("push_log") as batch:
        batch.drop_column("module")
    op.drop_index(op.f("ix_dim_customer_sugar_contact_id"), table_name="dim_customer")
    op.execute("DROP VIEW IF EXISTS customer_habits")
    with op.batch_alter_table("dim_customer") as batch:
        batch.drop_column("sugar_contact_id")
        batch.drop_column("customer_type")
    op.execute(_VIEW_SQL)
