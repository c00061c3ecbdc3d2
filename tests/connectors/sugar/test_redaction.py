"""Secrets never reach logs (DEBUG included) nor exception messages."""

from __future__ import annotations

import logging
import threading

import pytest
import requests
import responses

from connectors.sugar.client import CallStats, SugarClient
from connectors.sugar.exceptions import SugarError
from connectors.sugar.redact import redact
from tests.connectors.sugar.conftest import PASSWORD, PASSWORD_MD5, REST, USER_HASH, add

SESSIONS = ("dut8buum4dlvkl63q8kkk0lo5v", "kjuhm8pq2jd6jibrsls1ljckac")


def _secrets() -> tuple[str, ...]:
    return (PASSWORD, PASSWORD_MD5, USER_HASH, *SESSIONS)


def test_debug_logs_and_errors_hold_no_secrets(
    mock: responses.RequestsMock, client: SugarClient, caplog: pytest.LogCaptureFixture
) -> None:
    add(mock, "01_login_success")
    # a user created with a password hash: Sugar echoes user_hash back in its answer
    add(mock, "02_user_create_list_nvl_user_hash_md5")
    # session expires -> re-login (session ids in both requests)
    add(mock, "01_invalid_session_get_user_id")
    add(mock, "01_login_cookie_jar_reuses_session", key="first_login")
    add(mock, "01_get_user_id")
    # failures of every kind
    add(mock, "07_db_down_set_entry")
    add(mock, "07_post_exceeds_post_max_size")
    add(mock, "02_user_create_duplicate_user_name")
    errors: list[str] = []
    with caplog.at_level(logging.DEBUG):
        users = client.module("Users")
        users.create(
            {"user_name": "labuser2", "status": "Active", "user_hash": USER_HASH},
            id="d1057b90-8890-216d-0db3-6b05e141489c",
        )
        client.call("get_user_id")
        for _ in range(3):
            try:
                client.call(
                    "set_entry",
                    module_name="Users",
                    name_value_list=[
                        {"name": "id", "value": "d1057b90-8890-216d-0db3-6b05e141489c"},
                        {"name": "user_hash", "value": USER_HASH},
                    ],
                )
            except SugarError as error:
                errors.append(str(error))
                errors.append(repr(error))
    mock.add(responses.POST, REST, body=requests.ConnectionError(f"refused {PASSWORD_MD5}"))
    try:
        client.call("get_user_id")
    except SugarError as error:
        errors.append(str(error))
    assert len(errors) == 7
    assert client.stats.relogins == 1
    assert "set_entry" in caplog.text  # the calls were logged...
    for secret in _secrets():
        assert secret not in caplog.text, secret  # ...without any secret
        for message in errors:
            assert secret not in message
        assert secret not in repr(client)


def test_login_failure_message_has_no_password(
    mock: responses.RequestsMock, client: SugarClient
) -> None:
    add(mock, "01_login_bad_password")
    with pytest.raises(SugarError) as info:
        client.login()
    for secret in (PASSWORD, PASSWORD_MD5):
        assert secret not in str(info.value)


def test_redact_masks_both_nvl_forms_and_params() -> None:
    data = {
        "session": "abc",
        "user_auth": {"user_name": "admin", "password": "md5"},
        "name_value_list": [
            {"name": "user_hash", "value": "h"},
            {"name": "name", "value": "keep"},
        ],
        "name_value_lists": [{"user_hash": "h2", "Password_c": "p"}],
    }
    out = redact(data)
    assert out["session"] == "***"
    assert out["user_auth"] == {"user_name": "admin", "password": "***"}
    assert out["name_value_list"] == [
        {"name": "user_hash", "value": "***"},
        {"name": "name", "value": "keep"},
    ]
    assert out["name_value_lists"] == [{"user_hash": "***", "Password_c": "***"}]
    assert data["session"] == "abc"  # a copy


def test_stats_are_thread_safe() -> None:
    stats = CallStats()

    def work() -> None:
        for _ in range(1000):
            stats._record_call("set_entry", True)
            stats._record_retry()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert stats.calls == {"set_entry": 4000}
    assert stats.writes == 4000
    assert stats.retries == 4000
    assert stats.snapshot()["total_calls"] == 4000
