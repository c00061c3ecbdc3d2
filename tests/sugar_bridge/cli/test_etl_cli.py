"""``sugar-bridge etl run/rejects``, ``db upgrade/current`` and ``status`` end to end (SQLite)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connectors.sugar.client import SugarClient
from sugar_bridge.cli.app import app
from sugar_bridge.sandbox import Sandbox
from tests.etl.data import order_rows, write_csv
from tests.sugar_bridge.cli.support import run


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SUGAR_BRIDGE_WAREHOUSE_URL", f"sqlite:///{tmp_path / 'w.db'}")
    monkeypatch.setenv("SUGAR_BRIDGE_CONFIG", str(tmp_path / "config.yaml"))
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path


def test_db_upgrade_and_current(env: Path) -> None:
    code, out = run("db", "current")
    assert code == 0
    assert "run `sugar-bridge db upgrade`" in out
    code, out = run("db", "upgrade")
    assert code == 0
    assert "migrated from empty to" in out
    code, out = run("db", "current")
    assert "up to date" in out


def test_etl_run_csv_rejects_and_status(env: Path) -> None:
    rows = order_rows(8)
    rows[1]["currency"] = "EUX"
    path = write_csv(env / "orders.csv", rows)
    code, out = run("etl", "run", "--csv", str(path), "--no-progress")
    assert code == 3, out  # completed with rejected rows
    assert "ETL run 1: partial" in out
    assert "unknown_currency 1" in out
    code, out = run("etl", "rejects")
    assert code == 0
    assert "orders.csv:3" in out
    assert "'EUX' is not an ISO 4217 code" in out
    code, out = run("status")
    assert code == 0
    assert "etl" in out
    assert "partial" in out
    assert "unknown_currency" in out
    code, out = run("etl", "run", "--csv", str(path))  # with the progress bar; file known
    assert code == 0, out
    assert "rows read" in out


def test_etl_rejects_lists_the_open_rejects_of_every_run(env: Path) -> None:
    folder = env / "in"
    rows = order_rows(8)
    rows[1]["currency"] = "EUX"
    write_csv(folder / "a.csv", rows)
    code, out = run("etl", "run", "--csv", str(folder), "--no-progress")
    assert code == 3, out
    write_csv(folder / "b.csv", order_rows(3, seed=9, prefix="B"))
    code, out = run("etl", "run", "--csv", str(folder), "--no-progress")  # a quiet night
    assert code == 0, out
    code, out = run("etl", "rejects")
    assert code == 0
    assert "a.csv:3" in out  # still listed: the bad file was not corrected
    assert "'EUX' is not an ISO 4217 code" in out
    result = CliRunner().invoke(app, ["etl", "rejects", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert (document["scope"], document["total"], document["shown"]) == ("open", 1, 1)
    reject = document["rejects"][0]
    assert (reject["run_id"], reject["source_key"], reject["rule"]) == (
        1,
        "a.csv:3",
        "unknown_currency",
    )
    assert reject["raw"]["currency"] == "EUX"  # the row as read, as an object
    code, out = run("etl", "rejects", "--run", "2")
    assert code == 0
    assert "no rejected rows of run 2" in out
    code, out = run("etl", "rejects", "--run", "9999")
    assert code != 0
    assert "no run 9999 in the warehouse" in out


def test_etl_run_configured_source(env: Path) -> None:
    folder = env / "in"
    write_csv(folder / "a.csv", order_rows(5))
    (env / "config.yaml").write_text(
        f"sources:\n  batch_lines: 3\n  inputs:\n    - name: shop\n      path: {folder}\n",
        encoding="utf-8",
    )
    code, out = run("etl", "run", "--source", "shop", "--no-progress")
    assert code == 0, out
    assert "orders inserted" in out
    code, out = run("etl", "run", "--source", "nope")
    assert code == 1
    assert "no source named 'nope'" in out


def test_config_errors_exit_2(env: Path) -> None:
    code, out = run("etl", "run")
    assert code == 2
    assert "config file not found" in out
    code, out = run("etl", "run", "--csv", str(env / "missing.csv"))
    assert code == 2
    (env / "x.csv").write_text("order_id\n", encoding="utf-8")
    code, out = run("etl", "run", "--csv", str(env / "x.csv"), "--since", "31/01/2024")
    assert code == 2
    assert "expected a date like 2024-01-31" in out


def test_etl_run_sugar_extracts_the_crm(
    env: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUGAR_BRIDGE_SUGAR_URL", sandbox.base_url)
    monkeypatch.setenv("SUGAR_BRIDGE_SUGAR_USERNAME", "admin")
    monkeypatch.setenv("SUGAR_BRIDGE_SUGAR_PASSWORD", sandbox.admin_password)
    with SugarClient(sandbox.base_url, "admin", sandbox.admin_password) as client:
        client.module("Cases").create({"name": "Broken screen"})
    (env / "config.yaml").write_text("sugar_source:\n  overlap_minutes: 10\n")
    code, out = run("etl", "run", "--sugar", "--module", "Cases")
    assert code == 0, out
    assert "Sugar extraction, run" in out
    assert "Cases" in out
    assert "Accounts" not in out
    code, out = run("etl", "run", "--sugar", "--module", "Bugs")
    assert code == 2, out
    assert "unknown module Bugs" in out
    (env / "config.yaml").write_text(
        "sugar_source:\n  modules:\n    Cases:\n      extra_fields: [no_such]\n"
    )
    code, out = run("etl", "run", "--sugar", "--full-refresh")
    assert code == 2, out
    assert "Cases has no field 'no_such'" in out
