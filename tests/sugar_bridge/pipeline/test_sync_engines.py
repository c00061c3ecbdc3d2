"""The real nightly sync on each server warehouse does what it does on SQLite.

Generated orders → warehouse (MariaDB with marker ``mysql``, PostgreSQL with marker ``postgres``)
→ analytics → a sandbox Sugar provisioned from the example config; then a second night with one
new order. Every step's counts, the statuses and what Sugar ends up holding must equal the same
two nights on a SQLite warehouse.
"""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest

from connectors.orders.config import CsvSourceConfig, SourcesConfig
from sugar_bridge.config import ProjectConfig, load_config
from sugar_bridge.demo.generator import GeneratorOptions, write_orders_csv
from sugar_bridge.pipeline import SyncInfo, sync
from sugar_bridge.provision.apply import apply
from sugar_bridge.runtime import Runtime
from sugar_bridge.sandbox import Sandbox
from sugar_bridge.settings import load_settings
from sugar_bridge.sugar import make_client
from tests.conftest import REPO
from tests.etl.fixtures import (
    BACKENDS,
    _empty_tables,
    server_warehouse,
)

SERVERS = [backend for backend in BACKENDS if not isinstance(backend, str)]
AS_OF = date(2026, 11, 23)
# The nightly sync of AS_OF (a sync for a past day would push nothing).
NIGHT = lambda: datetime.combine(AS_OF, time(22, 0), tzinfo=UTC)  # noqa: E731


@pytest.fixture
def generated(tmp_path: Path) -> Path:
    """The shop's export (120 customers, with the deliberately bad rows)."""
    path = tmp_path / "generated" / "orders-2026.csv"
    write_orders_csv(path, GeneratorOptions(end=AS_OF, n_customers=120, bad_rows=True))
    return path


def _summary(info: SyncInfo) -> dict[str, Any]:
    return {
        "status": info.status,
        "rows_rejected": info.rows_rejected,
        "steps": [(s.name, s.status, s.counts) for s in info.steps],
    }


def _sugar(sandbox: Sandbox) -> dict[str, Any]:
    """Accounts by external id with their segment fields, and the target lists' sizes."""
    accounts = sandbox.store.rows(
        "SELECT c.external_id_c, a.name, c.segment_c, c.lifecycle_stage_c, c.rfm_score_c,"
        " c.clv_12m_c, c.n_orders_c FROM accounts a JOIN accounts_cstm c ON c.id_c = a.id"
        " WHERE a.deleted = 0 ORDER BY c.external_id_c"
    )
    lists = sandbox.store.rows(
        "SELECT p.name, COUNT(*) AS n FROM prospect_lists p JOIN prospect_lists_prospects r"
        " ON r.prospect_list_id = p.id AND r.deleted = 0 WHERE p.deleted = 0 GROUP BY p.name"
        " ORDER BY p.name"
    )
    return {"accounts": accounts, "lists": lists}


def _two_nights(tmp_path: Path, export: Path, warehouse_url: str) -> dict[str, Any]:
    """Two syncs against a fresh sandbox; what they reported and what Sugar holds."""
    orders = tmp_path / "orders"
    orders.mkdir()
    shutil.copy(export, orders / export.name)
    example = load_config(REPO / "config" / "sugar-bridge.yaml")
    sources = SourcesConfig(inputs=[CsvSourceConfig(name="shop", path=orders)])
    config: ProjectConfig = example.model_copy(update={"sources": sources})
    with Sandbox(db_path=tmp_path / "sandbox.db") as sandbox:
        settings = load_settings(
            data_dir=tmp_path / "data",
            warehouse_url=warehouse_url,
            sugar_url=sandbox.base_url,
            sugar_password=sandbox.admin_password,
            sugar_max_retries=0,
        )
        with make_client(settings) as client:
            apply(client, config.sugar, passwords_file=tmp_path / "pw.tsv")
        first = sync(Runtime(settings, config, clock=NIGHT), as_of=AS_OF)
        lines = (orders / export.name).read_text(encoding="utf-8").splitlines()
        header, row = lines[0], lines[1].split(",")
        row[0], row[2] = "SO-LATE-1", "2026-11-23T10:00:00"
        (orders / "orders-2026-late.csv").write_text(f"{header}\n{','.join(row)}\n", "utf-8")
        second = sync(Runtime(settings, config, clock=NIGHT), as_of=AS_OF)
        return {"first": _summary(first), "second": _summary(second), "sugar": _sugar(sandbox)}


@pytest.fixture
def reference(tmp_path: Path, generated: Path) -> dict[str, Any]:
    folder = tmp_path / "sqlite"
    folder.mkdir()
    return _two_nights(folder, generated, f"sqlite:///{folder / 'warehouse.db'}")


@pytest.mark.parametrize("kind", SERVERS)
def test_two_nights_of_sync_equal_sqlite(
    kind: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    generated: Path,
    reference: dict[str, Any],
) -> None:
    url, engine = server_warehouse(request, kind)
    folder = tmp_path / kind
    folder.mkdir()
    try:
        result = _two_nights(folder, generated, url)
    finally:
        _empty_tables(engine)
    first_push = dict(reference["first"]["steps"][-1][2])
    assert first_push["created"] > 50  # the reference really pushed
    assert reference["sugar"]["accounts"]
    assert result == reference
