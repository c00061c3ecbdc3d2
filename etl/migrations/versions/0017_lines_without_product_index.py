"""Order lines lose their index on product_key where nothing needs it.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06

No statement looks lines up by product: the statistics and the report join every line to its
product (one row of 400-odd) and group. Yet SQLite's planner drove that join through the index,
product by product, then fetched each line from the table (measured, 1 M lines: 5.3 s; 1.5 s by
scanning the lines), and every load paid for the index (13.6 -> 12.3 s for 1 M lines).
PostgreSQL never used it (hash joins) and paid for it in every COPY.

- SQLite, PostgreSQL, Spider (the head and, through ``etl.spider.forward_fact_ddl``, every data
  node): the index is dropped.
- MariaDB: InnoDB needs an index on a foreign key's column and refuses to drop the one it uses.
  It is renamed to the foreign key's own name, the name InnoDB gives the index it makes for a
  new table's foreign key: a warehouse migrated from 0001 and one made by ``create_all`` are
  then the same, and the schema (``etl.schema``) declares no index on the column at all.
"""

from __future__ import annotations

from alembic import op

from etl.spider import facts_on_spider

revision = "0017"
down_revision: str | None = "0016"
branch_labels: str | None = None
depends_on: str | None = None

INDEX = "ix_fact_order_line_product_key"
FOREIGN_KEY = "fk_fact_order_line_product_key_dim_product"


def _innodb_keeps_it() -> bool:
    bind = op.get_bind()
    return bind.dialect.name in ("mysql", "mariadb") and not facts_on_spider(bind)


def upgrade() -> None:
    if _innodb_keeps_it():
        op.execute(f"ALTER TABLE fact_order_line RENAME INDEX {INDEX} TO {FOREIGN_KEY}")
    else:
        op.drop_index(INDEX, table_name="fact_order_line")


def downgrade() -> None:
    if _innodb_keeps_it():
        op.execute(f"ALTER TABLE fact_order_line RENAME INDEX {FOREIGN_KEY} TO {INDEX}")
    else:
        op.create_index(INDEX, "fact_order_line", ["product_key"])
