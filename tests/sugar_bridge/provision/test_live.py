"""Provisioning against a real SugarCRM CE / SuiteCRM 7 with the bridge extension installed.

Runs only when SUGAR_LIVE_URL, SUGAR_LIVE_USERNAME and SUGAR_LIVE_PASSWORD are set. Uses its own
custom fields (``sbp<run>_*_c``) and names with a per-run suffix, so it never touches the example
config's objects; at the end it deletes its users (deactivated first), roles, group and accounts
and removes its custom fields (``bridge_remove_custom_field``), leaving the Sugar as it was.

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
from connectors.sugar.exceptions import InvalidLogin, InvalidSession
from connectors.sugar.extension.compat import parse_version
from sugar_bridge.provision.apply import apply
from sugar_bridge.provision.passwords import user_hash
from sugar_bridge.provision.plan import plan
from sugar_bridge.provision.spec import SugarSpec
from tests.live.support import delete_records, delete_users, remove_fields, user_ids

pytestmark = pytest.mark.live


def _spec(suffix: str, admin: str) -> dict[str, Any]:
    role, group = f"SBP Role {suffix}", f"SBP Group {suffix}"
    return {
        "account_key_field": f"sbp{suffix}_external_id_c",
        "protected_users": [admin],
        "custom_fields": {
            "Accounts": [
                {
                    "name": f"sbp{suffix}_external_id_c",
                    "type": "varchar",
                    "len": 64,
                    "label": "SBP External ID",
                },
                {
                    "name": f"sbp{suffix}_segment_c",
                    "type": "enum",
                    "label": "SBP Segment",
                    "options": {"champions": "Champions", "at_risk": "At risk", "lost": "Lost"},
                },
                {"name": f"sbp{suffix}_score_c", "type": "int", "label": "SBP Score"},
                {
                    "name": f"sbp{suffix}_amount_c",
                    "type": "currency",
                    "label": "SBP Amount",
                    "precision": 2,
                },
                {
                    "name": f"sbp{suffix}_ratio_c",
                    "type": "decimal",
                    "label": "SBP Ratio",
                    "precision": 4,
                },
                {"name": f"sbp{suffix}_day_c", "type": "date", "label": "SBP Day"},
                {
                    "name": f"sbp{suffix}_updated_c",
                    "type": "datetime",
                    "label": "SBP Updated",
                    "views": ["detailview"],
                },
                {"name": f"sbp{suffix}_flag_c", "type": "bool", "label": "SBP Flag"},
                {
                    "name": f"sbp{suffix}_note_c",
                    "type": "text",
                    "label": "SBP Note",
                    "help": "live test",
                },
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
                    f"sbp{suffix}_segment_c": "at_risk",
                    f"sbp{suffix}_score_c": 7,
                    f"sbp{suffix}_amount_c": 1234.5,
                    f"sbp{suffix}_ratio_c": 0.8125,
                    f"sbp{suffix}_day_c": "2026-10-01",
                    f"sbp{suffix}_updated_c": "2026-11-24 02:00:00",
                    f"sbp{suffix}_flag_c": True,
                    # Stored as written (entities and newline); "<x" would be stripped by Sugar,
                    # which the spec refuses up front.
                    f"sbp{suffix}_note_c": "line 1\nline 2 & co > 2",
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

        # Cleaned up: the users are gone from the Users list and cannot log in any more.
        _cleanup(client, suffix)
        assert user_ids(client, prefix=f"sbp{suffix}") == []
        for user_name, user_password in ((f"sbp{suffix}a", password), tuple(generated[:2])):
            with pytest.raises(InvalidLogin):
                SugarClient(client.base_url, user_name, user_password, max_retries=0).login()
    finally:
        _cleanup(client, suffix)  # again (a no-op) when the test got that far


def _cleanup(client: SugarClient, suffix: str) -> None:
    delete_users(client, user_ids(client, prefix=f"sbp{suffix}"))
    for module, column in (
        ("ACLRoles", "acl_roles.name"),
        ("SecurityGroups", "securitygroups.name"),
        ("Accounts", "accounts.name"),
    ):
        found = client.module(module).list(query=q.like_contains(column, suffix), fields=["id"])
        delete_records(client, module, [str(r["id"]) for r in found])
    fields = _spec(suffix, client.username)["custom_fields"]["Accounts"]
    remove_fields(client, "Accounts", [f["name"] for f in fields])


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
        delete_users(client, user_ids(client, prefix=user_name))


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
        delete_users(client, user_ids(client, prefix=user_name))
