"""Fixtures for the Sugar client tests: recorded real answers served through ``responses``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest
import responses

from connectors.sugar.client import SugarClient
from tests.conftest import load_recording

BASE = "https://crm.example.test"
REST = BASE + "/service/v4_1/rest.php"
EXT = BASE + "/custom/service/bridge/rest.php"
PASSWORD = "S3cret-Pa55word!"  # what the test client logs in with
USER_HASH = "a6105da125758b79487b996b28cd7a28"  # the user_hash in 02_user_create_list_nvl_*_md5
PASSWORD_MD5 = hashlib.md5(PASSWORD.encode()).hexdigest()  # what login must send


def recorded(name: str, key: str | None = None) -> tuple[int, str, str]:
    """(status, body text, content type) of a recorded answer, as Sugar sent it.

    The recordings keep JSON bodies parsed and non-JSON bodies (empty 500s, HTML pages) as raw
    text; ``key`` picks one answer from recordings that hold several.
    """
    response = load_recording(name)["response"]
    body: Any = response["body"]
    status = int(response["status"])
    if key is not None:
        body = body[key]
    if isinstance(body, str) and (status != 200 or not body or body.lstrip().startswith("<")):
        return status, body, "text/html; charset=UTF-8"
    return status, json.dumps(body), "application/json; charset=UTF-8"


def add(
    mock: responses.RequestsMock,
    name: str,
    key: str | None = None,
    url: str = REST,
    headers: dict[str, str] | None = None,
) -> None:
    """Queue one recorded answer for the next POST to ``url`` (answers are used in order)."""
    status, body, content_type = recorded(name, key)
    mock.add(
        responses.POST,
        url,
        body=body,
        status=status,
        content_type=content_type,
        headers=headers,
    )


def sent(call: Any) -> tuple[str, dict[str, Any], dict[str, list[str]]]:
    """(method, rest_data, all form fields) of a request captured by ``responses``."""
    form = parse_qs(call.request.body if isinstance(call.request.body, str) else "")
    if isinstance(call.request.body, bytes):
        form = parse_qs(call.request.body.decode())
    rest_data = json.loads(form["rest_data"][0])
    return form["method"][0], rest_data, form


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    """A ``responses`` mock where queued answers are served in the order they were added."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


class SleepRecorder:
    """Stands in for time.sleep: records the delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def client(sleeps: SleepRecorder) -> SugarClient:
    """A client of the fake Sugar at BASE (nothing is sent until a test queues answers)."""
    return SugarClient(BASE, "admin", PASSWORD, max_retries=3, backoff=0.5, sleep=sleeps)
