"""Analytics fixtures: a synthetic warehouse on SQLite, (marker ``mysql``) on MariaDB and
(marker ``postgres``) on PostgreSQL.

The server variants use ``SUGAR_BRIDGE_TEST_MYSQL_URL`` / ``SUGAR_BRIDGE_TEST_POSTGRES_URL`` (CI
sets them with ``.ci/mariadb.sh start`` / ``.ci/postgres.sh start``) and are skipped when theirs
is unset; each gets its own fresh database, dropped afterwards.
Tables are created with ``metadata.create_all`` (the migration itself is tested separately).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy.engine import Engine

from etl.db import create_engine_for
from etl.schema import metadata
from tests.etl.fixtures import BACKENDS, fresh_database

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


def make_engine(kind: str, directory: Path) -> Iterator[Engine]:
    """An engine on an empty warehouse with every table of ``etl.schema`` (and the view)."""
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
    yield from make_engine(request.param, tmp_path)
