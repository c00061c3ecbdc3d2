"""SuiteCRM 8: finding the v4_1 API below a site root, and login without application_name.

SuiteCRM 8 serves the v4_1 API at ``<site>/legacy/service/v4_1/rest.php`` and answers a ``login``
naming ``application_name`` with HTTP 500 and an empty body (SuiteCRM-Core#272). No SuiteCRM 8
could be run to record its answers: the 404 and the empty 500 below are built from those facts;
the JSON answers are the recorded SuiteCRM 7.14.6 ones (the legacy code is the same).
"""

from __future__ import annotations

import logging

import pytest
import requests
import responses

from connectors.sugar.client import SugarClient
from connectors.sugar.exceptions import (
    ApiNotFound,
    ExtensionMissing,
    HttpStatusError,
    NotJsonResponse,
    ServerError,
    TransportError,
)
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

LEGACY = BASE + "/legacy"
LEGACY_REST = LEGACY + "/service/v4_1/rest.php"
LEGACY_EXT = LEGACY + "/custom/service/bridge/rest.php"


def not_found(mock: responses.RequestsMock, url: str) -> None:
    """A path where nothing is: 404 with a web server's HTML page."""
    mock.add(responses.POST, url, body="<h1>Not Found</h1>", status=404, content_type="text/html")


def html_page(mock: responses.RequestsMock, url: str) -> None:
    """A page of a web application (SuiteCRM 8's front end) where the API is not."""
    mock.add(
        responses.POST, url, body="<!doctype html><app-root></app-root>", content_type="text/html"
    )


def empty_500(mock: responses.RequestsMock, url: str) -> None:
    """What SuiteCRM 8 answers to a login naming application_name (and Sugar when its DB is
    down): HTTP 500 with an empty body."""
    mock.add(responses.POST, url, body="", status=500, content_type="text/html")


def calls(mock: responses.RequestsMock) -> list[tuple[str, str]]:
    """(url, method) of every request sent."""
    return [(str(c.request.url), sent(c)[0]) for c in mock.calls]


# ---- discovery ---------------------------------------------------------------------------------


def test_site_root_of_a_suitecrm8_finds_the_legacy_api(
    mock: responses.RequestsMock, client: SugarClient
) -> None:
    not_found(mock, REST)
    add(mock, "01_get_server_info", url=LEGACY_REST)
    add(mock, "01_login_success", url=LEGACY_REST)
    add(mock, "01_get_user_id", url=LEGACY_REST)
    client.login()
    assert client.call("get_user_id") == "1"
    assert calls(mock) == [
        (REST, "login"),
        (LEGACY_REST, "get_server_info"),
        (LEGACY_REST, "login"),
        (LEGACY_REST, "get_user_id"),
    ]
    assert client.rest_url == LEGACY_REST
    assert client.extension_url == LEGACY_EXT
    assert client.base_url == LEGACY
    # Found at the legacy path: login leaves application_name out (SuiteCRM-Core#272).
    _, rest_data, _ = sent(mock.calls[2])
    assert list(rest_data) == ["user_auth", "name_value_list"]
    assert rest_data["user_auth"] == {"user_name": "admin", "password": PASSWORD_MD5}


def test_discovery_happens_once_per_client(
    mock: responses.RequestsMock, client: SugarClient
) -> None:
    not_found(mock, REST)
    add(mock, "01_get_server_info", url=LEGACY_REST)
    add(mock, "01_login_success", url=LEGACY_REST)
    add(mock, "01_logout", url=LEGACY_REST)
    add(mock, "01_login_success", url=LEGACY_REST)
    client.login()
    client.logout()
    client.login()
    assert [m for _, m in calls(mock)].count("get_server_info") == 1
    assert [u for u, _ in calls(mock)].count(REST) == 1


def test_a_suitecrm7_answer_settles_discovery_without_a_probe(
    mock: responses.RequestsMock, client: SugarClient
) -> None:
    add(mock, "01_login_success")
    add(mock, "01_get_user_id")
    client.login()
    assert client.call("get_user_id") == "1"
    assert calls(mock) == [(REST, "login"), (REST, "get_user_id")]
    assert client.rest_url == REST
    _, rest_data, _ = sent(mock.calls[0])
    assert list(rest_data) == ["user_auth", "application_name", "name_value_list"]


def test_discovery_is_logged_without_secrets(
    mock: responses.RequestsMock, client: SugarClient, caplog: pytest.LogCaptureFixture
) -> None:
    not_found(mock, REST)
    add(mock, "01_get_server_info", url=LEGACY_REST)
    add(mock, "01_login_success", url=LEGACY_REST)
    with caplog.at_level(logging.DEBUG, logger="connectors.sugar"):
        client.login()
    found = [r.getMessage() for r in caplog.records if "API found at" in r.getMessage()]
    assert found == [
        f"Sugar v4_1 API found at {LEGACY_REST} (extension: {LEGACY_EXT}; login without "
        "application_name)"
    ]
    assert PASSWORD not in caplog.text
    assert PASSWORD_MD5 not in caplog.text


def test_no_api_at_either_path_names_what_was_tried(
    mock: responses.RequestsMock, client: SugarClient
) -> None:
    not_found(mock, REST)
    not_found(mock, LEGACY_REST)
    with pytest.raises(ApiNotFound) as info:
        client.login()
    assert str(info.value) == (
        f"no v4_1 API at {REST} (404) nor {LEGACY_REST} (404): give Sugar's site root or the "
        "full URL of its rest.php"
    )
    assert info.value.transient is False
    assert calls(mock) == [(REST, "login"), (LEGACY_REST, "get_server_info")]
    assert client.stats.errors == {"ApiNotFound": 1}


def test_an_html_page_at_the_old_path_is_probed_then_the_legacy_path(
    mock: responses.RequestsMock, client: SugarClient
) -> None:
    html_page(mock, REST)
    html_page(mock, REST)
    add(mock, "01_get_server_info", url=LEGACY_REST)
    add(mock, "01_login_success", url=LEGACY_REST)
    client.login()
    assert calls(mock) == [
        (REST, "login"),
        (REST, "get_server_info"),
        (LEGACY_REST, "get_server_info"),
        (LEGACY_REST, "login"),
    ]
    assert client.rest_url == LEGACY_REST


def test_an_html_page_from_sugar_itself_is_not_taken_for_a_wrong_path(
    mock: responses.RequestsMock, client: SugarClient
) -> None:
    # Sugar's own help page (a POST past post_max_size) is HTML too: the probe of the same path
    # answers like Sugar, so the path is right and the call's error stands.
    add(mock, "01_login_success")
    add(mock, "07_post_exceeds_post_max_size")
    add(mock, "01_get_server_info")
    with pytest.raises(NotJsonResponse):
        client.call("get_user_id")
    assert calls(mock) == [(REST, "login"), (REST, "get_user_id")]


def test_html_first_then_sugar_probe_keeps_the_old_path(
    mock: responses.RequestsMock, client: SugarClient
) -> None:
    add(mock, "07_post_exceeds_post_max_size")
    add(mock, "01_get_server_info")
    with pytest.raises(NotJsonResponse):
        client.login()
    assert calls(mock) == [(REST, "login"), (REST, "get_server_info")]
    assert client.rest_url == REST


def test_a_probe_that_cannot_connect_settles_nothing(
    mock: responses.RequestsMock, client: SugarClient
) -> None:
    not_found(mock, REST)
    mock.add(responses.POST, LEGACY_REST, body=requests.ConnectionError("refused"))
    with pytest.raises(TransportError):
        client.login()
    not_found(mock, REST)
    add(mock, "01_get_server_info", url=LEGACY_REST)
    add(mock, "01_login_success", url=LEGACY_REST)
    client.login()
    assert client.rest_url == LEGACY_REST


@pytest.mark.parametrize(
    "url",
    [
        REST,
        BASE + "/service/v4_1",
        BASE + "/service/v4_1/",
    ],
)
def test_an_api_url_is_taken_as_given(mock: responses.RequestsMock, url: str) -> None:
    client = SugarClient(url, "admin", PASSWORD, max_retries=0)
    assert client.rest_url == REST
    assert client.base_url == BASE
    not_found(mock, REST)
    with pytest.raises(HttpStatusError):
        client.login()
    assert calls(mock) == [(REST, "login")]  # no probing


def test_a_legacy_api_url_logs_in_without_application_name(
    mock: responses.RequestsMock,
) -> None:
    client = SugarClient(LEGACY_REST, "admin", PASSWORD, max_retries=0)
    assert client.extension_url == LEGACY_EXT
    add(mock, "01_login_success", url=LEGACY_REST)
    client.login()
    _, rest_data, _ = sent(mock.calls[0])
    assert list(rest_data) == ["user_auth", "name_value_list"]


# ---- login without application_name -------------------------------------------------------------


def test_login_refused_with_an_empty_500_is_sent_once_without_application_name(
    mock: responses.RequestsMock, client: SugarClient, sleeps: SleepRecorder
) -> None:
    # An old-path setup that runs SuiteCRM 8's code (a proxy, some 8.x routing): the path is
    # right, the login naming application_name is not.
    empty_500(mock, REST)
    add(mock, "01_login_success")
    add(mock, "01_logout")
    add(mock, "01_login_success")
    client.login()
    first, second = sent(mock.calls[0])[1], sent(mock.calls[1])[1]
    assert "application_name" in first
    assert list(second) == ["user_auth", "name_value_list"]
    assert sleeps.delays == []  # not an outage retry: no backoff
    # Remembered: the client's later logins leave it out from the start.
    client.logout()
    client.login()
    assert "application_name" not in sent(mock.calls[3])[1]
    assert len(mock.calls) == 4


def test_a_second_500_raises_the_normal_server_error(mock: responses.RequestsMock) -> None:
    # A database outage answers the same empty 500: the second one is not hidden.
    client = SugarClient(BASE, "admin", PASSWORD, max_retries=0)
    empty_500(mock, REST)
    empty_500(mock, REST)
    with pytest.raises(ServerError) as info:
        client.login()
    assert str(info.value) == "login: HTTP 500 (empty body)"
    assert info.value.transient is True
    assert len(mock.calls) == 2
    assert "application_name" in sent(mock.calls[0])[1]
    assert "application_name" not in sent(mock.calls[1])[1]
    assert not client.logged_in


def test_the_fallback_is_tried_only_once_then_normal_retries(
    mock: responses.RequestsMock, client: SugarClient, sleeps: SleepRecorder
) -> None:
    for _ in range(5):
        empty_500(mock, REST)
    with pytest.raises(ServerError):
        client.login()
    # 1 with application_name + 1 without + max_retries=3 normal retries (with backoff).
    assert len(mock.calls) == 5
    assert ["application_name" in sent(c)[1] for c in mock.calls] == [True] + [False] * 4
    assert len(sleeps.delays) == 3


def test_a_500_with_a_body_is_not_taken_for_a_refused_parameter(
    mock: responses.RequestsMock,
) -> None:
    client = SugarClient(BASE, "admin", PASSWORD, max_retries=0)
    mock.add(
        responses.POST,
        REST,
        body="Database failure. Please refer to suitecrm.log for details.",
        status=500,
        content_type="text/html",
    )
    with pytest.raises(ServerError):
        client.login()
    assert len(mock.calls) == 1


def test_only_login_falls_back(mock: responses.RequestsMock) -> None:
    client = SugarClient(BASE, "admin", PASSWORD, max_retries=0)
    add(mock, "01_login_success")
    empty_500(mock, REST)
    with pytest.raises(ServerError):
        client.call("get_user_id")
    assert [m for _, m in calls(mock)] == ["login", "get_user_id"]
    add(mock, "01_logout")
    add(mock, "01_login_success")
    client.logout()
    client.login()
    # The 500 to another method changed nothing about login.
    assert "application_name" in sent(mock.calls[3])[1]


# ---- the extension below /legacy when the old path serves the API --------------------------------


def test_extension_is_looked_for_below_legacy_when_the_old_path_serves_the_api(
    mock: responses.RequestsMock, client: SugarClient
) -> None:
    # Some SuiteCRM 8 setups route <site>/service/v4_1 to the legacy API too; the Module Loader
    # still installed the extension under <site>/legacy/custom.
    add(mock, "01_login_success")
    not_found(mock, EXT)
    add(mock, "01_get_server_info", url=LEGACY_EXT)
    mock.add(responses.POST, LEGACY_EXT, json={"extension_version": "1.0.0", "api_level": 1})
    assert client.call_extension("bridge_info")["api_level"] == 1
    assert calls(mock) == [
        (REST, "login"),
        (EXT, "bridge_info"),
        (LEGACY_EXT, "get_server_info"),
        (LEGACY_EXT, "bridge_info"),
    ]
    assert client.extension_url == LEGACY_EXT
    assert client.rest_url == REST


def test_extension_missing_at_both_places_is_looked_for_once(
    mock: responses.RequestsMock, client: SugarClient
) -> None:
    add(mock, "01_login_success")
    not_found(mock, EXT)
    not_found(mock, LEGACY_EXT)
    for _ in range(2):
        with pytest.raises(ExtensionMissing):
            client.call_extension("bridge_info")
    assert calls(mock) == [
        (REST, "login"),
        (EXT, "bridge_info"),
        (LEGACY_EXT, "get_server_info"),
        (EXT, "bridge_info"),
    ]
    assert client.extension_url == EXT


def test_extension_of_a_given_api_url_is_not_looked_for_elsewhere(
    mock: responses.RequestsMock,
) -> None:
    client = SugarClient(REST, "admin", PASSWORD, max_retries=0)
    add(mock, "01_login_success")
    not_found(mock, EXT)
    with pytest.raises(ExtensionMissing):
        client.call_extension("bridge_info")
    assert calls(mock) == [(REST, "login"), (EXT, "bridge_info")]
