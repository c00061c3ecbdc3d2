"""Order lines carry their order's customer; on Spider (``engine=spider``) the facts are sharded.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06

Every engine: ``fact_order_line.customer_key`` (the order's ``customer_key``, filled from
``fact_order``). It is the shard key of the lines on Spider, so an order and its lines live on
one data node and commit together.

Spider only, when the URL asks for it (``engine=spider``, ``etl/spider.py``) and the facts are
not Spider tables yet — the conversion of the two fact tables as they stand on the head:

1. their foreign keys are dropped (Spider would drop them silently) and their keys re-made to
   contain the shard key: ``fact_order`` PRIMARY KEY (order_key, customer_key) and a plain index
   on (source, source_order_id), which the loader keeps unique (it merges on it, one loader per
   source); ``fact_order_line`` PRIMARY KEY (order_key, line_no, customer_key);
2. each table's definition (``SHOW CREATE TABLE``) is created as InnoDB on every data node, in a
   database named like the head's;
3. on the head, the InnoDB table is renamed aside, the same definition created as
   ``ENGINE=SPIDER ... PARTITION BY HASH (customer_key)``, one partition per node, the rows
   copied, the old table dropped.

Later migrations need nothing for Spider as long as they ALTER the fact tables (the migrations'
hook runs each such DDL statement on the nodes first); recreating a fact table is not supported.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Connection

from etl import spider
from etl.exceptions import EtlError

revision = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# Frozen: the keys each fact table has on Spider (step 1 of the docstring).
_REKEY = {
    "fact_order": (
        "ALTER TABLE fact_order DROP FOREIGN KEY fk_fact_order_customer_key_dim_customer,"
        " DROP FOREIGN KEY fk_fact_order_order_date_key_dim_date",
        "ALTER TABLE fact_order DROP PRIMARY KEY, ADD PRIMARY KEY (order_key, customer_key),"
        " DROP INDEX uq_fact_order_source_source_order_id,"
        " ADD INDEX ix_fact_order_source_source_order_id (source, source_order_id)",
    ),
    "fact_order_line": (
        "ALTER TABLE fact_order_line DROP FOREIGN KEY fk_fact_order_line_order_key_fact_order,"
        " DROP FOREIGN KEY fk_fact_order_line_product_key_dim_product",
        "ALTER TABLE fact_order_line DROP PRIMARY KEY,"
        " ADD PRIMARY KEY (order_key, line_no, customer_key)",
    ),
}
# The indexes MariaDB made for foreign keys that had none of their own (dropped with them).
_FK_INDEXES = ("fk_fact_order_order_date_key_dim_date",)


def upgrade() -> None:
    op.add_column("fact_order_line", sa.Column("customer_key", _ID, nullable=True))
    op.execute(
        "UPDATE fact_order_line SET customer_key = (SELECT o.customer_key FROM fact_order o"
        " WHERE o.order_key = fact_order_line.order_key)"
    )
    with op.batch_alter_table("fact_order_line") as batch:
        batch.alter_column("customer_key", existing_type=_ID, nullable=False)
    bind = op.get_bind()
    sharding = bind.dialect.name == "mysql" and spider.wants_spider(bind)
    if sharding and not spider.facts_on_spider(bind):
        _shard(bind)


def _shard(bind: Connection) -> None:
    servers = spider.nodes(bind)
    if not servers:
        raise EtlError(
            "engine=spider needs data nodes: CREATE SERVER ... FOREIGN DATA WRAPPER mysql on "
            "the head (README, 'Spider')"
        )
    database = str(bind.execute(sa.text("SELECT DATABASE()")).scalar())
    for statements in _REKEY.values():
        for statement in statements:
            bind.exec_driver_sql(statement)
    indexes = {
        str(row[0])
        for row in bind.execute(
            sa.text(
                "SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS"
                " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'fact_order'"
            )
        )
    }
    for index in _FK_INDEXES:
        if index in indexes:
            bind.exec_driver_sql(f"ALTER TABLE fact_order DROP INDEX {index}")
    partitions = ",\n ".join(
        f"PARTITION p{i} COMMENT = 'srv \"{node.name}\"' ENGINE = SPIDER"
        for i, node in enumerate(servers)
    )
    for table in _REKEY:
        ddl = str(bind.execute(sa.text(f"SHOW CREATE TABLE {table}")).one()[1])
        ddl = re.sub(r" AUTO_INCREMENT=\d+", "", ddl)
        spider.on_nodes(bind, [ddl])
        bind.exec_driver_sql(f"RENAME TABLE {table} TO {table}__innodb")
        comment = f'wrapper "mysql", database "{database}", table "{table}"'
        head = ddl.replace("ENGINE=InnoDB", f"ENGINE=SPIDER COMMENT='{comment}'")
        bind.exec_driver_sql(f"{head}\nPARTITION BY HASH (customer_key)\n({partitions})")
        bind.exec_driver_sql(f"INSERT INTO {table} SELECT * FROM {table}__innodb")
        bind.exec_driver_sql(f"DROP TABLE {table}__innodb")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "mysql" and spider.facts_on_spider(bind):
        raise EtlError(
            "a Spider warehouse cannot be downgraded below 0012: dump its data and reload it "
            "into a fresh warehouse"
        )
    with op.batch_alter_table("fact_order_line") as batch:
        batch.drop_column("customer_key")
