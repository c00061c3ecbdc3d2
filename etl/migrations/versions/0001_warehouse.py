"""Warehouse core: star schema of orders (dimensions, facts) and the ETL's own state.

Revision ID: 0001
Revises:
Create Date: 2026-11-24

Explicit tables, matching ``etl/schema.py`` (constraint names follow its naming convention so
that later migrations can address them by name on SQLite and MariaDB alike).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def _id() -> sa.types.TypeEngine[int]:
    # BIGINT on servers; SQLite autoincrements only INTEGER PRIMARY KEY columns.
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "dim_customer",
        sa.Column("customer_key", _id(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("source_customer_id", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("email", sa.String(length=255), nullable=True),
        sa.Column("city", sa.String(length=128), nullable=True),
        sa.Column("country", sa.String(length=64), nullable=True),
        sa.Column("sugar_account_id", sa.String(length=36), nullable=True),
        sa.Column("match_method", sa.String(length=16), nullable=True),
        sa.Column("matched_at", sa.DateTime(), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("customer_key", name=op.f("pk_dim_customer")),
        sa.UniqueConstraint(
            "source",
            "source_customer_id",
            name=op.f("uq_dim_customer_source_source_customer_id"),
        ),
    )
    op.create_index(op.f("ix_dim_customer_sugar_account_id"), "dim_customer", ["sugar_account_id"])
    op.create_table(
        "dim_date",
        sa.Column("date_key", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("quarter", sa.Integer(), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("iso_week", sa.Integer(), nullable=False),
        sa.Column("is_weekend", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("date_key", name=op.f("pk_dim_date")),
        sa.UniqueConstraint("date", name=op.f("uq_dim_date_date")),
    )
    op.create_table(
        "dim_product",
        sa.Column("product_key", _id(), autoincrement=True, nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.Column("brand", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("product_key", name=op.f("pk_dim_product")),
        sa.UniqueConstraint("sku", name=op.f("uq_dim_product_sku")),
    )
    op.create_table(
        "etl_run",
        sa.Column("run_id", _id(), autoincrement=True, nullable=False),
        sa.Column("job", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("watermark_from", sa.String(length=64), nullable=True),
        sa.Column("watermark_to", sa.String(length=64), nullable=True),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("rows_loaded", sa.Integer(), nullable=False),
        sa.Column("rows_rejected", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_etl_run")),
    )
    op.create_index(op.f("ix_etl_run_job_started_at"), "etl_run", ["job", "started_at"])
    op.create_table(
        "etl_loaded_file",
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("file_name", sa.String(length=512), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("run_id", _id(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("source", "file_name", name=op.f("pk_etl_loaded_file")),
    )
    op.create_table(
        "etl_watermark",
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("cursor_value", sa.String(length=64), nullable=True),
        sa.Column("run_id", _id(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_etl_watermark")),
    )
    op.create_table(
        "etl_reject",
        sa.Column("reject_id", _id(), autoincrement=True, nullable=False),
        sa.Column("run_id", _id(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("source_key", sa.String(length=255), nullable=True),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["etl_run.run_id"], name=op.f("fk_etl_reject_run_id_etl_run")
        ),
        sa.PrimaryKeyConstraint("reject_id", name=op.f("pk_etl_reject")),
    )
    op.create_index(op.f("ix_etl_reject_run_id"), "etl_reject", ["run_id"])
    op.create_table(
        "fact_order",
        sa.Column("order_key", _id(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("source_order_id", sa.String(length=128), nullable=False),
        sa.Column("customer_key", _id(), nullable=False),
        sa.Column("order_date_key", sa.Integer(), nullable=False),
        sa.Column("ordered_at", sa.DateTime(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("payment_method", sa.String(length=16), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("n_lines", sa.Integer(), nullable=False),
        sa.Column("n_items", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("total_amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("invoiced_at", sa.Date(), nullable=True),
        sa.Column("due_at", sa.Date(), nullable=True),
        sa.Column("paid_at", sa.Date(), nullable=True),
        sa.Column("payment_delay_days", sa.Integer(), nullable=True),
        sa.Column("lateness_days", sa.Integer(), nullable=True),
        sa.Column("etl_run_id", _id(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_key"],
            ["dim_customer.customer_key"],
            name=op.f("fk_fact_order_customer_key_dim_customer"),
        ),
        sa.ForeignKeyConstraint(
            ["order_date_key"],
            ["dim_date.date_key"],
            name=op.f("fk_fact_order_order_date_key_dim_date"),
        ),
        sa.PrimaryKeyConstraint("order_key", name=op.f("pk_fact_order")),
        sa.UniqueConstraint(
            "source", "source_order_id", name=op.f("uq_fact_order_source_source_order_id")
        ),
    )
    op.create_index(
        op.f("ix_fact_order_customer_key_ordered_at"), "fact_order", ["customer_key", "ordered_at"]
    )
    op.create_index(op.f("ix_fact_order_ordered_at"), "fact_order", ["ordered_at"])
    op.create_table(
        "fact_order_line",
        sa.Column("order_key", _id(), nullable=False),
        sa.Column("line_no", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("product_key", _id(), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column("discount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_key"],
            ["fact_order.order_key"],
            name=op.f("fk_fact_order_line_order_key_fact_order"),
        ),
        sa.ForeignKeyConstraint(
            ["product_key"],
            ["dim_product.product_key"],
            name=op.f("fk_fact_order_line_product_key_dim_product"),
        ),
        sa.PrimaryKeyConstraint("order_key", "line_no", name=op.f("pk_fact_order_line")),
    )
    op.create_index(op.f("ix_fact_order_line_product_key"), "fact_order_line", ["product_key"])


def downgrade() -> None:
    op.drop_table("fact_order_line")
    op.drop_table("fact_order")
    op.drop_table("etl_reject")
    op.drop_table("etl_watermark")
    op.drop_table("etl_loaded_file")
    op.drop_table("etl_run")
    op.drop_table("dim_product")
    op.drop_table("dim_date")
    op.drop_table("dim_customer")
