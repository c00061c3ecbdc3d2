"""The sandbox's SuiteCRM 8 mode, and the project's client against it given only the site root.

SuiteCRM 8 was not run: the mode is built to the documented facts (the v4_1 API and the Module
Loader's custom/ below ``<site>/legacy``; ``login`` naming ``application_name`` is a PHP fatal
error, SuiteCRM-Core#272), see :mod:`sugar_bridge.sandbox.flavor`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connectors.sugar import query as q
from connectors.sugar.client import SugarClient
from connectors.sugar.exceptions import ApiNotFound
from connectors.sugar.extension.compat import require_extension
from sugar_bridge.cli.app import app
from sugar_bridge.sandbox import SUITECRM_8, Sandbox, SandboxConfigError, md5_hex
from tests.sugar_bridge.sandbox.helpers import Api, foreground_sandbox, raw_call


@pytest.fixture
def suite8() -> Iterator[Sandbox]:
    with Sandbox(flavor=SUITECRM_8) as sb:
        yield sb


def _login_data(sb: Sandbox, **extra: object) -> dict[str, object]:
    return {"user_auth": {"user_name": "admin", "password": md5_hex(sb.admin_password)}, **extra}


# ---- the sandbox ---------------------------------------------------------------------------------


def test_suitecrm8_serves_below_legacy_and_404_on_the_old_paths(suite8: Sandbox) -> None:
    site = suite8.base_url
    assert suite8.url == site + "/legacy/service/v4_1/rest.php"
    assert suite8.extension_url == site + "/legacy/custom/service/bridge/rest.php"
    for old in ("/service/v4_1/rest.php", "/custom/service/bridge/rest.php"):
        assert raw_call(site + old, "get_server_info", []).status == 404
    info = raw_call(suite8.url, "get_server_info", [])
    assert info.status == 200
    assert info.body["flavor"] == "CE"
    assert info.body["version"] == "6.5.25"
    assert info.body["suitecrm_version"].startswith("8.")
    assert set(info.body) == {"flavor", "version", "suitecrm_version", "gmt_time"}


def test_suitecrm8_login_refuses_application_name_with_an_empty_500(suite8: Sandbox) -> None:
    refused = raw_call(suite8.url, "login", _login_data(suite8, application_name="x"))
    assert refused.status == 500
    assert refused.body == ""
    named = raw_call(suite8.url, "login", _login_data(suite8, name_value_list=[]))
    assert named.status == 200
    assert len(named.body["id"]) == 26
    # Positional rest_data: the second argument is PHP's $application, which exists.
    positional = raw_call(
        suite8.url,
        "login",
        [{"user_name": "admin", "password": md5_hex(suite8.admin_password)}, "x", []],
    )
    assert positional.status == 200
    assert len(positional.body["id"]) == 26


def test_suitecrm8_extension_answers_at_the_legacy_root(suite8: Sandbox) -> None:
    api = Api(suite8)  # the test helper logs in without application_name on SuiteCRM 8
    info = api("bridge_info")
    assert info["suitecrm_version"].startswith("8.")
    assert api.raw("get_user_id").body == "1"


def test_suitecrm_7_15_is_the_default_and_accepts_application_name() -> None:
    with Sandbox() as sb:
        assert sb.url == sb.base_url + "/service/v4_1/rest.php"
        assert raw_call(sb.base_url + "/legacy/service/v4_1/rest.php", "x", []).status == 404
        login = raw_call(sb.url, "login", _login_data(sb, application_name="x"))
        assert login.status == 200
        assert raw_call(sb.url, "get_server_info", []).body["suitecrm_version"] == "7.15.0"


def test_unknown_flavor_is_a_config_error() -> None:
    refused = re.escape("--suitecrm takes 7.14, 7.15, 8, not '9'")
    with pytest.raises(SandboxConfigError, match=refused):
        Sandbox(flavor="9")
    result = CliRunner().invoke(app, ["sandbox", "--memory", "--suitecrm", "9"])
    assert result.exit_code == 2, result.output


# ---- the client, given only the site root --------------------------------------------------------


def _client(sb: Sandbox) -> SugarClient:
    return SugarClient(sb.base_url, "admin", sb.admin_password, max_retries=0, timeout=(2, 5))


def test_client_on_suitecrm8_from_the_site_root_reads_writes_and_calls_the_extension(
    suite8: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="connectors.sugar"), _client(suite8) as client:
        client.login()
        assert client.rest_url == suite8.url
        assert client.extension_url == suite8.extension_url
        accounts = client.module("Accounts")
        rid = accounts.create({"name": "Suite Eight Ltd", "billing_address_city": "Lyon"})
        got = accounts.get(rid)
        assert got is not None
        assert got["name"] == "Suite Eight Ltd"
        assert accounts.count(q.eq("accounts.name", "Suite Eight Ltd")) == 1
        accounts.update(rid, {"billing_address_city": "Nantes"})
        updated = accounts.get(rid, fields=["billing_address_city"])
        assert updated is not None
        assert updated["billing_address_city"] == "Nantes"
        assert client.call_extension("bridge_info")["suitecrm_version"].startswith("8.")
        assert require_extension(client)["api_level"] == 1
        assert client.server_info()["suitecrm_version"].startswith("8.")
    # One wasted request to the old path and one probe, then everything at the legacy root.
    assert suite8.stats.calls["get_server_info"] == 2  # the probe + server_info() above
    assert suite8.stats.calls["login"] == 1  # no refused login: discovery said "legacy"
    assert f"Sugar v4_1 API found at {suite8.url}" in caplog.text


def test_client_on_suitecrm8_keeps_working_after_a_relogin(suite8: Sandbox) -> None:
    with _client(suite8) as client:
        client.login()
        suite8.api.expire_all_sessions()
        assert client.call("get_user_id") == "1"
        assert client.stats.relogins == 1


def test_client_discovery_on_a_suitecrm7_sandbox_finds_the_old_path(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with (
        Sandbox() as sb,
        caplog.at_level(logging.INFO, logger="connectors.sugar"),
        _client(sb) as client,
    ):
        client.login()
        assert client.module("Accounts").count() == 0
        assert client.rest_url == sb.base_url + "/service/v4_1/rest.php"
        assert client.extension_url == sb.base_url + "/custom/service/bridge/rest.php"
        assert client.call_extension("bridge_info")["suitecrm_version"] == "7.15.0"
        assert "get_server_info" not in sb.stats.calls  # Sugar's answer settled it: no probe
    assert f"Sugar v4_1 API at {sb.url}" in caplog.text


def test_client_given_a_wrong_site_root_names_both_paths_tried() -> None:
    with Sandbox() as sb:
        site = sb.base_url + "/nothing-here"
        with pytest.raises(ApiNotFound) as info:
            SugarClient(site, "admin", sb.admin_password, max_retries=0).login()
    assert str(info.value) == (
        f"no v4_1 API at {site}/service/v4_1/rest.php (404) nor "
        f"{site}/legacy/service/v4_1/rest.php (404): give Sugar's site root or the full URL of "
        "its rest.php"
    )


# ---- the CLI -------------------------------------------------------------------------------------


def test_cli_starts_the_suitecrm8_mode(tmp_path: Path) -> None:
    with foreground_sandbox(tmp_path, "--port", "0", "--memory", "--suitecrm", "8") as run:
        match = re.search(r"(http://127\.0\.0\.1:\d+)/legacy/service/v4_1/rest\.php", run.text)
        assert match, run.text
        with SugarClient(match.group(1), "admin", "sandbox-admin", max_retries=0) as client:
            assert client.call_extension("bridge_info")["suitecrm_version"].startswith("8.")
    assert run.returncode == 0
