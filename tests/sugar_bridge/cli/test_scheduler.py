"""`sugar-bridge scheduler` and `sugar-bridge sync` at the command line (exit codes, SIGTERM)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sugar_bridge.cli.app import app
from tests.conftest import REPO

EXAMPLE = REPO / "config" / "sugar-bridge.yaml"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "SUGAR_BRIDGE_CONFIG": str(EXAMPLE),
        "SUGAR_BRIDGE_DATA_DIR": str(tmp_path / "data"),
        # Nothing listens there: the scheduler must start (and stop) without talking to Sugar.
        "SUGAR_BRIDGE_SUGAR_URL": "http://127.0.0.1:9",
        "SUGAR_BRIDGE_SUGAR_PASSWORD": "not-used-by-this-test",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def test_scheduler_next_shows_the_nightly_run(env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["scheduler", "next"])
    assert result.exit_code == 0, result.output
    assert "sync" in result.output
    assert "02:00" in result.output  # in the schedule's time zone (Europe/Paris)
    assert "drift check" in result.output
    assert "not running" in result.output
    assert not Path(env["SUGAR_BRIDGE_DATA_DIR"]).exists()  # a status creates nothing
    unhealthy = CliRunner().invoke(app, ["scheduler", "next", "--require-running"])
    assert unhealthy.exit_code == 1


def test_scheduler_next_json(env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["scheduler", "next", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert list(document) == ["timezone", "next_runs", "running", "schedulers"]
    assert document["timezone"] == "Europe/Paris"
    assert list(document["next_runs"]) == ["sync", "drift check"]
    assert document["next_runs"]["sync"].endswith("T02:00:00+01:00")  # in the schedule's zone
    assert document["running"] is False
    assert document["schedulers"] == []


def test_sync_without_sources_or_sugar_is_a_config_error(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("sugar: {}\n", encoding="utf-8")
    monkeypatch.setenv("SUGAR_BRIDGE_CONFIG", str(empty))
    result = CliRunner().invoke(app, ["sync"])
    assert result.exit_code == 2, result.output
    assert "no order source" in " ".join(result.output.split())  # Rich wraps long lines
    config = tmp_path / "c.yaml"
    config.write_text("sources:\n  inputs:\n    - {name: shop, type: csv, path: orders}\n")
    monkeypatch.setenv("SUGAR_BRIDGE_CONFIG", str(config))
    monkeypatch.delenv("SUGAR_BRIDGE_SUGAR_PASSWORD")
    result = CliRunner().invoke(app, ["sync"])
    assert result.exit_code == 2, result.output
    assert "SUGAR_BRIDGE_SUGAR_PASSWORD" in result.output
    assert not (tmp_path / "data").exists()  # nothing was done


def test_sync_with_a_bad_date_is_a_config_error(env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["sync", "--as-of", "23/11/2026"])
    assert result.exit_code == 2
    assert "--as-of" in result.output


def test_scheduler_start_logs_to_stdout_and_stops_on_sigterm(
    env: dict[str, str], tmp_path: Path
) -> None:
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "sugar-bridge"), "scheduler", "start"],
        cwd=tmp_path,
        env={**os.environ, **env, "SUGAR_BRIDGE_LOG_FORMAT": "json"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 30
        seen = ""
        while "next run at" not in seen:
            assert time.monotonic() < deadline, seen
            line = proc.stdout.readline()
            assert line, f"scheduler exited early: {proc.stderr.read() if proc.stderr else ''}"
            seen += line
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    lines = (seen + out).strip().splitlines()
    assert all(line.startswith("{") for line in lines), lines  # JSON lines on stdout
    text = seen + out
    assert "scheduler started" in text
    assert "sugar-bridge.sync: next run at" in text
    assert "scheduler stopped" in text
    assert "not-used-by-this-test" not in text + err
