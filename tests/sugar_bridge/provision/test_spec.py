"""The sugar: spec: the example config validates; every malformed config is a ConfigError that
names the file, the line and the path, and the CLI exits 2 without contacting Sugar."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sugar_bridge.cli.app import app
from sugar_bridge.config import json_schema, load_config
from sugar_bridge.exceptions import ConfigError
from sugar_bridge.provision.spec import ACL_LEVELS, SugarSpec
from sugar_bridge.sandbox import Sandbox
from tests.conftest import REPO

BASE = """\
sugar:
  custom_fields:
    Accounts:
      - {name: external_id_c, type: varchar, len: 64, label: External ID}
      - {name: segment_c, type: enum, label: Segment, options: {champions: Champions, lost: Lost}}
  roles:
    - name: Sales Rep
      rights:
        Accounts: {access: enabled, view: all, edit: owner, delete: none}
  security_groups:
    - {name: Sales Team, members: [t.bernard], roles: [Sales Rep]}
  users:
    - user_name: t.bernard
      last_name: Bernard
      email: t.bernard@example.com
      roles: [Sales Rep]
      password: generate
  accounts:
    - {external_id: KA-1, name: Autovision, assigned_user: t.bernard, custom: {segment_c: lost}}
"""

USERS_BLOCK = BASE[BASE.index("  users:\n") : BASE.index("  accounts:\n")]

# (name, text replacing BASE or a (old, new) edit of it, expected path, expected message part)
CASES: list[tuple[str, str | tuple[str, str], str, str]] = [
    (
        "yaml_syntax",
        ("roles: [Sales Rep]\n      password", "roles: [Sales Rep\n      password"),
        "",
        "YAML syntax error",
    ),
    ("yaml_tab_indent", ("  users:\n", "  users:\n\t- x\n"), "", "YAML syntax error"),
    ("top_level_not_mapping", "- just\n- a list\n", "", "must be a mapping"),
    (
        "unknown_section_key",
        ("  users:\n", "  userz: []\n  users:\n"),
        "sugar.userz",
        "Extra inputs",
    ),
    (
        "unknown_user_key",
        ("      last_name: Bernard\n", "      last_name: Bernard\n      nick: tb\n"),
        "sugar.users[0].nick",
        "Extra inputs",
    ),
    (
        "clear_text_password",
        ("password: generate", "password: Hunter2!"),
        "sugar.users[0].password",
        "clear-text passwords are not allowed",
    ),
    (
        "password_unknown_source",
        ("password: generate", "password: {vault: x}"),
        "sugar.users[0].password",
        "",
    ),
    (
        "bad_env_var_name",
        ("password: generate", "password: {env: 'NOT VALID'}"),
        "sugar.users[0].password",
        "",
    ),
    (
        "users_not_a_list",
        (
            USERS_BLOCK,
            "  users: {t.bernard: 1}\n",
        ),
        "sugar.users",
        "valid list",
    ),
    (
        "is_admin_not_bool",
        ("      last_name: Bernard\n", "      last_name: Bernard\n      is_admin: maybe\n"),
        "sugar.users[0].is_admin",
        "boolean",
    ),
    (
        "bad_status",
        ("      last_name: Bernard\n", "      last_name: Bernard\n      status: Gone\n"),
        "sugar.users[0].status",
        "Active",
    ),
    (
        "missing_last_name",
        ("      last_name: Bernard\n", ""),
        "sugar.users[0].last_name",
        "Field required",
    ),
    (
        "bad_user_name",
        ("user_name: t.bernard", "user_name: 't bernard'"),
        "sugar.users[0].user_name",
        "pattern",
    ),
    (
        "bad_email",
        ("email: t.bernard@example.com", "email: not-an-email"),
        "sugar.users[0].email",
        "not an email",
    ),
    (
        "unknown_role_in_user",
        ("roles: [Sales Rep]\n      password", "roles: [Sales Rep, Boss]\n      password"),
        "sugar.users[0].roles[1]",
        "unknown role 'Boss'",
    ),
    (
        "unknown_group_in_user",
        (
            "      password: generate\n",
            "      security_groups: [Nobody]\n      password: generate\n",
        ),
        "sugar.users[0].security_groups[0]",
        "unknown security group",
    ),
    (
        "unknown_user_in_group",
        ("members: [t.bernard]", "members: [t.bernard, ghost]"),
        "sugar.security_groups[0].members[1]",
        "unknown user 'ghost'",
    ),
    (
        "unknown_role_in_group",
        ("roles: [Sales Rep]}", "roles: [Sales Rep, Nope]}"),
        "sugar.security_groups[0].roles[1]",
        "unknown role 'Nope'",
    ),
    (
        "duplicate_user",
        ("  accounts:\n", "    - {user_name: T.Bernard, last_name: X}\n  accounts:\n"),
        "sugar.users[1].user_name",
        "duplicate user_name",
    ),
    (
        "duplicate_role",
        ("  security_groups:\n", "    - {name: sales rep}\n  security_groups:\n"),
        "sugar.roles[1].name",
        "duplicate role name",
    ),
    (
        "duplicate_group",
        ("  users:\n", "    - {name: Sales Team}\n  users:\n"),
        "sugar.security_groups[1].name",
        "duplicate group name",
    ),
    (
        "duplicate_account",
        (
            "custom: {segment_c: lost}}\n",
            "custom: {segment_c: lost}}\n    - {external_id: KA-1, name: Other}\n",
        ),
        "sugar.accounts[1].external_id",
        "duplicate external_id",
    ),
    (
        "duplicate_custom_field",
        (
            "      - {name: segment_c",
            "      - {name: segment_c, type: int, label: X}\n      - {name: segment_c",
        ),
        "sugar.custom_fields.Accounts[2].name",
        "duplicate custom field",
    ),
    (
        "bad_right_word",
        ("edit: owner", "edit: sometimes"),
        "sugar.roles[0].rights.Accounts.edit",
        "Input should be",
    ),
    (
        "access_word_for_right",
        ("view: all", "view: enabled"),
        "sugar.roles[0].rights.Accounts.view",
        "Input should be",
    ),
    (
        "unknown_action",
        ("delete: none}", "delete: none, fly: all}"),
        "sugar.roles[0].rights.Accounts.fly",
        "Extra inputs",
    ),
    (
        "bad_module_name",
        ("        Accounts: {access", "        accounts: {access"),
        "sugar.roles[0].rights.accounts",
        "pattern",
    ),
    (
        "custom_field_without_suffix",
        ("{name: external_id_c,", "{name: external_id,"),
        "sugar.custom_fields.Accounts[0].name",
        "pattern",
    ),
    (
        "bad_field_type",
        ("type: varchar, len: 64", "type: blob, len: 64"),
        "sugar.custom_fields.Accounts[0].type",
        "Input should be",
    ),
    (
        "enum_without_options",
        (", options: {champions: Champions, lost: Lost}}", "}"),
        "sugar.custom_fields.Accounts[1]",
        "needs options",
    ),
    (
        "options_on_varchar",
        ("len: 64, label: External ID}", "len: 64, label: External ID, options: [a]}"),
        "sugar.custom_fields.Accounts[0]",
        "only for enum",
    ),
    ("len_not_int", ("len: 64", "len: long"), "sugar.custom_fields.Accounts[0].len", "integer"),
    (
        "unknown_assigned_user",
        ("assigned_user: t.bernard", "assigned_user: nobody"),
        "sugar.accounts[0].assigned_user",
        "unknown user 'nobody'",
    ),
    (
        "undeclared_custom_value",
        ("custom: {segment_c: lost}", "custom: {colour_c: red}"),
        "sugar.accounts[0].custom.colour_c",
        "unknown custom field",
    ),
    (
        "enum_value_not_an_option",
        ("custom: {segment_c: lost}", "custom: {segment_c: gone}"),
        "sugar.accounts[0].custom.segment_c",
        "not an option",
    ),
    (
        "account_without_name",
        ("{external_id: KA-1, name: Autovision,", "{external_id: KA-1,"),
        "sugar.accounts[0].name",
        "Field required",
    ),
    (
        "markup_in_name",
        ("name: Autovision,", "name: 'Autovision <Co>',"),
        "sugar.accounts[0].name",
        "markup-like text",
    ),
    (
        "markup_in_custom_value",
        ("custom: {segment_c: lost}", "custom: {segment_c: 'lost & <x'}"),
        "sugar.accounts[0].custom.segment_c",
        "markup-like text",
    ),
    (
        "active_user_not_an_active_employee",
        ("      last_name: Bernard\n", "      last_name: Bernard\n      employee_status: Gone\n"),
        "sugar.users[0]",
        "employee_status can only be 'Active'",
    ),
    (
        "protected_and_managed",
        ("sugar:\n", "sugar:\n  protected_users: [t.bernard]\n"),
        "sugar.users[0].user_name",
        "also in protected_users",
    ),
]


def _text(case: str | tuple[str, str]) -> str:
    if isinstance(case, str):
        return case
    old, new = case
    assert old in BASE, f"test case edit does not apply: {old!r}"
    return BASE.replace(old, new, 1)


def test_base_and_example_configs_are_valid(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(BASE, encoding="utf-8")
    assert load_config(path).sugar.users[0].user_name == "t.bernard"
    example = load_config(REPO / "config" / "sugar-bridge.yaml").sugar
    fields = {f.name: f for f in example.custom_fields["Accounts"]}
    for name in (
        "external_id_c",
        "segment_c",
        "lifecycle_stage_c",
        "rfm_score_c",
        "clv_12m_c",
        "p_alive_c",
        "n_orders_c",
        "avg_order_amount_c",
        "last_order_at_c",
        "preferred_payment_c",
        "avg_payment_delay_c",
        "segment_updated_c",
    ):
        assert name in fields, name
    assert fields["lifecycle_stage_c"].options is not None
    assert set(fields["lifecycle_stage_c"].options) == {
        "prospect",
        "new",
        "active",
        "declining",
        "lost",
    }
    assert fields["segment_updated_c"].type == "datetime"
    assert {r.name for r in example.roles} >= {"Sales Manager", "Sales Rep", "Read-only Reviewer"}
    reviewer = next(r for r in example.roles if r.name == "Read-only Reviewer")
    for rights in reviewer.rights.values():
        levels = rights.levels()
        assert all(levels[a] == ACL_LEVELS["none"] for a in ("edit", "delete", "import"))
    assert len(CASES) >= 20


@pytest.mark.parametrize(("name", "edit", "path", "message"), CASES, ids=[c[0] for c in CASES])
def test_malformed_config_is_a_config_error(
    tmp_path: Path, name: str, edit: str | tuple[str, str], path: str, message: str
) -> None:
    config = tmp_path / f"{name}.yaml"
    config.write_text(_text(edit), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    text = str(caught.value)
    assert re.search(rf"{re.escape(config.name)}:\d+", text), text  # file and line
    if path:
        assert f": {path}: " in text or f": {path}." in text or f": {path}[" in text, text
    assert message in text, text
    assert "Hunter2!" not in text  # a clear-text password is never repeated


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as box:
        yield box


@pytest.mark.parametrize(("name", "edit", "path", "message"), CASES, ids=[c[0] for c in CASES])
def test_cli_exits_2_on_bad_spec_and_applies_nothing(
    sandbox: Sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    edit: str | tuple[str, str],
    path: str,
    message: str,
) -> None:
    config = tmp_path / f"{name}.yaml"
    config.write_text(_text(edit), encoding="utf-8")
    monkeypatch.setenv("SUGAR_BRIDGE_CONFIG", str(config))
    monkeypatch.setenv("SUGAR_BRIDGE_SUGAR_URL", sandbox.base_url)
    monkeypatch.setenv("SUGAR_BRIDGE_SUGAR_PASSWORD", sandbox.admin_password)
    calls = sandbox.stats.total_calls
    result = CliRunner().invoke(app, ["provision", "apply", "--yes"])
    assert result.exit_code == 2, result.output
    assert "config error" in result.output
    if path:
        assert path in result.output.replace("\n", "")
    assert sandbox.stats.total_calls == calls  # Sugar was not even contacted
    assert "Hunter2!" not in result.output


def test_schema_command_writes_json_schema(tmp_path: Path) -> None:
    out = tmp_path / "schema.json"
    result = CliRunner().invoke(app, ["provision", "schema", "--out", str(out)])
    assert result.exit_code == 0, result.output
    schema = json.loads(out.read_text(encoding="utf-8"))
    assert schema == json.loads(json.dumps(json_schema()))
    assert "SugarSpec" in schema["$defs"]
    assert schema["$defs"]["ModuleRights"]["properties"]["import"]["anyOf"][0]["enum"]


def test_rights_words_map_to_acl_levels() -> None:
    spec = SugarSpec.model_validate(
        {
            "roles": [
                {
                    "name": "R",
                    "rights": {
                        "Accounts": {
                            "access": "enabled",
                            "view": "all",
                            "list": "group",
                            "edit": "owner",
                            "delete": "none",
                            "import": "default",
                            "export": "none",
                            "massupdate": "none",
                        }
                    },
                }
            ]
        }
    )
    assert spec.roles[0].rights["Accounts"].levels() == {
        "access": 89,
        "view": 90,
        "list": 80,
        "edit": 75,
        "delete": -99,
        "import": 0,
        "export": -99,
        "massupdate": -99,
    }
    disabled = SugarSpec.model_validate(
        {"roles": [{"name": "R", "rights": {"Accounts": {"access": "disabled"}}}]}
    )
    assert disabled.roles[0].rights["Accounts"].levels() == {"access": -98}


def test_custom_fields_go_on_the_list_view_only_where_asked() -> None:
    spec = SugarSpec.model_validate(
        {
            "custom_fields": {
                "Accounts": [
                    {"name": "tier_c", "type": "varchar", "label": "Tier"},
                    {
                        "name": "segment_c",
                        "type": "varchar",
                        "label": "Segment",
                        "views": ["detailview", "listview"],
                    },
                ]
            }
        }
    )
    tier, segment = spec.custom_fields["Accounts"]
    assert tier.views == ["detailview", "editview"]
    assert segment.views == ["detailview", "listview"]
