"""The campaign log on the real SuiteCRM (marker live): a response Sugar's own tracker logs after
a first extraction is read by the next one and counts in the customer's statistics.

The 'targeted' rows are saved the way EmailMan saves them (a CampaignLog bean, here through
``set_entries``); the response is Sugar's: the open-tracking image fetched as a mail client does
(``index.php?entryPoint=image``), which INSERTs a 'viewed' row without ``date_modified``
(recordings 21_*). Everything made is marked deleted at the end.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy.engine import Engine

from analytics.crm import crm_statistics
from connectors.sugar import query as q
from connectors.sugar.client import SugarClient
from connectors.sugar.crm import SugarSourceConfig
from etl.crm import extract_crm
from etl.db import create_engine_for, upgrade
from etl.schema import dim_customer
from tests.etl.crm_support import campaign_rows, log_sent, open_mail
from tests.live.support import delete_records

pytestmark = pytest.mark.live


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = create_engine_for(f"sqlite:///{tmp_path / 'w.db'}")
    upgrade(eng)
    yield eng
    eng.dispose()


def test_a_response_logged_by_sugar_is_extracted_and_counted(
    live_sugar: SugarClient, engine: Engine
) -> None:
    tag = f"SBC{secrets.token_hex(3)}"
    created: list[tuple[str, str]] = []
    campaign = ""
    try:
        buyer = live_sugar.module("Accounts").create({"name": f"{tag} Buyer"})
        other = live_sugar.module("Accounts").create({"name": f"{tag} Other"})
        created += [("Accounts", buyer), ("Accounts", other)]
        campaign = live_sugar.module("Campaigns").create(
            {
                "name": f"{tag} Mailing",
                "campaign_type": "Email",
                "status": "Active",
                "end_date": "2027-12-31",
            }
        )
        created.append(("Campaigns", campaign))
        with engine.begin() as conn:  # the push matched the buyer's account
            conn.execute(
                dim_customer.insert().values(
                    customer_key=81,
                    source="csv",
                    source_customer_id=f"{tag}-B",
                    sugar_account_id=buyer,
                    first_seen_at=datetime(2026, 1, 1),
                    updated_at=datetime(2026, 1, 1),
                )
            )
        sent = (datetime.now(UTC) - timedelta(days=2)).strftime("%Y-%m-%d %H:%M:%S")
        keys = {buyer: f"{tag}-buyer-key", other: f"{tag}-other-key"}
        log_sent(live_sugar, campaign, keys, sent)
        config = SugarSourceConfig(page_size=50)
        modules = ["Accounts", "CampaignLog"]
        extract_crm(engine, live_sugar, config, modules=modules)
        assert campaign_rows(engine, campaign) == {
            (buyer, "targeted", False),
            (other, "targeted", False),
        }

        open_mail(os.environ["SUGAR_LIVE_URL"], keys[buyer])

        extract_crm(engine, live_sugar, config, modules=modules)
        assert campaign_rows(engine, campaign) == {
            (buyer, "targeted", False),
            (other, "targeted", False),
            (buyer, "viewed", True),  # Sugar wrote it without a date_modified
        }
        as_of = datetime.now(UTC).date() + timedelta(days=1)
        with engine.connect() as conn:
            stats = crm_statistics(conn, pd.Index([81]), as_of)
        assert stats.loc[81, "campaign_targeted_12m"] == 1
        assert stats.loc[81, "campaign_responses_12m"] == 1
    finally:
        if campaign:
            rows = live_sugar.module("CampaignLog").list(
                q.eq("campaign_log.campaign_id", campaign), fields=["id"]
            )
            delete_records(live_sugar, "CampaignLog", [str(r["id"]) for r in rows])
        for module, record_id in reversed(created):
            delete_records(live_sugar, module, [record_id])
