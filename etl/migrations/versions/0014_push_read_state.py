"""The push reads only the Sugar records modified since its last night.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06

``push_record``: what the push last read of each live Sugar record it matches against (module,
id, name, e-mail, external id, owner, billing town/country/postcode, ``date_modified``).
``push_read_state``: per module, the watermark of that read (greatest ``date_modified`` and the id
breaking ties), which Sugar it was (a hash of URL and API user) and when the last full read was.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision: str | None = "0013"
branch_labels: str | None = None
depends_on: str | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "push_record",
        sa.Column("module", sa.String(length=16), nullable=False),
        sa.Column("record_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("assigned_user_id", sa.String(length=36), nullable=False),
        sa.Column("city", sa.String(length=255), nullable=False),
        sa.Column("country", sa.String(length=255), nullable=False),
        sa.Column("postcode", sa.String(length=64), nullable=False),
        sa.Column("date_modified", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("module", "record_id"),
    )
    op.create_table(
        "push_read_state",
        sa.Column("module", sa.String(length=16), nullable=False),
        sa.Column("sugar_key", sa.String(length=64), nullable=False),
        sa.Column("watermark", sa.DateTime(), nullable=True),
        sa.Column("watermark_id", sa.String(length=36), nullable=True),
        sa.Column("last_full_at", sa.DateTime(), nullable=False),
        sa.Column("run_id", _ID, nullable=True),
        sa.PrimaryKeyConstraint("module"),
    )


def downgrade() -> None:
    op.drop_table("push_read_state")
    op.drop_table("push_record")
