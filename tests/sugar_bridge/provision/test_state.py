"""What the state reader makes of bridge_info's answers, at the transport (recorded answers)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import responses

from connectors.sugar.client import SugarClient
from sugar_bridge.provision.state import USER_FIELDS, read_extension_info
from tests.connectors.sugar.conftest import BASE, EXT, PASSWORD, add


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def _client(mock: responses.RequestsMock) -> SugarClient:
    add(mock, "01_login_success")
    client = SugarClient(BASE, "admin", PASSWORD, max_retries=0, sleep=lambda _: None)
    client.login()
    return client


def test_access_denied_is_not_a_missing_extension(mock: responses.RequestsMock) -> None:
    client = _client(mock)
    add(mock, "02_user_create_as_non_admin", url=EXT)  # Sugar's error 40, as recorded
    info = read_extension_info(client)
    assert info.access_denied is True
    assert info.installed is False


def test_http_404_is_a_missing_extension(mock: responses.RequestsMock) -> None:
    client = _client(mock)
    mock.add(responses.POST, EXT, body="<html>Not Found</html>", status=404)
    info = read_extension_info(client)
    assert (info.installed, info.access_denied) == (False, False)
    assert "404" in info.problem


def test_unknown_method_is_a_missing_extension(mock: responses.RequestsMock) -> None:
    client = _client(mock)
    add(mock, "07_unknown_method", url=EXT)
    info = read_extension_info(client)
    assert (info.installed, info.access_denied) == (False, False)


def test_users_are_read_with_employee_status() -> None:
    assert "employee_status" in USER_FIELDS
