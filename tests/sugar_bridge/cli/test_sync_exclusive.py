"""The commands that write what a sync writes (``etl run``, ``analytics run``, ``segments push``)
hold the sync's job lock: refused, with nothing written, while a sync (or another of them) runs;
a sync is refused while one of them runs; a dry-run push only reads and is not refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

import etl.run
from etl.db import create_engine_for, upgrade
from etl.schema import customer_metrics, etl_run, fact_order, job_lock
from sugar_bridge.cli.app import app
from sugar_bridge.exceptions import LockHeldError
from sugar_bridge.sandbox import Sandbox
from sugar_bridge.scheduler.locks import JobLock, current_holder
from tests.etl.data import order_rows, write_csv
from tests.sugar_bridge.cli.support import run
from tests.sugar_bridge.push.conftest import Warehouse


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """A migrated SQLite warehouse the CLI points at."""
    url = f"sqlite:///{tmp_path / 'w.db'}"
    monkeypatch.setenv("SUGAR_BRIDGE_WAREHOUSE_URL", url)
    (tmp_path / "config.yaml").write_text("push:\n  batch_size: 10\n", encoding="utf-8")
    monkeypatch.setenv("SUGAR_BRIDGE_CONFIG", str(tmp_path / "config.yaml"))
    monkeypatch.setenv("COLUMNS", "200")
    engine = create_engine_for(url)
    upgrade(engine)
    yield engine
    engine.dispose()


def _count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_etl_run_is_refused_while_a_sync_runs_and_writes_nothing(
    warehouse: Engine, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "orders.csv", order_rows(6))
    with JobLock(warehouse, "sync", purpose="scheduler"):
        code, out = run("etl", "run", "--csv", str(path), "--no-progress")
    assert code == 1, out
    assert "another run is in progress" in out
    assert "held by scheduler" in out
    assert _count(warehouse, fact_order) == 0
    assert _count(warehouse, etl_run) == 0  # not even a run recorded
    code, out = run("etl", "run", "--csv", str(path), "--no-progress")  # the sync is over
    assert code == 0, out
    assert _count(warehouse, fact_order) == 6
    assert _count(warehouse, job_lock) == 0  # released


def test_a_sync_is_refused_while_etl_run_loads(
    warehouse: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}
    original = etl.run.run_etl

    def loading(engine: Engine, *args: Any, **kwargs: Any) -> Any:
        holder = current_holder(engine, "sync")
        seen["purpose"] = holder.purpose if holder else None
        try:  # what `sugar-bridge sync` does first
            JobLock(engine, "sync", purpose="scheduler").acquire().release()
            seen["sync"] = "started"
        except LockHeldError as exc:
            seen["sync"] = str(exc)
        return original(engine, *args, **kwargs)

    monkeypatch.setattr(etl.run, "run_etl", loading)
    path = write_csv(tmp_path / "orders.csv", order_rows(4))
    code, out = run("etl", "run", "--csv", str(path), "--no-progress")
    assert code == 0, out
    assert seen["purpose"] == "etl run"
    assert "held by etl run" in seen["sync"]
    assert _count(warehouse, fact_order) == 4


def test_analytics_run_is_refused_while_a_sync_runs(warehouse: Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "orders.csv", order_rows(6))
    assert run("etl", "run", "--csv", str(path), "--no-progress")[0] == 0
    with JobLock(warehouse, "sync", purpose="scheduler"):
        code, out = run("analytics", "run", "--as-of", "2026-11-30")
    assert code == 1, out
    assert "held by scheduler" in out
    assert _count(warehouse, customer_metrics) == 0


def test_a_push_is_refused_while_a_sync_runs_and_a_dry_run_is_not(
    warehouse: Engine, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    wh = Warehouse(warehouse)
    wh.add_customer("C1", "Alpha", "a@example.com", rfm_segment="At risk")
    wh.analyse()
    monkeypatch.setenv("SUGAR_BRIDGE_SUGAR_URL", sandbox.base_url)
    monkeypatch.setenv("SUGAR_BRIDGE_SUGAR_PASSWORD", sandbox.admin_password)
    with JobLock(warehouse, "sync", purpose="scheduler"):
        dry_code, dry_out = run("segments", "push", "--dry-run")
        logins = sandbox.stats.calls["login"]
        code, out = run("segments", "push")
    assert dry_code == 0, dry_out
    assert "dry run, nothing written" in dry_out
    assert code == 1, out
    assert "held by scheduler" in out
    assert sandbox.stats.calls["set_entries"] == 0
    assert sandbox.stats.calls["login"] == logins  # refused before Sugar was asked anything
    code, out = run("segments", "push")
    assert code == 0, out
    assert "accounts created" in out, out


def _status_json() -> dict[str, Any]:
    result = CliRunner().invoke(app, ["status", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_status_names_who_holds_the_sync_lock(warehouse: Engine) -> None:
    with JobLock(warehouse, "sync", purpose="etl run") as lock:
        code, out = run("status")
        assert code == 0, out
        held = next(line for line in out.splitlines() if line.startswith("running now:"))
        assert f"running now: etl run (pid {lock.pid} on {lock.host}) since " in held
        assert "another sync, etl run, analytics run or segments push is refused" in held
        running = _status_json()["running"]
        assert (running["name"], running["purpose"]) == ("sync", "etl run")
        assert (running["pid"], running["host"]) == (lock.pid, lock.host)
        assert running["expires_at"] > running["acquired_at"]
    code, out = run("status")
    assert code == 0, out
    assert "running now" not in out
    assert _status_json()["running"] is None
