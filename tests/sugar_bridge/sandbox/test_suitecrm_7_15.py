"""The sandbox plays SuiteCRM 7.15 by default: its session check calls ``User::isEnabled()``.

Measured on a real SuiteCRM 7.15.0: a user created through ``set_entry`` on Users without
``employee_status`` can ``login``, but every later call with that session answers error 11, because
``isEnabled()`` needs ``status`` not 'Inactive' and ``employee_status === 'Active'``. 7.14 checks
neither once the session is open (recording 02_user_existing_session_after_deactivation).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sugar_bridge.sandbox import SUITECRM_7_14, SUITECRM_7_15, Flavor, Sandbox, md5_hex
from tests.sugar_bridge.sandbox.helpers import Api, raw_call

INVALID_SESSION = {
    "name": "Invalid Session ID",
    "number": 11,
    "description": "The session ID is invalid",
}


@pytest.fixture(params=[SUITECRM_7_15, SUITECRM_7_14], ids=lambda f: f.name)
def sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    with Sandbox(flavor=request.param) as box:
        yield box


def _user(admin: Api, user_name: str, **extra: Any) -> str:
    nvl = [
        {"name": "user_name", "value": user_name},
        {"name": "last_name", "value": user_name.title()},
        {"name": "user_hash", "value": md5_hex("pw")},
        *({"name": k, "value": v} for k, v in extra.items()),
    ]
    return str(admin("set_entry", module_name="Users", name_value_list=nvl)["id"])


def _strict(sandbox: Sandbox) -> bool:
    # By name, not by the flag under test: switching the rule off must fail these tests.
    return sandbox.flavor.name == "7.15"


def test_default_flavor_is_7_15_and_reports_its_version() -> None:
    with Sandbox() as box:
        assert box.flavor is SUITECRM_7_15
        info = raw_call(box.url, "get_server_info", []).body
        assert (info["version"], info["suitecrm_version"]) == ("6.5.25", "7.15.0")
        assert Api(box)("bridge_info")["suitecrm_version"] == "7.15.0"
    with Sandbox(flavor=SUITECRM_7_14) as box:
        assert raw_call(box.url, "get_server_info", []).body["suitecrm_version"] == "7.14.6"


def test_user_without_employee_status_logs_in_but_its_session_is_refused(
    sandbox: Sandbox,
) -> None:
    admin = Api(sandbox)
    user_id = _user(admin, "noemp")
    login = Api(sandbox, "noemp", "pw")  # login itself succeeds on both releases
    assert login.session
    for method, params in (
        ("get_user_id", {}),
        ("get_entry_list", {"module_name": "Accounts", "query": "", "max_results": 1}),
    ):
        reply = login.raw(method, **params)
        if _strict(sandbox):
            assert (reply.status, reply.body) == (200, INVALID_SESSION), method
        else:
            assert reply.status == 200
            assert reply.body != INVALID_SESSION
    if _strict(sandbox):
        # get_server_info needs no session and still answers.
        assert raw_call(sandbox.url, "get_server_info", []).body["suitecrm_version"] == "7.15.0"
    else:
        assert login("get_user_id") == user_id


@pytest.mark.parametrize(
    ("employee_status", "works_on_7_15"),
    [("Active", True), ("Leave of Absence", False), ("Terminated", False), ("active", False)],
)
def test_only_employee_status_active_opens_a_session_on_7_15(
    sandbox: Sandbox, employee_status: str, works_on_7_15: bool
) -> None:
    admin = Api(sandbox)
    user_id = _user(admin, "emp", employee_status=employee_status)
    reply = Api(sandbox, "emp", "pw").raw("get_user_id")
    if works_on_7_15 or not _strict(sandbox):
        assert reply.body == user_id
    else:
        assert reply.body == INVALID_SESSION


def test_repairing_employee_status_lets_the_user_in_at_the_next_login(sandbox: Sandbox) -> None:
    admin = Api(sandbox)
    user_id = _user(admin, "late")
    Api(sandbox, "late", "pw").raw("get_user_id")
    admin(
        "set_entry",
        module_name="Users",
        name_value_list={"id": user_id, "employee_status": "Active"},
    )
    assert Api(sandbox, "late", "pw")("get_user_id") == user_id


def test_deactivation_ends_open_sessions_on_7_15_only(sandbox: Sandbox) -> None:
    admin = Api(sandbox)
    user_id = _user(admin, "leaver", employee_status="Active")
    open_session = Api(sandbox, "leaver", "pw")
    assert open_session("get_user_id") == user_id
    admin("set_entry", module_name="Users", name_value_list={"id": user_id, "status": "Inactive"})
    reply = open_session.raw("get_user_id")
    if _strict(sandbox):
        assert reply.body == INVALID_SESSION
    else:
        # 7.14.6 kept it working (recording 02_user_existing_session_after_deactivation).
        assert reply.body == user_id


def test_the_extension_endpoint_applies_the_same_check() -> None:
    with Sandbox() as box:
        admin = Api(box)
        _user(admin, "noext", is_admin=1)
        assert Api(box, "noext", "pw").raw("bridge_info").body == INVALID_SESSION


def test_flavor_is_plain_data() -> None:
    custom = Flavor("7.15-like", "7.15.9", session_needs_enabled_user=True)
    with Sandbox(flavor=custom) as box:
        assert raw_call(box.url, "get_server_info", []).body["suitecrm_version"] == "7.15.9"
