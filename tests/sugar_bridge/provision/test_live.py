"""Provisioning against a real SugarCRM CE / SuiteCRM 7 with the bridge extension installed.

Runs only when SUGAR_LIVE_URL, SUGAR_LIVE_USERNAME and SUGAR_LIVE_PASSWORD are set. Uses its own
custom fields (``sbp_*_c``) and names with a per-run suffix, so it never touches the example
config's objects; at the end it deactivates its users and deletes its roles, group and accounts.

The user tests prove what matters on SuiteCRM 7.15: a provisioned user can use its session (not
only log in) and log in on the web, which 7.15 refuses to users without employee_status 'Active'.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest
import requests

from connectors.sugar import query as q
from connectors.sugar.client import SugarClient
from connectors.sugar.exceptions import InvalidSession
from connectors.sugar.extension.compat import parse_version
from sugar_bridge.provision.apply import apply
from sugar_bridge.provision.passwords import user_hash
from sugar_bridge.provision.plan import plan
from sugar_bridge.provision.spec import SugarSpec

pytestmark = pytest.mark.live


def _spec(suffix: str, admin: str) -> dict[str, Any]:
    role, group = f"SBP Role {suffix}", f"SBP Group {suffix}"
    return {
        "account_key_field": "sbp_external_id_c",
        "protected_users": [admin],
        "custom_fields": {
            "Accounts": [
                {
                    "name": "sbp_external_id_c",
                    "type": "varchar",
                    "len": 64,
                    "label": "SBP External ID",
                },
                {
                    "name": "sbp_segment_c",
                    "type": "enum",
                    "label": "SBP Segment",
                    "options": {"champions": "Champions", "at_risk": "At risk", "lost": "Lost"},
                },
                {"name": "sbp_score_c", "type": "int", "label": "SBP Score"},
                {"name": "sbp_amount_c", "type": "currency", "label": "SBP Amount", "precision": 2},
                {"name": "sbp_ratio_c", "type": "decimal", "label": "SBP Ratio", "precision": 4},
                {"name": "sbp_day_c", "type": "date", "label": "SBP Day"},
                {
                    "name": "sbp_updated_c",
                    "type": "datetime",
                    "label": "SBP Updated",
                    "views": ["detailview"],
                },
                {"name": "sbp_flag_c", "type": "bool", "label": "SBP Flag"},
                {"name": "sbp_note_c", "type": "text", "label": "SBP Note", "help": "live test"},
            ]
        },
        "roles": [
            {
                "name": role,
                "description": "live test role",
                "rights": {
                    "Accounts": {
                        "access": "enabled",
                        "view": "all",
                        "list": "all",
                        "edit": "owner",
                        "delete": "none",
                        "import": "none",
                        "export": "none",
                        "massupdate": "none",
                    }
                },
            }
        ],
        "security_groups": [{"name": group, "members": [f"sbp{suffix}a"], "roles": [role]}],
        "users": [
            {
                "user_name": f"sbp{suffix}a",
                "first_name": "Live",
                "last_name": "Tester A",
                "email": f"sbp{suffix}a@example.test",
                "title": "Tester",
                "roles": [role],
                "password": {"env": "SBP_LIVE_PW"},
            },
            {
                "user_name": f"sbp{suffix}b",
                "last_name": "Tester B",
                "roles": [role],
                "password": "generate",
            },
        ],
        "accounts": [
            {
                "external_id": f"SBP-{suffix}-1",
                "name": f"SBP O'Brien & Sons {suffix}",
                "type": "Customer",
                "billing_address": {"city": "Lyon", "country": "France"},
                "assigned_user": f"sbp{suffix}a",
                "custom": {
                    "sbp_segment_c": "at_risk",
                    "sbp_score_c": 7,
                    "sbp_amount_c": 1234.5,
                    "sbp_ratio_c": 0.8125,
                    "sbp_day_c": "2026-10-01",
                    "sbp_updated_c": "2026-11-24 02:00:00",
                    "sbp_flag_c": True,
                    # Stored as written (entities and newline); "<x" would be stripped by Sugar,
                    # which the spec refuses up front.
                    "sbp_note_c": "line 1\nline 2 & co > 2",
                },
            },
        ],
    }


def test_live_fresh_apply_then_second_apply_sends_no_write(
    live_sugar: SugarClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = live_sugar
    suffix = secrets.token_hex(3)
    password = f"Live-{secrets.token_urlsafe(12)}"
    monkeypatch.setenv("SBP_LIVE_PW", password)
    spec = SugarSpec.model_validate(_spec(suffix, client.username))
    try:
        first = apply(client, spec, passwords_file=tmp_path / "pw.tsv")
        summary = first.summary()
        assert summary["user"] == {"create": 2}
        assert summary["account"] == {"create": 1}
        assert summary["membership"] == {"add": 4}

        writes = client.stats.writes
        again = plan(client, spec)
        assert not again.has_changes, [(i.kind, i.key, i.changes) for i in again.changes]
        second = apply(client, spec, passwords_file=tmp_path / "pw2.tsv")
        assert second.applied == []
        assert client.stats.writes == writes

        with SugarClient(client.base_url, f"sbp{suffix}a", password) as user_client:
            assert user_client.user_id
        generated = (tmp_path / "pw.tsv").read_text().splitlines()[-1].split("\t")
        with SugarClient(client.base_url, generated[0], generated[1]) as user_client:
            assert user_client.user_id
    finally:
        _cleanup(client, suffix)


def _cleanup(client: SugarClient, suffix: str) -> None:
    users = client.module("Users")
    for record in users.list(query=q.like_prefix("users.user_name", f"sbp{suffix}"), fields=["id"]):
        users.update(record["id"], {"status": "Inactive"})
    for module, column in (
        ("ACLRoles", "acl_roles.name"),
        ("SecurityGroups", "securitygroups.name"),
        ("Accounts", "accounts.name"),
    ):
        accessor = client.module(module)
        for record in accessor.list(query=q.like_contains(column, suffix), fields=["id"]):
            accessor.update(record["id"], {"deleted": 1})


# --- provisioned users can work (SuiteCRM 7.15 checks employee_status on every session) ---------


def _web_login(base_url: str, user_name: str, password: str, verify: bool) -> requests.Response:
    """Log in through Sugar's login form (a fresh cookie jar), following the redirects."""
    with requests.Session() as browser:
        browser.verify = verify
        browser.get(f"{base_url}/index.php?module=Users&action=Login", timeout=60)
        return browser.post(
            f"{base_url}/index.php",
            data={
                "module": "Users",
                "action": "Authenticate",
                "return_module": "Users",
                "return_action": "Login",
                "user_name": user_name,
                "username_password": password,
            },
            timeout=60,
        )


def _landed_home(page: requests.Response) -> bool:
    """Authenticate redirects to Home (302 → index.php?module=Home&action=index) on success and
    back to the login form (module=Users&action=Login, with its password field) on failure."""
    return (
        "module=Home" in page.url
        and 'name="username_password"' not in page.text
        and "action=Logout" in page.text
    )


def _on_login_page(page: requests.Response) -> bool:
    return "action=Login" in page.url and 'name="username_password"' in page.text


def _deactivate(client: SugarClient, prefix: str) -> None:
    users = client.module("Users")
    for record in users.list(query=q.like_prefix("users.user_name", prefix), fields=["id"]):
        users.update(record["id"], {"status": "Inactive", "employee_status": "Terminated"})


def test_live_provisioned_user_can_use_its_session_and_the_web_login(
    live_sugar: SugarClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = live_sugar
    suffix = secrets.token_hex(3)
    user_name = f"sbu{suffix}"
    password = f"Live-{secrets.token_urlsafe(12)}"
    monkeypatch.setenv("SBU_LIVE_PW", password)
    spec = SugarSpec.model_validate(
        {
            "protected_users": [client.username],
            "users": [
                {
                    "user_name": user_name,
                    "first_name": "Live",
                    "last_name": "Session",
                    "password": {"env": "SBU_LIVE_PW"},
                }
            ],
        }
    )
    try:
        result = apply(client, spec, passwords_file=tmp_path / "pw.tsv")
        assert result.summary() == {"user": {"create": 1}}
        (record,) = client.module("Users").list(
            query=q.eq("users.user_name", user_name), fields=["id", "status", "employee_status"]
        )
        assert (record["status"], record["employee_status"]) == ("Active", "Active")
        with SugarClient(
            client.base_url, user_name, password, max_retries=0, verify_tls=client.verify_tls
        ) as user_client:
            # A call with the user's own session: what 7.15 refuses without employee_status.
            assert user_client.call("get_user_id") == record["id"]
        assert _landed_home(_web_login(client.base_url, user_name, password, client.verify_tls))
        assert _on_login_page(_web_login(client.base_url, user_name, "wrong", client.verify_tls))
        assert not plan(client, spec).has_changes

        # Deactivation through the spec: Inactive and Terminated; both logins are refused.
        gone = spec.model_copy(
            update={"users": [spec.users[0].model_copy(update={"status": "Inactive"})]}
        )
        apply(client, gone, passwords_file=tmp_path / "pw2.tsv")
        (record,) = client.module("Users").list(
            query=q.eq("users.user_name", user_name), fields=["status", "employee_status"]
        )
        assert (record["status"], record["employee_status"]) == ("Inactive", "Terminated")
        assert _on_login_page(_web_login(client.base_url, user_name, password, client.verify_tls))
        assert not plan(client, gone).has_changes
    finally:
        _deactivate(client, user_name)


def test_live_suitecrm_7_15_refuses_sessions_without_employee_status(
    live_sugar: SugarClient,
) -> None:
    """The rule the sandbox models (and why provisioning sends employee_status)."""
    client = live_sugar
    version = parse_version(str(client.server_info().get("suitecrm_version") or ""))
    if version is None or version < (7, 15, 0):
        pytest.skip("SuiteCRM before 7.15 does not check employee_status")
    user_name = f"sbn{secrets.token_hex(3)}"
    password = f"Live-{secrets.token_urlsafe(12)}"
    users = client.module("Users")
    try:
        user_id = users.create(
            {
                "user_name": user_name,
                "last_name": "No Employee Status",
                "user_hash": user_hash(password),
            }
        )
        with SugarClient(
            client.base_url, user_name, password, max_retries=0, verify_tls=client.verify_tls
        ) as user_client:
            assert user_client.user_id == user_id  # login itself succeeds
            with pytest.raises(InvalidSession):
                user_client.call("get_user_id")
        assert not _landed_home(_web_login(client.base_url, user_name, password, client.verify_tls))
        users.update(user_id, {"employee_status": "Active"})
        with SugarClient(
            client.base_url, user_name, password, max_retries=0, verify_tls=client.verify_tls
        ) as user_client:
            assert user_client.call("get_user_id") == user_id
        assert _landed_home(_web_login(client.base_url, user_name, password, client.verify_tls))
    finally:
        _deactivate(client, user_name)
