"""Currencies: exchange rates, orders converted to the reporting currency.

Revision ID: 0008
Revises: 0007
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

revision = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


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
    with op.batch_alter_table("analytics_run") as batch:
        batch.drop_column("currency")
    with op.batch_alter_table("fact_order") as batch:
        batch.drop_column("reporting_amount")
        batch.drop_column("fx_rate_date")
        batch.drop_column("fx_rate")
        batch.drop_column("reporting_currency")
    op.drop_table("fx_rate")
