"""CLI output: one line per step, pure JSON logs, ``--json`` alone on stdout, nothing cut."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
from rich.table import Table
from typer.testing import CliRunner

import sugar_bridge.pipeline as pipeline
from connectors.sugar.exceptions import ConnectionRefused
from sugar_bridge.cli.app import app
from sugar_bridge.cli.output import _Console, _LogProgress
from sugar_bridge.pipeline import StageSpec, StepContext, StepInfo
from tests.conftest import REPO

STEPS = ("extract", "validate", "load", "analyse", "push")


def _etl(ctx: StepContext) -> list[StepInfo]:
    # What the real stages do besides returning their infos: library INFO lines and progress.
    logging.getLogger("etl.run").info("etl run 7 ok: 1234567 read")
    if ctx.progress is not None:
        ctx.progress("load: order lines read", 1_234_567, 0)
    return [
        StepInfo("extract", counts={"sources": 1, "rows_read": 1_234_567}),
        StepInfo("validate", counts={"valid": 1_234_567, "rejected": 0}),
        StepInfo("load", counts={"rows_loaded": 1_234_567}, run_id=7),
    ]


def _analyse(ctx: StepContext) -> list[StepInfo]:
    logging.getLogger("analytics.run").info("analytics run 8: 31145 customers")
    return [StepInfo("analyse", counts={"customers": 31_145}, run_id=8)]


def _push(ctx: StepContext) -> list[StepInfo]:
    logging.getLogger("sugar_bridge.push.push").info("push run 9 ok")
    return [StepInfo("push", counts={"created": 20_000, "updated": 0}, run_id=9)]


@pytest.fixture
def fake_sync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`sugar-bridge sync` over stages that talk like the real ones, on a temporary warehouse."""
    monkeypatch.setenv("SUGAR_BRIDGE_CONFIG", str(REPO / "config" / "sugar-bridge.yaml"))
    monkeypatch.setenv("SUGAR_BRIDGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(pipeline, "preflight", lambda runtime: None)
    stages = [
        StageSpec(("extract", "validate", "load"), _etl),
        StageSpec(("analyse",), _analyse),
        StageSpec(("push",), _push),
    ]
    monkeypatch.setattr(pipeline, "default_stages", lambda: stages)


def test_sync_prints_each_step_once(fake_sync: None) -> None:
    result = CliRunner().invoke(app, ["sync", "--as-of", "2026-11-30"])
    assert result.exit_code == 0, result.output
    step_lines = [line for line in result.stdout.splitlines() if line.startswith("✓")]
    assert [line.split()[1] for line in step_lines] == list(STEPS)
    # The library's INFO lines would say the same a second time: only warnings pass.
    assert "etl run 7" not in result.stderr
    assert "sync 1: load ok" not in result.stderr
    assert "1,234,567" in result.stdout  # whole, not "1,234,5…", though not a terminal


def test_sync_with_json_logs_writes_only_json_on_stderr(
    fake_sync: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUGAR_BRIDGE_LOG_FORMAT", "json")
    result = CliRunner().invoke(app, ["sync", "--as-of", "2026-11-30"])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stderr.splitlines()]  # every line is JSON
    messages = [r["message"] for r in records]
    for step in STEPS:
        assert sum(f"sync 1: {step} ok" in m for m in messages) == 1, messages
    assert "etl run 7 ok: 1234567 read" in messages  # library records are kept, as JSON
    assert not any(line.startswith("✓") for line in result.stdout.splitlines())  # no chatter
    assert "sync run 1 as of Nov 30, 2026: ok" in result.stdout  # the result stays (Babel date)


def test_sync_json_is_the_only_stdout(fake_sync: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUGAR_BRIDGE_LOG_FORMAT", "json")
    result = CliRunner().invoke(app, ["sync", "--as-of", "2026-11-30", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert list(document) == [
        "run_id",
        "as_of",
        "dry_run",
        "status",
        "seconds",
        "rows_rejected",
        "push_failures",
        "steps",
    ]
    assert document["as_of"] == "2026-11-30"
    assert document["status"] == "ok"
    assert [s["name"] for s in document["steps"]] == list(STEPS)
    assert document["steps"][2]["counts"] == {"rows_loaded": 1_234_567}
    assert all(json.loads(line) for line in result.stderr.splitlines())


def test_status_in_a_pipe_shows_every_value_whole(
    fake_sync: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "40")  # a narrow terminal beside the pipe: ignored there
    runner = CliRunner()
    assert runner.invoke(app, ["sync", "--as-of", "2026-11-30"]).exit_code == 0
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 0, result.output
    assert "…" not in result.stdout
    lines = result.stdout.splitlines()
    sync_row = next(line for line in lines if "│ sync " in line)
    assert "1,234,567" in sync_row  # rows read, whole on the run's own line
    assert "not running (`sugar-bridge scheduler start`)" in result.stdout
    assert any(str(Path.cwd()) in line for line in lines)  # the warehouse path, unbroken


def test_status_json(fake_sync: None, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["sync", "--as-of", "2026-11-30"]).exit_code == 0
    result = runner.invoke(app, ["status", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert list(document) == ["warehouse", "runs", "rejects", "pushes", "running", "schedule"]
    assert document["running"] is None  # the sync is over: nobody holds its lock
    sync_run = next(r for r in document["runs"] if r["job"] == "sync")
    assert sync_run["status"] == "ok"
    assert [s["name"] for s in sync_run["details"]["steps"]] == list(STEPS)
    assert sync_run["duration_s"] >= 0
    assert document["rejects"] == {"latest_etl_run": None, "by_rule": []}
    assert document["pushes"] == []
    assert list(document["schedule"]["next_runs"]) == ["sync", "drift check"]


def test_a_table_off_a_terminal_is_never_cut_or_wrapped() -> None:
    out = io.StringIO()
    console = _Console(file=out)
    table = Table(title="t")
    for column in ("run", "field", "rows"):
        table.add_column(column)
    long_name = "account_segment_" + "x" * 150 + "_c"
    table.add_row("31", long_name, f"{31_145_926:,}")
    console.print(table)
    text = out.getvalue()
    assert long_name in text
    assert "31,145,926" in text
    assert max(len(line) for line in text.splitlines()) < 250  # sized to content, not padded


def test_log_progress_reports_a_long_step_not_a_quick_one(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    now = [100.0]
    monkeypatch.setattr("sugar_bridge.cli.output.time.monotonic", lambda: now[0])
    report = _LogProgress(every_s=10)
    with caplog.at_level(logging.INFO, logger="sugar_bridge.cli"):
        report("quick", 0, 5)
        now[0] += 1
        report("quick", 5, 5)  # done in 1 s: nothing to say
        report("push: write", 0, 20_000)
        now[0] += 10
        report("push: write", 2_500, 20_000)
        now[0] += 5
        report("push: write", 5_000, 20_000)  # within 10 s of the last line: quiet
        now[0] += 25
        report("push: write", 20_000, 20_000)
        report("push: write", 20_000, 20_000)  # once only
    assert [r.getMessage() for r in caplog.records] == [
        "push: write: 2,500 / 20,000, 250/s",
        "push: write: 20,000 / 20,000, 500/s",
    ]


def test_a_failed_sync_with_json_logs_reports_its_error_as_json(
    fake_sync: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def push_down(ctx: StepContext) -> list[StepInfo]:
        raise ConnectionRefused("nothing listening at crm.example.com:443 [connection refused]")

    stages = [StageSpec(("extract", "validate", "load"), _etl), StageSpec(("push",), push_down)]
    monkeypatch.setattr(pipeline, "default_stages", lambda: stages)
    monkeypatch.setenv("SUGAR_BRIDGE_LOG_FORMAT", "json")
    result = CliRunner().invoke(app, ["sync", "--as-of", "2026-11-30"])
    assert result.exit_code == 1, result.output
    records = [json.loads(line) for line in result.stderr.splitlines()]  # every line is JSON
    errors = [r["message"] for r in records if r["level"] == "ERROR"]
    assert errors == [
        "error: step 'push' failed: nothing listening at crm.example.com:443 [connection refused]"
    ]
    assert result.stdout == ""


def test_a_problem_for_a_person_keeps_its_brackets(fake_sync: None) -> None:
    def push_down(ctx: StepContext) -> list[StepInfo]:
        raise ConnectionRefused("nothing listening at crm.example.com:443 [connection refused]")

    pipeline_stages = [StageSpec(("push",), push_down)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline, "default_stages", lambda: pipeline_stages)
        result = CliRunner().invoke(app, ["sync", "--as-of", "2026-11-30"])
    assert result.exit_code == 1, result.output
    assert "[connection refused]" in result.stderr  # not eaten as Rich markup


def test_every_push_and_crm_counter_has_its_words_in_each_language() -> None:
    """The step lines of ``sync`` name each counter in the users' language: a counter the push
    or the Sugar extraction reports (its persons' share too) never shows as its raw key."""
    import dataclasses
    import typing

    from analytics.i18n import Texts
    from etl.crm import CrmExtractInfo
    from sugar_bridge.cli.common import count_label
    from sugar_bridge.pipeline import PERSONS_PREFIX
    from sugar_bridge.push.push import MODULE_COUNTERS, PushRunInfo

    hints = typing.get_type_hints(PushRunInfo)
    keys = {f.name for f in dataclasses.fields(PushRunInfo) if hints[f.name] is int} - {"run_id"}
    keys |= {f"{PERSONS_PREFIX}{k}" for k in (*MODULE_COUNTERS, "customers")}
    keys |= set(CrmExtractInfo(run_id=1, full=False).counts())
    fr = Texts.for_locale("fr")
    english = {k: count_label(Texts.for_locale("en"), k) for k in sorted(keys)}
    french = {k: count_label(fr, k) for k in sorted(keys)}
    # an unknown counter shows as its key's words in both languages
    assert [k for k in keys if french[k] == english[k] and k != "modules"] == []
    assert french["contacts_created"] == "contacts : créés"
