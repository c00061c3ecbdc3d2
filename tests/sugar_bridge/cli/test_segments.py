"""``sugar-bridge segments …`` end to end against the sandbox and a migrated SQLite warehouse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from etl.db import create_engine_for, upgrade
from sugar_bridge.cli.app import app
from sugar_bridge.sandbox import Sandbox
from tests.sugar_bridge.push.conftest import Warehouse, client_for


def test_segments_commands(
    tmp_path: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    engine = create_engine_for(url)
    upgrade(engine)
    wh = Warehouse(engine)
    wh.add_customer("C1", "Alpha", "a@example.com", rfm_segment="At risk")
    wh.add_customer("C2", "Beta", None, rfm_segment="Loyal")
    wh.add_customer("C3", "Twin", None)
    wh.analyse()
    with client_for(sandbox) as client:
        client.module("Accounts").create({"name": "Twin"})
        client.module("Accounts").create({"name": "TWIN"})
    config = tmp_path / "config.yaml"
    config.write_text("push:\n  sessions: 2\n  batch_size: 10\n", encoding="utf-8")
    for key, value in {
        "SUGAR_BRIDGE_SUGAR_URL": sandbox.base_url,
        "SUGAR_BRIDGE_SUGAR_PASSWORD": sandbox.admin_password,
        "SUGAR_BRIDGE_WAREHOUSE_URL": url,
        "SUGAR_BRIDGE_CONFIG": str(config),
    }.items():
        monkeypatch.setenv(key, value)
    runner = CliRunner()

    dry = runner.invoke(app, ["segments", "push", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "dry run, nothing written" in dry.output
    assert "(none) → At risk" in dry.output
    assert sandbox.stats.calls["set_entries"] == 0

    real = runner.invoke(app, ["segments", "push", "--as-of", "2026-11-24"])
    assert real.exit_code == 0, real.output
    assert "accounts created" in real.output

    unmatched = runner.invoke(app, ["segments", "unmatched"])
    assert unmatched.exit_code == 0, unmatched.output
    assert "shop:C3" in unmatched.output
    assert "ambiguous" in unmatched.output

    match = runner.invoke(app, ["segments", "match"])
    assert match.exit_code == 0, match.output
    assert "created by the push" in match.output

    status = runner.invoke(app, ["status"])
    assert status.exit_code == 0, status.output
    assert "segment pushes" in status.output
    assert sandbox.admin_password not in status.output + real.output + dry.output

    bad = runner.invoke(app, ["segments", "push", "--as-of", "yesterday"])
    assert bad.exit_code == 2

    # a value Sugar does not keep: the run completes, exit code 3, retried next run
    wh.set("C1", n_orders=77)
    wh.analyse()
    original = sandbox.api._pairs
    monkeypatch.setattr(
        sandbox.api, "_pairs", lambda nvl: [p for p in original(nvl) if p[0] != "n_orders_c"]
    )
    partial = runner.invoke(app, ["segments", "push"])
    assert partial.exit_code == 3, partial.output
    assert "failed (retried next run)" in partial.output
    monkeypatch.setattr(sandbox.api, "_pairs", original)
    again = runner.invoke(app, ["segments", "push"])
    assert again.exit_code == 0, again.output
    engine.dispose()


def test_push_dry_run_json(
    tmp_path: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    engine = create_engine_for(url)
    upgrade(engine)
    wh = Warehouse(engine)
    wh.add_customer("C1", "Alpha", "a@example.com", rfm_segment="At risk")
    wh.analyse()
    config = tmp_path / "config.yaml"
    config.write_text("push:\n  batch_size: 10\n", encoding="utf-8")
    for key, value in {
        "SUGAR_BRIDGE_SUGAR_URL": sandbox.base_url,
        "SUGAR_BRIDGE_SUGAR_PASSWORD": sandbox.admin_password,
        "SUGAR_BRIDGE_WAREHOUSE_URL": url,
        "SUGAR_BRIDGE_CONFIG": str(config),
        "SUGAR_BRIDGE_LOG_FORMAT": "json",
    }.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(app, ["segments", "push", "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["dry_run"] is True
    assert document["created"] == 1
    assert document["transitions"] == {"(none) → At risk": 1}
    assert document["sample"][0]["customer_key"] is not None
    assert all(json.loads(line) for line in result.stderr.splitlines())  # only JSON logs
    assert sandbox.stats.calls["set_entries"] == 0
    engine.dispose()


@pytest.mark.parametrize("locale", ["en", "fr"])
def test_a_push_with_persons_is_shown_in_every_language(
    locale: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The persons' rows sit under the accounts' in the push's table, in the users' language
    (in French the table raised ValueError: it looked for the English row to insert them after)."""
    from datetime import date

    from analytics.i18n import Texts
    from sugar_bridge.cli.segments import render_run
    from sugar_bridge.push.push import PushRunInfo

    info = PushRunInfo(1, date(2026, 12, 6), dry_run=False, full=False, status="ok")
    info.customers, info.unchanged, info.retired = 3, 2, 1
    info.modules = {"Contacts": {"customers": 1, "matched": 1, "created": 0, "updated": 0}}
    render_run(info, Texts.for_locale(locale))
    out = capsys.readouterr().out
    unchanged, persons, failed, moved = {
        "en": (
            "accounts unchanged",
            "of which persons, in Contacts",
            "failed (retried next run)",
            "old records emptied (customer moved)",
        ),
        "fr": (
            "comptes inchangés",
            "dont personnes, dans Contacts",
            "en échec (retentés",
            "anciennes fiches vidées (client déplacé)",
        ),
    }[locale]
    assert out.index(unchanged) < out.index(persons) < out.index(failed)
    assert moved in out
