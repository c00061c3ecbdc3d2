"""SugarClient.call(): request shape, login, error mapping, re-login, retries (recorded answers)."""

from __future__ import annotations

import pytest
import requests
import responses

from connectors.sugar.client import SugarClient
from connectors.sugar.exceptions import (
    AccessDenied,
    EmptyResponse,
    ExtensionMissing,
    InvalidCall,
    InvalidLogin,
    InvalidSession,
    NoSuchModule,
    NotJsonResponse,
    RedirectResponse,
    ServerError,
    SugarApiError,
    SugarError,
    TransportError,
    UnknownMethod,
)
from connectors.sugar.signatures import SIGNATURES
from tests.connectors.sugar.conftest import (
    BASE,
    EXT,
    PASSWORD,
    PASSWORD_MD5,
    REST,
    SleepRecorder,
    add,
    sent,
)

LOGIN_SESSION = "dut8buum4dlvkl63q8kkk0lo5v"  # the id in 01_login_success


# ---- URLs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("https://crm.example.test", "https://crm.example.test"),
        ("https://crm.example.test/", "https://crm.example.test"),
        ("https://crm.example.test/service/v4_1/rest.php", "https://crm.example.test"),
        ("https://example.test/suitecrm/service/v4_1/rest.php", "https://example.test/suitecrm"),
        ("http://127.0.0.1:8080/suite/", "http://127.0.0.1:8080/suite"),
    ],
)
def test_url_may_be_base_or_rest_php(url: str, base: str) -> None:
    client = SugarClient(url, "admin", PASSWORD)
    assert client.base_url == base
    assert client.rest_url == base + "/service/v4_1/rest.php"
    assert client.extension_url == base + "/custom/service/bridge/rest.php"


@pytest.mark.parametrize(
    "url",
    [
        "crm.example.test",
        "ftp://crm.example.test",
        "https://u:p@crm.example.test",
        "https://x/index.php",
    ],
)
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidCall):
        SugarClient(url, "admin", PASSWORD)


def test_client_defaults_verify_tls_and_timeout() -> None:
    client = SugarClient(BASE, "admin", PASSWORD)
    assert client.verify_tls is True
    assert client.timeout == (10, 120)
    assert PASSWORD not in repr(client)


# ---- login ---------------------------------------------------------------------------------


def test_login_sends_md5_of_password_as_form_fields(
    mock: responses.RequestsMock, client: SugarClient
) -> None:
    add(mock, "01_login_success")
    client.login()
    method, rest_data, form = sent(mock.calls[0])
    assert method == "login"
    assert form["input_type"] == ["JSON"]
    assert form["response_type"] == ["JSON"]
    assert list(rest_data) == ["user_auth", "application_name", "name_value_list"]
    assert rest_data["user_auth"] == {"user_name": "admin", "password": PASSWORD_MD5}
    assert client.logged_in
    assert client.user_id == "1"
    assert client.is_admin is True
    assert client.user_info["user_name"] == "admin"


@pytest.mark.parametrize("recording", ["01_login_bad_password", "01_login_unknown_user"])
def test_login_failure_is_invalid_login(
    mock: responses.RequestsMock, client: SugarClient, recording: str
) -> None:
    add(mock, recording)
    with pytest.raises(InvalidLogin) as info:
        client.login()
    assert info.value.number == 10
    assert info.value.transient is False
    assert len(mock.calls) == 1  # a wrong password is never retried
    assert not client.logged_in


def test_first_call_logs_in_and_injects_the_session(
    mock: responses.RequestsMock, client: SugarClient
) -> None:
    add(mock, "01_login_success")
    add(mock, "01_get_user_id")
    assert client.call("get_user_id") == "1"
    assert [sent(c)[0] for c in mock.calls] == ["login", "get_user_id"]
    assert sent(mock.calls[1])[1] == {"session": LOGIN_SESSION}


def test_get_server_info_needs_no_session(
    mock: responses.RequestsMock, client: SugarClient
) -> None:
    add(mock, "01_get_server_info")
    info = client.server_info()
    assert info["suitecrm_version"] == "7.14.6"
    assert [sent(c)[0] for c in mock.calls] == ["get_server_info"]


def test_logout_accepts_null_and_forgets_the_session(
    mock: responses.RequestsMock, client: SugarClient
) -> None:
    add(mock, "01_login_success")
    add(mock, "01_logout")
    client.login()
    client.logout()
    assert not client.logged_in
    client.logout()  # no session: nothing sent
    assert len(mock.calls) == 2


def test_logout_of_an_expired_session_is_fine(
    mock: responses.RequestsMock, client: SugarClient
) -> None:
    add(mock, "01_login_success")
    add(mock, "01_logout_invalid_session")
    client.login()
    client.logout()
    assert not client.logged_in


def test_no_cookies_are_kept(mock: responses.RequestsMock, client: SugarClient) -> None:
    # A cookie jar makes Sugar hand back the same session id to every login
    # (01_login_cookie_jar_reuses_session): the client must not send PHPSESSID back.
    status, body, ctype = 200, '{"flavor":"CE"}', "application/json"
    mock.add(
        responses.POST,
        REST,
        body=body,
        status=status,
        content_type=ctype,
        headers={"Set-Cookie": "PHPSESSID=abc123; path=/"},
    )
    client.server_info()
    client.server_info()
    assert "Cookie" not in mock.calls[1].request.headers


# ---- parameters ----------------------------------------------------------------------------


def test_params_are_sent_in_php_signature_order_with_defaults(
    mock: responses.RequestsMock, client: SugarClient
) -> None:
    add(mock, "01_login_success")
    add(mock, "04_get_entry_list_no_match")
    client.call("get_entry_list", max_results=5, module_name="Accounts", query="1 = 0")
    _, rest_data, _ = sent(mock.calls[1])
    assert list(rest_data) == [p.name for p in SIGNATURES["get_entry_list"].params]
    assert rest_data["session"] == LOGIN_SESSION
    assert rest_data["order_by"] == ""
    assert rest_data["select_fields"] == []
    assert rest_data["max_results"] == 5


def test_unknown_parameter_is_refused_before_sending(
    mock: responses.RequestsMock, client: SugarClient
) -> None:
    # Sugar answers an unknown named parameter with HTTP 500 and an empty body
    # (07_rest_data_unknown_named_param); the client refuses it up front instead.
    with pytest.raises(InvalidCall, match="module"):
        client.call("get_entry_list", module="Accounts")
    assert len(mock.calls) == 0


def test_missing_required_parameter_is_refused_before_sending(
    mock: responses.RequestsMock, client: SugarClient
) -> None:
    # 07_missing_required_param / 07_set_entry_missing_param: HTTP 500 empty body on the server.
    with pytest.raises(InvalidCall, match="name_value_list"):
        client.call("set_entry", module_name="Accounts")
    with pytest.raises(InvalidCall, match="module_name"):
        client.call("get_entry_list")
    assert len(mock.calls) == 0


def test_unknown_method_and_bad_module_are_refused_locally(client: SugarClient) -> None:
    with pytest.raises(InvalidCall):
        client.call("no_such_method")
    with pytest.raises(InvalidCall):
        client.call("get_entry_list", module_name="Accounts; DROP")
    with pytest.raises(InvalidCall):
        client.call("bridge_info")  # extension methods go through call_extension()
    with pytest.raises(InvalidCall):
        client.call("get_user_id", session="x")


def test_set_entry_object_form_is_sent_as_list_form(
    mock: responses.RequestsMock, client: SugarClient
) -> None:
    # The object form silently drops user_hash (02_user_create_dict_nvl_with_user_hash).
    add(mock, "01_login_success")
    add(mock, "02_user_create_list_nvl_user_hash_md5")
    client.call(
        "set_entry",
        module_name="Users",
        name_value_list={"user_name": "labuser2", "user_hash": "x" * 32},
    )
    _, rest_data, _ = sent(mock.calls[1])
    assert rest_data["name_value_list"] == [
        {"name": "user_name", "value": "labuser2"},
        {"name": "user_hash", "value": "x" * 32},
    ]


# ---- error mapping by number ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("recording", "method", "params", "error", "number"),
    [
        (
            "07_unknown_module_get_entry_list",
            "get_entry_list",
            {"module_name": "NoSuchModule"},
            NoSuchModule,
            20,
        ),
        (
            "07_module_name_wrong_case",
            "get_entry_list",
            {"module_name": "accounts"},
            NoSuchModule,
            20,
        ),
        (
            "07_unknown_module_set_entry",
            "set_entry",
            {"module_name": "NoSuchModule", "name_value_list": [{"name": "id", "value": "1"}]},
            NoSuchModule,
            20,
        ),
        (
            "02_user_create_as_non_admin",
            "set_entry",
            {"module_name": "Users", "name_value_list": [{"name": "id", "value": "1"}]},
            AccessDenied,
            40,
        ),
        ("01_invalid_session_get_user_id", "get_user_id", {}, InvalidSession, 11),
    ],
)
def test_error_objects_map_to_typed_exceptions(
    mock: responses.RequestsMock,
    client: SugarClient,
    recording: str,
    method: str,
    params: dict[str, object],
    error: type[SugarApiError],
    number: int,
) -> None:
    add(mock, "01_login_success")
    add(mock, recording)
    with pytest.raises(error) as info:
        client.call(method, **params)
    assert info.value.number == number
    assert isinstance(info.value, SugarApiError)


def test_unknown_method_number_is_a_string(
    mock: responses.RequestsMock, client: SugarClient
) -> None:
    # 07_unknown_method: number "-1" as a string. On our extension endpoint it means the
    # extension is missing or too old.
    add(mock, "01_login_success")
    add(mock, "07_unknown_method", url=EXT)
    with pytest.raises(ExtensionMissing) as info:
        client.call_extension("bridge_info")
    assert isinstance(info.value.__cause__, UnknownMethod)
    assert info.value.__cause__.number == -1


def test_extension_404_is_extension_missing(
    mock: responses.RequestsMock, client: SugarClient
) -> None:
    add(mock, "01_login_success")
    mock.add(
        responses.POST, EXT, status=404, body="<html>Not Found</html>", content_type="text/html"
    )
    with pytest.raises(ExtensionMissing):
        client.call_extension("bridge_info")


def test_transient_flags() -> None:
    assert ServerError(500, "x").transient is True
    assert TransportError("x").transient is True
    assert InvalidSession(11, "n", "d").transient is True
    for terminal in (
        EmptyResponse("x"),
        NotJsonResponse("x"),
        RedirectResponse(301, "x"),
        InvalidLogin(10, "n", "d"),
        AccessDenied(40, "n", "d"),
        NoSuchModule(20, "n", "d"),
        UnknownMethod(-1, "n", "d"),
        SugarApiError(1001, "n", "d"),
    ):
        assert terminal.transient is False
    assert issubclass(InvalidCall, SugarError)
    assert issubclass(InvalidCall, ValueError)


# ---- HTTP-level failures (silent failure modes of the recordings README) ---------------------


def test_null_to_a_read_is_retried_until_the_bound(
    mock: responses.RequestsMock, client: SugarClient, sleeps: SleepRecorder
) -> None:
    # The client sends only well-formed rest_data, so a null to a read is a server hiccup.
    add(mock, "01_login_success")
    add(mock, "07_malformed_rest_data_not_json")  # repeats for every later request
    with pytest.raises(EmptyResponse) as info:
        client.call("get_user_id")
    assert info.value.transient is True
    assert client.stats.calls == {"login": 1, "get_user_id": 1 + client.max_retries}
    assert client.stats.retries == client.max_retries
    assert len(sleeps.delays) == client.max_retries
    assert client.stats.errors == {"EmptyResponse": 1}


def test_null_to_a_read_then_an_answer_recovers(
    mock: responses.RequestsMock, client: SugarClient, sleeps: SleepRecorder
) -> None:
    add(mock, "01_login_success")
    add(mock, "07_malformed_rest_data_truncated_json")  # get_entry_list answered null
    add(mock, "04_get_entry_list_no_match")
    body = client.call("get_entry_list", module_name="Accounts")
    assert body["total_count"] == 0
    assert client.stats.calls == {"login": 1, "get_entry_list": 2}
    assert client.stats.retries == 1
    assert len(sleeps.delays) == 1


def test_null_set_entry_is_a_rejected_write(
    mock: responses.RequestsMock, client: SugarClient
) -> None:
    # 07_set_entry_bad_id_format: a write rejected by validation answers null, HTTP 200.
    add(mock, "01_login_success")
    add(mock, "07_set_entry_bad_id_format")
    with pytest.raises(EmptyResponse, match="rejected") as info:
        client.call(
            "set_entry", module_name="Accounts", name_value_list=[{"name": "id", "value": "abc"}]
        )
    assert info.value.transient is False  # deterministic: not retried
    assert client.stats.writes == 1
    assert client.stats.retries == 0


def test_html_help_page_is_not_json(mock: responses.RequestsMock, client: SugarClient) -> None:
    # 07_post_exceeds_post_max_size: HTTP 200 text/html (the API's doc page), nothing saved.
    add(mock, "01_login_success")
    add(mock, "07_post_exceeds_post_max_size")
    with pytest.raises(NotJsonResponse) as info:
        client.call(
            "set_entry", module_name="Accounts", name_value_list={"id": "a", "name": "too big"}
        )
    assert info.value.transient is False
    assert len(mock.calls) == 2


def test_redirect_is_not_followed(mock: responses.RequestsMock, client: SugarClient) -> None:
    # 02_user_create_duplicate_user_name: 301, empty body, malformed Location header.
    add(mock, "01_login_success")
    add(
        mock,
        "02_user_create_duplicate_user_name",
        headers={"Location": "Location: index.php?action=Error&module=Users"},
    )
    with pytest.raises(RedirectResponse) as info:
        client.call(
            "set_entry",
            module_name="Users",
            name_value_list=[{"name": "user_name", "value": "labuser1"}],
        )
    assert info.value.status == 301
    assert info.value.transient is False
    assert len(mock.calls) == 2


def test_500_empty_body_is_retried_with_capped_backoff(
    mock: responses.RequestsMock, client: SugarClient, sleeps: SleepRecorder
) -> None:
    # 07_db_down_*: HTTP 500 with an empty body while the database is down.
    add(mock, "01_login_success")
    add(mock, "07_db_down_get_entry_list")
    add(mock, "07_db_down_get_entry_list")
    add(mock, "04_get_entry_list_no_match")
    body = client.call("get_entry_list", module_name="Accounts")
    assert body["total_count"] == 0
    assert client.stats.retries == 2
    assert client.stats.calls == {"login": 1, "get_entry_list": 3}
    assert len(sleeps.delays) == 2
    assert 0.25 <= sleeps.delays[0] <= 0.5  # backoff 0.5 * 2^0, jittered into [d/2, d]
    assert 0.5 <= sleeps.delays[1] <= 1.0


def test_retries_are_bounded(
    mock: responses.RequestsMock, client: SugarClient, sleeps: SleepRecorder
) -> None:
    add(mock, "01_login_success")
    add(mock, "07_db_down_get_entry_list")  # repeats for every later request
    with pytest.raises(ServerError) as info:
        client.call("get_entry_list", module_name="Accounts")
    assert info.value.status == 500
    assert client.stats.calls["get_entry_list"] == 1 + client.max_retries
    assert len(sleeps.delays) == client.max_retries
    assert client.stats.errors == {"ServerError": 1}


def test_backoff_is_capped(sleeps: SleepRecorder) -> None:
    client = SugarClient(BASE, "u", PASSWORD, backoff=1.0, backoff_cap=4.0, sleep=sleeps)
    delays = [client._backoff_delay(n) for n in range(1, 10)]
    assert all(d <= 4.0 for d in delays)
    assert delays[-1] >= 2.0


def test_database_failure_text_on_500_is_server_error(
    mock: responses.RequestsMock, client: SugarClient
) -> None:
    # 04_query_quote_unescaped: broken SQL -> 500 "Database failure..."; the query builder
    # prevents it, but the answer still maps to ServerError.
    client.max_retries = 0
    add(mock, "01_login_success")
    add(mock, "04_query_quote_unescaped")
    with pytest.raises(ServerError, match="Database failure"):
        client.call("get_entry_list", module_name="Accounts", query="accounts.name = 'O'Brien'")


def test_connection_errors_are_transport_errors_and_retried(
    mock: responses.RequestsMock, client: SugarClient
) -> None:
    add(mock, "01_login_success")
    mock.add(responses.POST, REST, body=requests.ConnectionError("connection refused"))
    add(mock, "01_get_user_id")
    assert client.call("get_user_id") == "1"
    assert client.stats.retries == 1


def test_timeouts_are_transient(mock: responses.RequestsMock, client: SugarClient) -> None:
    client.max_retries = 0
    add(mock, "01_login_success")
    mock.add(responses.POST, REST, body=requests.ReadTimeout("read timed out"))
    with pytest.raises(TransportError) as info:
        client.call("get_user_id")
    assert info.value.transient is True


def test_create_without_id_is_never_retried(
    mock: responses.RequestsMock, client: SugarClient, sleeps: SleepRecorder
) -> None:
    # A create without a client id could be stored twice if replayed after a lost answer.
    add(mock, "01_login_success")
    add(mock, "07_db_down_set_entry")
    with pytest.raises(ServerError):
        client.call(
            "set_entry", module_name="Accounts", name_value_list=[{"name": "name", "value": "x"}]
        )
    assert client.stats.calls["set_entry"] == 1
    assert client.stats.retries == 0
    assert sleeps.delays == []


def test_set_entries_with_a_row_without_id_is_never_retried(
    mock: responses.RequestsMock, client: SugarClient
) -> None:
    add(mock, "01_login_success")
    add(mock, "07_db_down_set_entry")
    rows = [
        [{"name": "id", "value": "a"}, {"name": "name", "value": "x"}],
        [{"name": "name", "value": "y"}],
    ]
    with pytest.raises(ServerError):
        client.call("set_entries", module_name="Accounts", name_value_lists=rows)
    assert client.stats.calls["set_entries"] == 1


def test_set_relationship_is_retried(mock: responses.RequestsMock, client: SugarClient) -> None:
    add(mock, "01_login_success")
    add(mock, "07_db_down_set_entry")
    add(mock, "06_prospectlist_add_accounts")
    body = client.call(
        "set_relationship",
        module_name="ProspectLists",
        module_id="9b09fb4e-eb6a-3efb-0271-6b05e387a2ca",
        link_field_name="accounts",
        related_ids=["5d1bf37d-cbea-be2c-36b2-6b05e132ddff"],
    )
    assert body["created"] == 1
    assert client.stats.retries == 1
    assert client.stats.writes == 2


# ---- session expiry ------------------------------------------------------------------------


def test_expired_session_logs_in_again_once_and_replays(
    mock: responses.RequestsMock, client: SugarClient
) -> None:
    add(mock, "01_login_success")
    add(mock, "01_invalid_session_get_user_id")
    add(mock, "01_login_cookie_jar_reuses_session", key="first_login")
    add(mock, "01_get_user_id")
    assert client.call("get_user_id") == "1"
    assert [sent(c)[0] for c in mock.calls] == ["login", "get_user_id", "login", "get_user_id"]
    assert sent(mock.calls[3])[1]["session"] == "kjuhm8pq2jd6jibrsls1ljckac"
    assert client.stats.relogins == 1


def test_relogin_happens_only_once(mock: responses.RequestsMock, client: SugarClient) -> None:
    add(mock, "01_login_success")
    add(mock, "01_invalid_session_get_user_id")
    add(mock, "01_login_success")
    add(mock, "08_session_after_ip_mismatch_original_ip")
    with pytest.raises(InvalidSession):
        client.call("get_user_id")
    assert client.stats.relogins == 1
    assert client.stats.calls == {"login": 2, "get_user_id": 2}


def test_relogin_with_a_changed_password_fails_cleanly(
    mock: responses.RequestsMock, client: SugarClient
) -> None:
    add(mock, "01_login_success")
    add(mock, "01_after_logout_get_user_id")
    add(mock, "01_login_bad_password")
    with pytest.raises(InvalidLogin):
        client.call("get_user_id")


def test_db_down_during_login_is_retried(mock: responses.RequestsMock, client: SugarClient) -> None:
    add(mock, "07_db_down_login")
    add(mock, "01_login_success")
    client.login()
    assert client.stats.retries == 1
    assert client.logged_in


def test_signature_table_agrees_with_every_recorded_request() -> None:
    # Each recorded request that Sugar accepted names its parameters like our table, in the same
    # order (a subsequence of the PHP signature).
    import json as _json
    from pathlib import Path

    from tests.conftest import RECORDINGS

    checked = 0
    for path in sorted(Path(RECORDINGS).glob("*.json")):
        data = _json.loads(path.read_text(encoding="utf-8"))
        request, response = data["request"], data["response"]
        signature = SIGNATURES.get(str(request.get("method")))
        rest_data = request.get("rest_data")
        if signature is None or not isinstance(rest_data, dict) or response["status"] != 200:
            continue
        if "url" in request:  # the throw-away lab extension, not v4_1
            continue
        names = [p.name for p in signature.params]
        keys = list(rest_data)
        assert set(keys) <= set(names), (path.name, set(keys) - set(names))
        assert keys == [n for n in names if n in rest_data], path.name
        checked += 1
    assert checked > 80


def test_callers_name_value_list_is_not_modified(
    mock: responses.RequestsMock, client: SugarClient
) -> None:
    add(mock, "01_login_success")
    add(mock, "07_db_down_set_entry")
    add(mock, "04_get_entry_unknown_id")  # the get_entries check before the replay
    add(mock, "04_account_create_with_given_id_new_with_id")
    nvl = [
        {"name": "id", "value": "11111111-2222-3333-4444-666666666666"},
        {"name": "new_with_id", "value": True},
        {"name": "name", "value": "Lab Given Id 2"},
    ]
    before = [dict(i) for i in nvl]
    client.call("set_entry", module_name="Accounts", name_value_list=nvl)
    assert nvl == before
    assert [sent(c)[0] for c in mock.calls] == ["login", "set_entry", "get_entries", "set_entry"]


def test_available_modules(mock: responses.RequestsMock, client: SugarClient) -> None:
    add(mock, "01_login_success")
    add(mock, "09_get_available_modules_all")
    modules = client.available_modules()
    assert "Accounts" in modules
    assert sent(mock.calls[1])[1]["filter"] == "all"


def test_each_call_is_logged_at_debug_with_method_module_and_timing(
    mock: responses.RequestsMock, client: SugarClient, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    add(mock, "01_login_success")
    add(mock, "04_get_entry_list_no_match")
    with caplog.at_level(logging.DEBUG, logger="connectors.sugar.client"):
        client.module("Accounts").list()
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert any(
        line.startswith("sugar get_entry_list module=Accounts attempt=0 status=200 ")
        and "s params=" in line
        for line in lines
    )


def test_close_logs_out(mock: responses.RequestsMock, client: SugarClient) -> None:
    add(mock, "01_login_success")
    add(mock, "01_logout")
    with client:
        client.login()
    assert [sent(c)[0] for c in mock.calls] == ["login", "logout"]
    assert not client.logged_in
