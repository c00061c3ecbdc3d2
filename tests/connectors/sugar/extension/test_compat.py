"""Judging a bridge_info answer, and refusing a missing or outdated extension."""

from __future__ import annotations

from typing import Any

import pytest
import responses

from connectors.sugar.client import SugarClient
from connectors.sugar.exceptions import AccessDenied, ExtensionMissing
from connectors.sugar.extension import API_LEVEL, EXTENSION_VERSION
from connectors.sugar.extension.compat import check_info, parse_version, require_extension
from tests.connectors.sugar.conftest import BASE, EXT, PASSWORD, add

INFO: dict[str, Any] = {
    "extension_version": EXTENSION_VERSION,
    "api_level": API_LEVEL,
    "flavor": "CE",
    "sugar_version": "6.5.25",
    "suitecrm_version": "7.14.6",
    "php_version": "8.2.36",
    "modules": ["Accounts", "ACLRoles", "SecurityGroups"],
    "security_groups": True,
}


def test_parse_version() -> None:
    assert parse_version("1.2.3") == (1, 2, 3)
    assert parse_version("10.0.1-beta") == (10, 0, 1)
    assert parse_version("one") is None


@pytest.mark.parametrize(
    ("info", "ok", "says"),
    [
        (INFO, True, "compatible"),
        ({**INFO, "extension_version": "9.0.0"}, True, "compatible"),
        ({**INFO, "extension_version": "0.9.0"}, False, "outdated"),
        ({**INFO, "api_level": API_LEVEL + 1}, False, "incompatible"),
        ({**INFO, "api_level": "1"}, False, "unreadable"),
        ({**INFO, "extension_version": "x"}, False, "unreadable"),
        ({"flavor": "CE"}, False, "missing"),
        (None, False, "missing"),
    ],
)
def test_check_info(info: dict[str, Any] | None, ok: bool, says: str) -> None:
    status = check_info(info)
    assert status.ok is ok
    assert says in status.message
    if not ok:
        assert "Module Loader" in status.message


def _client() -> SugarClient:
    return SugarClient(BASE, "admin", PASSWORD, max_retries=0, sleep=lambda _: None)


def test_require_extension_returns_the_info(mock: responses.RequestsMock) -> None:
    add(mock, "01_login_success")
    mock.add(responses.POST, EXT, json=INFO)
    assert require_extension(_client()) == INFO


def test_require_extension_refuses_a_missing_endpoint(mock: responses.RequestsMock) -> None:
    add(mock, "01_login_success")
    mock.add(responses.POST, EXT, body="<html>Not Found</html>", status=404)
    with pytest.raises(ExtensionMissing, match=r"missing.*Module Loader"):
        require_extension(_client())


def test_require_extension_refuses_an_unknown_method(mock: responses.RequestsMock) -> None:
    add(mock, "01_login_success")
    add(mock, "07_unknown_method", url=EXT)
    with pytest.raises(ExtensionMissing, match="missing"):
        require_extension(_client())


def test_require_extension_refuses_an_outdated_one(mock: responses.RequestsMock) -> None:
    add(mock, "01_login_success")
    mock.add(responses.POST, EXT, json={**INFO, "extension_version": "0.1.0"})
    with pytest.raises(ExtensionMissing, match=r"outdated.*0\.1\.0"):
        require_extension(_client())


def test_require_extension_needs_an_admin(mock: responses.RequestsMock) -> None:
    add(mock, "01_login_success")
    mock.add(
        responses.POST,
        EXT,
        json={"name": "Access Denied", "number": 40, "description": "You do not have access"},
    )
    with pytest.raises(AccessDenied, match="the API user admin is not a Sugar administrator"):
        require_extension(_client())
