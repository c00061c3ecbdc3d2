"""Warehouse fixtures (imported by the conftest of tests/etl and tests/connectors/orders).

The same tests run on SQLite and (marker ``mysql``) on MariaDB.

The MariaDB variant uses ``SUGAR_BRIDGE_TEST_MYSQL_URL`` (CI sets it with ``.ci/mariadb.sh start``)
and is skipped when it is unset. Each test session gets a fresh database on that server; tables
are emptied between tests.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

from etl.db import create_engine_for, ensure_current
from etl.schema import metadata

MYSQL_ENV = "SUGAR_BRIDGE_TEST_MYSQL_URL"


@pytest.fixture(scope="session")
def mysql_url() -> Iterator[str]:
    """URL of a fresh database on the test MariaDB, dropped at the end of the session."""
    base = os.environ.get(MYSQL_ENV)
    if not base:
        pytest.skip(f"{MYSQL_ENV} is not set (CI sets it with .ci/mariadb.sh start)")
    url = make_url(base)
    name = f"sugar_bridge_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine_for(base)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    admin.dispose()
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        admin = create_engine_for(base)
        with admin.begin() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


@pytest.fixture(scope="session")
def _mysql_engine(mysql_url: str) -> Iterator[Engine]:
    engine = create_engine_for(mysql_url)
    ensure_current(engine)
    yield engine
    engine.dispose()


def _empty_tables(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture(params=["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty warehouse: a SQLite file per test, or the session's MariaDB database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'warehouse.db'}"
        engine = create_engine_for(url)
        ensure_current(engine)
        engine.dispose()
        yield url
        return
    engine = request.getfixturevalue("_mysql_engine")
    _empty_tables(engine)
    yield request.getfixturevalue("mysql_url")
    _empty_tables(engine)


@pytest.fixture
def warehouse(warehouse_url: str) -> Iterator[Engine]:
    """An engine on ``warehouse_url``."""
    engine = create_engine_for(warehouse_url)
    yield engine
    engine.dispose()
