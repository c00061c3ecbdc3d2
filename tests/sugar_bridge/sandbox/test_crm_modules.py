"""Contacts, Leads, Opportunities, Cases, Meetings and Notes in a file-backed sandbox.

Their answers are held to SuiteCRM 7.15.0 by test_conformance.py (the 10_–15_ recordings); here:
the SQLite file keeps them, and a file written before they existed gains their tables.
"""

from __future__ import annotations

from pathlib import Path

from sugar_bridge.sandbox import Sandbox
from sugar_bridge.sandbox.modules import ACL_ACTION_DEFAULTS
from sugar_bridge.sandbox.store import Store
from tests.sugar_bridge.sandbox.helpers import Api

NEW_TABLES = (
    "contacts",
    "leads",
    "opportunities",
    "cases",
    "meetings",
    "notes",
    "accounts_contacts",
    "accounts_opportunities",
    "contacts_cstm",
    "cases_cstm",
)


def _related(api: Api, module: str, record_id: str, link: str) -> list[str]:
    body = api(
        "get_relationships",
        module_name=module,
        module_id=record_id,
        link_field_name=link,
        related_module_query="",
        related_fields=["id"],
        related_module_link_name_to_fields_array=[],
        deleted=0,
        order_by="",
        offset=0,
        limit=False,
    )
    return sorted(e["id"] for e in body["entry_list"])


def test_a_database_file_keeps_the_new_modules_and_their_links(tmp_path: Path) -> None:
    db = tmp_path / "sandbox.sqlite"
    with Sandbox(db_path=db, admin_password="pw") as sandbox:
        api = Api(sandbox)
        account = api.create("Accounts", name="Kept GmbH")
        contact = api.create("Contacts", last_name="Kept")
        opportunity = api.create(
            "Opportunities", name="Kept deal", amount="10", sales_stage="Prospecting"
        )
        case = api.create("Cases", name="Kept case", account_id=account)
        meeting = api.create(
            "Meetings",
            name="Kept meeting",
            date_start="2026-12-01 10:00:00",
            duration_hours=1,
            parent_type="Accounts",
            parent_id=account,
        )
        for link, other in (("contacts", contact), ("opportunities", opportunity)):
            api(
                "set_relationship",
                module_name="Accounts",
                module_id=account,
                link_field_name=link,
                related_ids=[other],
                name_value_list=[],
                delete=0,
            )
    with Sandbox(db_path=db, admin_password="pw") as sandbox:
        api = Api(sandbox)
        assert _related(api, "Accounts", account, "contacts") == [contact]
        assert _related(api, "Accounts", account, "opportunities") == [opportunity]
        assert _related(api, "Accounts", account, "cases") == [case]
        assert _related(api, "Accounts", account, "meetings") == [meeting]
        assert _related(api, "Contacts", contact, "accounts") == [account]
        got = api(
            "get_entry",
            module_name="Meetings",
            id=meeting,
            select_fields=["date_end", "parent_name"],
            link_name_to_fields_array=[],
        )["entry_list"][0]["name_value_list"]
        assert got["date_end"]["value"] == "2026-12-01 11:00:00"
        assert got["parent_name"]["value"] == "Kept GmbH"


def test_a_database_file_from_before_the_new_modules_gains_their_tables(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite"
    store = Store(db)
    # What a file written by the sandbox before these modules lacks.
    for table in NEW_TABLES:
        store.execute(f"DROP TABLE {table}")
    store.execute("DELETE FROM acl_actions WHERE category IN ('Contacts', 'Notes')")
    accounts_actions = store.count("acl_actions", "category = 'Accounts'")
    store.close()

    store = Store(db)
    tables = {r["name"] for r in store.rows("SELECT name FROM sqlite_master WHERE type='table'")}
    assert set(NEW_TABLES) <= tables
    assert store.count("acl_actions", "category = 'Contacts'") == len(ACL_ACTION_DEFAULTS)
    assert store.count("acl_actions", "category = 'Notes'") == len(ACL_ACTION_DEFAULTS)
    assert store.count("acl_actions", "category = 'Accounts'") == accounts_actions
    store.close()
