"""The server extension on a real Sugar: only when SUGAR_LIVE_URL, SUGAR_LIVE_USERNAME (an admin)
and SUGAR_LIVE_PASSWORD are set, with the extension installed.

Leaves nothing behind: its custom fields on Accounts (``sb_live_tier_<run>_c``,
``sb_live_score_<run>_c``, ``sb_live_rm_<id>_c``) are removed with ``bridge_remove_custom_field``
at the end of the module, the roles it creates are marked deleted.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.sugar.client import SugarClient
from connectors.sugar.exceptions import NoSuchModule, SugarApiError
from connectors.sugar.extension import API_LEVEL, EXTENSION_VERSION
from connectors.sugar.extension.compat import require_extension
from connectors.sugar.extension.fields import NOT_A_CUSTOM_FIELD, FieldRemoval, remove_custom_field
from tests.live.support import remove_fields

pytestmark = pytest.mark.live

VIEWS = ["detailview", "editview", "listview"]
# A per-run token in the field names: several runs, of several branches, share the live Sugar.
RUN = uuid.uuid4().hex[:6]
TIER: dict[str, Any] = {
    "name": f"sb_live_tier_{RUN}_c",
    "type": "enum",
    "label": "Live test tier",
    "len": 100,
    "options": {"": "", "gold": "Gold", "silver": "Silver & co", "bronze": "Bronze"},
    "default": "",
    "required": False,
    "help": "",
}
SCORE: dict[str, Any] = {
    "name": f"sb_live_score_{RUN}_c",
    "type": "decimal",
    "label": "Live test score",
    "len": 12,
    "precision": 3,
    "default": None,
    "required": False,
    "help": "written by the sugar-bridge live tests",
}
RIGHTS = {
    "Accounts": {
        "access": 89,
        "view": 90,
        "list": 90,
        "edit": 75,
        "delete": -99,
        "import": -99,
        "export": -99,
        "massupdate": -99,
    },
    "Contacts": {"view": 80, "edit": 0},
}


@pytest.fixture(scope="module", autouse=True)
def _remove_fields_at_the_end(live_sugar: SugarClient) -> Iterator[None]:
    yield
    remove_fields(live_sugar, "Accounts", [TIER["name"], SCORE["name"]])


@pytest.fixture
def role(live_sugar: SugarClient) -> Iterator[str]:
    roles = live_sugar.module("ACLRoles")
    role_id = roles.create(
        {"name": f"sugar-bridge live test role {uuid.uuid4().hex[:8]}", "description": "live test"}
    )
    yield role_id
    roles.update(role_id, {"deleted": 1}, check_exists=False)


def _ensure(client: SugarClient, field: dict[str, Any], views: list[str]) -> dict[str, Any]:
    answer = client.call_extension(
        "bridge_ensure_custom_field", module_name="Accounts", field=field, views=views
    )
    assert isinstance(answer, dict), answer
    return answer


def test_bridge_info(live_sugar: SugarClient) -> None:
    info = require_extension(live_sugar)
    assert info["extension_version"] == EXTENSION_VERSION
    assert info["api_level"] == API_LEVEL
    assert info["flavor"] == "CE"
    assert str(info["sugar_version"]).startswith("6.5.")
    assert "Accounts" in info["modules"]
    assert info["security_groups"] == ("SecurityGroups" in info["modules"])


@pytest.mark.parametrize("field", [TIER, SCORE], ids=["enum", "decimal"])
def test_ensure_custom_field_is_idempotent(live_sugar: SugarClient, field: dict[str, Any]) -> None:
    first = _ensure(live_sugar, field, VIEWS)
    assert first["name"] == field["name"]
    second = _ensure(live_sugar, field, VIEWS)
    assert second == {
        "name": field["name"],
        "created": False,
        "changed": False,
        "changes": [],
        "views_added": [],
    }
    fields = live_sugar.module("Accounts").fields([field["name"]]).module_fields
    seen = fields[field["name"]]
    assert seen["label"] == field["label"]
    if field["type"] == "enum":
        options = seen["options"]
        labels = {
            key: item["value"] if isinstance(item, dict) else item for key, item in options.items()
        }
        assert labels == field["options"]


def test_ensure_custom_field_reports_what_changed(live_sugar: SugarClient) -> None:
    _ensure(live_sugar, TIER, VIEWS)
    relabelled = {**TIER, "label": "Live test tier (renamed)"}
    changed = _ensure(live_sugar, relabelled, VIEWS)
    assert (changed["created"], changed["changed"], changed["changes"]) == (False, True, ["label"])
    more = {**relabelled, "options": {**TIER["options"], "platinum": "Platinum"}}
    assert _ensure(live_sugar, more, VIEWS)["changes"] == ["options"]
    back = _ensure(live_sugar, TIER, VIEWS)
    assert back["changed"] is True
    assert sorted(back["changes"]) == ["label", "options"]
    assert _ensure(live_sugar, TIER, VIEWS)["changed"] is False


def test_ensure_custom_field_refuses_bad_definitions(live_sugar: SugarClient) -> None:
    _ensure(live_sugar, SCORE, [])  # exists, so that a type change can be refused below
    for bad in (
        {**SCORE, "type": "blob"},
        {**SCORE, "name": "name"},
        {**SCORE, "type": "int"},  # an existing field's type cannot change
        {**TIER, "options": {}},
    ):
        with pytest.raises(SugarApiError) as caught:
            _ensure(live_sugar, bad, [])
        assert caught.value.number == 1001
    with pytest.raises(SugarApiError) as caught:
        _ensure(live_sugar, SCORE, ["popupview"])
    assert caught.value.number == 1001
    with pytest.raises(NoSuchModule):
        live_sugar.call_extension(
            "bridge_ensure_custom_field", module_name="accounts", field=SCORE, views=[]
        )


def test_role_actions_set_and_read_back(live_sugar: SugarClient, role: str) -> None:
    with_unknown = {
        **RIGHTS,
        "Accounts": {**RIGHTS["Accounts"], "fly": 90},
        "NoSuchModule": {"view": 90},
    }
    first = live_sugar.call_extension("bridge_set_role_actions", role_id=role, rights=with_unknown)
    assert first["role_id"] == role
    assert sorted(first["unknown"]) == ["Accounts.fly", "NoSuchModule.view"]
    # Contacts.edit = 0 is the level a new role already has.
    assert (first["changed"], first["unchanged"]) == (9, 1)
    again = live_sugar.call_extension("bridge_set_role_actions", role_id=role, rights=RIGHTS)
    assert (again["changed"], again["unchanged"], again["unknown"]) == (0, 10, [])
    stored = live_sugar.call_extension("bridge_get_role_actions", role_id=role)
    assert stored["Accounts"] == RIGHTS["Accounts"]
    assert stored["Contacts"]["view"] == 80
    assert stored["Contacts"]["edit"] == 0
    assert all(level == 0 for level in stored["Leads"].values())
    edit = live_sugar.call_extension(
        "bridge_set_role_actions", role_id=role, rights={"Accounts": {"edit": 90}}
    )
    assert (edit["changed"], edit["unchanged"]) == (1, 0)
    assert (
        live_sugar.call_extension("bridge_get_role_actions", role_id=role)["Accounts"]["edit"] == 90
    )


def test_role_errors(live_sugar: SugarClient, role: str) -> None:
    with pytest.raises(SugarApiError) as caught:
        live_sugar.call_extension("bridge_get_role_actions", role_id=str(uuid.uuid4()))
    assert caught.value.number == 1002
    with pytest.raises(SugarApiError) as caught:
        live_sugar.call_extension(
            "bridge_set_role_actions", role_id=role, rights={"Accounts": {"edit": 91}}
        )
    assert caught.value.number == 1003


def _options(client: SugarClient, name: str) -> dict[str, str]:
    seen = client.module("Accounts").fields([name]).module_fields[name]["options"]
    if not seen:  # PHP's json_encode of an empty array
        return {}
    return {key: item["value"] if isinstance(item, dict) else item for key, item in seen.items()}


def test_a_dropdown_list_survives_a_meeting_save(live_sugar: SugarClient) -> None:
    """On SuiteCRM 7.15.0 every Meeting save (its calendar-sync logic hook) constructs
    CalendarProviderRegistry, which overwrites Sugar's compiled application language
    (custom/application/Ext/Language/en_us.lang.ext.php) with its calendar source types alone
    (write_override_label_to_file ignores its 'a' mode): every extension dropdown list was
    gone, an enum's options read back empty and its values showed blank to users. The bridge's
    lists live in custom/include/language, which Sugar reads directly."""
    _ensure(live_sugar, TIER, VIEWS)
    assert _options(live_sugar, TIER["name"]) == TIER["options"]
    meetings = live_sugar.module("Meetings")
    meeting = meetings.create(
        {
            "name": f"sugar-bridge live test meeting {RUN}",
            "date_start": "2026-12-07 10:00:00",
            "duration_hours": 1,
            "duration_minutes": 0,
        }
    )
    try:
        assert _options(live_sugar, TIER["name"]) == TIER["options"]
        assert _ensure(live_sugar, TIER, VIEWS)["changed"] is False
    finally:
        meetings.update(meeting, {"deleted": 1}, check_exists=False)


def test_remove_custom_field_undoes_ensure(live_sugar: SugarClient) -> None:
    name = f"sb_live_rm_{uuid.uuid4().hex[:6]}_c"
    field = {
        **TIER,
        "name": name,
        "label": "Live test removed",
        "options": {"x": "X", "y": "Y"},
    }
    try:
        created = _ensure(live_sugar, field, VIEWS)
        assert (created["created"], created["views_added"]) == (True, VIEWS)
        accounts = live_sugar.module("Accounts")
        record_id = accounts.create({"name": f"sugar-bridge live test rm {name}", name: "x"})
        try:
            assert remove_custom_field(live_sugar, "Accounts", name) == FieldRemoval(
                name, removed=True, label_removed=True, list_removed=True
            )
            assert name not in accounts.fields().module_fields
            record = accounts.get(record_id, fields=["name"])
            assert record is not None  # the record stays; only its column went
        finally:
            accounts.update(record_id, {"deleted": 1}, check_exists=False)
        again = remove_custom_field(live_sugar, "Accounts", name)
        assert again == FieldRemoval(name, removed=False, label_removed=False, list_removed=False)
        root = os.environ.get("SUGAR_LIVE_SUITECRM_ROOT")
        if root:  # nothing of the field stays under custom/ (what Studio's Delete misses too)
            custom = Path(root) / "custom"
            stem = name[:-2]
            assert not list(custom.glob(f"Extension/application/Ext/Language/*{stem}_list.php"))
            assert not list(custom.glob(f"Extension/modules/Accounts/Ext/Vardefs/*{name}.php"))
            for path in [
                *custom.glob("Extension/modules/Accounts/Ext/Language/*.php"),
                *custom.glob("modules/Accounts/metadata/*defs.php"),
                *custom.glob("modules/Accounts/Ext/*/*.php"),
            ]:
                text = path.read_text("utf-8", "replace").lower()
                assert name not in text, path
                assert f"lbl_{stem}'" not in text, path
        # Created again afterwards, from scratch, as in Studio.
        assert _ensure(live_sugar, field, [])["created"] is True
    finally:
        remove_custom_field(live_sugar, "Accounts", name)


def test_remove_custom_field_refuses_other_fields(live_sugar: SugarClient) -> None:
    for name in ("name", "industry", "sb_live_no_suffix", "x'_c"):
        with pytest.raises(SugarApiError) as caught:
            remove_custom_field(live_sugar, "Accounts", name)
        assert caught.value.number == NOT_A_CUSTOM_FIELD
    assert live_sugar.module("Accounts").fields(["industry"]).module_fields
    with pytest.raises(NoSuchModule):
        remove_custom_field(live_sugar, "accounts", "sb_live_tier_c")
