"""Fixtures of the Sugar source's tests: a sandbox Sugar (one per module) and an admin client of
it, and a warehouse on each engine (SQLite, and MariaDB / PostgreSQL / Spider with their
markers), its tables created from the schema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from connectors.sugar.client import SugarClient
from etl.db import create_engine_for
from etl.schema import metadata
from sugar_bridge.sandbox import Sandbox
from tests.etl.fixtures import BACKENDS, server_warehouse


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    sb = Sandbox()
    sb.start()
    yield sb
    sb.close()


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[SugarClient]:
    with SugarClient(sandbox.base_url, "admin", sandbox.admin_password) as c:
        yield c


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        eng = create_engine_for(f"sqlite:///{tmp_path / 'w.db'}")
        metadata.create_all(eng)
        yield eng
        eng.dispose()
        return
    _, eng = server_warehouse(request, request.param)
    yield eng
