"""The warehouse on MariaDB's Spider storage engine: order facts sharded by customer.

A Spider warehouse is a MariaDB "head" server whose ``fact_order`` and ``fact_order_line`` are
Spider tables, partitioned by ``HASH(customer_key)``, one partition per data node (a server of the
head's ``mysql.servers``, created with ``CREATE SERVER``); on each node the partition is an InnoDB
table of the same name in a database of the head's database's name. Dimensions and bookkeeping
(runs, watermarks, loaded files, rejects, analytics and push tables) stay InnoDB on the head.

The switch is the URL's ``engine=spider`` (``create_engine_for`` takes it out of the driver's
arguments): the migration that shards the facts (``versions/*_spider.py``) converts them only
then, on the servers listed by ``spider_servers=a,b`` or else on every ``mysql`` wrapper server
of the head.
Everything else asks the warehouse itself (``facts_on_spider``), so an engine opened without the
switch still treats a Spider warehouse as one.

What Spider changes, and what this module gives for it:

- DDL on the head changes only the head's table definition: the nodes' tables are altered first
  (``on_nodes``). ``forward_fact_ddl`` is hooked into the migrations (``etl/migrations/env.py``):
  every ``ALTER TABLE``/``CREATE INDEX``/``DROP INDEX`` of a fact table is run on each node
  before the head, so later migrations need no code of their own for Spider — but they must
  alter the fact tables, never drop and recreate them.
- A commit spans the nodes one after the other (Spider's XA fails), so the loader commits its
  layers in order (``etl.load.write_batch``, ``staged``): dimensions, then facts, then the
  bookkeeping.
- DELETE reports 0 rows affected: counts are taken before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Connection, Engine

from etl.exceptions import EtlError

ENGINE_OPTION = "sugar_bridge_engine"  # execution option set from the URL's engine=spider
SERVERS_OPTION = "sugar_bridge_spider_servers"
FACT_TABLES = ("fact_order", "fact_order_line")

FACT_DDL = re.compile(
    r"^\s*(?:ALTER\s+TABLE\s+|(?:CREATE\s+(?:UNIQUE\s+)?|DROP\s+)INDEX\s+\S+\s+ON\s+)"
    r"`?(fact_order(?:_line)?)`?(?:\s|$)",  # DROP INDEX ... ON fact_order ends there
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Node:
    """A data node: a server of the head's ``mysql.servers``."""

    name: str
    host: str
    port: int
    username: str
    password: str

    def url(self, database: str | None = None) -> URL:
        return URL.create(
            "mysql+pymysql",
            username=self.username,
            password=self.password,
            host=self.host,
            port=self.port,
            database=database,
            query={"charset": "utf8mb4"},
        )


def wants_spider(conn: Connection) -> bool:
    """Whether the URL asked for a Spider warehouse (``engine=spider``)."""
    return conn.get_execution_options().get(ENGINE_OPTION) == "spider"


def session_settings(dbapi_connection: Any, _record: Any) -> None:
    """``connect`` hook of a Spider warehouse's engine (``engine=spider``).

    ``spider_direct_aggregate`` off: with it on (MariaDB 10.11.19's default), an aggregate in a
    correlated subquery is pushed to the nodes with only part of its WHERE clause — the first
    purchase day's amount of the statistics came back as the sum of all the customer's orders
    (measured, tests/etl/test_engines.py). GROUP BY is still pushed down (the group-by handler).

    ``split_materialized`` off: on Spider the statistics group each fact table on its own and
    join the grouped tables on the head (``analytics.habits.line_spend``); with the switch on
    (MariaDB's default), the optimiser may evaluate a grouped table "lateral", once per row of
    the other, which on Spider is a query to the nodes per row: the category spend took more
    than 120 s instead of 6 s for 200 k lines (measured, benchmarks/README.md "Spider").
    """
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("SET SESSION spider_direct_aggregate = 0")
        cursor.execute("SET SESSION optimizer_switch = 'split_materialized=off'")
    finally:
        cursor.close()


def facts_on_spider(conn: Connection) -> bool:
    """Whether this warehouse's ``fact_order`` is a Spider table (asks the server)."""
    if conn.dialect.name != "mysql":
        return False
    found = conn.execute(
        text(
            "SELECT ENGINE FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'fact_order'"
        )
    ).scalar()
    return str(found or "").upper() == "SPIDER"


def nodes(conn: Connection) -> list[Node]:
    """The data nodes: the servers named by the URL's ``spider_servers``, else every server of
    the head's ``mysql.servers`` with the ``mysql`` wrapper, by name."""
    wanted = conn.get_execution_options().get(SERVERS_OPTION)
    rows = conn.execute(
        text(
            "SELECT Server_name, Host, Port, Username, Password FROM mysql.servers "
            "WHERE Wrapper = 'mysql' ORDER BY Server_name"
        )
    ).all()
    found = {
        str(r[0]): Node(str(r[0]), str(r[1]), int(r[2] or 3306), str(r[3]), str(r[4])) for r in rows
    }
    if wanted:
        missing = [name for name in wanted if name not in found]
        if missing:
            raise EtlError(
                f"spider_servers names {', '.join(missing)}, which the head's mysql.servers "
                f"does not define (CREATE SERVER); it has: {', '.join(found) or 'none'}"
            )
        return [found[name] for name in wanted]
    return list(found.values())


def _node_engine(node: Node) -> Engine:
    return create_engine(node.url(), pool_pre_ping=True, isolation_level="AUTOCOMMIT")


def on_nodes(conn: Connection, statements: list[str]) -> None:
    """Run ``statements`` on every data node, in the database named like the head's (created
    when missing)."""
    database = str(conn.execute(text("SELECT DATABASE()")).scalar())
    for node in nodes(conn):
        engine = _node_engine(node)
        try:
            with engine.connect() as node_conn:
                quoted = node_conn.dialect.identifier_preparer.quote(database)
                node_conn.exec_driver_sql(
                    f"CREATE DATABASE IF NOT EXISTS {quoted} CHARACTER SET utf8mb4"
                )
                node_conn.exec_driver_sql(f"USE {quoted}")
                for statement in statements:
                    node_conn.exec_driver_sql(statement)
        finally:
            engine.dispose()


def drop_node_databases(conn: Connection, database: str) -> None:
    """Drop ``database`` on every data node (what the head's DROP DATABASE leaves there)."""
    for node in nodes(conn):
        engine = _node_engine(node)
        try:
            with engine.connect() as node_conn:
                quoted = node_conn.dialect.identifier_preparer.quote(database)
                node_conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted}")
        finally:
            engine.dispose()


def forward_fact_ddl(
    conn: Connection,
    cursor: Any,
    statement: str,
    parameters: Any,
    context: Any,
    executemany: bool,
) -> None:
    """``before_cursor_execute`` hook of the migrations: a DDL statement on a fact table of a
    Spider warehouse runs on every data node first (see the module docstring)."""
    if not FACT_DDL.match(statement) or not facts_on_spider(conn):
        return
    # The head's open transaction keeps Spider's links to the nodes in theirs, holding the
    # tables' metadata locks: the nodes' DDL would wait for them forever. The head's DDL commits
    # it anyway; commit it first.
    cursor.connection.commit()
    on_nodes(conn, [statement])
