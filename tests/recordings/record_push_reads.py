"""Record how the push reads Sugar's accounts night after night (issue 15): keyset pages.

Run by hand against a SuiteCRM 7 (admin user) whose Accounts have the example config's custom
fields (``external_id_c``, ``segment_c``: ``sugar-bridge provision apply``), e.g.::

    set -a; . /tmp/sugar-bridge-suitecrm/live.env; set +a
    python tests/recordings/record_push_reads.py --out tests/recordings/suitecrm-7.15.0

Writes ``24_<step>_<what>.json`` (format and redaction of the shared recorder.py): one
sequence, in file-name order. The requests are the ones
``sugar_bridge.push.reads`` sends — the same select list (matching fields, ``date_modified``,
``deleted`` and the pushed fields), ``order_by`` and queries built by the same functions —
narrowed to the recording's accounts by a name prefix: a full read in keyset pages
(``deleted=0``), then, after a rep's edit of a pushed field and a deletion, the next night's read
of what changed since the newest ``date_modified`` read (``date_modified >= W``, ``deleted=1``).
Records have client-chosen ids (``new_with_id``) sorting in creation order; everything created
is marked deleted at the end.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from recorder import Recorder, run

from connectors.sugar import query as q
from connectors.sugar.crm import Cursor, changed_since

SELECT = [
    "id",
    "date_modified",
    "deleted",
    "name",
    "email1",
    "assigned_user_id",
    "external_id_c",
    "billing_address_city",
    "billing_address_country",
    "billing_address_postalcode",
    "segment_c",
]
ORDER = q.order_by("date_modified ASC, id ASC")


def _query(tag: str, cursor: Cursor | None) -> str:
    """The push's query, narrowed to the recording's accounts."""
    mine = q.like_prefix("accounts.name", tag)
    since = changed_since("accounts", cursor)
    return q.and_(mine, since) if since else mine


def _page(body: Any) -> tuple[str, str]:
    last = body["entry_list"][-1]["name_value_list"]
    return str(last["date_modified"]["value"]), str(last["id"]["value"])


PREFIX = "24"


def record(r: Recorder, tag: str) -> None:
    step = iter(range(1, 100))
    hex_tag = tag.removeprefix("SBREC") + "00"  # the ids' first group: 8 hex digits

    def rec(what: str, description: str, method: str, **params: Any) -> Any:
        return r.record(f"{PREFIX}_{next(step):02d}_{what}", description, method, params)

    ids = [f"{hex_tag}-0000-4000-8000-00000000000{i}" for i in (1, 2, 3)]
    segments = ["champions", "loyal", "at_risk"]
    rec(
        "accounts_create_set_entries_new_with_id",
        "set_entries Accounts: three accounts with client-chosen ids (new_with_id) sorting in"
        " creation order, with an e-mail, an external id, a segment and a billing town.",
        "set_entries",
        module_name="Accounts",
        name_value_lists=[
            [
                {"name": "id", "value": i},
                {"name": "new_with_id", "value": True},
                {"name": "name", "value": f"{tag} A{n}"},
                {"name": "email1", "value": f"a{n}.{hex_tag}@example.com"},
                {"name": "external_id_c", "value": f"{tag}-{n}"},
                {"name": "segment_c", "value": segments[n - 1]},
                {"name": "billing_address_city", "value": "Lyon"},
            ]
            for n, i in enumerate(ids, start=1)
        ],
    )
    r.created += [("Accounts", i) for i in ids]
    page1 = rec(
        "accounts_full_read_page_1",
        "get_entry_list Accounts: a full read's first page as the push sends it (every live"
        " account: order_by 'date_modified ASC, id ASC', deleted=0, the matching and pushed"
        " fields), max_results 2.",
        "get_entry_list",
        module_name="Accounts",
        query=_query(tag, None),
        order_by=ORDER,
        offset=0,
        select_fields=SELECT,
        link_name_to_fields_array=[],
        max_results=2,
        deleted=0,
    )
    modified, last_id = _page(page1)
    cursor = Cursor(datetime.strptime(modified, "%Y-%m-%d %H:%M:%S"), last_id)
    page2 = rec(
        "accounts_full_read_page_2",
        "get_entry_list Accounts: the next page starts after the last record of page 1"
        " (date_modified = its second AND id > its id, or a later second).",
        "get_entry_list",
        module_name="Accounts",
        query=_query(tag, cursor),
        order_by=ORDER,
        offset=0,
        select_fields=SELECT,
        link_name_to_fields_array=[],
        max_results=2,
        deleted=0,
    )
    watermark, _ = _page(page2)
    # The edit and the deletion come in a later second than the creation (Sugar's clock is to
    # the second): the changed read after them then has a defined order, also when replayed.
    time.sleep(1.1)
    rec(
        "accounts_segment_edited_by_a_rep",
        "set_entry Accounts: a rep sets the first account's segment by hand (its date_modified"
        " moves to now).",
        "set_entry",
        module_name="Accounts",
        name_value_list=[{"name": "id", "value": ids[0]}, {"name": "segment_c", "value": "lost"}],
    )
    rec(
        "accounts_delete_second",
        "set_entry Accounts: the second account deleted (deleted 1: date_modified moves too).",
        "set_entry",
        module_name="Accounts",
        name_value_list=[{"name": "id", "value": ids[1]}, {"name": "deleted", "value": 1}],
    )
    rec(
        "accounts_changed_read_deleted_1",
        "get_entry_list Accounts: the next night's read, what changed since the newest"
        " date_modified read (date_modified >= it: the records of that second are read again),"
        " deleted=1: the untouched third account (same second), the edited one with the rep's"
        " segment, the deleted one with deleted '1'.",
        "get_entry_list",
        module_name="Accounts",
        query=_query(tag, Cursor(datetime.strptime(watermark, "%Y-%m-%d %H:%M:%S"))),
        order_by=ORDER,
        offset=0,
        select_fields=SELECT,
        link_name_to_fields_array=[],
        max_results=1000,
        deleted=1,
    )


def main(argv: list[str] | None = None) -> int:
    return run(__doc__ or "", [PREFIX], record, argv, tagged=[("Accounts", "accounts.name")])


if __name__ == "__main__":
    raise SystemExit(main())
