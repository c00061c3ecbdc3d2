"""The orders' secondary indexes, built after a first load instead of row by row during it.

A first load (``fact_order`` empty) writes every order of a history. Each order costs an insert
at a random place of the by-customer index and of the ``ordered_at`` index; building them once
the orders are in sorts them instead (what PostgreSQL's manual advises for populating a
database). Measured at 1 M lines on SQLite: the whole load 0.90 x the time, ~1 s to build them.

Only these two, and only where the engine allows it:
- the natural key ``(source, source_order_id)`` stays: the merge looks every batch's orders up
  by it;
- MariaDB keeps the by-customer index: it is the one InnoDB's foreign key on ``customer_key``
  uses, and a foreign key's index cannot be dropped;
- on Spider nothing is deferred (DDL there changes only the head, the data nodes keep theirs).

A load that fails builds them before it raises. A killed one leaves them missing, and the next
ETL run (the rerun that completes the load) builds whichever is missing before it loads anything.
Meanwhile readers get the same results, only slower. Only the ETL drops or builds them, with
``IF EXISTS`` / ``IF NOT EXISTS``: ``etl run`` and ``sync`` hold the sync's job lock, but
``run_etl`` called by other code does not; two loads started at once may build them under each
other's feet, never fail on it.
"""

from __future__ import annotations

from sqlalchemy import Index, inspect, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.schema import CreateIndex, DropIndex

from etl.db import load_connection
from etl.schema import fact_order
from etl.spider import facts_on_spider

# By name, as the schema (etl.schema) and migration 0016 define them.
DEFERRED = ("ix_fact_order_by_customer", "ix_fact_order_ordered_at")
# What InnoDB's foreign key on fact_order.customer_key needs (its first column is the key).
_MARIADB_KEEPS = frozenset({"ix_fact_order_by_customer"})


def _index(name: str) -> Index:
    return next(index for index in fact_order.indexes if index.name == name)


def deferrable(conn: Connection) -> list[str]:
    """The indexes a first load on this warehouse builds at its end (see the module docstring)."""
    if conn.dialect.name == "mysql":
        if facts_on_spider(conn):
            return []
        return [name for name in DEFERRED if name not in _MARIADB_KEEPS]
    return list(DEFERRED)


def missing(conn: Connection) -> list[str]:
    """The deferrable indexes that ``fact_order`` lacks (a first load under way, or killed)."""
    present = {index["name"] for index in inspect(conn).get_indexes(fact_order.name)}
    return [name for name in deferrable(conn) if name not in present]


def drop_for_first_load(engine: Engine) -> list[str]:
    """When ``fact_order`` is empty, drop the indexes a load can build at its end; returns
    their names (none when the warehouse has orders)."""
    with engine.begin() as conn:
        if conn.execute(select(fact_order.c.order_key).limit(1)).first() is not None:
            return []
        names = deferrable(conn)
        for name in names:  # IF EXISTS: one already gone (a load racing this one) is no error
            conn.execute(DropIndex(_index(name), if_exists=True))
    return names


def restore(engine: Engine) -> list[str]:
    """Build the deferrable indexes ``fact_order`` lacks; returns their names."""
    with engine.connect() as conn:
        names = missing(conn)
    if names:
        # The loading connection: on SQLite its larger page cache is where the sort happens.
        with load_connection(engine) as conn:
            for name in names:
                conn.execute(CreateIndex(_index(name), if_not_exists=True))
            conn.commit()
    return names


__all__ = ["DEFERRED", "deferrable", "drop_for_first_load", "missing", "restore"]
