"""Warehouse fixtures (imported by the conftest of tests/etl and tests/connectors/orders).

The same tests run on SQLite, (marker ``mysql``) on MariaDB, (marker ``postgres``) on
PostgreSQL and (marker ``spider``) on MariaDB with the facts sharded by Spider over data nodes.

The server variants use ``SUGAR_BRIDGE_TEST_MYSQL_URL`` (CI sets it with
``.ci/mariadb.sh start``), ``SUGAR_BRIDGE_TEST_POSTGRES_URL`` (``.ci/postgres.sh start``) and
``SUGAR_BRIDGE_TEST_SPIDER_URL`` (``.ci/spider.sh start``: the head's URL, with
``engine=spider``), and are skipped when theirs is unset. Each test session gets a fresh database
on each server; tables are emptied between tests.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Engine, make_url

from etl.db import create_engine_for, ensure_current
from etl.schema import metadata
from etl.spider import drop_node_databases, facts_on_spider, nodes

MYSQL_ENV = "SUGAR_BRIDGE_TEST_MYSQL_URL"
POSTGRES_ENV = "SUGAR_BRIDGE_TEST_POSTGRES_URL"
SPIDER_ENV = "SUGAR_BRIDGE_TEST_SPIDER_URL"
SERVER_ENV = {"mysql": MYSQL_ENV, "postgres": POSTGRES_ENV, "spider": SPIDER_ENV}
SERVER_SCRIPT = {
    "mysql": ".ci/mariadb.sh",
    "postgres": ".ci/postgres.sh",
    "spider": ".ci/spider.sh",
}

# Every backend a warehouse test runs on: the server ones carry their marker.
BACKENDS = [
    "sqlite",
    pytest.param("mysql", marks=pytest.mark.mysql),
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("spider", marks=pytest.mark.spider),
]


def fresh_database(kind: str, prefix: str = "sugar_bridge_test") -> Iterator[str]:
    """URL of a new, empty database on the ``kind`` test server (``mysql``, ``postgres`` or
    ``spider``: its head, the data nodes' copies dropped too), dropped afterwards; skips when the
    server's variable is unset."""
    env = SERVER_ENV[kind]
    base = os.environ.get(env)
    if not base:
        pytest.skip(f"{env} is not set (CI sets it with {SERVER_SCRIPT[kind]} start)")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    # CREATE/DROP DATABASE cannot run inside a transaction on PostgreSQL.
    admin = create_engine_for(base, isolation_level="AUTOCOMMIT")
    quoted = admin.dialect.identifier_preparer.quote(name)
    create = f"CREATE DATABASE {quoted}"
    if kind in ("mysql", "spider"):
        create += " CHARACTER SET utf8mb4"
    else:
        create += " ENCODING 'UTF8' TEMPLATE template0"
    with admin.connect() as conn:
        conn.execute(text(create))
    admin.dispose()
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        drop_database(kind, base, name)


def scratch_database(kind: str, tmp_path: Path) -> Iterator[str]:
    """URL of an empty, unmigrated database of ``kind`` for one test: a SQLite file in
    ``tmp_path``, or a fresh database on the server, dropped when the loop over it ends."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'w.db'}"
    else:
        yield from fresh_database(kind)


def drop_database(kind: str, base: str, name: str) -> None:
    """Drop the test database ``name`` from the ``kind`` server whose URL is ``base``.

    On PostgreSQL, the sessions the test user left open in it (a failed test's) are ended first.
    Not with ``DROP DATABASE ... WITH (FORCE)``: that also tries to end an autovacuum worker busy
    in the database, which PostgreSQL 15 refuses to anyone but a superuser or a member of
    ``pg_signal_backend`` ("must be a member of the role whose process is being terminated"; a CI
    run failed so). A plain DROP ends autovacuum workers itself, and waits for the ended sessions.
    """
    admin = create_engine_for(base, isolation_level="AUTOCOMMIT")
    quoted = admin.dialect.identifier_preparer.quote(name)
    with admin.connect() as conn:
        if kind == "postgres":
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = :name AND usename = current_user"
                    " AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
        conn.execute(text(f"DROP DATABASE IF EXISTS {quoted}"))
        if kind == "spider":
            drop_node_databases(conn, name)
    admin.dispose()


@pytest.fixture(scope="session")
def mysql_url() -> Iterator[str]:
    """URL of a fresh database on the test MariaDB, dropped at the end of the session."""
    yield from fresh_database("mysql")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a fresh database on the test PostgreSQL, dropped at the end of the session."""
    yield from fresh_database("postgres")


@pytest.fixture(scope="session")
def spider_url() -> Iterator[str]:
    """URL of a fresh database on the test Spider head (facts on its data nodes), dropped at the
    end of the session."""
    yield from fresh_database("spider")


@pytest.fixture(scope="session")
def _spider_engine(spider_url: str) -> Iterator[Engine]:
    engine = create_engine_for(spider_url)
    ensure_current(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def _mysql_engine(mysql_url: str) -> Iterator[Engine]:
    engine = create_engine_for(mysql_url)
    ensure_current(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def _postgres_engine(postgres_url: str) -> Iterator[Engine]:
    engine = create_engine_for(postgres_url)
    ensure_current(engine)
    yield engine
    engine.dispose()


def _empty_tables(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


def server_warehouse(request: pytest.FixtureRequest, kind: str) -> tuple[str, Engine]:
    """(URL, engine) of the session's migrated database on the ``kind`` server, emptied."""
    engine: Engine = request.getfixturevalue(f"_{kind}_engine")
    _empty_tables(engine)
    return request.getfixturevalue(f"{kind}_url"), engine


@pytest.fixture(params=BACKENDS)
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty warehouse: a SQLite file per test, or the session's MariaDB,
    PostgreSQL or Spider database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'warehouse.db'}"
        engine = create_engine_for(url)
        ensure_current(engine)
        engine.dispose()
        yield url
        return
    url, engine = server_warehouse(request, request.param)
    yield url
    _empty_tables(engine)


@pytest.fixture
def warehouse(warehouse_url: str) -> Iterator[Engine]:
    """An engine on ``warehouse_url``."""
    engine = create_engine_for(warehouse_url)
    yield engine
    engine.dispose()


def _named_indexes(engine: Engine, table: str) -> dict[str, list[str]]:
    return {str(i["name"]): list(i["column_names"]) for i in inspect(engine).get_indexes(table)}


def table_indexes(engine: Engine, table: str) -> dict[str, list[str]]:
    """Each index of ``table`` by name: its columns (on Spider, checked equal on every data
    node, where the migrations forward the facts' DDL)."""
    found = _named_indexes(engine, table)
    with engine.connect() as conn:
        if not facts_on_spider(conn):
            return found
        database = str(conn.execute(text("SELECT DATABASE()")).scalar())
        data_nodes = nodes(conn)
    assert len(data_nodes) >= 2
    for node in data_nodes:
        node_engine = create_engine(node.url(database))
        assert _named_indexes(node_engine, table) == found, node.name
        node_engine.dispose()
    return found
