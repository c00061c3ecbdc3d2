"""Record real exchanges of target lists that hold people (Contacts, Leads), prefix 19.

Run by hand against any SuiteCRM 7 (admin user), e.g.::

    set -a; . /tmp/sugar-bridge-suitecrm/live.env; set +a
    python tests/recordings/record_target_list_people.py --out tests/recordings/suitecrm-7.15.0

One sequence in file-name order, like ``record_crm_modules.py`` (``test_conformance.py`` replays
it into one sandbox): an account, a contact and a lead; a target list (ProspectLists) holding
the three through its links ``accounts``, ``contacts`` and ``leads``, read back per link; a
contact added twice, then removed with ``delete: 1``; the wrong-case link ``Contacts``; the
contact as the push reads it (``get_entry_list`` with ``email1``). The session id is redacted;
every record made is marked deleted at the end (not recorded).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from recorder import Recorder, quote, run

PREFIX = "19"


def record_sequence(r: Recorder, tag: str) -> None:
    """The steps (see each description)."""
    step = iter(range(1, 100))

    def rec(what: str, description: str, method: str, **params: Any) -> Any:
        return r.record(f"{PREFIX}_{next(step):02d}_{what}", description, method, params)

    def create(what: str, module: str, values: dict[str, Any]) -> str:
        answer = rec(
            what,
            f"set_entry {module}: a record the target list will hold.",
            "set_entry",
            module_name=module,
            name_value_list=[{"name": k, "value": v} for k, v in values.items()],
        )
        record_id = str(answer["id"])
        r.created.append((module, record_id))
        return record_id

    account = create("account_create", "Accounts", {"name": f"{tag} List Company"})
    contact = create(
        "contact_create",
        "Contacts",
        {
            "first_name": "Marie",
            "last_name": f"{tag} Dupont",
            "email1": f"marie.{tag.lower()}@example.test",
            "primary_address_city": "Lyon",
            "primary_address_country": "France",
        },
    )
    lead = create(
        "lead_create",
        "Leads",
        {"first_name": "Paul", "last_name": f"{tag} Martin", "status": "New"},
    )
    target_list = create(
        "prospectlist_create",
        "ProspectLists",
        {"name": f"{tag} Segment: Champions", "list_type": "default"},
    )

    def link(what: str, name: str, ids: list[str], delete: int = 0) -> Any:
        return rec(
            what,
            f"set_relationship ProspectLists {name} ({'delete: 1, ' if delete else ''}"
            f"{len(ids)} id): answers created/deleted counts, no proof.",
            "set_relationship",
            module_name="ProspectLists",
            module_id=target_list,
            link_field_name=name,
            related_ids=ids,
            name_value_list=[],
            delete=delete,
        )

    def members(what: str, name: str, fields: list[str]) -> Any:
        return rec(
            what,
            f"get_relationships ProspectLists {name}: the members through that link only.",
            "get_relationships",
            module_name="ProspectLists",
            module_id=target_list,
            link_field_name=name,
            related_module_query="",
            related_fields=fields,
            related_module_link_name_to_fields_array=[],
            deleted=0,
            order_by="",
            offset=0,
            limit=200,
        )

    link("prospectlist_add_account", "accounts", [account])
    link("prospectlist_add_contact", "contacts", [contact])
    link("prospectlist_add_lead", "leads", [lead])
    members("prospectlist_get_accounts", "accounts", ["id", "name"])
    members("prospectlist_get_contacts", "contacts", ["id", "first_name", "last_name", "email1"])
    members("prospectlist_get_leads", "leads", ["id", "first_name", "last_name", "status"])
    link("prospectlist_add_contact_again", "contacts", [contact])
    members("prospectlist_get_contacts_after_again", "contacts", ["id", "last_name"])
    members("prospectlist_get_wrong_case_Contacts", "Contacts", ["id"])
    link("prospectlist_remove_contact", "contacts", [contact], delete=1)
    members("prospectlist_get_contacts_after_remove", "contacts", ["id", "last_name"])
    members("prospectlist_get_leads_after_contact_removed", "leads", ["id", "last_name"])
    rec(
        "contacts_get_entry_list_as_push_reads",
        "get_entry_list Contacts with the fields the push matches on (first_name, last_name, "
        "email1 — the primary address of the contact's email addresses), ordered by id.",
        "get_entry_list",
        module_name="Contacts",
        query=f"contacts.last_name = {quote(tag + ' Dupont')}",
        order_by="id",
        offset=0,
        select_fields=["id", "first_name", "last_name", "email1", "assigned_user_id"],
        link_name_to_fields_array=[],
        max_results=200,
        deleted=0,
        favorites=False,
    )


def main(argv: list[str] | None = None) -> int:
    """Record the sequence into ``--out`` (its earlier files of the prefix are replaced)."""
    return run(__doc__, [PREFIX], record_sequence, argv)


if __name__ == "__main__":
    raise SystemExit(main())
