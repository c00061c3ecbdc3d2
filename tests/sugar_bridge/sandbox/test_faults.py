"""Fault injection and latency: each kind, before/after the write, determinism, expiry, delays."""

from __future__ import annotations

import time

import pytest
import requests

from sugar_bridge.sandbox import Faults, Latency, Sandbox, SandboxConfigError
from tests.sugar_bridge.sandbox.helpers import Api, raw_call


def _create(sandbox: Sandbox, api: Api, name: str) -> int:
    return raw_call(
        sandbox.url,
        "set_entry",
        {"session": api.session, "module_name": "Accounts", "name_value_list": {"name": name}},
    ).status


def test_http500_before_the_write_saves_nothing() -> None:
    with Sandbox() as sb:
        api = Api(sb)
        sb.set_faults(Faults(at_calls={1: "http500"}, methods=frozenset({"set_entry"})))
        assert _create(sb, api, "A") == 500
        assert sb.store.count("accounts") == 0
        assert _create(sb, api, "B") == 200
        assert sb.store.count("accounts") == 1
        assert sb.stats.faults["http500"] == 1


def test_http500_after_the_write_has_committed_it() -> None:
    """The nasty real case: the client sees a failure although the record is stored."""
    with Sandbox() as sb:
        api = Api(sb)
        sb.set_faults(
            Faults(at_calls={1: "http500"}, when="after", methods=frozenset({"set_entry"}))
        )
        assert _create(sb, api, "A") == 500
        assert sb.store.count("accounts", "name = 'A'") == 1


def test_null_body_and_dropped_connection() -> None:
    with Sandbox() as sb:
        api = Api(sb)
        sb.set_faults(Faults(at_calls={1: "null", 2: "drop"}, methods=frozenset({"get_user_id"})))
        reply = raw_call(sb.url, "get_user_id", {"session": api.session})
        assert (reply.status, reply.body) == (200, None)
        with pytest.raises(requests.ConnectionError):
            raw_call(sb.url, "get_user_id", {"session": api.session})
        assert raw_call(sb.url, "get_user_id", {"session": api.session}).body == "1"


def test_timeout_sleeps_past_the_client_timeout() -> None:
    with Sandbox() as sb:
        api = Api(sb)
        sb.set_faults(
            Faults(at_calls={1: "timeout"}, timeout_seconds=0.5, methods=frozenset({"get_user_id"}))
        )
        with pytest.raises(requests.exceptions.ReadTimeout):
            raw_call(sb.url, "get_user_id", {"session": api.session}, timeout=0.2)


def test_expire_kills_the_session_and_expire_every_kills_all() -> None:
    with Sandbox() as sb:
        api = Api(sb)
        sb.set_faults(Faults(at_calls={1: "expire"}, methods=frozenset({"get_user_id"})))
        assert raw_call(sb.url, "get_user_id", {"session": api.session}).body["number"] == 11
        sb.set_faults(Faults(expire_every=3))
        api = Api(sb)  # call 1 of the new plan
        assert raw_call(sb.url, "get_user_id", {"session": api.session}).body == "1"
        assert raw_call(sb.url, "get_user_id", {"session": api.session}).body["number"] == 11


def test_rate_is_deterministic_for_a_seed() -> None:
    def pattern(seed: int) -> list[int]:
        with Sandbox(
            faults=Faults(rate=0.5, seed=seed, methods=frozenset({"get_server_info"}))
        ) as sb:
            return [raw_call(sb.url, "get_server_info", []).status for _ in range(20)]

    first = pattern(7)
    assert first == pattern(7)
    assert 0 < first.count(500) < 20


def test_latency_per_created_and_updated_record() -> None:
    with Sandbox(latency=Latency(per_create=0.05, per_update=0.1)) as sb:
        api = Api(sb)
        started = time.monotonic()
        ids = api(
            "set_entries", module_name="Accounts", name_value_lists=[{"name": "A"}, {"name": "B"}]
        )
        assert time.monotonic() - started >= 0.1
        started = time.monotonic()
        api("set_entry", module_name="Accounts", name_value_list={"id": ids["ids"][0], "name": "C"})
        assert time.monotonic() - started >= 0.1
        assert (sb.stats.created, sb.stats.updated) == (2, 1)


def test_session_ttl_expires_idle_sessions() -> None:
    with Sandbox(session_ttl=1.0) as sb:
        api = Api(sb)
        assert raw_call(sb.url, "get_user_id", {"session": api.session}).body == "1"
        time.sleep(1.2)
        assert raw_call(sb.url, "get_user_id", {"session": api.session}).body["number"] == 11


def test_bad_fault_options_are_refused() -> None:
    with pytest.raises(SandboxConfigError):
        Faults(rate=1.5)
    with pytest.raises(SandboxConfigError):
        Faults(kinds=("boom",))  # type: ignore[arg-type]
    with pytest.raises(SandboxConfigError):
        Latency(call=-1)


def test_workers_cap_parallel_delays() -> None:
    from concurrent.futures import ThreadPoolExecutor

    def run(workers: int | None) -> float:
        with Sandbox(latency=Latency(call=0.3, workers=workers)) as sb:
            started = time.monotonic()
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(lambda _: raw_call(sb.url, "get_server_info", []), range(4)))
            return time.monotonic() - started

    assert run(None) < 1.0  # 4 x 0.3 s side by side
    assert run(1) >= 1.2  # one after the other
