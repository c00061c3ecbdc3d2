"""The index of a customer's orders carries what the per-customer aggregates read.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06

``fact_order (customer_key, ordered_at)`` becomes ``ix_fact_order_by_customer (customer_key,
ordered_at, order_date_key, status, reporting_amount)``: the same leading columns (every look-up
that used the old index uses this one), plus the purchase day, the status and the amount in the
reporting currency, so the models' summary (``analytics.summary``) and the statistics read the
index alone instead of the table row of every order (measured on SQLite, 691,900 orders: the
summary 0.88 -> 0.75 s).

The new index is made before the old one is dropped: no moment without one. On Spider the
statements run on every data node first (``etl.spider.forward_fact_ddl``).
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision: str | None = "0015"
branch_labels: str | None = None
depends_on: str | None = None

_COVERING = ["customer_key", "ordered_at", "order_date_key", "status", "reporting_amount"]


def upgrade() -> None:
    op.create_index("ix_fact_order_by_customer", "fact_order", _COVERING)
    op.drop_index("ix_fact_order_customer_key_ordered_at", table_name="fact_order")


def downgrade() -> None:
    op.create_index(
        "ix_fact_order_customer_key_ordered_at", "fact_order", ["customer_key", "ordered_at"]
    )
    op.drop_index("ix_fact_order_by_customer", table_name="fact_order")
