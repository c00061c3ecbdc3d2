"""Money precision: unit prices, discounts and amounts with up to 6 decimals, stored exactly.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05

Order systems keep unit prices with up to 6 decimals (an amount divided by a quantity: 38.71 / 3 =
12.903333); ``NUMERIC(14, 4)`` made the loader reject those lines. ``fact_order_line.unit_price``,
``discount`` and ``amount`` and ``fact_order.total_amount`` become ``NUMERIC(18, 6)`` (12 integer
digits, as before the money columns had). Dialect-neutral SQLAlchemy types; on SQLite the tables
are rebuilt (batch mode), with foreign keys checked at commit, when the rebuilt parent is back.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

_LINE_MONEY = ("unit_price", "discount", "amount")
_OLD = {"unit_price": sa.Numeric(14, 4), "discount": sa.Numeric(14, 2), "amount": sa.Numeric(14, 2)}


def _defer_foreign_keys() -> None:
    # SQLite rebuilds a table by copy, drop and rename: dropping fact_order while its lines
    # reference it would fail an immediate foreign-key check. Deferred, the check runs at commit.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("PRAGMA defer_foreign_keys = ON")


def upgrade() -> None:
    _defer_foreign_keys()
    with op.batch_alter_table("fact_order_line") as batch:
        for column in _LINE_MONEY:
            batch.alter_column(
                column,
                existing_type=_OLD[column],
                type_=sa.Numeric(precision=18, scale=6),
                existing_nullable=False,
            )
    with op.batch_alter_table("fact_order") as batch:
        batch.alter_column(
            "total_amount",
            existing_type=sa.Numeric(14, 2),
            type_=sa.Numeric(precision=18, scale=6),
            existing_nullable=False,
        )


def downgrade() -> None:
    _defer_foreign_keys()
    with op.batch_alter_table("fact_order") as batch:
        batch.alter_column(
            "total_amount",
            existing_type=sa.Numeric(18, 6),
            type_=sa.Numeric(precision=14, scale=2),
            existing_nullable=False,
        )
    with op.batch_alter_table("fact_order_line") as batch:
        for column in _LINE_MONEY:
            batch.alter_column(
                column,
                existing_type=sa.Numeric(18, 6),
                type_=_OLD[column],
                existing_nullable=False,
            )
