"""The campaign log as Sugar writes it (recordings 21_*), extracted and counted in the statistics.

Sugar saves the 'targeted' rows as beans (EmailMan), but its tracker INSERTs the responses with
SQL and no ``date_modified`` (the sandbox's ``index.php?entryPoint=image`` does the same, replayed
against the recording in tests/sugar_bridge/sandbox/test_campaign_log_conformance.py). A response
that comes after a first extraction must still be read by the next one, and count in
``campaign_responses_12m`` of its customer.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
from sqlalchemy.engine import Engine

from analytics.crm import crm_statistics
from connectors.sugar.client import SugarClient
from connectors.sugar.crm import SugarSourceConfig
from etl.crm import CrmExtractInfo, ModuleInfo, extract_crm
from etl.schema import dim_customer
from sugar_bridge.sandbox import Sandbox
from tests.etl.crm_support import campaign_rows, log_sent, open_mail


def _module(info: CrmExtractInfo, name: str) -> ModuleInfo:
    return next(m for m in info.modules if m.module == name)


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
    log_sent(client, campaign, keys, sent)  # what EmailMan saves when the e-mail goes out
    config = SugarSourceConfig(page_size=2)
    modules = ["Accounts", "CampaignLog"]
    extract_crm(engine, client, config, modules=modules)
    assert campaign_rows(engine, campaign) == {
        (buyer, "targeted", False),
        (other, "targeted", False),
    }

    # After that night, the buyer opens the e-mail (twice: one row, hits 2) ...
    open_mail(sandbox.base_url, keys[buyer])
    open_mail(sandbox.base_url, keys[buyer])
    # ... and the next night's incremental run reads the response Sugar logged without a
    # date_modified (read on date_modified it never would be).
    info = extract_crm(engine, client, config, modules=modules)
    assert _module(info, "CampaignLog").inserted == 1
    assert campaign_rows(engine, campaign) == {
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
