"""The analytics commands end to end: `analytics run`, `analytics clv --json`, `report`."""

from __future__ import annotations

import json
import threading
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from etl.db import create_engine_for, ensure_current
from sugar_bridge.cli.app import app
from tests.analytics import synth


@pytest.fixture(scope="module")
def warehouse_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """One migrated warehouse with 150 synthetic customers, and a config file, per module."""
    tmp_path = tmp_path_factory.mktemp("cli")
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    engine = create_engine_for(url)
    ensure_current(engine)
    with engine.begin() as conn:
        customers, orders = synth.random_orders(150, date(2023, 1, 1), date(2025, 12, 31))
        synth.write(conn, synth.Warehouse(customers, synth.default_products(), orders))
    engine.dispose()
    config = tmp_path / "sugar-bridge.yaml"
    config.write_text("analytics:\n  clv:\n    time_unit: weeks\n", encoding="utf-8")
    return url, config


@pytest.fixture
def warehouse(warehouse_file: tuple[str, Path], monkeypatch: pytest.MonkeyPatch) -> str:
    url, config = warehouse_file
    monkeypatch.setenv("SUGAR_BRIDGE_WAREHOUSE_URL", url)
    monkeypatch.setenv("SUGAR_BRIDGE_CONFIG", str(config))
    return url


def test_analytics_run_prints_a_summary_and_stores_the_run(warehouse: str) -> None:
    result = CliRunner().invoke(app, ["analytics", "run", "--as-of", "2025-12-31"])
    assert result.exit_code == 0, result.output
    assert "analytics run" in result.output
    assert "2025-12-31" in result.output
    assert "Champions" in result.output
    assert "declining" in result.output
    engine = create_engine_for(warehouse)
    with engine.connect() as conn:
        as_of, kind = conn.execute(text("SELECT as_of, kind FROM analytics_run")).one()
        shown = conn.execute(text("SELECT COUNT(*) FROM customer_habits")).scalar()
    engine.dispose()
    assert str(as_of) == "2025-12-31"
    # a past day (today is later): stored, but not what customer_habits and the push show
    assert kind == "backdated"
    assert shown == 0


def test_analytics_clv_json(warehouse: str) -> None:
    result = CliRunner().invoke(
        app, ["analytics", "clv", "--as-of", "2025-12-31", "--model", "bgnbd", "--json"]
    )
    assert result.exit_code == 0, result.output
    fitted = json.loads(result.output)
    assert fitted["time_unit"] == "weeks"
    assert fitted["currency"] == "EUR"  # the spend parameters' currency
    assert fitted["n_customers"] > 100
    assert set(fitted["bgnbd"]["params"]) == {"r", "alpha", "a", "b"}
    assert set(fitted["gamma_gamma"]["params"]) == {"p", "q", "gamma"}
    assert fitted["bgnbd"]["log_likelihood"] < 0
    table = CliRunner().invoke(
        app, ["analytics", "clv", "--as-of", "2025-12-31", "--model", "bgnbd"]
    )
    assert table.exit_code == 0, table.output
    assert "bgnbd" in table.output


def test_report_writes_html(warehouse: str, tmp_path: Path) -> None:
    out = tmp_path / "r" / "report.html"
    result = CliRunner().invoke(
        app, ["report", "--as-of", "2025-06-30", "--out", str(out)]
    )  # a date without a stored run: computed first
    assert result.exit_code == 0, result.output
    assert "computed now" in result.output
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_bad_as_of_is_a_config_error(warehouse: str) -> None:
    result = CliRunner().invoke(app, ["analytics", "run", "--as-of", "31/12/2025"])
    assert result.exit_code == 2
    assert "--as-of" in result.output


def test_analytics_run_needs_no_config_file(
    warehouse_file: tuple[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Like `etl run --csv`: no config/sugar-bridge.yaml in the working directory, none named.
    url, _ = warehouse_file
    monkeypatch.setenv("SUGAR_BRIDGE_WAREHOUSE_URL", url)
    assert not (tmp_path / "config").exists()
    result = CliRunner().invoke(app, ["analytics", "run", "--as-of", "2025-12-31"])
    assert result.exit_code == 0, result.output
    assert "analytics run" in result.output
    assert "Champions" in result.output
    named = tmp_path / "missing.yaml"
    monkeypatch.setenv("SUGAR_BRIDGE_CONFIG", str(named))
    typo = CliRunner().invoke(app, ["analytics", "run", "--as-of", "2025-12-31"])
    assert typo.exit_code == 2
    assert "config file not found" in typo.output


def test_a_future_as_of_is_refused(warehouse: str) -> None:
    for command in (["analytics", "run"], ["analytics", "clv"], ["report"], ["sync"]):
        result = CliRunner().invoke(app, [*command, "--as-of", "2030-01-01"])
        assert result.exit_code == 2, (command, result.output)
        assert "is after today" in " ".join(result.output.split()), command


def test_clv_reports_a_failure_of_the_summary_read_on_its_thread(
    warehouse: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The summary is read on a worker thread while the fitting code loads: its error must reach
    # the user as any other (one line, exit 1), not be lost with the thread.
    from analytics import summary
    from etl.exceptions import EtlError

    def broken(*_args: object, **_kwargs: object) -> None:
        raise EtlError("the warehouse went away while reading the summary")

    monkeypatch.setattr(summary, "read_model_input", broken)
    result = CliRunner().invoke(app, ["analytics", "clv", "--as-of", "2025-12-31", "--json"])
    assert result.exit_code == 1, result.output
    assert "the warehouse went away while reading the summary" in result.output


def test_clv_stops_the_summary_statement_when_it_fails_before_the_summary_is_in(
    warehouse: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The summary runs on a worker thread. A failure (or Ctrl-C) in the main thread meanwhile
    # must stop its statement (etl.db.cancel_statement), not wait for it: here a statement that
    # would count for half a minute.
    from analytics import holdout, summary
    from etl.exceptions import EtlError

    running = threading.Event()
    outcome: dict[str, object] = {}

    def long_read(conn: Any, *_args: object) -> None:
        # Set from inside the statement (SQLite's progress handler), so it is running for sure.
        conn.connection.dbapi_connection.set_progress_handler(lambda: running.set() or 0, 10_000)
        try:
            conn.exec_driver_sql(
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c"
                " WHERE x < 100000000) SELECT count(*) FROM c"
            ).scalar()
        except Exception as exc:
            outcome["error"] = str(exc)
            raise
        outcome["finished"] = True

    def failing_choice(*_args: object, **_kwargs: object) -> None:
        assert running.wait(30)
        raise EtlError("the holdout check failed")

    monkeypatch.setattr(summary, "read_model_input", long_read)
    monkeypatch.setattr(holdout, "choose_model", failing_choice)
    result = CliRunner().invoke(app, ["analytics", "clv", "--as-of", "2025-12-31"])
    assert result.exit_code == 1, result.output
    assert "the holdout check failed" in result.output
    assert "interrupted" in str(outcome.get("error"))
    assert "finished" not in outcome


def test_clv_says_when_the_parameters_shown_are_a_penalized_refit(
    warehouse: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A degenerate fit refitted with a penalty (analytics.holdout.fit_models): the text output
    # names the refit, so "fit not used: bgnbd" beside "model: bgnbd" is not a contradiction.
    from dataclasses import replace

    from analytics import holdout

    real = holdout.fit_models

    def refitted(*args: Any, **kwargs: Any) -> Any:
        fit = real(*args, **kwargs)
        return replace(fit, penalized=0.001, selection={"skipped": ["bgnbd (degenerate: a, b)"]})

    monkeypatch.setattr(holdout, "fit_models", refitted)
    result = CliRunner().invoke(
        app, ["analytics", "clv", "--as-of", "2025-12-31", "--model", "bgnbd"]
    )
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "bgnbd refitted with penalizer 0.001: its fit without one was degenerate" in text
    assert "fit not used: bgnbd (degenerate: a, b)" in text


def test_clv_names_the_models_it_knows_when_given_another(warehouse: str) -> None:
    result = CliRunner().invoke(app, ["analytics", "clv", "--model", "pareto", "--json"])
    assert result.exit_code == 2, result.output
    assert "--model 'pareto': choose auto, bgnbd, mbgnbd, pareto_nbd" in result.output


def test_clv_checks_the_models_on_a_holdout_when_asked(warehouse: str) -> None:
    named = CliRunner().invoke(
        app, ["analytics", "clv", "--as-of", "2025-12-31", "--model", "bgnbd", "--json"]
    )
    assert named.exit_code == 0, named.output
    assert json.loads(named.stdout)["selection"]["evaluations"] == {}  # nothing asked, no cost
    checked = CliRunner().invoke(
        app,
        ["analytics", "clv", "--as-of", "2025-12-31", "--model", "bgnbd", "--holdout", "120",
         "--json"],
    )  # fmt: skip
    assert checked.exit_code == 0, checked.output
    selection = json.loads(checked.stdout)["selection"]
    assert set(selection["evaluations"]) == {"bgnbd", "mbgnbd", "pareto_nbd"}
    assert selection["calibration_end"] == "2025-09-02"  # 120 days before
    auto = CliRunner().invoke(app, ["analytics", "clv", "--as-of", "2025-12-31", "--json"])
    chosen = json.loads(auto.stdout)
    assert chosen["model"] == chosen["selection"]["model"] or chosen["selection"].get("skipped")
    assert chosen["selection"]["reason"].startswith("lowest holdout error")


def test_analytics_prospects_without_crm_records_says_why(warehouse: str) -> None:
    result = CliRunner().invoke(app, ["analytics", "prospects", "--as-of", "2025-12-31", "--json"])
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["status"] == "insufficient"
    assert "no CRM records" in document["message"]


def test_analytics_prospects_json_and_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.analytics.test_prospects import history

    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    engine = create_engine_for(url)
    ensure_current(engine)
    history(engine, n=900)
    engine.dispose()
    monkeypatch.setenv("SUGAR_BRIDGE_WAREHOUSE_URL", url)
    monkeypatch.delenv("SUGAR_BRIDGE_CONFIG", raising=False)
    args = ["analytics", "prospects", "--as-of", "2025-12-31", "--top", "3"]
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["status"] == "ok"
    assert 0.5 < document["validation"]["auc"] <= 1
    assert len(document["validation"]["calibration"]) == 10
    assert {row["name"] for row in document["inputs"]} >= {"log_meetings_held", "is_lead"}
    assert len(document["best"]) == 3
    scores = [row["score"] for row in document["best"]]
    assert scores == sorted(scores, reverse=True)
    table = CliRunner().invoke(app, args)
    assert table.exit_code == 0, table.output
    assert "AUC" in table.output
    assert "meetings held" in table.output
