"""On SQLite, order lines are stored in their primary key's order (WITHOUT ROWID).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06

A rowid table keeps its lines twice: the table in rowid order and the primary key
(order_key, line_no) as a separate index. WITHOUT ROWID stores the rows in the key's b-tree, as
InnoDB's clustered index does, so a load writes one b-tree less per line (measured: 8 % of a
1 M-line load) and an order's lines sit together for the statistics' per-order reads.

SQLite cannot change this in place: the table is rebuilt (new table, rows copied in key order,
old one dropped, the new one renamed, its index made again), in the migration's transaction.
Other engines are untouched (InnoDB and Spider's nodes already cluster on the key; PostgreSQL has
no such choice).
"""

from __future__ import annotations

from alembic import op
from sqlalchemy.engine import Connection

revision = "0015"
down_revision: str | None = "0014"
branch_labels: str | None = None
depends_on: str | None = None

# Frozen: fact_order_line as of 0012 (columns, keys, names), which this rebuild keeps.
_COLUMNS = "order_key, line_no, product_key, quantity, unit_price, discount, amount, customer_key"
_DDL = """CREATE TABLE {name} (
	order_key INTEGER NOT NULL,
	line_no INTEGER NOT NULL,
	product_key INTEGER NOT NULL,
	quantity NUMERIC(14, 3) NOT NULL,
	unit_price NUMERIC(18, 6) NOT NULL,
	discount NUMERIC(18, 6) NOT NULL,
	amount NUMERIC(18, 6) NOT NULL,
	customer_key INTEGER NOT NULL,
	CONSTRAINT pk_fact_order_line PRIMARY KEY (order_key, line_no),
	CONSTRAINT fk_fact_order_line_product_key_dim_product FOREIGN KEY(product_key)
		REFERENCES dim_product (product_key),
	CONSTRAINT fk_fact_order_line_order_key_fact_order FOREIGN KEY(order_key)
		REFERENCES fact_order (order_key)
){suffix}"""


def _clustered(bind: Connection) -> bool:
    sql = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'fact_order_line'"
    ).scalar_one()
    return "WITHOUT ROWID" in " ".join(str(sql).upper().split())


def _rebuild(clustered: bool) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite" or _clustered(bind) == clustered:
        return
    op.execute(
        _DDL.format(name="fact_order_line__new", suffix=" WITHOUT ROWID" if clustered else "")
    )
    op.execute(
        f"INSERT INTO fact_order_line__new ({_COLUMNS}) SELECT {_COLUMNS} FROM fact_order_line"
        " ORDER BY order_key, line_no"
    )
    op.execute("DROP INDEX ix_fact_order_line_product_key")
    op.execute("DROP TABLE fact_order_line")
    op.execute("ALTER TABLE fact_order_line__new RENAME TO fact_order_line")
    op.execute("CREATE INDEX ix_fact_order_line_product_key ON fact_order_line (product_key)")


def upgrade() -> None:
    _rebuild(clustered=True)


def downgrade() -> None:
    _rebuild(clustered=False)
