"""Sandbox behaviours pinned to what a real SuiteCRM 7.14.6 did (observed live, see
test_live_parity.py, which compares both side by side when a live Sugar is set)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from sugar_bridge.sandbox import SUITECRM_7_14, Sandbox, md5_hex
from tests.sugar_bridge.sandbox.helpers import Api

FIELDS: list[dict[str, Any]] = [
    {"name": "seg_c", "type": "enum", "label": "Seg", "options": {"a": "A", "b": "B"}},
    {"name": "n_c", "type": "int", "label": "N"},
    {"name": "m_c", "type": "currency", "label": "M", "precision": 2},
    {"name": "p_c", "type": "decimal", "label": "P", "precision": 1},
    {"name": "d_c", "type": "date", "label": "D"},
    {"name": "t_c", "type": "datetime", "label": "T"},
]


@pytest.fixture
def api() -> Iterator[Api]:
    with Sandbox(flavor=SUITECRM_7_14) as sandbox:  # what was observed on 7.14.6
        admin = Api(sandbox)
        for spec in FIELDS:
            admin("bridge_ensure_custom_field", module_name="Accounts", field=spec, views=[])
        yield admin


def _nvl(values: dict[str, Any], record_id: str | None = None) -> list[dict[str, Any]]:
    head = [{"name": "id", "value": record_id}] if record_id else []
    return head + [{"name": k, "value": v} for k, v in values.items()]


def _read(api: Api, record_id: str, fields: list[str]) -> dict[str, Any]:
    body = api("get_entries", module_name="Accounts", ids=[record_id], select_fields=fields)
    return {k: v["value"] for k, v in body["entry_list"][0]["name_value_list"].items()}


def _account(api: Api, **values: Any) -> str:
    body = api("set_entry", module_name="Accounts", name_value_list=_nvl({"name": "X", **values}))
    return str(body["id"])


def test_null_leaves_a_field_and_empty_string_clears_it(api: Api) -> None:
    rid = _account(api, seg_c="b", n_c=4, m_c=2, p_c=0.5, d_c="2026-01-02", industry="Energy")
    names = ["seg_c", "n_c", "m_c", "p_c", "d_c", "industry"]
    api("set_entries", module_name="Accounts", name_value_lists=[_nvl(dict.fromkeys(names), rid)])
    assert _read(api, rid, names) == {
        "seg_c": "b",
        "n_c": "4",
        # SuiteCRM 7.15.0: a custom currency is a decimal(26,6) column, answered with 6 decimals
        # (7.14.6 answered 2.00; test_live_parity.py checks it side by side).
        "m_c": "2.000000",
        "p_c": "0.5",
        "d_c": "2026-01-02",
        "industry": "Energy",
    }
    api(
        "set_entries",
        module_name="Accounts",
        name_value_lists=[_nvl(dict.fromkeys(names, ""), rid)],
    )
    assert _read(api, rid, names) == dict.fromkeys(names, "")


@pytest.mark.parametrize(
    ("field", "sent", "stored"),
    [
        ("p_c", "3.25", "3.3"),  # half away from zero, like MariaDB's DECIMAL
        ("p_c", "1,5", "15.0"),  # "," is a thousands separator: dropped
        # A custom currency keeps 6 decimals whatever its precision (SuiteCRM 7.15.0, live).
        ("m_c", "1234.567", "1234.567000"),
        ("m_c", "12345.67", "12345.670000"),
        ("m_c", "0.1234567", "0.123457"),
        ("n_c", "1,234", "1234"),
        ("n_c", "12.7", "12"),
        ("n_c", "1e3", "1000"),
        ("d_c", "2026-1-2", "2026-01-02"),
        ("d_c", " 2026-10-01", "2026-10-01"),
        ("d_c", "2026-10-01 10:00:00", "2026-10-01"),
        ("d_c", "01/10/2026", ""),
        ("d_c", "20261001", ""),
        ("d_c", "2026-13-45", ""),
        ("t_c", "2026-11-24", "2026-11-24 00:00:00"),
        ("t_c", "2026-11-24 2:00:00", "2026-11-24 02:00:00"),
        ("t_c", "2026-11-24 02:00", ""),
        ("t_c", "2026-11-24T02:00:00", ""),
        ("t_c", "2026-11-24 02:00:00.123", ""),
        ("t_c", "2026-11-24 25:00:00", ""),
    ],
)
def test_values_are_stored_as_sugar_stores_them(
    api: Api, field: str, sent: str, stored: str
) -> None:
    rid = _account(api, **{field: sent})
    assert _read(api, rid, [field])[field] == stored


def test_create_replayed_with_an_existing_id_is_a_database_failure(api: Api) -> None:
    rid = str(uuid.uuid4())
    nvl = [{"name": "new_with_id", "value": True}, {"name": "name", "value": "first"}]
    assert (
        api("set_entry", module_name="Accounts", name_value_list=_nvl({}, rid) + nvl)["id"] == rid
    )
    again = [{"name": "new_with_id", "value": True}, {"name": "name", "value": "again"}]
    reply = api.raw("set_entry", module_name="Accounts", name_value_list=_nvl({}, rid) + again)
    assert reply.status == 500
    assert _read(api, rid, ["name"])["name"] == "first"


def _owner_user(api: Api, rights: dict[str, dict[str, int]]) -> tuple[str, Api]:
    password = "Owner-pw-1"
    values = {"user_name": "owner1", "last_name": "Owner", "user_hash": md5_hex(password)}
    # The list form: the object form drops user_hash (recording 02_user_create_dict_nvl_...).
    user_id = str(api("set_entry", module_name="Users", name_value_list=_nvl(values))["id"])
    role_id = api.create("ACLRoles", name="Owner role")
    api("bridge_set_role_actions", role_id=role_id, rights=rights)
    api(
        "set_relationship",
        module_name="Users",
        module_id=user_id,
        link_field_name="aclroles",
        related_ids=[role_id],
    )
    return user_id, Api(api.sandbox, "owner1", password)


def test_set_entries_skips_the_rows_a_user_may_not_save(api: Api) -> None:
    user_id, user = _owner_user(
        api, {"Accounts": {"access": 89, "view": 90, "list": 90, "edit": 75}}
    )
    ids = [_account(api, assigned_user_id=user_id if i != 1 else "1") for i in range(3)]
    rows = [_nvl({"description": "batch"}, i) for i in ids]
    assert user("set_entries", module_name="Accounts", name_value_lists=rows) == {
        "ids": [ids[0], ids[2]]
    }
    assert [_read(api, i, ["description"])["description"] for i in ids] == ["batch", "", "batch"]


def test_count_ignores_owner_only_list_rights(api: Api) -> None:
    user_id, user = _owner_user(api, {"Accounts": {"access": 89, "view": 90, "list": 75}})
    _account(api, name="Owned 1", assigned_user_id=user_id)
    _account(api, name="Owned 2", assigned_user_id="1")
    query = "accounts.name LIKE 'Owned%'"
    assert len(user.list("Accounts", query)["entry_list"]) == 1
    count = user("get_entries_count", module_name="Accounts", query=query, deleted=0)
    assert count == {"result_count": "2"}


def test_extension_answers_as_the_php_extension_did_live(api: Api) -> None:
    # The five points the extension engineer saw on the real SuiteCRM 7.14.6 with the bridge
    # extension installed (and checked again side by side).
    def ensure(field: dict[str, Any], views: list[str]) -> Any:
        return api.raw(
            "bridge_ensure_custom_field", module_name="Accounts", field=field, views=views
        ).body

    tier = {"name": "tier_c", "type": "enum", "label": "Tier", "options": {"g": "Gold"}}
    assert ensure(tier, ["detailview", "listview"]) == {
        "name": "tier_c",
        "created": True,
        "changed": True,
        "changes": [],
        "views_added": ["detailview", "listview"],
    }
    assert ensure(tier, ["detailview", "listview"])["changed"] is False
    ext1 = api.sandbox.store.rows(
        "SELECT ext1 FROM fields_meta_data WHERE name = 'tier_c' AND deleted = 0"
    )
    assert [r["ext1"] for r in ext1] == ["accounts_tier_list"]  # <module lowercased>_<name>_list
    assert ensure({"name": "tier", "type": "varchar", "label": "T"}, [])["number"] == 1001
    assert ensure({**tier, "type": "varchar"}, [])["number"] == 1001  # no type change
    role_id = api.create("ACLRoles", name="Levels")
    bad = {"Accounts": {"view": 90, "edit": 50}}
    answer = api.raw("bridge_set_role_actions", role_id=role_id, rights=bad).body
    assert answer["number"] == 1003
    levels = api("bridge_get_role_actions", role_id=role_id)["Accounts"]
    assert (levels["view"], levels["edit"]) == (0, 0)  # the whole call was refused
