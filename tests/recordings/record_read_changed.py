"""Record the extension's ``bridge_read_changed`` beside ``get_entry_list`` (issue 16), prefix 23.

Run by hand against a SuiteCRM 7 with the extension 1.5.0+ installed, e.g.::

    set -a; . /tmp/sugar-bridge-suitecrm/live.env; set +a
    python tests/recordings/record_read_changed.py --out tests/recordings/suitecrm-7.15.0

One sequence, in file-name order: an account, three contacts with client ids sorting in
creation order (one with an e-mail address, two linked to the account, one of them deleted), a
lead naming the account, an opportunity linked to it; then the Sugar source's pages read both
ways over the same records: ``bridge_read_changed`` from the first contact's ``date_modified``
(two pages of two, the second after the first's last record) and ``get_entry_list`` over the same
records (keyset query, ``deleted=1``), so the recordings themselves show the two answers equal;
the same for the lead and the opportunity; a bad position refused (1008). The SuiteCRM must
hold no other Contacts, Leads or Opportunities saved in those seconds (a private instance: the
extension's read has no tag filter). Everything created is marked deleted at the end. The
session id is redacted.
"""

from __future__ import annotations

import secrets
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from recorder import Recorder, quote, run

PREFIX = "23"
ORDER = "date_modified ASC, id ASC"
CONTACT_FIELDS = ["id", "date_entered", "date_modified", "deleted", "last_name", "account_id",
                  "email1"]  # fmt: skip
LEAD_FIELDS = ["id", "date_modified", "deleted", "last_name", "account_id", "account_name"]
OPPORTUNITY_FIELDS = ["id", "date_modified", "deleted", "name", "account_id", "amount"]


def sequence(r: Recorder, tag: str) -> None:
    hex_tag = secrets.token_hex(4)
    step = iter(range(1, 100))

    def rec(what: str, description: str, method: str, **params: Any) -> Any:
        return r.record(f"{PREFIX}_{next(step):02d}_{what}", description, method, params)

    def ext(what: str, description: str, method: str, **params: Any) -> Any:
        return r.record_extension(f"{PREFIX}_{next(step):02d}_{what}", description, method, params)

    account = f"{hex_tag}-0000-4000-8000-0000000000a1"
    ids = [f"{hex_tag}-0000-4000-8000-00000000000{i}" for i in (1, 2, 3)]
    rec(
        "account_create",
        "set_entries Accounts: the account the contacts, the lead and the deal belong to.",
        "set_entries",
        module_name="Accounts",
        name_value_lists=[
            [
                {"name": "id", "value": account},
                {"name": "new_with_id", "value": True},
                {"name": "name", "value": f"{tag} O'Neil & Sons"},
            ]
        ],
    )
    r.created.append(("Accounts", account))
    rec(
        "contacts_create",
        "set_entries Contacts: three contacts with client ids sorting in creation order, the"
        " first with an e-mail address.",
        "set_entries",
        module_name="Contacts",
        name_value_lists=[
            [
                {"name": "id", "value": i},
                {"name": "new_with_id", "value": True},
                {"name": "last_name", "value": f"{tag} K{n}"},
                *([{"name": "email1", "value": f"{hex_tag}@read.example"}] if n == 1 else []),
            ]
            for n, i in enumerate(ids, start=1)
        ],
    )
    r.created += [("Contacts", i) for i in ids]
    rec(
        "account_link_contacts",
        "set_relationship Accounts contacts: the first two contacts belong to the account.",
        "set_relationship",
        module_name="Accounts",
        module_id=account,
        link_field_name="contacts",
        related_ids=ids[:2],
        name_value_list=[],
        delete=0,
    )
    rec(
        "contact_delete_second",
        "set_entry Contacts: the second contact deleted (Sugar drops its account link).",
        "set_entry",
        module_name="Contacts",
        name_value_list=[{"name": "id", "value": ids[1]}, {"name": "deleted", "value": 1}],
    )
    listed = rec(
        "contacts_get_entry_list",
        "get_entry_list Contacts: the tag's contacts as the stock path reads them (deleted=1,"
        " 'date_modified ASC, id ASC'): what bridge_read_changed must answer.",
        "get_entry_list",
        module_name="Contacts",
        query=f"contacts.last_name LIKE {quote(tag + '%')}",
        order_by=ORDER,
        offset=0,
        select_fields=CONTACT_FIELDS,
        link_name_to_fields_array=[],
        max_results=10,
        deleted=1,
    )
    first = listed["entry_list"][0]["name_value_list"]["date_modified"]["value"]
    page1 = ext(
        "contacts_read_changed_page_1",
        "bridge_read_changed Contacts from the first contact's date_modified (after_id '':"
        " date_modified >= since), max_results 2: the first two, values as get_entry_list's.",
        "bridge_read_changed",
        module_name="Contacts",
        since=first,
        after_id="",
        max_results=2,
        select_fields=CONTACT_FIELDS,
    )
    last = page1["entry_list"][-1]["name_value_list"]
    ext(
        "contacts_read_changed_page_2",
        "bridge_read_changed Contacts after the last record of page 1 (date_modified > since, or"
        " the same second and a greater id): the third.",
        "bridge_read_changed",
        module_name="Contacts",
        since=last["date_modified"]["value"],
        after_id=last["id"]["value"],
        max_results=2,
        select_fields=CONTACT_FIELDS,
    )
    # The lead and the deal in a later second: their reads start there.
    time.sleep(1.1)
    lead = rec(
        "lead_create",
        "set_entry Leads: a lead with the account's id and another typed account name.",
        "set_entry",
        module_name="Leads",
        name_value_list=[
            {"name": "last_name", "value": f"{tag} Lead"},
            {"name": "account_id", "value": account},
            {"name": "account_name", "value": "typed by hand"},
        ],
    )["id"]
    r.created.append(("Leads", lead))
    deal = rec(
        "opportunity_create",
        "set_entry Opportunities: a deal, then linked to the account.",
        "set_entry",
        module_name="Opportunities",
        name_value_list=[
            {"name": "name", "value": f"{tag} Deal"},
            {"name": "amount", "value": "1234.5"},
            {"name": "sales_stage", "value": "Prospecting"},
            {"name": "date_closed", "value": "2027-01-31"},
        ],
    )["id"]
    r.created.append(("Opportunities", deal))
    rec(
        "account_link_opportunity",
        "set_relationship Accounts opportunities: the deal belongs to the account.",
        "set_relationship",
        module_name="Accounts",
        module_id=account,
        link_field_name="opportunities",
        related_ids=[deal],
        name_value_list=[],
        delete=0,
    )
    for module, fields, key, record_id in (
        ("Leads", LEAD_FIELDS, "leads", lead),
        ("Opportunities", OPPORTUNITY_FIELDS, "opportunities", deal),
    ):
        stock = rec(
            f"{key}_get_entry_list",
            f"get_entry_list {module}: the record as the stock path reads it.",
            "get_entry_list",
            module_name=module,
            query=f"{key}.id = {quote(record_id)}",
            order_by=ORDER,
            offset=0,
            select_fields=fields,
            link_name_to_fields_array=[],
            max_results=10,
            deleted=1,
        )
        since = stock["entry_list"][0]["name_value_list"]["date_modified"]["value"]
        ext(
            f"{key}_read_changed",
            f"bridge_read_changed {module} from the record's date_modified: the same answer"
            " (a lead's account_name is its account's name, a deal's account_id its link's).",
            "bridge_read_changed",
            module_name=module,
            since=since,
            after_id="",
            max_results=10,
            select_fields=fields,
        )
    ext(
        "read_changed_bad_position",
        "bridge_read_changed with a since that is no Y-m-d H:i:s: refused (1008), nothing read.",
        "bridge_read_changed",
        module_name="Contacts",
        since="2026-12-01T10:00:00' OR 1=1",
        after_id="",
        max_results=2,
        select_fields=["id"],
    )


def main(argv: list[str] | None = None) -> int:
    return run(__doc__ or "", [PREFIX], sequence, argv)


if __name__ == "__main__":
    raise SystemExit(main())
