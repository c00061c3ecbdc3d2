"""What the sandbox's AOD model claims, checked on the real Sugar (marker ``live``, < 30 s).

With SuiteCRM's AOD search indexing on, every save of an account writes the Lucene index under
one server-wide lock, so 2 sessions saving at once are not faster than 1 (on SuiteCRM 7.15 they
took 1.1-1.3x as long for 40 saves); with it off, 2 sessions are faster when the server has a
core to spare, and never much slower (on a 2-core machine kept busy by other jobs, the gain does
not show, so that is all the test asks).
``sugar_bridge.sandbox.AodIndex`` models that, and the push stays at one session where it writes
with ``set_entries`` on a Sugar with AOD on because of it (``bridge_save_records`` defers indexing).

Whether AOD is on is learned from the Sugar itself: a save of an indexed record under AOD writes
an ``AOD_IndexEvent`` row for that record in the same request, and the API reads that module.
When the Sugar does not say (no such module, no rights), ``SUGAR_LIVE_AOD=on|off`` tells; with
neither, the test skips. CI runs it on its fresh SuiteCRM 7.15 with AOD off (7.15's default):
with AOD on, a fresh site's small index costs ~15 ms a save and 2 sessions measured 0.71-1.06x
of one there, so the "not faster" claim is checked by hand on a Sugar with a grown index (see
benchmarks/README.md, "Sessions and AOD"): ``bash .ci/suitecrm.sh aod on``, then this test.

Isolation: its accounts carry a per-run name prefix and are marked deleted at the end.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from connectors.sugar import query as q
from connectors.sugar.aod import aod_indexing
from connectors.sugar.client import SugarClient
from connectors.sugar.exceptions import SugarError
from tests.conftest import live_credentials

pytestmark = pytest.mark.live

#: Accounts updated per measurement: AOD on costs ~40-170 ms per save, off ~6 ms, and with so
#: little work the second session's own request overhead hides its gain on a busy 2-core server.
N_UPDATED = {True: 40, False: 100}
ROUNDS = 3


def _client() -> SugarClient:
    url, username, password = live_credentials()
    verify = os.environ.get("SUGAR_LIVE_VERIFY_TLS", "1") != "0"
    return SugarClient(url, username, password, verify_tls=verify, max_retries=2, timeout=(10, 120))


def aod_from_sugar(client: SugarClient, record_id: str) -> bool | None:
    """Whether the save of Accounts ``record_id`` just made was indexed by AOD (an
    ``AOD_IndexEvent`` row for it); None when the Sugar does not let us read that module."""
    events = client.module("AOD_IndexEvent")
    try:
        return events.count(q.eq("aod_indexevent.record_id", record_id)) > 0
    except SugarError:
        return None


def aod_from_env() -> bool | None:
    value = os.environ.get("SUGAR_LIVE_AOD", "").strip().lower()
    return {"on": True, "off": False}.get(value)


@pytest.fixture
def accounts() -> Iterator[tuple[SugarClient, list[str]]]:
    """A client and a list of this run's accounts (``add_accounts``), marked deleted afterwards."""
    with _client() as client:
        ids: list[str] = []
        try:
            yield client, ids
        finally:
            if ids:
                client.module("Accounts").save_many(
                    [{"id": i, "deleted": 1} for i in ids], batch_size=100, check_exists=False
                )


def add_accounts(client: SugarClient, ids: list[str], n: int) -> None:
    """``n`` more accounts of this run (untimed, one ``set_entries``), appended to ``ids``."""
    if n <= 0:
        return
    prefix = f"sb-aod-{secrets.token_hex(3)}"
    rows = [{"name": f"{prefix} {i:03d}"} for i in range(n)]
    ids.extend(client.module("Accounts").save_many(rows, batch_size=n))


def _update(sessions: int, ids: list[str], round_no: int) -> float:
    """All ``ids`` updated with ``sessions`` sessions at once (one ``set_entries`` each, the
    logins done before the clock starts); wall seconds."""
    clients = [_client() for _ in range(sessions)]
    try:
        for c in clients:
            c.login()
        share = len(ids) // sessions
        parts = [ids[s * share : (s + 1) * share] for s in range(sessions)]

        def write(n: int) -> None:
            rows = [{"id": i, "description": f"round {round_no} x{sessions}"} for i in parts[n]]
            clients[n].module("Accounts").save_many(rows, batch_size=len(rows), check_exists=False)

        started = time.monotonic()
        with ThreadPoolExecutor(sessions) as pool:
            list(pool.map(write, range(sessions)))
        return time.monotonic() - started
    finally:
        for c in clients:
            c.close()


def test_two_sessions_against_one_as_modelled(accounts: tuple[SugarClient, list[str]]) -> None:
    client, ids = accounts
    add_accounts(client, ids, N_UPDATED[True])
    from_sugar = aod_from_sugar(client, ids[-1])
    if from_sugar is not None:
        # The library's read-only probe (the last saved account is one of ours) agrees.
        assert aod_indexing(client) is from_sugar
    aod = from_sugar if from_sugar is not None else aod_from_env()
    if aod is None:
        pytest.skip(
            "cannot tell whether AOD indexing is on: the Sugar does not let us read "
            "AOD_IndexEvent and SUGAR_LIVE_AOD (on|off) is unset"
        )
    add_accounts(client, ids, N_UPDATED[aod] - len(ids))
    updated = list(ids)
    one: list[float] = []
    two: list[float] = []
    for round_no in range(ROUNDS):  # interleaved, so drift on a shared machine hits both
        one.append(_update(1, updated, 2 * round_no))
        two.append(_update(2, updated, 2 * round_no + 1))
    # Totals over the rounds: one slow moment of a shared machine weighs less than in a min.
    ratio = sum(two) / sum(one)
    figures = (
        f"{len(updated)} accounts: 1 session {sum(one):.2f} s, 2 sessions {sum(two):.2f} s "
        f"({ratio:.2f}x; rounds {[round(t, 2) for t in one]} / {[round(t, 2) for t in two]})"
    )
    print(f"AOD {'on' if aod else 'off'}: {figures}")  # shown with -rP
    if aod:
        # Measured on 7.15 (40 saves, a busy machine): 2 sessions 0.85-1.7x as long per round,
        # 1.07-1.3x in total; the claim is "not faster" (a 10 % margin for the noise).
        assert ratio > 0.9, f"AOD on, yet 2 sessions were faster: {figures}"
    else:
        # Measured on 7.15 (100 saves): 0.77-0.86x with some CPU to spare, 0.99-1.14x when
        # other jobs kept both cores busy. No queue: never the on case's contention (the model
        # says 1.7x, the pushes measured up to 2.7x for 2 sessions, 6x for 4).
        assert ratio < 1.2, f"AOD off, yet 2 sessions were much slower: {figures}"
