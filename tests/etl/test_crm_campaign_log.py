"""The campaign log as Sugar writes it (recordings 21_*), extracted and counted in the statistics.

Sugar saves the 'targeted' rows as beans (EmailMan), but its tracker INSERTs the responses with
SQL and no ``date_modified`` (the sandbox's ``index.php?entryPoint=image`` does the same, replayed
against the recording in tests/sugar_bridge/sandbox/test_campaign_log_conformance.py). A response
that comes after a first extraction must still be read by the next one, and count in
``campaign_responses_12m`` of its customer.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import requests
from sqlalchemy import select
from sqlalchemy.engine import Engine

from analytics.crm import crm_statistics
from connectors.sugar.client import SugarClient
from connectors.sugar.crm import SugarSourceConfig
from etl.crm import CrmExtractInfo, ModuleInfo, extract_crm
from etl.db import create_engine_for
from etl.schema import crm_campaign_log, dim_customer, metadata
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


def _opened(sandbox: Sandbox, key: str) -> None:
    """The target opens the e-mail: its client fetches Sugar's tracking image."""
    reply = requests.get(
        f"{sandbox.base_url}/index.php",
        params={"entryPoint": "image", "identifier": key},
        timeout=30,
    )
    assert (reply.status_code, reply.headers["Content-Type"]) == (200, "image/gif")


def _module(info: CrmExtractInfo, name: str) -> ModuleInfo:
    return next(m for m in info.modules if m.module == name)


def _log(engine: Engine, campaign: str) -> set[tuple[str, str, bool]]:
    """The campaign's rows: (target, activity, without date_modified)."""
    t = crm_campaign_log
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.c.target_id, t.c.activity_type, t.c.date_modified.is_(None)).where(
                t.c.campaign_id == campaign
            )
        ).all()
    return {(str(a), str(b), bool(c)) for a, b, c in rows}


def test_responses_logged_by_sugars_tracker_are_extracted_and_counted(
    engine: Engine, client: SugarClient, sandbox: Sandbox
) -> None:
    tag = datetime.now().strftime("%H%M%S%f")
    accounts = client.module("Accounts")
    buyer = accounts.create({"name": f"Buyer {tag}"})
    other = accounts.create({"name": f"Other {tag}"})
    with engine.begin() as conn:  # the push matched the buyer's account
        conn.execute(
            dim_customer.insert().values(
                customer_key=81,
                source="csv",
                source_customer_id=f"B{tag}",
                sugar_account_id=buyer,
                first_seen_at=datetime(2026, 1, 1),
                updated_at=datetime(2026, 1, 1),
            )
        )
    campaign = client.module("Campaigns").create(
        {"name": f"Mailing {tag}", "campaign_type": "Email", "status": "Active"}
    )
    sent = (datetime.now(UTC) - timedelta(days=2)).strftime("%Y-%m-%d %H:%M:%S")
    keys = {buyer: f"{tag}-key-buyer", other: f"{tag}-key-other"}
    client.call(  # what EmailMan saves when the e-mail goes out (recording 21_03)
        "set_entries",
        module_name="CampaignLog",
        name_value_lists=[
            [
                {"name": "campaign_id", "value": campaign},
                {"name": "target_tracker_key", "value": key},
                {"name": "target_id", "value": target},
                {"name": "target_type", "value": "Accounts"},
                {"name": "activity_type", "value": "targeted"},
                {"name": "activity_date", "value": sent},
            ]
            for target, key in keys.items()
        ],
    )
    config = SugarSourceConfig(page_size=2)
    modules = ["Accounts", "CampaignLog"]
    extract_crm(engine, client, config, modules=modules)
    assert _log(engine, campaign) == {(buyer, "targeted", False), (other, "targeted", False)}

    # After that night, the buyer opens the e-mail (twice: one row, hits 2) ...
    _opened(sandbox, keys[buyer])
    _opened(sandbox, keys[buyer])
    # ... and the next night's incremental run reads the response Sugar logged without a
    # date_modified (read on date_modified it never would be).
    info = extract_crm(engine, client, config, modules=modules)
    assert _module(info, "CampaignLog").inserted == 1
    assert _log(engine, campaign) == {
        (buyer, "targeted", False),
        (other, "targeted", False),
        (buyer, "viewed", True),
    }
    again = extract_crm(engine, client, config, modules=modules)
    assert _module(again, "CampaignLog").inserted == 0

    as_of = datetime.now(UTC).date() + timedelta(days=1)
    with engine.connect() as conn:
        stats = crm_statistics(conn, pd.Index([81]), as_of)
    assert stats.loc[81, "campaign_targeted_12m"] == 1
    assert stats.loc[81, "campaign_responses_12m"] == 1
