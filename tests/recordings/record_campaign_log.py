"""Record a campaign log with rows, the way Sugar writes them, and the Sugar source's reads of it.

Run by hand against a SuiteCRM 7 (admin user), e.g.::

    set -a; . /tmp/sugar-bridge-suitecrm/live.env; set +a
    python tests/recordings/record_campaign_log.py

Writes ``21_<step>_<what>.json`` (one sequence, in file-name order). How the rows come about:

- **sent** (``targeted``): what ``EmailMan::create_campaign_log_entry`` does when the campaign's
  e-mail goes out is a CampaignLog bean ``save()``; the recorder makes the same save through
  ``set_entries`` CampaignLog (two targets, tracker keys of its own), so the rows get a
  ``date_modified`` like EmailMan's.
- **responses**: the recorder fetches Sugar's own open-tracking image
  (``index.php?entryPoint=image&identifier=<tracker key>``, what a mail client does when the
  target opens the e-mail), which runs ``log_campaign_activity(identifier, 'viewed')``: an SQL
  INSERT into campaign_log *without* ``date_modified``. A second fetch only bumps ``hits``. The
  GET steps are recorded as ``{"request": {"http": "GET", "path", "params"}}`` with the answer's
  status, content type and length.

Then the Sugar source's reads (``get_entry_list`` CampaignLog, ``deleted=1``, restricted to the
recorder's campaign): ordered by ``date_modified`` the viewed row comes first with
``date_modified`` '' and a keyset query on ``date_modified`` never returns it again; ordered and
paged by ``activity_date`` (what the source does) every row is read, a page at a time. Everything
created is marked deleted at the end (the campaign_log rows the tracker inserted stay: Sugar has
no API to delete them; they belong to the deleted campaign).
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from recorder import Recorder, quote, run

FIELDS = [
    "id",
    "date_modified",
    "deleted",
    "campaign_id",
    "target_id",
    "target_type",
    "activity_type",
    "activity_date",
    "related_id",
    "related_type",
    "hits",
]


def _in_campaign(campaign: str, keyset: str = "") -> str:
    query = f"(campaign_log.campaign_id = {quote(campaign)})"
    return f"{query} AND ({keyset})" if keyset else query


def _after(column: str, value: str, last_id: str) -> str:
    """The Sugar source's keyset condition: after (column, id)."""
    c = f"campaign_log.{column}"
    return (
        f"({c} > {quote(value)}) OR (({c} = {quote(value)}) AND "
        f"(campaign_log.id > {quote(last_id)}))"
    )


def sequence(r: Recorder, tag: str) -> None:
    step = iter(range(1, 100))
    base = r.v4_url.removesuffix("/service/v4_1/rest.php")

    def rec(what: str, description: str, method: str, **params: Any) -> Any:
        return r.record(f"21_{next(step):02d}_{what}", description, method, params)

    def get(what: str, description: str, params: dict[str, str]) -> None:
        reply = requests.get(f"{base}/index.php", params=params, allow_redirects=False, timeout=60)
        r.write(
            f"21_{next(step):02d}_{what}",
            {
                "description": description,
                "request": {"http": "GET", "path": "/index.php", "params": params},
                "response": {
                    "status": reply.status_code,
                    "content_type": reply.headers.get("Content-Type", ""),
                    "length": len(reply.content),
                },
            },
        )

    campaign = rec(
        "campaigns_create",
        "set_entry Campaigns: an e-mail campaign.",
        "set_entry",
        module_name="Campaigns",
        name_value_list=[
            {"name": "name", "value": f"{tag} Spring mailing"},
            {"name": "campaign_type", "value": "Email"},
            {"name": "status", "value": "Active"},
            {"name": "end_date", "value": "2027-12-31"},
        ],
    )["id"]
    r.created.append(("Campaigns", campaign))
    hex_tag = tag.removeprefix("SBREC").ljust(8, "0")
    targets = [f"{hex_tag}-0000-4000-8000-00000000000{i}" for i in (1, 2)]
    rec(
        "contacts_create_targets",
        "set_entries Contacts: the campaign's two targets (client-chosen ids).",
        "set_entries",
        module_name="Contacts",
        name_value_lists=[
            [
                {"name": "id", "value": t},
                {"name": "new_with_id", "value": True},
                {"name": "last_name", "value": f"{tag} Target {n}"},
            ]
            for n, t in enumerate(targets, start=1)
        ],
    )
    r.created += [("Contacts", t) for t in targets]
    keys = [str(uuid.uuid4()) for _ in targets]
    logs = [f"{hex_tag}-0000-4000-8000-0000000000a{i}" for i in (1, 2)]
    rec(
        "campaignlog_sent_set_entries",
        "set_entries CampaignLog: the 'targeted' rows EmailMan saves (a bean save each) when the"
        " e-mail goes to the two targets; activity_date as sent.",
        "set_entries",
        module_name="CampaignLog",
        name_value_lists=[
            [
                {"name": "id", "value": log_id},
                {"name": "new_with_id", "value": True},
                {"name": "campaign_id", "value": campaign},
                {"name": "target_tracker_key", "value": key},
                {"name": "target_id", "value": target},
                {"name": "target_type", "value": "Contacts"},
                {"name": "activity_type", "value": "targeted"},
                {"name": "activity_date", "value": "2026-03-02 09:00:00"},
            ]
            for log_id, key, target in zip(logs, keys, targets, strict=True)
        ],
    )
    get(
        "image_viewed",
        "GET index.php?entryPoint=image (no login): the first target opens the e-mail; Sugar"
        " logs 'viewed' (log_campaign_activity: SQL INSERT, no date_modified) and answers a GIF.",
        {"entryPoint": "image", "identifier": keys[0]},
    )
    get(
        "image_viewed_again",
        "The same image again: Sugar only bumps the viewed row's hits (no new row).",
        {"entryPoint": "image", "identifier": keys[0]},
    )
    rec(
        "campaignlog_by_date_modified",
        "get_entry_list CampaignLog ordered by date_modified, id (deleted=1): the viewed row"
        " has date_modified '' and comes first.",
        "get_entry_list",
        module_name="CampaignLog",
        query=_in_campaign(campaign),
        order_by="date_modified ASC, id ASC",
        offset=0,
        select_fields=FIELDS,
        link_name_to_fields_array=[],
        max_results=10,
        deleted=1,
    )
    rec(
        "campaignlog_keyset_date_modified_misses_viewed",
        "get_entry_list CampaignLog after a far-past (date_modified, id): only the rows with a"
        " date_modified, never the viewed one.",
        "get_entry_list",
        module_name="CampaignLog",
        query=_in_campaign(campaign, _after("date_modified", "2000-01-01 00:00:00", "")),
        order_by="date_modified ASC, id ASC",
        offset=0,
        select_fields=FIELDS,
        link_name_to_fields_array=[],
        max_results=10,
        deleted=1,
    )
    page1 = rec(
        "campaignlog_keyset_activity_date_page_1",
        "get_entry_list CampaignLog as the Sugar source pages it: after a far-past"
        " (activity_date, id), ordered by activity_date, id, max_results 2.",
        "get_entry_list",
        module_name="CampaignLog",
        query=_in_campaign(campaign, _after("activity_date", "2000-01-01 00:00:00", "")),
        order_by="activity_date ASC, id ASC",
        offset=0,
        select_fields=FIELDS,
        link_name_to_fields_array=[],
        max_results=2,
        deleted=1,
    )
    last = page1["entry_list"][-1]["name_value_list"]
    rec(
        "campaignlog_keyset_activity_date_page_2",
        "The next page after the last row of page 1: the viewed row (activity_date = now).",
        "get_entry_list",
        module_name="CampaignLog",
        query=_in_campaign(
            campaign, _after("activity_date", last["activity_date"]["value"], last["id"]["value"])
        ),
        order_by="activity_date ASC, id ASC",
        offset=0,
        select_fields=FIELDS,
        link_name_to_fields_array=[],
        max_results=2,
        deleted=1,
    )
    # Every row of the campaign, the tracker's too, marked deleted at the end (a bean save each).
    rows = r.post(
        "get_entry_list",
        {
            "session": r.session,
            "module_name": "CampaignLog",
            "query": _in_campaign(campaign),
            "order_by": "",
            "offset": 0,
            "select_fields": ["id"],
            "link_name_to_fields_array": [],
            "max_results": 50,
            "deleted": 0,
        },
    )[1]
    r.created += [("CampaignLog", e["id"]) for e in rows.get("entry_list", [])]


def main(argv: list[str] | None = None) -> int:
    return run(__doc__ or "", ["21"], sequence, argv)


if __name__ == "__main__":
    raise SystemExit(main())
