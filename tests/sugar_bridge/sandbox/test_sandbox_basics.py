"""The sandbox speaks v4_1 like the recorded SuiteCRM: sessions, Accounts, quirks, the extension."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.sugar.extension import EXTENSION_VERSION
from sugar_bridge.sandbox import Sandbox, md5_hex
from tests.sugar_bridge.sandbox.helpers import Api, raw_call


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


@pytest.fixture
def api(sandbox: Sandbox) -> Api:
    return Api(sandbox)


def test_login_plain_encryption_and_bad_password(sandbox: Sandbox) -> None:
    ok = raw_call(
        sandbox.url,
        "login",
        [
            {"user_name": "admin", "password": sandbox.admin_password, "encryption": "PLAIN"},
            "x",
            [],
        ],
    )
    assert len(ok.body["id"]) == 26
    assert ok.body["name_value_list"]["user_is_admin"]["value"] is True
    bad = raw_call(
        sandbox.url, "login", {"user_auth": {"user_name": "admin", "password": md5_hex("nope")}}
    )
    assert bad.body["number"] == 10


def test_accounts_roundtrip_with_quirks(api: Api) -> None:
    echo = api("set_entry", module_name="Accounts", name_value_list={"name": "O'Brien & Sons"})
    assert echo["entry_list"]["name"]["value"] == "O&#039;Brien &amp;amp; Sons"
    for query in ("accounts.name = 'O''Brien & Sons'", "accounts.name = 'O\\'Brien & Sons'"):
        found = api.list("Accounts", query)
        assert found["total_count"] == "1"
        assert found["entry_list"][0]["name_value_list"]["name"]["value"] == "O&#039;Brien & Sons"
    none = api.list("Accounts", "accounts.name = 'zzz'")
    assert none["total_count"] == 0
    assert none["result_count"] == 0
    broken = api.raw(
        "get_entry_list", module_name="Accounts", query="accounts.name = 'O'Brien'", order_by=""
    )
    assert broken.status == 500
    injected = api.list("Accounts", "accounts.name = 'x' OR 'a'='a'")
    assert injected["result_count"] == 1
    assert api.list("Accounts", "accounts.name = '' OR 1=1 -- '")["number"] == 40


def test_unknown_id_without_new_with_id_saves_nothing(api: Api, sandbox: Sandbox) -> None:
    rid = "11111111-2222-3333-4444-555555555555"
    echo = api("set_entry", module_name="Accounts", name_value_list={"id": rid, "name": "Ghost"})
    assert echo["id"] == rid
    assert sandbox.store.count("accounts") == 0
    api(
        "set_entry",
        module_name="Accounts",
        name_value_list={"id": rid, "new_with_id": True, "name": "Real"},
    )
    assert sandbox.store.count("accounts", "id = ?", [rid]) == 1


def test_ensure_custom_field_makes_the_field_usable(api: Api, sandbox: Sandbox) -> None:
    field = {"name": "segment_c", "type": "varchar", "label": "Segment", "len": 100}
    first = api(
        "bridge_ensure_custom_field", module_name="Accounts", field=field, views=["listview"]
    )
    assert first == {
        "name": "segment_c",
        "created": True,
        "changed": True,
        "changes": [],
        "views_added": ["listview"],
    }
    again = api(
        "bridge_ensure_custom_field", module_name="Accounts", field=field, views=["listview"]
    )
    assert (again["created"], again["changed"], again["changes"], again["views_added"]) == (
        False,
        False,
        [],
        [],
    )
    relabel = api(
        "bridge_ensure_custom_field",
        module_name="Accounts",
        field={**field, "label": "Client segment"},
        views=[],
    )
    assert relabel["changed"] is True
    assert relabel["changes"] == ["label"]
    fields = api("get_module_fields", module_name="Accounts", fields=["segment_c"])
    assert fields["module_fields"]["segment_c"]["label"] == "Client segment"
    api(
        "set_entries",
        module_name="Accounts",
        name_value_lists=[{"name": "A", "segment_c": "champ"}],
    )
    rows = api.list("Accounts", "accounts_cstm.segment_c = 'champ'", select_fields=["segment_c"])
    assert rows["entry_list"][0]["name_value_list"]["segment_c"]["value"] == "champ"
    assert "segment_c" in {
        r["name"] for r in sandbox.store.rows("PRAGMA table_info(accounts_cstm)")
    }
    assert sandbox.store.count("fields_meta_data", "name = 'segment_c'") == 1


def test_extension_needs_admin_and_is_absent_from_v4_1(api: Api, sandbox: Sandbox) -> None:
    # The sandbox answers as the packaged extension (1.2: bridge_get_custom_fields and
    # bridge_remove_custom_field).
    assert api("bridge_info")["extension_version"] == EXTENSION_VERSION == "1.5.0"
    stock = raw_call(sandbox.url, "bridge_info", {"session": api.session})
    assert stock.body["number"] == "-1"
    api(
        "set_entry",
        module_name="Users",
        name_value_list=[
            {"name": "user_name", "value": "rep"},
            {"name": "last_name", "value": "Rep"},
            {"name": "user_hash", "value": md5_hex("pw")},
            {"name": "employee_status", "value": "Active"},  # else 7.15 refuses its session
        ],
    )
    rep = Api(sandbox, "rep", "pw")
    assert rep.raw("bridge_info").body["number"] == 40


def test_stats_count_calls_and_writes(api: Api, sandbox: Sandbox) -> None:
    sandbox.stats.reset()
    api("set_entries", module_name="Accounts", name_value_lists=[{"name": "A"}, {"name": "B"}])
    api.list("Accounts")
    assert sandbox.stats.calls["set_entries"] == 1
    assert sandbox.stats.writes["set_entries"] == 2
    assert sandbox.stats.writes["get_entry_list"] == 0
    assert sandbox.stats.created == 2


def _member(api: Api, sandbox: Sandbox, rights: dict[str, int]) -> tuple[Api, str]:
    """A non-admin user in a role with these Accounts rights, and an admin-owned account."""
    user_id = api(
        "set_entry",
        module_name="Users",
        name_value_list=[
            {"name": "user_name", "value": "member"},
            {"name": "last_name", "value": "Member"},
            {"name": "user_hash", "value": md5_hex("pw")},
            {"name": "employee_status", "value": "Active"},  # else 7.15 refuses its session
        ],
    )["id"]
    role = api.create("ACLRoles", name="Readers")
    api(
        "set_relationship",
        module_name="ACLRoles",
        module_id=role,
        link_field_name="users",
        related_ids=[user_id],
    )
    answer = api("bridge_set_role_actions", role_id=role, rights={"Accounts": rights})
    assert answer["changed"] == len(rights)
    return Api(sandbox, "member", "pw"), api.create("Accounts", name="Admin's")


def test_role_rights_are_enforced(api: Api, sandbox: Sandbox) -> None:
    member, admins = _member(api, sandbox, {"edit": 75, "delete": -99})
    own = member.create("Accounts", name="Mine")
    assert (
        member.raw(
            "set_entry", module_name="Accounts", name_value_list={"id": own, "deleted": 1}
        ).body["number"]
        == 40
    )
    assert (
        member.raw(
            "set_entry", module_name="Accounts", name_value_list={"id": admins, "name": "x"}
        ).body["number"]
        == 40
    )
    member("set_entry", module_name="Accounts", name_value_list={"id": own, "name": "Mine 2"})
    assert member.list("Accounts")["result_count"] == 2  # list is 90 (default)


def test_invalid_rights_change_nothing(api: Api, sandbox: Sandbox) -> None:
    role = api.create("ACLRoles", name="R")
    bad = api.raw(
        "bridge_set_role_actions", role_id=role, rights={"Accounts": {"view": 90, "edit": 7}}
    )
    assert bad.body["number"] == 1003
    assert api("bridge_get_role_actions", role_id=role)["Accounts"]["view"] == 0
    unknown = api("bridge_set_role_actions", role_id=role, rights={"Accounts": {"fly": 90}})
    assert unknown["unknown"] == ["Accounts.fly"]
    assert api.raw("bridge_get_role_actions", role_id="nope").body["number"] == 1002


def test_email_first_address_stored_change_not(api: Api, sandbox: Sandbox) -> None:
    rid = api.create("Accounts", name="Mail Co")
    api("set_entry", module_name="Accounts", name_value_list={"id": rid, "email1": "a@x.test"})
    echo = api(
        "set_entry", module_name="Accounts", name_value_list={"id": rid, "email1": "b@x.test"}
    )
    assert echo["entry_list"]["email1"]["value"] == "b@x.test"
    got = api("get_entry", module_name="Accounts", id=rid, select_fields=["email1"])
    assert got["entry_list"][0]["name_value_list"]["email1"]["value"] == "a@x.test"


def test_set_relationships_sums_the_calls(api: Api, sandbox: Sandbox) -> None:
    plist = api.create("ProspectLists", name="L", list_type="default")
    a, b = api.create("Accounts", name="A"), api.create("Accounts", name="B")
    out = api(
        "set_relationships",
        module_names=["ProspectLists", "ProspectLists", "ProspectLists"],
        module_ids=[plist, plist, plist],
        link_field_names=["accounts", "accounts", "nope"],
        related_ids=[[a], [b], [a]],
        name_value_lists=[[], [], []],
        delete_array=[0, 0, 0],
    )
    assert out == {"created": 2, "failed": 1, "deleted": 0}
    assert sandbox.store.count("prospect_lists_prospects", "deleted = 0") == 2


def test_parallel_sessions_write_safely(sandbox: Sandbox) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def worker(n: int) -> None:
        api = Api(sandbox)
        for i in range(15):
            api("set_entry", module_name="Accounts", name_value_list={"name": f"T{n}-{i}"})
        assert api.list("Accounts", f"accounts.name LIKE 'T{n}-%'")["result_count"] == 15

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(worker, range(4)))
    assert sandbox.store.count("accounts") == 60
    assert sandbox.stats.calls["set_entry"] == 60
    assert sandbox.stats.writes["set_entry"] == 60


def test_file_backed_state_survives_a_restart(tmp_path: Path) -> None:
    with Sandbox(tmp_path / "sandbox.db", admin_password="one") as first:
        Api(first, password="one").create("Accounts", name="Kept")
    with Sandbox(tmp_path / "sandbox.db", admin_password="two") as second:
        api = Api(second, password="two")
        assert api.list("Accounts")["total_count"] == "1"
        assert api.login("admin", "one").body["number"] == 10


def test_new_rights_reach_a_member_at_the_next_login(api: Api, sandbox: Sandbox) -> None:
    member, _ = _member(api, sandbox, {"view": 90})
    own = member.create("Accounts", name="Mine")
    role = sandbox.store.rows("SELECT id FROM acl_roles WHERE name = 'Readers'")[0]["id"]
    api("bridge_set_role_actions", role_id=role, rights={"Accounts": {"delete": -99}})
    member("set_entry", module_name="Accounts", name_value_list={"id": own, "name": "still"})
    again = Api(sandbox, "member", "pw")
    denied = again.raw(
        "set_entry", module_name="Accounts", name_value_list={"id": own, "deleted": 1}
    )
    assert denied.body["number"] == 40
    # The session opened before the change still has the old rights (Sugar caches ACLs in it).
    member("set_entry", module_name="Accounts", name_value_list={"id": own, "deleted": 1})


def test_new_with_id_on_a_deleted_id_is_a_database_failure(api: Api, sandbox: Sandbox) -> None:
    rid = api.create("Accounts", name="Gone")
    api("set_entry", module_name="Accounts", name_value_list={"id": rid, "deleted": 1})
    sandbox.stats.reset()
    again = api.raw(
        "set_entry",
        module_name="Accounts",
        name_value_list={"id": rid, "new_with_id": True, "name": "X"},
    )
    assert again.status == 500
    assert sandbox.stats.writes["set_entry"] == 0


def test_bridge_get_custom_fields_reads_precision_like_the_php(api: Api) -> None:
    assert api("bridge_get_custom_fields", module_name="Accounts") == []  # PHP's empty array
    for spec in (
        {"name": "ratio_c", "type": "decimal", "label": "Ratio", "precision": 4},
        {"name": "amount_c", "type": "currency", "label": "Amount", "precision": 2},
        {"name": "code_c", "type": "varchar", "label": "Code", "len": 20},
    ):
        api("bridge_ensure_custom_field", module_name="Accounts", field=spec, views=[])
    stored = api("bridge_get_custom_fields", module_name="Accounts")
    assert {name: (f["type"], f["len"], f["precision"]) for name, f in stored.items()} == {
        "amount_c": ("currency", 26, 6),
        "code_c": ("varchar", 20, None),
        "ratio_c": ("decimal", 18, 4),
    }
    assert api.raw("bridge_get_custom_fields", module_name="accounts").body["number"] == 20


def test_bridge_read_changed_lists_what_get_entry_list_lists_for_a_member(
    api: Api, sandbox: Sandbox
) -> None:
    """Owner-only list rights: both answer the member's own accounts only; no list right: both
    refuse with 40. A bad position: 1008."""
    member, admins = _member(api, sandbox, {"list": 75, "view": 75})
    own = member.create("Accounts", name="Mine")
    fields = ["id", "name", "date_modified", "deleted"]
    stock = member(
        "get_entry_list",
        module_name="Accounts",
        query="",
        order_by="date_modified ASC, id ASC",
        offset=0,
        select_fields=fields,
        link_name_to_fields_array=[],
        max_results=50,
        deleted=1,
    )["entry_list"]
    fast = member(
        "bridge_read_changed",
        module_name="Accounts",
        since="",
        after_id="",
        max_results=50,
        select_fields=fields,
    )["entry_list"]
    assert [e["id"] for e in stock] == [own]
    assert fast == stock
    bad = member.raw(
        "bridge_read_changed",
        module_name="Accounts",
        since="yesterday",
        after_id="",
        max_results=50,
        select_fields=fields,
    )
    assert bad.body["number"] == 1008
    role = sandbox.store.rows("SELECT id FROM acl_roles WHERE name = 'Readers'")[0]["id"]
    api("bridge_set_role_actions", role_id=role, rights={"Accounts": {"list": -99}})
    barred = Api(sandbox, "member", "pw")
    assert barred.raw("get_entry_list", module_name="Accounts").body["number"] == 40
    refused = barred.raw(
        "bridge_read_changed", module_name="Accounts", since="", after_id="", max_results=5
    )
    assert refused.body["number"] == 40
    assert admins not in {e["id"] for e in fast}
