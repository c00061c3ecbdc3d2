"""bridge_remove_custom_field in the sandbox: the answers of the PHP extension on a real Sugar."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connectors.sugar.client import SugarClient
from connectors.sugar.exceptions import NoSuchModule, SugarApiError
from connectors.sugar.extension.fields import (
    NOT_A_CUSTOM_FIELD,
    FieldRemoval,
    remove_custom_field,
)
from sugar_bridge.sandbox import Sandbox, md5_hex
from tests.sugar_bridge.sandbox.helpers import Api

TIER = {
    "name": "tier_c",
    "type": "enum",
    "label": "Tier",
    "options": {"gold": "Gold", "silver": "Silver"},
}
VIEWS = ["detailview", "editview", "listview"]


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


@pytest.fixture
def api(sandbox: Sandbox) -> Api:
    return Api(sandbox)


def _columns(sandbox: Sandbox) -> set[str]:
    return {r["name"] for r in sandbox.store.rows("PRAGMA table_info(accounts_cstm)")}


def test_remove_undoes_ensure_and_is_idempotent(api: Api, sandbox: Sandbox) -> None:
    api("bridge_ensure_custom_field", module_name="Accounts", field=TIER, views=VIEWS)
    api("set_entries", module_name="Accounts", name_value_lists=[{"name": "A", "tier_c": "gold"}])
    assert "tier_c" in _columns(sandbox)

    answer = api("bridge_remove_custom_field", module_name="Accounts", field_name="tier_c")
    assert answer == {
        "name": "tier_c",
        "removed": True,
        "label_removed": True,
        "list_removed": True,
    }
    assert "tier_c" not in _columns(sandbox)
    assert sandbox.store.count("fields_meta_data", "name = 'tier_c'") == 0
    assert sandbox.store.count("sandbox_layouts", "field = 'tier_c'") == 0
    assert sandbox.store.count("sandbox_labels", "name = 'LBL_TIER'") == 0
    assert sandbox.store.count("sandbox_dropdowns", "name = 'accounts_tier_list'") == 0
    fields = api("get_module_fields", module_name="Accounts", fields=[])["module_fields"]
    assert "tier_c" not in fields
    # The account itself is untouched; reading the gone field is like reading an unknown one.
    assert api("get_entries_count", module_name="Accounts", query="", deleted=0)[
        "result_count"
    ] in (1, "1")

    again = api("bridge_remove_custom_field", module_name="Accounts", field_name="tier_c")
    assert again == {
        "name": "tier_c",
        "removed": False,
        "label_removed": False,
        "list_removed": False,
    }
    # Created again from scratch afterwards, as in Studio.
    recreated = api("bridge_ensure_custom_field", module_name="Accounts", field=TIER, views=[])
    assert (recreated["created"], recreated["changed"]) == (True, True)


def test_a_label_or_list_another_field_uses_stays(api: Api, sandbox: Sandbox) -> None:
    api("bridge_ensure_custom_field", module_name="Accounts", field=TIER, views=[])
    sandbox.store.execute(
        "INSERT INTO fields_meta_data (id, name, vname, custom_module, type, ext1, deleted)"
        " VALUES ('Accountstwin_c', 'twin_c', 'LBL_TIER', 'Accounts', 'enum',"
        " 'accounts_tier_list', 0)"
    )
    answer = api("bridge_remove_custom_field", module_name="Accounts", field_name="tier_c")
    assert (answer["removed"], answer["label_removed"], answer["list_removed"]) == (
        True,
        False,
        False,
    )
    assert sandbox.store.count("sandbox_labels", "name = 'LBL_TIER'") == 1
    assert sandbox.store.count("sandbox_dropdowns", "name = 'accounts_tier_list'") == 1


@pytest.mark.parametrize("name", ["name", "industry", "tier", "bad'_c", "", "_c"])
def test_stock_fields_and_other_names_are_refused(api: Api, name: str) -> None:
    answer = api("bridge_remove_custom_field", module_name="Accounts", field_name=name)
    assert answer["number"] == 1004
    assert answer["name"] == "Bridge: not a custom field"


def test_module_and_admin_checks(api: Api, sandbox: Sandbox) -> None:
    assert (
        api("bridge_remove_custom_field", module_name="accounts", field_name="x_c")["number"] == 20
    )
    password = "Plain-user-1"
    api(
        "set_entry",
        module_name="Users",
        name_value_list=[
            {"name": "user_name", "value": "plain"},
            {"name": "last_name", "value": "Plain"},
            {"name": "status", "value": "Active"},
            {"name": "employee_status", "value": "Active"},
            {"name": "user_hash", "value": md5_hex(password)},
        ],
    )
    plain = Api(sandbox, "plain", password)
    assert (
        plain("bridge_remove_custom_field", module_name="Accounts", field_name="x_c")["number"]
        == 40
    )


def test_client_wrapper(sandbox: Sandbox) -> None:
    with SugarClient(sandbox.base_url, "admin", sandbox.admin_password, max_retries=0) as client:
        client.call_extension(
            "bridge_ensure_custom_field", module_name="Accounts", field=TIER, views=VIEWS
        )
        assert remove_custom_field(client, "Accounts", "tier_c") == FieldRemoval(
            "tier_c", removed=True, label_removed=True, list_removed=True
        )
        assert remove_custom_field(client, "Accounts", "tier_c").removed is False
        with pytest.raises(SugarApiError) as caught:
            remove_custom_field(client, "Accounts", "name")
        assert caught.value.number == NOT_A_CUSTOM_FIELD
        with pytest.raises(NoSuchModule):
            remove_custom_field(client, "NoSuchModule", "tier_c")
