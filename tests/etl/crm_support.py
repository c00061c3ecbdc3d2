"""What the Sugar source's tests share (their fixtures are in tests/etl/conftest.py): the
campaign log's steps (the e-mail sent, opened) and rows, for the sandbox and the live tests
alike."""

from __future__ import annotations

from collections.abc import Mapping

import requests
from sqlalchemy import select
from sqlalchemy.engine import Engine

from connectors.sugar.client import SugarClient
from etl.schema import crm_campaign_log


def log_sent(client: SugarClient, campaign: str, keys: Mapping[str, str], sent: str) -> None:
    """The campaign's e-mail sent to each account of ``keys`` (account id -> tracker key): the
    CampaignLog rows EmailMan saves when an e-mail goes out (recording 21_03)."""
    client.call(
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


def open_mail(base_url: str, key: str) -> None:
    """The target opens the e-mail: its client fetches Sugar's tracking image."""
    reply = requests.get(
        f"{base_url.rstrip('/')}/index.php",
        params={"entryPoint": "image", "identifier": key},
        timeout=60,
    )
    assert (reply.status_code, reply.headers["Content-Type"]) == (200, "image/gif")


def campaign_rows(engine: Engine, campaign: str) -> set[tuple[str, str, bool]]:
    """The campaign's rows in the warehouse: (target, activity, without date_modified)."""
    t = crm_campaign_log
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.c.target_id, t.c.activity_type, t.c.date_modified.is_(None)).where(
                t.c.campaign_id == campaign
            )
        ).all()
    return {(str(a), str(b), bool(c)) for a, b, c in rows}
