"""The project's Sugar client against the sandbox: both sides of the protocol agree, including on
Sugar's unkind answers (retries that must not duplicate, re-login, 301, writes not stored)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connectors.sugar import query as q
from connectors.sugar.client import SugarClient
from connectors.sugar.exceptions import (
    AccessDenied,
    InvalidLogin,
    NoSuchModule,
    RedirectResponse,
    WriteNotStored,
)
from sugar_bridge.sandbox import Faults, Sandbox, md5_hex


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


def _client(sb: Sandbox, user: str = "admin", password: str | None = None) -> SugarClient:
    client = SugarClient(
        sb.base_url,
        user,
        password or sb.admin_password,
        timeout=(2, 5),
        max_retries=3,
        backoff=0.01,
        sleep=lambda _s: None,
    )
    client.login()
    return client


def test_login_info_and_modules(sandbox: Sandbox) -> None:
    with _client(sandbox) as client:
        assert client.user_id == "1"
        assert client.is_admin is True
        assert client.server_info()["suitecrm_version"] == "7.15.0"  # the default flavor
        assert "SecurityGroups" in client.available_modules()
        with pytest.raises(NoSuchModule):
            client.module("accounts").count()
    with pytest.raises(InvalidLogin):
        SugarClient(sandbox.base_url, "admin", "wrong", max_retries=0).login()


def test_crud_paging_and_quoting(sandbox: Sandbox) -> None:
    with _client(sandbox) as client:
        accounts = client.module("Accounts")
        tricky = "O'Brien \\ Sons & <b>Co</b>"
        rid = accounts.create({"name": tricky, "billing_address_city": "Lyon"})
        got = accounts.get(rid)
        assert got is not None
        assert got["name"] == tricky
        assert accounts.count(q.eq("accounts.name", tricky)) == 1
        assert accounts.count(q.eq("accounts.name", "x' OR 'a'='a")) == 0
        ids = accounts.save_many([{"name": f"Page {i:02d}"} for i in range(23)], batch_size=10)
        assert len(ids) == 23
        names = [
            r["name"]
            for r in accounts.iter_records(q.like_prefix("accounts.name", "Page "), page_size=7)
        ]
        assert sorted(names) == [f"Page {i:02d}" for i in range(23)]
        assert len(names) == 23
        accounts.save_many(
            [{"name": "50%_off \\ deal"}, {"name": "500 offers"}, {"name": "50a_off"}]
        )
        assert accounts.count(q.like_prefix("accounts.name", "50%_off \\")) == 1
        assert accounts.count(q.like_prefix("accounts.name", "50")) == 3
        assert accounts.count(q.like_contains("accounts.name", "_off")) == 2
        accounts.update(ids[0], {"name": "Page renamed"})
        assert accounts.get_many([ids[0], "00000000-0000-0000-0000-000000000000"]).keys() == {
            ids[0]
        }
        with pytest.raises(WriteNotStored):
            accounts.update("11111111-2222-3333-4444-555555555555", {"name": "ghost"})


def test_custom_fields_and_relationships(sandbox: Sandbox) -> None:
    with _client(sandbox) as client:
        answer = client.call_extension(
            "bridge_ensure_custom_field",
            module_name="Accounts",
            field={
                "name": "segment_c",
                "type": "enum",
                "label": "Segment",
                "options": {"vip": "VIP"},
            },
            views=["listview"],
        )
        assert answer["created"] is True
        accounts = client.module("Accounts")
        assert "segment_c" in accounts.fields().module_fields
        members = accounts.save_many(
            [{"name": "A", "segment_c": "vip"}, {"name": "B", "segment_c": "vip"}]
        )
        plist = client.module("ProspectLists").create({"name": "VIP", "list_type": "default"})
        lists = client.module("ProspectLists")
        lists.link(plist, "accounts", members)
        assert sorted(r["name"] for r in lists.related(plist, "accounts", fields=["name"])) == [
            "A",
            "B",
        ]
        lists.unlink(plist, "accounts", members[:1])
        assert [r["name"] for r in lists.related(plist, "accounts", fields=["name"])] == ["B"]
        assert accounts.count(q.eq("accounts_cstm.segment_c", "vip")) == 2


def test_retry_after_a_500_that_stored_the_write_creates_no_duplicate(sandbox: Sandbox) -> None:
    with _client(sandbox) as client:
        sandbox.set_faults(
            Faults(at_calls={1: "http500"}, when="after", methods=frozenset({"set_entry"}))
        )
        rid = client.module("Accounts").create({"name": "Once"})
        assert sandbox.stats.faults["http500"] == 1
        assert sandbox.store.count("accounts", "name = 'Once'") == 1
        assert sandbox.store.count("accounts", "id = ?", [rid]) == 1
        assert client.stats.retries >= 1


def test_relogin_after_the_session_expired(sandbox: Sandbox) -> None:
    with _client(sandbox) as client:
        sandbox.api.expire_all_sessions()
        assert client.module("Accounts").count() == 0
        assert client.stats.relogins == 1


def test_duplicate_user_name_and_non_admin_writes(sandbox: Sandbox) -> None:
    with _client(sandbox) as client:
        users = client.module("Users")
        users.create(
            {
                "user_name": "rep",
                "last_name": "Rep",
                "status": "Active",
                "employee_status": "Active",  # else SuiteCRM 7.15 refuses its session
                "user_hash": md5_hex("pw"),
            }
        )
        with pytest.raises(RedirectResponse):
            users.create({"user_name": "rep", "last_name": "Again"})
        assert sandbox.store.count("users", "user_name = 'rep'") == 1
    with _client(sandbox, "rep", "pw") as rep:
        assert rep.is_admin is False
        with pytest.raises(AccessDenied):
            rep.module("Users").create({"user_name": "sneaky", "last_name": "S"})
