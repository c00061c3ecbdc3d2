"""Analytics fixtures: a synthetic warehouse on SQLite, (marker ``mysql``) on MariaDB,
(marker ``postgres``) on PostgreSQL and (marker ``spider``) on MariaDB Spider.

The server variants use ``SUGAR_BRIDGE_TEST_MYSQL_URL`` / ``SUGAR_BRIDGE_TEST_POSTGRES_URL`` /
``SUGAR_BRIDGE_TEST_SPIDER_URL`` (CI sets them with ``.ci/mariadb.sh start`` / ``.ci/postgres.sh
start`` / ``.ci/spider.sh start``) and are skipped when theirs is unset. On MariaDB and
PostgreSQL each gets its own fresh database, dropped afterwards, its tables created with
``metadata.create_all`` (the migration itself is tested separately). On Spider that would make
the facts plain InnoDB tables on the head, i.e. test MariaDB a second time: Spider's tests run on
the session's migrated warehouse (``tests.etl.fixtures.server_warehouse``), whose facts are
sharded over the data nodes, emptied before each use.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy.engine import Engine

from etl.db import create_engine_for
from etl.schema import metadata
from tests.etl.fixtures import BACKENDS, fresh_database, server_warehouse

__all__ = ["BACKENDS", "cdnow_transactions", "engine", "make_engine"]

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def cdnow_transactions() -> pd.DataFrame:
    """The CDNOW sample's transaction log (Fader & Hardie): customer, date, CDs, amount."""
    frame = pd.read_csv(
        DATA / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["master_id", "customer", "date", "cds", "amount"],
        dtype={"date": str},
    )
    frame["date"] = pd.to_datetime(frame["date"], format="%Y%m%d")
    return frame


def make_engine(
    kind: str, directory: Path, request: pytest.FixtureRequest | None = None
) -> Iterator[Engine]:
    """An engine on an empty warehouse with every table of ``etl.schema`` (and the view);
    ``spider`` needs the test's ``request`` (the session's sharded warehouse, see above)."""
    if kind == "spider":
        if request is None:
            raise TypeError("make_engine('spider', ...) needs the test's request")
        _, engine = server_warehouse(request, "spider")
        yield engine
        return
    if kind == "sqlite":
        engine = create_engine_for(f"sqlite:///{directory / 'warehouse.db'}")
        metadata.create_all(engine)
        yield engine
        engine.dispose()
        return
    for url in fresh_database(kind, "sugar_bridge_test_an"):
        engine = create_engine_for(url)
        metadata.create_all(engine)
        yield engine
        engine.dispose()


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty warehouse per test, on each backend."""
    yield from make_engine(request.param, tmp_path, request)
