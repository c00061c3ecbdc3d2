"""Odd ``rest_data`` never breaks the sandbox: every answer is one of Sugar's (200 / 301 / 500),
and no call ends in an unexpected exception of the sandbox itself."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sugar_bridge.sandbox import Sandbox
from sugar_bridge.sandbox.api import SIGNATURES
from sugar_bridge.sandbox.extension import EXTENSION_SIGNATURES
from tests.sugar_bridge.sandbox.helpers import Api, raw_call

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
METHODS = sorted({*SIGNATURES, *EXTENSION_SIGNATURES})


@pytest.fixture(scope="module")
def api() -> Iterator[Api]:
    with Sandbox() as sb:
        yield Api(sb)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    method=st.sampled_from(METHODS),
    values=st.lists(JSON, max_size=6),
    named=st.booleans(),
    module=st.sampled_from(["Accounts", "Users", "ACLRoles", "ProspectLists", "Nope"]),
)
# Found by this test in CI: a select_fields that is no array (PHP counts it as none).
@example(method="bridge_save_records", values=[[], 3], named=False, module="Accounts")
@example(method="bridge_save_records", values=[{}, {"a": "name"}], named=True, module="Accounts")
def test_odd_arguments_get_sugar_answers(
    api: Api,
    caplog: pytest.LogCaptureFixture,
    method: str,
    values: list[Any],
    named: bool,
    module: str,
) -> None:
    sig = {**SIGNATURES, **EXTENSION_SIGNATURES}[method]
    names = [n for n, _ in sig]
    args: list[Any] = [api.session, module, *values][: len(names)]
    rest_data: Any = dict(zip(names, args, strict=False)) if named else args
    url = api.sandbox.extension_url if method.startswith("bridge_") else api.sandbox.url
    with caplog.at_level(logging.ERROR, logger="sugar_bridge.sandbox"):
        caplog.clear()
        reply = raw_call(url, method, json.dumps(rest_data))
    assert reply.status in (200, 301, 500)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


def test_the_oracle_sees_a_sandbox_bug(
    api: Api, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(ctx: object) -> object:
        raise RuntimeError("bug")

    monkeypatch.setattr(api.sandbox.api, "get_server_info", broken)
    with caplog.at_level(logging.ERROR, logger="sugar_bridge.sandbox"):
        reply = raw_call(api.sandbox.url, "get_server_info", "[]")
    assert reply.status == 500
    assert "get_server_info failed" in caplog.text
