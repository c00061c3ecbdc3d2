"""Record the v4_1 exchanges of the Sugar source (issue 16): keyset pages, deletions, members.

Run by hand against a SuiteCRM 7 (admin user), e.g.::

    set -a; . /tmp/sugar-bridge-suitecrm/live.env; set +a
    python tests/recordings/record_crm_extract.py --out tests/recordings/suitecrm-7.15.0

Writes ``20_<step>_<what>.json`` (same format and redaction as record_crm_modules.py, whose
Recorder it uses): one sequence, in file-name order. Records are created with client-chosen ids
(``new_with_id``) that sort in creation order, so a replay into a fresh sandbox pages through
them in the same order; the timestamps a query carries are the ones the previous answers gave
(the conformance test maps them to the sandbox's). Everything created is marked deleted at the
end.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from recorder import Recorder, quote, run

FIELDS = ["id", "date_entered", "date_modified", "deleted", "last_name", "account_id"]
ORDER = "date_modified ASC, id ASC"


def _after(tag: str, modified: str, last_id: str) -> str:
    """The extraction's query: the tag's contacts after (date_modified, id)."""
    dm = "contacts.date_modified"
    return (
        f"(contacts.last_name LIKE {quote(tag + '%')}) AND "
        f"(({dm} > {quote(modified)}) OR (({dm} = {quote(modified)}) AND "
        f"(contacts.id > {quote(last_id)})))"
    )


def record(r: Recorder, tag: str, hex_tag: str) -> None:
    step = iter(range(1, 100))

    def rec(what: str, description: str, method: str, **params: Any) -> Any:
        return r.record(f"20_{next(step):02d}_{what}", description, method, params)

    ids = [f"{hex_tag}-0000-4000-8000-00000000000{i}" for i in (1, 2, 3)]
    rec(
        "contacts_create_set_entries_new_with_id",
        "set_entries Contacts: three records with client-chosen ids (new_with_id) sorting in"
        " creation order.",
        "set_entries",
        module_name="Contacts",
        name_value_lists=[
            [
                {"name": "id", "value": i},
                {"name": "new_with_id", "value": True},
                {"name": "last_name", "value": f"{tag} K{n}"},
            ]
            for n, i in enumerate(ids, start=1)
        ],
    )
    r.created += [("Contacts", i) for i in ids]
    page1 = rec(
        "contacts_keyset_page_1",
        "get_entry_list Contacts: the Sugar source's first page (query after a far-past"
        " (date_modified, id), order_by 'date_modified ASC, id ASC', deleted=1, max_results 2).",
        "get_entry_list",
        module_name="Contacts",
        query=_after(tag, "2000-01-01 00:00:00", ""),
        order_by=ORDER,
        offset=0,
        select_fields=FIELDS,
        link_name_to_fields_array=[],
        max_results=2,
        deleted=1,
    )
    last = page1["entry_list"][-1]["name_value_list"]
    rec(
        "contacts_keyset_page_2",
        "get_entry_list Contacts: the next page starts after the last record of page 1"
        " (date_modified = its second AND id > its id, or a later second).",
        "get_entry_list",
        module_name="Contacts",
        query=_after(tag, last["date_modified"]["value"], last["id"]["value"]),
        order_by=ORDER,
        offset=0,
        select_fields=FIELDS,
        link_name_to_fields_array=[],
        max_results=2,
        deleted=1,
    )
    # The edit and the delete come in a later second than the creation (Sugar's clock is to the
    # second): the listing after them then has a defined order, also when replayed.
    time.sleep(1.1)
    rec(
        "contacts_update_first",
        "set_entry Contacts: edit the first record (its date_modified moves to now).",
        "set_entry",
        module_name="Contacts",
        name_value_list=[
            {"name": "id", "value": ids[0]},
            {"name": "last_name", "value": f"{tag} K1 edited"},
        ],
    )
    rec(
        "contacts_delete_second",
        "set_entry Contacts: delete the second record.",
        "set_entry",
        module_name="Contacts",
        name_value_list=[{"name": "id", "value": ids[1]}, {"name": "deleted", "value": 1}],
    )
    rec(
        "contacts_keyset_after_changes_deleted_1",
        "get_entry_list Contacts from the start again, deleted=1: the deleted record is listed"
        " with deleted '1', the edited one is listed with its new value.",
        "get_entry_list",
        module_name="Contacts",
        query=_after(tag, "2000-01-01 00:00:00", ""),
        order_by=ORDER,
        offset=0,
        select_fields=FIELDS,
        link_name_to_fields_array=[],
        max_results=10,
        deleted=1,
    )
    rec(
        "contacts_keyset_after_changes_deleted_0",
        "The same with deleted=0: the deleted record is left out.",
        "get_entry_list",
        module_name="Contacts",
        query=_after(tag, "2000-01-01 00:00:00", ""),
        order_by=ORDER,
        offset=0,
        select_fields=FIELDS,
        link_name_to_fields_array=[],
        max_results=10,
        deleted=0,
    )
    plist = rec(
        "prospectlists_create",
        "set_entry ProspectLists: a target list.",
        "set_entry",
        module_name="ProspectLists",
        name_value_list=[
            {"name": "name", "value": f"{tag} List"},
            {"name": "list_type", "value": "default"},
        ],
    )["id"]
    r.created.append(("ProspectLists", plist))
    rec(
        "prospectlists_link_contacts",
        "set_relationship ProspectLists contacts: two contacts into the list.",
        "set_relationship",
        module_name="ProspectLists",
        module_id=plist,
        link_field_name="contacts",
        related_ids=[ids[0], ids[2]],
        name_value_list=[],
        delete=0,
    )
    rec(
        "prospectlists_get_relationships_contacts",
        "get_relationships ProspectLists contacts (ids only, as the Sugar source reads members).",
        "get_relationships",
        module_name="ProspectLists",
        module_id=plist,
        link_field_name="contacts",
        related_module_query="",
        related_fields=["id"],
        related_module_link_name_to_fields_array=[],
        deleted=0,
        order_by="",
        offset=0,
        limit=200,
    )
    rec(
        "prospectlists_get_relationships_leads_empty",
        "get_relationships ProspectLists leads: none.",
        "get_relationships",
        module_name="ProspectLists",
        module_id=plist,
        link_field_name="leads",
        related_module_query="",
        related_fields=["id"],
        related_module_link_name_to_fields_array=[],
        deleted=0,
        order_by="",
        offset=0,
        limit=200,
    )
    for module in ("Calls", "Tasks", "ProspectLists", "CampaignLog"):
        rec(
            f"get_module_fields_{module}",
            f"get_module_fields {module} with an empty field list (the Sugar source checks its"
            " fields and finds the custom ones).",
            "get_module_fields",
            module_name=module,
            fields=[],
        )
    rec(
        "campaignlog_get_entry_list",
        "get_entry_list CampaignLog: whether the module answers over v4_1 (the Sugar source"
        " extracts it where present).",
        "get_entry_list",
        module_name="CampaignLog",
        query="",
        order_by=ORDER,
        offset=0,
        select_fields=["id", "date_modified", "deleted", "activity_type"],
        link_name_to_fields_array=[],
        max_results=1,
        deleted=1,
    )


def main(argv: list[str] | None = None) -> int:
    """Record the sequence into ``--out`` (its earlier prefix-20 files are replaced)."""

    def sequence(recorder: Recorder, tag: str) -> None:
        # ids start with the run's tag (6 hex digits, padded to a UUID's first 8)
        record(recorder, tag, tag.removeprefix("SBREC") + "00")

    return run(__doc__, ["20"], sequence, argv)


if __name__ == "__main__":
    raise SystemExit(main())
