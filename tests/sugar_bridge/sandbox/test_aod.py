"""The sandbox's AOD search indexing model: with ``aod`` on, every saved record of an indexed
module writes the index under one server-wide lock, so concurrent sessions' saves queue there
(and pay extra when they had to wait); with it off, they overlap as before.

What it models was measured on a real SuiteCRM 7.15 (benchmarks/README.md, "Sessions and AOD"):
with AOD on, a push took 1.2x as long with 2 sessions as with 1 (up to 2.7x) and 3x with 4;
with it off, 0.83x and 0.64x. Small latencies keep these tests fast; the bounds are ratios with
room for a loaded machine."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from sugar_bridge.sandbox import AOD_INDEXED_MODULES, AodIndex, Latency, Sandbox, SandboxConfigError
from sugar_bridge.sandbox.faults import IndexLock
from tests.sugar_bridge.sandbox.helpers import Api

PER_SAVE = 0.03  # the index write of one record, under the lock


def _sessions(sb: Sandbox, n: int, records: int) -> list[tuple[Api, list[str]]]:
    """``n`` sessions, each with ``records`` accounts of its own to update (created with the
    latency off)."""
    latency, aod = sb.latency, sb.index.aod if sb.index else False
    sb.set_latency(None)
    sb.set_aod(False)
    out = []
    for s in range(n):
        api = Api(sb)
        names = [{"name": f"S{s} A{i}"} for i in range(records)]
        ids = api("set_entries", module_name="Accounts", name_value_lists=names)["ids"]
        out.append((api, ids))
    sb.set_latency(latency)
    sb.set_aod(aod)
    return out


def _push(sb: Sandbox, sessions: list[tuple[Api, list[str]]], module: str = "Accounts") -> float:
    """Every session updates its records at the same time, one ``set_entries`` each; wall time."""

    def one(session: tuple[Api, list[str]]) -> None:
        api, ids = session
        rows = [{"id": i, "description": f"v{time.monotonic()}"} for i in ids]
        answer = api("set_entries", module_name=module, name_value_lists=rows)
        assert answer["ids"] == ids

    started = time.monotonic()
    with ThreadPoolExecutor(len(sessions)) as pool:
        list(pool.map(one, sessions))
    return time.monotonic() - started


def test_aod_on_concurrent_saves_queue_on_the_index_off_they_overlap() -> None:
    n, records = 4, 5
    latency = Latency(per_update=0.02)
    with Sandbox(latency=latency, aod=AodIndex(per_save=PER_SAVE, contended=0.0)) as sb:
        on = _push(sb, _sessions(sb, n, records))
        assert sb.index is not None
        assert sb.index.contended_saves > 0
    with Sandbox(latency=latency) as sb:
        assert sb.index is None
        off = _push(sb, _sessions(sb, n, records))
    # On: the 20 index writes take turns: at least their sum, whatever the sessions.
    assert on >= 0.95 * n * records * PER_SAVE, on
    # Off: the four sessions' 5 x 20 ms overlap (ideally 0.1 s against on's >= 0.6 s).
    assert off < 0.5 * on, (off, on)


def test_aod_on_more_sessions_are_slower_than_one_off_they_are_faster() -> None:
    """The contended extra: a save that waited for another session's index write costs more,
    so 2 sessions take longer than 1 for the same records, as on a real SuiteCRM."""
    records = 10
    latency = Latency(per_update=0.01)
    aod = AodIndex(per_save=0.01, contended=0.04)

    def one_vs_two(sb: Sandbox) -> tuple[float, float]:
        sessions = _sessions(sb, 2, records)
        api, _ = sessions[0]
        together = [(api, sessions[0][1] + sessions[1][1])]
        return _push(sb, together), _push(sb, sessions)

    with Sandbox(latency=latency, aod=aod) as sb:
        one_on, two_on = one_vs_two(sb)
        assert sb.index is not None
        # one session: 20 x (10 + 10) ms = 0.4 s; two: the index lock always contended, so
        # ~20 x (10 + 40) ms = 1.0 s
        assert sb.index.contended_saves >= records
    with Sandbox(latency=latency) as sb:
        one_off, two_off = one_vs_two(sb)
    assert two_on > 1.4 * one_on, (one_on, two_on)
    assert two_off < 0.8 * one_off, (one_off, two_off)


def test_one_session_never_contends_and_pays_base_plus_index() -> None:
    with Sandbox(latency=Latency(per_update=0.01), aod=AodIndex(PER_SAVE, contended=1.0)) as sb:
        ((api, ids),) = _sessions(sb, 1, 6)
        started = time.monotonic()
        api("set_entries", module_name="Accounts", name_value_lists=[{"id": i} for i in ids])
        api("set_entry", module_name="Accounts", name_value_list={"id": ids[0], "name": "x"})
        elapsed = time.monotonic() - started
        assert sb.index is not None
        assert sb.index.contended_saves == 0
    assert 7 * (0.01 + PER_SAVE) <= elapsed < 1.0  # never the contended second


def test_only_saves_of_indexed_modules_take_the_index_lock() -> None:
    """Reads, failed saves and saves of modules AOD does not index (roles, users) pay nothing."""
    assert {"Accounts", "Contacts", "Leads", "ProspectLists", "Tasks", "Calls"} <= (
        AOD_INDEXED_MODULES
    )
    assert not {"Users", "ACLRoles", "SecurityGroups", "EmailAddresses"} & AOD_INDEXED_MODULES
    with Sandbox(aod=AodIndex(per_save=0.5, contended=0.5)) as sb:
        api = Api(sb)
        started = time.monotonic()
        api(
            "set_entries", module_name="ACLRoles", name_value_lists=[{"name": "R1"}, {"name": "R2"}]
        )
        api("get_entry_list", module_name="Accounts", query="", max_results=5)
        api("set_entry", module_name="Accounts", name_value_list={"id": "not an id", "name": "x"})
        assert time.monotonic() - started < 0.5
        started = time.monotonic()
        api("set_entry", module_name="Accounts", name_value_list={"name": "indexed"})
        assert time.monotonic() - started >= 0.5


def test_set_aod_switches_and_true_means_the_default_costs() -> None:
    with Sandbox(aod=True) as sb:
        assert sb.index is not None
        assert sb.index.aod == AodIndex()
        sb.set_aod(False)
        assert sb.index is None
        sb.set_aod(AodIndex(per_save=0.001))
        assert sb.index is not None
        assert sb.index.aod.per_save == 0.001
    with pytest.raises(SandboxConfigError):
        AodIndex(per_save=-1)


def test_index_lock_charges_the_contended_extra_only_after_waiting() -> None:
    slept: list[float] = []
    lock = IndexLock(AodIndex(per_save=0.1, contended=0.4), sleep=slept.append)
    lock.write(3)
    assert slept == [0.1, 0.1, 0.1]
    assert lock.contended_saves == 0


def test_index_lock_extra_grows_with_the_sessions_in_line() -> None:
    """Three writers at once: a save that found two others in line pays two extras."""
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(0.05)

    lock = IndexLock(AodIndex(per_save=0.1, contended=0.4), sleep=sleep)
    with ThreadPoolExecutor(3) as pool:
        list(pool.map(lambda _: lock.write(2), range(3)))
    assert len(slept) == 6
    assert max(slept) == pytest.approx(0.1 + 2 * 0.4)
    assert lock.contended_saves >= 4
