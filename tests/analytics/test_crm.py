"""CRM statistics per customer (cases, contacts, pipeline, campaigns): exact figures for
hand-made Sugar records, identical on SQLite, MariaDB and PostgreSQL."""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import Connection, Engine

from analytics.config import AnalyticsConfig
from analytics.crm import add_crm_statistics, crm_present, crm_summary
from analytics.habits import compute_habits
from analytics.report import write_report
from analytics.run import run_analytics
from analytics.store import latest_run, load_run
from etl.schema import customer_metrics, etl_run
from tests.analytics import synth
from tests.analytics.crm_synth import add, day
from tests.analytics.synth import Customer, Line, Order

AS_OF = date(2025, 12, 31)


def _warehouse(engine: Engine) -> dict[str, int]:
    customers = [
        Customer("A", "Alice & Co", sugar_account_id="acc-A"),
        Customer("B", "Bob Person"),
        Customer("P", "Prospect Ltd", sugar_account_id="acc-P"),
        Customer("N", "No CRM record", sugar_account_id=None),
    ]
    orders = [
        Order("A", datetime(2025, 3, 1, 12), [Line("SKU-0", 1, 1000.0)]),
        Order("B", datetime(2025, 6, 1, 12), [Line("SKU-1", 1, 200.0)]),
        Order("N", datetime(2025, 7, 1, 12), [Line("SKU-1", 1, 300.0)]),
    ]
    with engine.begin() as conn:
        keys = synth.write(
            conn,
            synth.Warehouse(customers=customers, products=synth.default_products(), orders=orders),
        )
    return keys


def _crm_records(engine: Engine, keys: dict[str, int]) -> None:
    with engine.begin() as conn:
        add(conn, "crm_account", id="acc-A", name="Alice & Co", customer_key=keys["A"])
        add(conn, "crm_account", id="acc-P", name="Prospect Ltd", customer_key=keys["P"])
        add(conn, "crm_account", id="acc-X", name="Not a customer", industry="Retail")
        add(conn, "crm_account", id="acc-D", name="Deleted", customer_key=keys["N"], deleted=True)
        add(conn, "crm_contact", id="con-B", customer_key=keys["B"])
        add(conn, "crm_contact", id="con-A", account_id="acc-A")
        # Cases of A: open; closed in 3.5 days; closed in 1 day; closed before the 12 months;
        # deleted; entered after as_of.
        case = {"account_id": "acc-A"}
        add(
            conn,
            "crm_case",
            **case,
            state="Open",
            status="Open_New",
            date_entered=day("2025-06-01"),
        )
        add(
            conn,
            "crm_case",
            **case,
            state="Closed",
            status="Closed_Closed",
            date_entered=day("2025-03-01T10:00"),
            date_modified=day("2025-03-04T22:00"),
        )
        add(
            conn,
            "crm_case",
            **case,
            state="Closed",
            date_entered=day("2025-11-01T08:00"),
            date_modified=day("2025-11-02T08:00"),
        )
        add(
            conn,
            "crm_case",
            **case,
            state="Closed",
            date_entered=day("2024-06-01"),
            date_modified=day("2024-06-11"),
        )
        add(conn, "crm_case", **case, state="Open", date_entered=day("2025-05-01"), deleted=True)
        add(conn, "crm_case", **case, state="Open", date_entered=day("2026-01-10"))
        add(conn, "crm_case", account_id="acc-P", state="Open", date_entered=day("2025-12-30"))
        # Activities: held calls and meetings count, planned ones and tasks do not.
        held = {"status": "Held"}
        add(
            conn,
            "crm_activity",
            module="Calls",
            account_id="acc-A",
            **held,
            parent_type="Accounts",
            parent_id="acc-A",
            date_start=day("2025-12-01T10:00"),
        )
        add(
            conn,
            "crm_activity",
            module="Meetings",
            account_id="acc-A",
            contact_id="con-A",
            parent_type="Contacts",
            parent_id="con-A",
            **held,
            date_start=day("2025-02-01"),
        )
        add(
            conn,
            "crm_activity",
            module="Meetings",
            account_id="acc-A",
            **held,
            date_start=day("2024-11-01"),
        )
        add(
            conn,
            "crm_activity",
            module="Calls",
            account_id="acc-A",
            status="Planned",
            date_start=day("2025-12-20"),
        )
        add(
            conn,
            "crm_activity",
            module="Calls",
            account_id="acc-A",
            **held,
            date_start=day("2026-01-05"),
        )
        add(
            conn,
            "crm_activity",
            module="Tasks",
            account_id="acc-A",
            status="Completed",
            date_start=day("2025-12-02"),
        )
        add(
            conn,
            "crm_activity",
            module="Calls",
            contact_id="con-B",
            parent_type="Contacts",
            parent_id="con-B",
            **held,
            date_start=day("2025-07-15T09:30"),
        )
        add(
            conn,
            "crm_activity",
            module="Calls",
            contact_id="con-B",
            **held,
            deleted=True,
            date_start=day("2025-08-15"),
        )
        # Opportunities: open ones by stage; closed, deleted and future ones left out.
        opp = {"account_id": "acc-A"}
        add(conn, "crm_opportunity", **opp, sales_stage="Prospecting", amount=1000, probability=10)
        add(
            conn,
            "crm_opportunity",
            **opp,
            sales_stage="Negotiation/Review",
            amount="2500.50",
            probability=80,
        )
        add(conn, "crm_opportunity", **opp, sales_stage="Negotiation/Review", amount="499.50")
        add(conn, "crm_opportunity", **opp, sales_stage="Closed Won", amount=5000, probability=100)
        add(conn, "crm_opportunity", **opp, sales_stage="Prospecting", amount=70, deleted=True)
        add(
            conn,
            "crm_opportunity",
            **opp,
            sales_stage="Prospecting",
            amount=90,
            date_entered=day("2026-01-02"),
        )
        add(
            conn,
            "crm_opportunity",
            account_id="acc-P",
            sales_stage="Qualification",
            amount="333.33",
            probability=33,
        )
        # Campaign log: sends and responses in the 12 months, to the account or the person.
        log = {"target_type": "Accounts", "target_id": "acc-A"}
        add(
            conn,
            "crm_campaign_log",
            **log,
            activity_type="targeted",
            activity_date=day("2025-05-01"),
        )
        add(
            conn, "crm_campaign_log", **log, activity_type="viewed", activity_date=day("2025-05-02")
        )
        add(conn, "crm_campaign_log", **log, activity_type="link", activity_date=day("2025-05-03"))
        add(
            conn,
            "crm_campaign_log",
            **log,
            activity_type="targeted",
            activity_date=day("2024-05-01"),
        )
        person = {"target_type": "Contacts", "target_id": "con-B"}
        add(
            conn,
            "crm_campaign_log",
            **person,
            activity_type="targeted",
            activity_date=day("2025-09-01"),
        )
        add(
            conn,
            "crm_campaign_log",
            **person,
            activity_type="send error",
            activity_date=day("2025-09-01"),
        )
        # Leads: one open, one converted, one dead.
        add(conn, "crm_lead", status="New", converted=False, lead_source="Web Site")
        add(conn, "crm_lead", status="Converted", converted=True, account_id="acc-A")
        add(conn, "crm_lead", status="Dead", converted=False)


@pytest.fixture
def crm(engine: Engine) -> tuple[Engine, dict[str, int]]:
    keys = _warehouse(engine)
    _crm_records(engine, keys)
    return engine, keys


def _frame(engine: Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        habits = compute_habits(conn, AS_OF, AnalyticsConfig()).customers
        return add_crm_statistics(conn, habits, AS_OF)


def test_cases_per_customer(crm: tuple[Engine, dict[str, int]]) -> None:
    engine, keys = crm
    frame = _frame(engine)
    a, p = frame.loc[keys["A"]], frame.loc[keys["P"]]
    assert (a["cases_open"], a["cases_12m"]) == (1, 3)
    assert a["case_resolution_days"] == pytest.approx(2.25)  # (3.5 + 1) / 2
    assert (p["cases_open"], p["cases_12m"]) == (1, 1)
    assert math.isnan(p["case_resolution_days"])
    assert frame.loc[keys["B"], "cases_open"] == 0


def test_contacts_are_calls_and_meetings_held(crm: tuple[Engine, dict[str, int]]) -> None:
    engine, keys = crm
    frame = _frame(engine)
    a, b = frame.loc[keys["A"]], frame.loc[keys["B"]]
    assert a["contacts_12m"] == 2
    assert a["last_contact_at"] == pd.Timestamp("2025-12-01 10:00")
    assert a["contacts_per_month"] == pytest.approx(0.17)
    # A person customer's contacts come through its Sugar contact.
    assert b["contacts_12m"] == 1
    assert b["last_contact_at"] == pd.Timestamp("2025-07-15 09:30")
    assert pd.isna(frame.loc[keys["P"], "last_contact_at"])


def test_open_pipeline_by_stage_and_weighted(crm: tuple[Engine, dict[str, int]]) -> None:
    engine, keys = crm
    frame = _frame(engine)
    a, p = frame.loc[keys["A"]], frame.loc[keys["P"]]
    assert a["open_opportunities"] == 3
    assert a["pipeline_amount"] == pytest.approx(4000.00)
    # 1000 x 10 % + 2500.50 x 80 %; no probability weighs nothing
    assert a["weighted_pipeline_amount"] == pytest.approx(2100.40)
    assert json.loads(a["pipeline_by_stage"]) == {
        "Negotiation/Review": 3000.0,
        "Prospecting": 1000.0,
    }
    assert p["weighted_pipeline_amount"] == pytest.approx(110.00)  # 333.33 x 33 %
    assert pd.isna(frame.loc[keys["B"], "pipeline_by_stage"])


def test_campaign_sends_and_responses(crm: tuple[Engine, dict[str, int]]) -> None:
    engine, keys = crm
    frame = _frame(engine)
    assert (frame.loc[keys["A"], "campaign_targeted_12m"]) == 1
    assert (frame.loc[keys["A"], "campaign_responses_12m"]) == 2
    assert (frame.loc[keys["B"], "campaign_targeted_12m"]) == 1
    assert (frame.loc[keys["B"], "campaign_responses_12m"]) == 0
    assert (frame.loc[keys["N"], "campaign_targeted_12m"]) == 0


def test_summary_counts_prospects_from_accounts_and_leads(
    crm: tuple[Engine, dict[str, int]],
) -> None:
    engine, _ = crm
    frame = _frame(engine)
    with engine.connect() as conn:
        summary = crm_summary(conn, frame, AS_OF)
    assert summary is not None
    assert summary["cases_open"] == 2
    assert summary["case_resolution_days"] == pytest.approx(2.25)
    assert summary["contacts_12m"] == 3
    assert summary["buyers_not_contacted_12m"] == 1  # N
    assert summary["pipeline_by_stage"][0] == {
        "stage": "Negotiation/Review",
        "n": 2,
        "amount": 3000.0,
        "weighted": 2000.4,
    }
    assert summary["campaign_response_rate"] == pytest.approx(1.0)  # 2 responses / 2 sends
    assert summary["prospects"] == {
        "customers_without_orders": 1,  # P
        "accounts_not_customers": 1,  # acc-X (acc-D is deleted)
        "open_leads": 1,  # not the converted nor the dead one
    }


def test_a_run_stores_the_crm_columns_and_the_view_shows_them(
    crm: tuple[Engine, dict[str, int]],
) -> None:
    engine, keys = crm
    info = run_analytics(engine, AnalyticsConfig(), AS_OF)
    with engine.connect() as conn:
        row = conn.execute(
            select(customer_metrics).where(
                customer_metrics.c.run_id == info.run_id,
                customer_metrics.c.customer_key == keys["A"],
            )
        ).one()
        run = load_run(conn, info.run_id)
    assert (row.cases_open, row.cases_12m, row.contacts_12m, row.open_opportunities) == (1, 3, 2, 3)
    assert float(row.weighted_pipeline_amount) == pytest.approx(2100.40)
    pipeline = row.pipeline_by_stage
    if isinstance(pipeline, str):
        pipeline = json.loads(pipeline)
    assert pipeline == {"Negotiation/Review": 3000.0, "Prospecting": 1000.0}
    assert run is not None
    assert run["portfolio"]["crm"]["open_opportunities"] == 4
    # Far too little history for a score: said so, no score given.
    prospects = run["models"]["prospects"]
    assert prospects["status"] == "insufficient"
    assert "too little history" in prospects["message"]


def test_no_crm_records_no_crm_columns(engine: Engine) -> None:
    _warehouse(engine)
    with engine.connect() as conn:
        assert not crm_present(conn)
        frame = _frame(engine)
        assert "cases_open" not in frame.columns
        assert crm_summary(conn, frame, AS_OF) is None
    info = run_analytics(engine, AnalyticsConfig(), AS_OF)
    with engine.connect() as conn:
        run = load_run(conn, info.run_id)
        assert latest_run(conn) is not None
        cases = conn.scalars(
            select(customer_metrics.c.cases_open).where(customer_metrics.c.run_id == info.run_id)
        ).all()
    assert run is not None
    assert "crm" not in run["portfolio"]
    assert "prospects" not in run["models"]
    assert set(cases) == {None}


def test_the_report_shows_the_crm_section_in_english_and_french(
    crm: tuple[Engine, dict[str, int]], tmp_path: Path
) -> None:
    engine, _ = crm
    config = AnalyticsConfig()
    english = write_report(engine, config, AS_OF, tmp_path / "en.html").path.read_text()
    assert 'id="crm"' in english
    assert 'data-key="crm_cases_open">2<' in english
    weighted = re.search(r'data-key="crm_weighted_pipeline">([^<]*)<', english)
    assert weighted is not None
    assert weighted.group(1).endswith("2,210.40")  # 2,100.40 (A) + 110.00 (P), currency first
    assert "Negotiation/Review" in english
    assert "1 accounts not tied to a customer and 1 open leads" in english
    assert "No prospect score for this run: too little history" in english
    french = write_report(engine, config, AS_OF, tmp_path / "fr.html", locale="fr").path
    page = french.read_text()
    assert "Relation client dans Sugar" in page
    assert "Pas de score de prospect pour ce calcul" in page


def test_no_crm_no_report_section(engine: Engine, tmp_path: Path) -> None:
    _warehouse(engine)
    page = write_report(engine, AnalyticsConfig(), AS_OF, tmp_path / "r.html").path.read_text()
    assert 'id="crm"' not in page
    assert 'id="prospects"' not in page
    assert "sugar_prospects" not in page


def test_a_commit_elsewhere_while_the_run_computes_does_not_fail_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The run's heartbeat commits every 75 s: on SQLite (WAL), a transaction that had read
    # before that commit can no longer write ("database is locked"). The figures are computed
    # apart from the transaction that stores them.
    from analytics import run as run_module
    from tests.analytics.conftest import make_engine

    engine = next(make_engine("sqlite", tmp_path))
    _crm_records(engine, _warehouse(engine))
    compute = run_module.add_crm_statistics

    def heartbeat_in_between(conn: Connection, customers: pd.DataFrame, as_of: date) -> Any:
        out = compute(conn, customers, as_of)
        with engine.begin() as other:
            other.execute(update(etl_run).values(lease_until=datetime(2030, 1, 1)))
        return out

    monkeypatch.setattr(run_module, "add_crm_statistics", heartbeat_in_between)
    info = run_analytics(engine, AnalyticsConfig(), AS_OF)
    assert info.n_customers == 4
