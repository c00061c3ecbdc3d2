"""Money precision: unit prices, discounts and amounts with up to 6 decimals, stored exactly.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05

Order systems keep unit prices with up to 6 decimals (an amount divided by a quantity: 38.71 / 3 =
12.903333); ``NUMERIC(14, 4)`` made the loader reject those lines. ``fact_order_line.unit_price``,
``discount`` and ``amount`` and ``fact_order.total_amount`` become ``NUMERIC(18, 6)`` (12 integer
digits, as before the money columns had). Dialect-neutral SQLAlchemy operations:

- ``fact_order_line`` is altered in batch mode (on SQLite: rebuilt by copy, drop and rename;
  nothing references it);
- ``fact_order`` is referenced by its lines, and SQLite cannot drop a referenced table inside a
  transaction with foreign keys on, so its ``total_amount`` is replaced in place: a new column
  (with a server default of 0, which SQLite needs to add a NOT NULL column; ``etl/schema.py``
  declares it too), filled from the old one, the old one dropped, the new one renamed.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

_LINE_MONEY = ("unit_price", "discount", "amount")
_OLD = {"unit_price": sa.Numeric(14, 4), "discount": sa.Numeric(14, 2), "amount": sa.Numeric(14, 2)}


def _replace_total(new_type: sa.Numeric[Any], old_type: sa.Numeric[Any]) -> None:
    op.add_column(
        "fact_order",
        sa.Column("total_amount_new", new_type, nullable=False, server_default=sa.text("0")),
    )
    op.execute("UPDATE fact_order SET total_amount_new = total_amount")
    op.drop_column("fact_order", "total_amount")
    op.alter_column(
        "fact_order",
        "total_amount_new",
        new_column_name="total_amount",
        existing_type=new_type,
        existing_nullable=False,
        existing_server_default=sa.text("0"),
    )


def upgrade() -> None:
    with op.batch_alter_table("fact_order_line") as batch:
        for column in _LINE_MONEY:
            batch.alter_column(
                column,
                existing_type=_OLD[column],
                type_=sa.Numeric(precision=18, scale=6),
                existing_nullable=False,
            )
    _replace_total(sa.Numeric(precision=18, scale=6), sa.Numeric(14, 2))


def downgrade() -> None:
    _replace_total(sa.Numeric(precision=14, scale=2), sa.Numeric(18, 6))
    with op.batch_alter_table("fact_order_line") as batch:
        for column in _LINE_MONEY:
            batch.alter_column(
                column,
                existing_type=sa.Numeric(18, 6),
                type_=_OLD[column],
                existing_nullable=False,
            )
