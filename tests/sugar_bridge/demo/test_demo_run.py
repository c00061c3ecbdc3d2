"""`sugar-bridge demo` end to end (small history): every phase real, files left where promised,
no secret in anything it prints or writes, and a foreign warehouse is never overwritten."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sugar_bridge.cli.app import app
from sugar_bridge.demo.run import MARKER, prepare_data_dir
from sugar_bridge.sandbox import Store
from tests.conftest import REPO


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUGAR_BRIDGE_CONFIG", str(REPO / "config" / "sugar-bridge.yaml"))


def test_demo_runs_every_phase_and_leaves_its_files(
    env: None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "demo-data"
    with caplog.at_level(logging.DEBUG):
        result = CliRunner().invoke(
            app, ["demo", "--data-dir", str(data), "--customers", "250", "--as-of", "2026-11-23"]
        )
    out = result.output
    assert result.exit_code == 0, out
    for phase in ("sandbox", "provision", "generate", "night 1", "crm", "night 2", "report"):
        assert f"✓ {phase}" in out
    flat = " ".join(out.split())
    assert "Night 2 (as of 2026-11-23)" in flat
    assert "changed records" in flat
    assert "Contacts for" in flat
    assert "customers who are persons (B2C)" in flat
    for step in ("extract", "validate", "load", "analyse", "push"):
        assert step in out
    assert "Rejected: 13 order rows" in out
    assert 'sugar-bridge sandbox accounts --segment "At risk"' in out
    assert (data / "report.html").stat().st_size > 10_000
    assert (data / "warehouse.db").exists()
    # The second night extracted the sales team's CRM from Sugar (issue 16).
    with sqlite3.connect(data / "warehouse.db") as wh:
        counts = {
            table: wh.execute(f"SELECT COUNT(*) FROM {table} WHERE deleted = 0").fetchone()[0]
            for table in ("crm_account", "crm_contact", "crm_lead", "crm_opportunity", "crm_case")
        }
        # 250 customers: ~27 companies (accounts, cases, opportunities), the rest persons.
        assert all(n > 0 for n in counts.values()), counts
        assert counts["crm_contact"] > 100, counts
        assert counts["crm_lead"] > 100, counts
        modules = dict(wh.execute("SELECT module, COUNT(*) FROM crm_activity GROUP BY module"))
        assert modules.get("Calls", 0) > 10, modules
        assert modules.get("Meetings", 0) > 10, modules
        # the planted signal: leads from partners and trade shows convert more than web leads
        rate = dict(
            wh.execute(
                "SELECT lead_source, AVG(CASE WHEN converted THEN 1.0 ELSE 0 END) FROM crm_lead"
                " GROUP BY lead_source"
            )
        )
        assert min(rate["Partner"], rate["Trade Show"]) > max(rate["Web Site"], rate["Cold Call"])
        # companies are accounts, persons contacts: each linked to its customer
        accounts = wh.execute("SELECT COUNT(customer_key) FROM crm_account").fetchone()[0]
        people = wh.execute("SELECT COUNT(customer_key) FROM crm_contact").fetchone()[0]
        assert accounts > 10
        assert people > 100
        # Cases come in as an imported history, a closed one with its close time as its last
        # save (over the API Sugar stamps date_modified now: recording 22_*), so the resolution
        # time is days, not the ~400 days from opening to the demo's run it used to show.
        closed = wh.execute(
            "SELECT COUNT(*), AVG(julianday(date_modified) - julianday(date_entered))"
            " FROM crm_case WHERE state = 'Closed' AND deleted = 0"
        ).fetchone()
        assert closed[0] > 5, closed
        assert 1 < closed[1] < 15, closed
        shown = wh.execute(
            "SELECT COUNT(*), MAX(case_resolution_days) FROM customer_habits"
            " WHERE case_resolution_days IS NOT NULL"
        ).fetchone()
        assert shown[0] > 0, shown
        assert shown[1] < 120, shown
    # The sandbox's state stays for `sugar-bridge sandbox accounts`.
    store = Store(data / "sandbox.db")
    at_risk = store.accounts_overview("at_risk", limit=10_000, module_name="Contacts")
    everyone = store.accounts_overview(None, limit=10_000, module_name="Contacts")
    companies = store.accounts_overview(None, limit=10_000)
    # The generator's persons are Contacts, its companies (and the key accounts) Accounts.
    assert len(everyone) + len(companies) > 250
    assert 0 < len(companies) < len(everyone)
    assert 0 < len(at_risk) < len(everyone)

    # No password (sandbox admin, generated users) in the output, the logs or the report.
    passwords = [
        line.split("\t")[-1]
        for line in (data / "demo-passwords.tsv").read_text(encoding="utf-8").splitlines()[1:]
        if line.strip()
    ]
    assert len(passwords) >= 5
    seen = out + caplog.text + (data / "report.html").read_text(encoding="utf-8")
    for secret in passwords:
        assert secret not in seen
    assert (data / "demo-passwords.tsv").stat().st_mode & 0o077 == 0


def test_a_second_demo_replaces_only_its_own_files(tmp_path: Path) -> None:
    data = tmp_path / "d"
    prepare_data_dir(data)  # first demo: marks the directory as its own
    for name in ("warehouse.db", "warehouse.db-wal", "sandbox.db", "report.html"):
        (data / name).write_text("old")
    (data / "demo-orders").mkdir()
    (data / "demo-orders" / "orders.csv").write_text("old")
    (data / "notes.txt").write_text("the user's")
    prepare_data_dir(data)
    assert sorted(p.name for p in data.iterdir()) == [MARKER, "notes.txt"]


def test_demo_refuses_a_data_dir_holding_another_warehouse(env: None, tmp_path: Path) -> None:
    data = tmp_path / "prod"
    data.mkdir()
    (data / "warehouse.db").write_bytes(b"not the demo's")
    result = CliRunner().invoke(app, ["demo", "--data-dir", str(data), "--customers", "20"])
    assert result.exit_code == 2
    assert "not made by the demo" in " ".join(result.output.split())
    assert (data / "warehouse.db").read_bytes() == b"not the demo's"


def test_orders_only_writes_the_history(env: None, tmp_path: Path) -> None:
    out = tmp_path / "orders" / "demo.csv"
    result = CliRunner().invoke(
        app, ["demo", "--orders-only", str(out), "--customers", "30", "--as-of", "2026-01-31"]
    )
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").startswith("order_id,line_no,ordered_at,")
    assert not (tmp_path / "data").exists()
