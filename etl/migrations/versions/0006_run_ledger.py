"""Run ledger: a lease on every run.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05

``etl_run`` gets ``host``, ``pid`` and ``lease_until``: every run is opened by ``etl.runs``, which
keeps its lease alive with a heartbeat, so that the next run of any job can tell a run whose
process was killed (swept as ``interrupted``) from one that another process is still running.
Rows written before have no lease; one of them still ``running`` is stale by definition.

Nullable columns added in place (no table rebuild on SQLite).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("etl_run", sa.Column("host", sa.String(length=255), nullable=True))
    op.add_column("etl_run", sa.Column("pid", sa.Integer(), nullable=True))
    op.add_column("etl_run", sa.Column("lease_until", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("etl_run") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("pid")
        batch.drop_column("host")
