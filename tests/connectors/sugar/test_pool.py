"""SessionPool: parallel batches over clients with their own sessions (recorded answers)."""

from __future__ import annotations

import json
import threading
from typing import Any
from urllib.parse import parse_qs

import pytest
import responses

from connectors.sugar.client import SugarClient
from connectors.sugar.exceptions import InvalidCall, NoSuchModule
from connectors.sugar.pool import SessionPool
from tests.connectors.sugar.conftest import BASE, PASSWORD, REST, SleepRecorder, recorded

SET_ENTRIES = [
    "04_accounts_create_set_entries",
    "05_set_entries_custom_fields",
    "05_set_entries_update_custom_field",
]


class FakeSugar:
    """Answers each request with the recorded answer that fits it (thread-safe counters)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sessions_seen: set[str] = set()
        self.threads_seen: set[int] = set()
        self.set_entries = {
            tuple(json.loads(recorded(name)[1])["ids"]): recorded(name) for name in SET_ENTRIES
        }

    def __call__(self, request: Any) -> tuple[int, dict[str, str], str]:
        form = parse_qs(request.body if isinstance(request.body, str) else request.body.decode())
        method = form["method"][0]
        rest_data = json.loads(form["rest_data"][0])
        with self.lock:
            self.threads_seen.add(threading.get_ident())
            if "session" in rest_data:
                self.sessions_seen.add(rest_data["session"])
        if method == "login":
            status, body, ctype = recorded("01_login_success")
        elif method == "logout":
            status, body, ctype = recorded("01_logout")
        elif method == "get_entries_count" and rest_data["module_name"] == "NoSuchModule":
            status, body, ctype = recorded("07_unknown_module_get_entry_list")
        elif method == "get_entries_count":
            status, body, ctype = recorded("04_get_entries_count")
        elif method == "set_entries":
            ids = tuple(row[0]["value"] for row in rest_data["name_value_lists"])
            status, body, ctype = self.set_entries[ids]
        else:
            raise AssertionError(f"unexpected {method}")
        return status, {"Content-Type": ctype}, body


@pytest.fixture
def fake(mock: responses.RequestsMock) -> FakeSugar:
    sugar = FakeSugar()
    mock.add_callback(responses.POST, REST, callback=sugar)
    return sugar


def _factory() -> SugarClient:
    return SugarClient(BASE, "admin", PASSWORD, sleep=SleepRecorder())


def test_map_runs_over_several_clients_in_order(fake: FakeSugar) -> None:
    with SessionPool(_factory, size=3) as pool:
        counts = pool.map(lambda c, query: c.module("Accounts").count(query), ["a = 1"] * 8)
        clients = pool.clients
        stats = pool.stats()
    assert counts == [25] * 8
    assert 1 <= len(clients) <= 3
    # each client: its own HTTP session (no shared cookie jar) and its own login
    assert len({id(c._http) for c in clients}) == len(clients)
    assert stats["calls"]["login"] == len(clients)
    assert stats["calls"]["get_entries_count"] == 8
    assert all(not c.logged_in for c in clients)  # closed: logged out


def test_errors_propagate(fake: FakeSugar) -> None:
    modules = ["Accounts", "Accounts", "NoSuchModule", "Accounts"]
    with SessionPool(_factory, size=2) as pool, pytest.raises(NoSuchModule):
        pool.map(lambda c, m: c.module(m).count(), modules)


def test_save_many_in_parallel_batches_keeps_input_order(fake: FakeSugar) -> None:
    ids = [
        "74209c8e-d02b-8e68-e611-6b05e1f52522",
        "76fbbd30-39be-4403-c86f-6b05e17fd3c0",
        "79abcb94-c689-8e8b-42cb-6b05e11de51b",
        "b2ba450d-4133-d23d-053a-6b05e3bb0e13",
        "b7d5973e-d93b-b0ef-a945-6b05e3038f16",
        "be58f232-faff-65d0-1b45-6b05e3f67dba",
        "be58f232-faff-65d0-1b45-6b05e3f67dba",
    ]
    rows = [{"id": i, "segment_c": "seg-x"} for i in ids]
    with SessionPool(_factory, size=3) as pool:
        saved = pool.save_many("Accounts", rows, batch_size=3, check_exists=False)
        assert pool.stats()["writes"] == 3
    assert saved == ids


def test_pool_needs_new_clients_and_a_positive_size() -> None:
    with pytest.raises(InvalidCall):
        SessionPool(_factory, size=0)
    shared = _factory()
    pool = SessionPool(lambda: shared, size=2)
    assert pool.map(lambda c, x: x, [1]) == [1]
    assert pool.map(lambda c, x: x, []) == []


def test_outcomes_keep_going_past_errors_and_return_them_as_values(fake: FakeSugar) -> None:
    modules = ["Accounts", "NoSuchModule", "Accounts", "NoSuchModule", "Accounts"]
    with SessionPool(_factory, size=2) as pool:
        outcomes = list(pool.outcomes(lambda c, m: c.module(m).count(), modules))
    assert sorted(o.item for o in outcomes) == sorted(modules)  # every item ran
    for outcome in outcomes:
        if outcome.item == "Accounts":
            assert (outcome.value, outcome.error) == (25, None)
        else:
            assert outcome.value is None
            assert isinstance(outcome.error, NoSuchModule)
    assert pool.stats()["calls"]["get_entries_count"] == 5  # counters survive close()


def test_outcomes_come_as_each_item_completes(fake: FakeSugar) -> None:
    release = threading.Event()

    def work(client: SugarClient, item: str) -> str:
        if item == "slow":
            assert release.wait(10)
        return item

    with SessionPool(_factory, size=2) as pool:
        outcomes = pool.outcomes(work, ["slow", "fast"])
        first = next(outcomes)  # while "slow" still waits
        release.set()
        rest = list(outcomes)
    assert first.item == "fast"
    assert [o.item for o in rest] == ["slow"]


def test_outcomes_let_other_errors_through(fake: FakeSugar) -> None:
    def broken(client: SugarClient, item: int) -> int:
        raise KeyError(item)

    with SessionPool(_factory, size=1) as pool, pytest.raises(KeyError):
        list(pool.outcomes(broken, [1, 2]))


def test_adaptive_outcomes_run_as_many_at_once_as_the_controller_says(fake: FakeSugar) -> None:
    """One item at a time while the controller says 1, two once it says 2; each item's records
    and time reach it, and the next item starts before the caller handles the last outcome."""
    from connectors.sugar.adaptive import AdaptiveConcurrency

    concurrency = AdaptiveConcurrency(2, window=2)
    lock = threading.Lock()
    in_flight = 0
    peaks: list[tuple[int, int]] = []  # (level when the item started, items running then)

    def work(client: SugarClient, item: list[str]) -> int:
        nonlocal in_flight
        with lock:
            in_flight += 1
            peaks.append((concurrency.level, in_flight))
        try:
            return client.module("Accounts").count(item[0])
        finally:
            with lock:
                in_flight -= 1

    items = [[f"a = {i}"] for i in range(8)]
    with SessionPool(_factory, size=2) as pool:
        outcomes = list(
            pool.adaptive_outcomes(
                work, items, concurrency, weight=len, failed=lambda o: o.error is not None
            )
        )
    assert sorted(o.item[0] for o in outcomes) == sorted(i[0] for i in items)
    assert all(o.value == 25 for o in outcomes)
    assert concurrency.records == 8
    assert all(running <= level for level, running in peaks)
    assert peaks[0] == (1, 1)
    assert concurrency.steps[1].level == 2, concurrency.steps
