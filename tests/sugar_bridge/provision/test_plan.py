"""The diff engine on plain data (no server): what is a change, what is not, what blocks."""

from __future__ import annotations

from typing import Any

from sugar_bridge.provision.plan import canon, diff
from sugar_bridge.provision.spec import SugarSpec
from sugar_bridge.provision.state import ExtensionInfo, NamedRecord, SugarState

SPEC: dict[str, Any] = {
    "custom_fields": {
        "Accounts": [
            {"name": "external_id_c", "type": "varchar", "len": 64, "label": "External ID"},
            {
                "name": "segment_c",
                "type": "enum",
                "label": "Segment",
                "options": {"champions": "Champions", "lost": "Lost"},
            },
            {"name": "clv_12m_c", "type": "currency", "label": "CLV 12 months"},
            {"name": "segment_updated_c", "type": "datetime", "label": "Segment updated"},
        ]
    },
    "roles": [
        {
            "name": "Sales Rep",
            "description": "Reps",
            "rights": {"Accounts": {"access": "enabled", "view": "all", "edit": "owner"}},
        }
    ],
    "security_groups": [{"name": "Sales Team", "members": ["rep1"], "roles": ["Sales Rep"]}],
    "users": [
        {
            "user_name": "rep1",
            "first_name": "Rep",
            "last_name": "One",
            "email": "rep1@example.com",
            "roles": ["Sales Rep"],
            "password": "generate",
        },
    ],
    "accounts": [
        {
            "external_id": "KA-1",
            "name": "O'Brien & Sons",
            "assigned_user": "rep1",
            "custom": {"segment_c": "lost", "clv_12m_c": 1234.5},
        },
    ],
}


def _fields() -> dict[str, dict[str, Any]]:
    return {
        "external_id_c": {
            "name": "external_id_c",
            "type": "varchar",
            "label": "External ID",
            "required": 0,
            "options": [],
            "len": "64",
        },
        "segment_c": {
            "name": "segment_c",
            "type": "enum",
            "label": "Segment",
            "required": 0,
            "options": {
                "": {"name": "", "value": ""},
                "champions": {"name": "champions", "value": "Champions"},
                "lost": {"name": "lost", "value": "Lost"},
            },
            "len": 100,
        },
        "clv_12m_c": {
            "name": "clv_12m_c",
            "type": "currency",
            "label": "CLV 12 months",
            "required": 0,
            "options": [],
            "len": "26",
        },
        "segment_updated_c": {
            "name": "segment_updated_c",
            "type": "datetimecombo",
            "label": "Segment updated",
            "required": 0,
            "options": [],
            "len": "",
        },
        "jjwg_maps_lat_c": {"name": "jjwg_maps_lat_c", "type": "float", "label": "Latitude"},
    }


def _in_sync() -> SugarState:
    state = SugarState(api_user_id="1", extension=ExtensionInfo(installed=True, api_level=1))
    state.users = {
        "admin": {
            "id": "1",
            "user_name": "admin",
            "status": "Active",
            "employee_status": "Active",
            "is_admin": "1",
        },
        "rep1": {
            "id": "u1",
            "user_name": "rep1",
            "first_name": "Rep",
            "last_name": "One",
            "email1": "rep1@example.com",
            "status": "Active",
            "employee_status": "Active",
            "is_admin": "0",
        },
    }
    state.roles = {"Sales Rep": NamedRecord("r1", "Sales Rep", "Reps", user_ids={"u1"})}
    state.role_rights = {
        "Sales Rep": {
            "Accounts": {
                "access": 89,
                "view": 90,
                "list": 0,
                "edit": 75,
                "delete": 0,
                "import": 0,
                "export": 0,
                "massupdate": 0,
            },
            "Contacts": {"access": 0},
        }
    }
    state.groups = {"Sales Team": NamedRecord("g1", "Sales Team", "", {"u1"}, {"r1"})}
    state.custom_fields = {"Accounts": _fields()}
    state.module_field_names = {"Accounts": {"name", *_fields()}}
    state.accounts = {
        "KA-1": {
            "id": "a1",
            "name": "O'Brien & Sons",
            "assigned_user_id": "u1",
            "external_id_c": "KA-1",
            "segment_c": "lost",
            "clv_12m_c": "1234.500000",
        }
    }
    return state


def test_in_sync_state_has_no_changes() -> None:
    plan = diff(SugarSpec.model_validate(SPEC), _in_sync())
    assert plan.blockers == []
    assert [i for i in plan.items if i.action != "unchanged"] == []
    assert not plan.has_changes


def test_fresh_sugar_creates_everything_in_dependency_order() -> None:
    state = SugarState(api_user_id="1", extension=ExtensionInfo(installed=True, api_level=1))
    state.users = {"admin": {"id": "1", "user_name": "admin", "status": "Active"}}
    plan = diff(SugarSpec.model_validate(SPEC), state)
    assert plan.blockers == []
    kinds = [i.kind for i in plan.changes]
    assert kinds == sorted(
        kinds,
        key=[
            "custom_field",
            "role",
            "role_rights",
            "security_group",
            "user",
            "membership",
            "account",
        ].index,
    )
    assert {i.action for i in plan.changes} == {"create", "add"}
    account = plan.by_kind("account")[0]
    assert account.values["external_id_c"] == "KA-1"
    assert account.values["assigned_user_name"] == "rep1"
    assert len(plan.by_kind("membership")) == 3  # role←user, group←user, group←role


def test_drift_shows_old_and_new_values() -> None:
    state = _in_sync()
    state.users["rep1"]["first_name"] = "Rap"
    state.accounts["KA-1"]["segment_c"] = "champions"
    state.role_rights["Sales Rep"]["Accounts"]["edit"] = 90
    state.custom_fields["Accounts"]["segment_c"]["label"] = "Old label"
    plan = diff(SugarSpec.model_validate(SPEC), state)
    changes = {(i.kind, c.name): (c.old, c.new) for i in plan.changes for c in i.changes}
    assert changes == {
        ("user", "first_name"): ("Rap", "Rep"),
        ("account", "segment_c"): ("champions", "lost"),
        ("role_rights", "Accounts.edit"): ("all", "owner"),
        ("custom_field", "label"): ("Old label", "Segment"),
    }
    assert plan.by_kind("role_rights")[0].values == {
        "Accounts": {"access": 89, "view": 90, "edit": 75}
    }


def test_email_change_of_existing_user_is_a_note_not_a_change() -> None:
    state = _in_sync()
    state.users["rep1"]["email1"] = "old@example.com"
    plan = diff(SugarSpec.model_validate(SPEC), state)
    assert not plan.has_changes
    (item,) = plan.notes
    assert "cannot update via API" in item.note


def test_email_of_account_change_is_a_note_but_a_first_email_is_a_change() -> None:
    spec = dict(SPEC, accounts=[dict(SPEC["accounts"][0], email="new@example.com")])
    state = _in_sync()
    state.accounts["KA-1"]["email1"] = "old@example.com"
    plan = diff(SugarSpec.model_validate(spec), state)
    assert not plan.has_changes
    assert "cannot update via API" in plan.notes[0].note
    state.accounts["KA-1"]["email1"] = ""
    plan = diff(SugarSpec.model_validate(spec), state)
    assert [(c.name, c.new) for i in plan.changes for c in i.changes] == [
        ("email1", "new@example.com")
    ]
    state.users["rep1"]["email1"] = ""
    plan = diff(SugarSpec.model_validate(SPEC), state)
    assert [(i.kind, c.name) for i in plan.changes for c in i.changes] == [("user", "email1")]


def test_membership_reconciled_both_ways() -> None:
    state = _in_sync()
    state.users["other"] = {"id": "u9", "user_name": "other", "status": "Inactive"}
    state.roles["Sales Rep"].user_ids = {"u9"}
    plan = diff(SugarSpec.model_validate(SPEC), state)
    actions = {(i.action, i.key) for i in plan.changes}
    assert actions == {
        ("add", "role Sales Rep ← user rep1"),
        ("remove", "role Sales Rep ← user other"),
    }


def test_prune_only_unknown_active_users_and_never_protected_or_api_user() -> None:
    state = _in_sync()
    state.users["gone"] = {"id": "u7", "user_name": "gone", "status": "Active"}
    state.users["old"] = {"id": "u8", "user_name": "old", "status": "Inactive"}
    spec = SugarSpec.model_validate(SPEC)
    quiet = diff(spec, state)
    assert not quiet.has_changes
    assert [(i.key, i.action) for i in quiet.items if "prune" in i.action] == [
        ("gone", "would-prune")
    ]
    pruning = diff(spec, state, prune=True)
    assert [(i.key, i.values) for i in pruning.changes] == [
        ("gone", {"status": "Inactive", "employee_status": "Terminated"})
    ]


def test_missing_extension_and_security_groups_block() -> None:
    state = _in_sync()
    state.extension = ExtensionInfo(installed=False)
    state.has_security_groups = False
    plan = diff(SugarSpec.model_validate(SPEC), state)
    assert plan.has_changes
    text = " ".join(plan.blockers)
    assert "extension is not installed" in text
    assert "no SecurityGroups module" in text
    assert {i.action for i in plan.by_kind("security_group")} == {"blocked"}


def test_unknown_module_in_role_blocks() -> None:
    spec = dict(SPEC, roles=[{"name": "Sales Rep", "rights": {"Acounts": {"view": "all"}}}])
    plan = diff(SugarSpec.model_validate(spec), _in_sync())
    assert any("no module 'Acounts'" in b for b in plan.blockers)


def test_canonical_values() -> None:
    assert canon("1234.500000", "currency") == canon(1234.5, "currency") == "1234.5"
    assert canon("0.000000", "decimal") == canon(0, "decimal") == "0"
    assert canon("1", "bool") == canon(True, "bool") == "1"
    assert canon("0", "bool") == canon(False) == "0"
    assert canon("2026-01-02 03:04:05", "datetime") == canon("2026-01-02T03:04:05", "datetime")
    assert canon("7", "int") == canon(7.0, "int") == "7"
    assert canon(None) == canon("") == ""


def test_custom_field_type_change_blocks_with_what_to_do() -> None:
    state = _in_sync()
    state.custom_fields["Accounts"]["clv_12m_c"]["type"] = "varchar"
    plan = diff(SugarSpec.model_validate(SPEC), state)
    (blocker,) = plan.blockers
    assert "custom field Accounts.clv_12m_c is of type varchar in Sugar" in blocker
    assert "the spec says currency" in blocker
    assert "new field name" in blocker
    assert "Studio" in blocker
    (item,) = [i for i in plan.by_kind("custom_field") if i.key == "Accounts.clv_12m_c"]
    assert item.action == "blocked"
    assert not item.is_change  # nothing of it would be sent
    assert [(c.name, c.old, c.new) for c in item.changes] == [("type", "varchar", "currency")]
    assert plan.has_changes  # blocked is never "in sync"


def test_sugar_type_aliases_are_not_type_changes() -> None:
    state = _in_sync()
    state.custom_fields["Accounts"]["clv_12m_c"]["type"] = "currency"
    state.custom_fields["Accounts"]["segment_updated_c"]["type"] = "datetimecombo"
    assert diff(SugarSpec.model_validate(SPEC), state).blockers == []


def test_non_admin_api_user_is_told_exactly_that() -> None:
    state = _in_sync()
    state.api_user_name = "clerk"
    state.is_admin = False
    state.extension = ExtensionInfo(installed=False, access_denied=True)
    plan = diff(SugarSpec.model_validate(SPEC), state)
    (blocker,) = plan.blockers
    assert blocker.startswith(
        "the API user clerk is not a Sugar administrator: provisioning needs an admin (Users "
        "need admin rights to create users and the extension refuses non-admins)"
    )
    assert "not installed" not in blocker


def test_access_denied_by_the_extension_alone_is_the_admin_blocker() -> None:
    # The login said admin, but bridge_info still answered 40: the same single explanation.
    state = _in_sync()
    state.api_user_name = "svc"
    state.extension = ExtensionInfo(installed=False, access_denied=True)
    (blocker,) = diff(SugarSpec.model_validate(SPEC), state).blockers
    assert "the API user svc is not a Sugar administrator" in blocker


def test_users_follow_status_with_employee_status() -> None:
    spec = SugarSpec.model_validate(SPEC)
    state = _in_sync()
    state.users["rep1"]["employee_status"] = ""
    (item,) = diff(spec, state).changes
    assert (item.key, item.values) == ("rep1", {"employee_status": "Active"})
    assert [(c.name, c.old, c.new) for c in item.changes] == [("employee_status", "", "Active")]
    state.users["rep1"]["employee_status"] = "Leave of Absence"  # active again: needs Active
    assert diff(spec, state).changes[0].values == {"employee_status": "Active"}

    inactive = SugarSpec.model_validate(
        dict(SPEC, users=[dict(SPEC["users"][0], status="Inactive")])
    )
    for current, expected in (
        ("Active", {"status": "Inactive", "employee_status": "Terminated"}),
        ("", {"status": "Inactive", "employee_status": "Terminated"}),
        ("Leave of Absence", {"status": "Inactive"}),
        ("Terminated", {"status": "Inactive"}),
    ):
        state.users["rep1"]["employee_status"] = current
        (item,) = diff(inactive, state).changes
        assert item.values == expected, current
    state.users["rep1"]["status"] = "Inactive"
    for current in ("Leave of Absence", "Terminated"):
        state.users["rep1"]["employee_status"] = current
        assert not diff(inactive, state).has_changes, current


def test_created_users_carry_employee_status() -> None:
    state = _in_sync()
    del state.users["rep1"]
    gone = {"user_name": "gone", "last_name": "G", "status": "Inactive"}
    spec = SugarSpec.model_validate(dict(SPEC, users=[SPEC["users"][0], gone]))
    created = {i.key: i.values["employee_status"] for i in diff(spec, state).by_kind("user")}
    assert created == {"rep1": "Active", "gone": "Terminated"}


def test_declared_employee_status_of_an_inactive_user_is_kept() -> None:
    # What export writes for an inactive user whose employee_status is still 'Active' or empty.
    state = _in_sync()
    state.users["rep1"].update(status="Inactive", employee_status="Active")
    user = dict(SPEC["users"][0], status="Inactive", employee_status="Active")
    assert not diff(SugarSpec.model_validate(dict(SPEC, users=[user])), state).has_changes
    state.users["rep1"]["employee_status"] = ""
    (item,) = diff(SugarSpec.model_validate(dict(SPEC, users=[user])), state).changes
    assert item.values == {"employee_status": "Active"}
    hand_written = dict(SPEC["users"][0], status="Inactive")  # no employee_status: derived
    (item,) = diff(SugarSpec.model_validate(dict(SPEC, users=[hand_written])), state).changes
    assert item.values == {"employee_status": "Terminated"}
