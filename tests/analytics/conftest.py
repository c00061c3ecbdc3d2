"""Analytics fixtures: a synthetic warehouse on SQLite and (marker ``mysql``) on MariaDB.

The MariaDB variant uses ``SUGAR_BRIDGE_TEST_MYSQL_URL`` (CI sets it with ``.ci/mariadb.sh
start``) and is skipped when it is unset; it gets its own fresh database, dropped afterwards.
Tables are created with ``metadata.create_all`` (the migration itself is tested separately).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

from etl.db import create_engine_for
from etl.schema import metadata

MYSQL_ENV = "SUGAR_BRIDGE_TEST_MYSQL_URL"


def _mysql_database() -> Iterator[str]:
    base = os.environ.get(MYSQL_ENV)
    if not base:
        pytest.skip(f"{MYSQL_ENV} is not set (CI sets it with .ci/mariadb.sh start)")
    name = f"sugar_bridge_test_an_{uuid.uuid4().hex[:8]}"
    admin = create_engine_for(base)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    admin.dispose()
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        admin = create_engine_for(base)
        with admin.begin() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


def make_engine(kind: str, directory: Path) -> Iterator[Engine]:
    """An engine on an empty warehouse with every table of ``etl.schema`` (and the view)."""
    if kind == "sqlite":
        engine = create_engine_for(f"sqlite:///{directory / 'warehouse.db'}")
        metadata.create_all(engine)
        yield engine
        engine.dispose()
        return
    for url in _mysql_database():
        engine = create_engine_for(url)
        metadata.create_all(engine)
        yield engine
        engine.dispose()


BACKENDS = ["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)]


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty warehouse per test, on each backend."""
    yield from make_engine(request.param, tmp_path)
