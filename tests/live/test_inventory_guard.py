"""The live tests' leftover guard (tests/conftest.py) can fail: its inventory and diff, on the
sandbox (no live Sugar needed)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from connectors.sugar.client import SugarClient
from sugar_bridge.sandbox import Sandbox, md5_hex
from tests.live.support import (
    CreationLog,
    delete_records,
    delete_users,
    left_behind,
    new_items,
    remove_fields,
    take_inventory,
)

PHP = shutil.which("php")


@pytest.fixture
def client() -> Iterator[SugarClient]:
    with (
        Sandbox() as sandbox,
        SugarClient(sandbox.base_url, "admin", sandbox.admin_password, max_retries=0) as client,
    ):
        yield client


def test_leftovers_are_listed_and_cleanup_brings_the_inventory_back(client: SugarClient) -> None:
    before = take_inventory(client)
    assert left_behind(before, take_inventory(client)) == []

    client.call_extension(
        "bridge_ensure_custom_field",
        module_name="Accounts",
        field={"name": "guard_c", "type": "varchar", "label": "Guard"},
        views=["detailview"],
    )
    account = client.module("Accounts").create({"name": "guard account"})
    role = client.module("ACLRoles").create({"name": "guard role"})
    user = client.call(
        "set_entry",
        module_name="Users",
        name_value_list=[
            {"name": "user_name", "value": "guarduser"},
            {"name": "last_name", "value": "Guard"},
            {"name": "status", "value": "Active"},
            {"name": "employee_status", "value": "Active"},
            {"name": "user_hash", "value": md5_hex("Guard-pw-1")},
        ],
    )["id"]

    left = left_behind(before, take_inventory(client))
    assert left == [
        "Accounts custom fields: guard_c",
        f"Users records: {user} guarduser",
        f"ACLRoles records: {role} guard role",
        f"Accounts records: {account} guard account",
    ]

    delete_records(client, "Accounts", [account])
    delete_records(client, "ACLRoles", [role])
    delete_users(client, [user])
    delete_users(client, [user])  # already gone: nothing to do
    remove_fields(client, "Accounts", ["guard_c"])
    after = take_inventory(client)
    assert left_behind(before, after) == []
    assert after == before
    assert after.fingerprint() == before.fingerprint()


def test_files_under_custom_are_inventoried(client: SugarClient, tmp_path: Path) -> None:
    ext = tmp_path / "custom" / "Extension"
    labels = ext / "modules" / "Accounts" / "Ext" / "Language"
    labels.mkdir(parents=True)
    (labels / "_override_en_us.lang.php").write_text(
        "<?php\n$mod_strings['LBL_KEPT'] = 'Kept';\n", encoding="utf-8"
    )
    layouts = tmp_path / "custom" / "modules" / "Accounts" / "metadata"
    layouts.mkdir(parents=True)
    (layouts / "listviewdefs.php").write_text("<?php\n$listViewDefs = array();\n", "utf-8")
    detail = (
        "<?php\n$viewdefs['Accounts']['DetailView']['panels']['default'] = array("
        "array('name', 'phone_office'), {blank});\n"
    )
    (layouts / "detailviewdefs.php").write_text(detail.format(blank="array('name')"), "utf-8")
    before = take_inventory(client, tmp_path)

    (labels / "_override_en_us.lang.php").write_text(
        "<?php\n$mod_strings['LBL_KEPT'] = 'Kept';\n$mod_strings['LBL_GUARD'] = 'Guard';\n",
        encoding="utf-8",
    )
    lists = ext / "application" / "Ext" / "Language"
    lists.mkdir(parents=True)
    (lists / "en_us.bridge_accounts_guard_list.php").write_text("<?php\n", "utf-8")
    vardefs = ext / "modules" / "Accounts" / "Ext" / "Vardefs"
    vardefs.mkdir(parents=True)
    (vardefs / "_override_sugarfield_guard_c.php").write_text("<?php\n", "utf-8")
    (layouts / "listviewdefs.php").write_text(
        "<?php\n$listViewDefs['Accounts'] = array('GUARD_C' => array('default' => true));\n",
        "utf-8",
    )
    (layouts / "detailviewdefs.php").write_text(
        detail.format(blank="array('(filler)', array('name' => '(empty)'))"), "utf-8"
    )
    expected = ["blank layout rows: Accounts detailviewdefs.php blank row 1"] if PHP else []
    assert left_behind(before, take_inventory(client, tmp_path)) == [
        *expected,
        "labels: Accounts LBL_GUARD",
        "dropdown files: en_us.bridge_accounts_guard_list.php",
        "vardef fragments: Accounts _override_sugarfield_guard_c.php",
        "layout fields: Accounts listviewdefs.php guard_c",
    ]


def test_only_what_this_process_created_counts(
    client: SugarClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = take_inventory(client)
    foreign = client.module("Accounts").create({"name": "another run's account"})
    log = CreationLog(client.base_url)
    monkeypatch.setattr(requests.Session, "send", log.wrap(requests.Session.send))
    client.call_extension(
        "bridge_ensure_custom_field",
        module_name="Accounts",
        field={"name": "mine_c", "type": "varchar", "label": "Mine"},
        views=[],
    )
    mine = client.module("Accounts").save_many([{"name": "my account"}])[0]
    after = take_inventory(client)

    assert sorted(new_items(before, after)["Accounts records"]) == sorted(
        [f"{foreign} another run's account", f"{mine} my account"]
    )
    assert left_behind(before, after, log.owns) == [
        "Accounts custom fields: mine_c",
        f"Accounts records: {mine} my account",
    ]
    assert log.owns("labels", "Accounts LBL_MINE")
    assert log.owns("layout fields", "Accounts listviewdefs.php mine_c")
    assert not log.owns("vardef fragments", "Accounts _override_sugarfield_other_c.php")
    # A field this run removed and someone else made again is not this run's leftover.
    remove_fields(client, "Accounts", ["mine_c"])
    assert not log.owns("Accounts custom fields", "mine_c")
    assert not log.owns("labels", "Accounts LBL_MINE")
