"""With faults injected at random on 10 % of calls the push converges to the fault-free state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from connectors.sugar.exceptions import SugarError
from etl.db import create_engine_for
from etl.schema import metadata
from sugar_bridge.push.push import PushRunInfo, push_segments
from sugar_bridge.sandbox import Faults, Sandbox
from tests.sugar_bridge.push.conftest import (
    Warehouse,
    client_for,
    factory,
    make_sandbox,
    push_config,
    sugar_push_state,
)

FAULTS = Faults(
    rate=0.10,
    kinds=("http500", "timeout", "drop", "expire", "null"),
    when="random",  # half of them after the write was committed
    seed=20261124,
    timeout_seconds=0.6,
)
PHASE_2 = {
    "C000": {"rfm_segment": "Lost", "lifecycle_stage": "declining"},
    "C003": {"lifecycle_stage": "declining", "n_orders": 40},
    "C005": {"rfm_segment": "At risk"},
    "C008": {"clv_12m": 5000},
}


def _seed(wh: Warehouse) -> None:
    segments = ["Champions", "Loyal", "At risk", "Can't lose them"]
    for i in range(12):
        wh.add_customer(
            f"C{i:03d}",
            f"Customer {i}",
            f"c{i}@example.com",
            rfm_segment=segments[i % 4],
            n_orders=i + 1,
        )
    wh.analyse()


def _push_until_ok(wh: Warehouse, sb: Sandbox, max_runs: int = 12) -> list[str]:
    """Run the push like nightly jobs until one completes cleanly; returns each run's outcome."""
    config = push_config(batch_size=4)
    outcomes = []
    for _ in range(max_runs):
        try:
            info: PushRunInfo = push_segments(
                wh.engine, factory(sb, timeout=(2, 0.3)), config, as_of=wh.as_of
            )
        except SugarError as exc:  # a run that could not even read: the next night retries
            outcomes.append(f"failed: {type(exc).__name__}")
            continue
        outcomes.append(info.status)
        if info.status == "ok":
            return outcomes
    raise AssertionError(f"no clean run after {max_runs}: {outcomes}")


def _state(sb: Sandbox) -> dict[str, Any]:
    with client_for(sb) as client:
        return sugar_push_state(client)


def _scenario(tmp_path: Path, name: str, faults: Faults | None) -> tuple[dict[str, Any], list[str]]:
    engine = create_engine_for(f"sqlite:///{tmp_path / f'{name}.db'}")
    metadata.create_all(engine)
    wh = Warehouse(engine)
    sb = make_sandbox()
    try:
        _seed(wh)
        with client_for(sb) as client:  # one account exists already
            client.module("Accounts").create({"name": "Customer 1", "email1": "c1@example.com"})
        if faults is not None:
            from sugar_bridge.sandbox.faults import FaultPlan

            sb.faults = FaultPlan(faults)
        outcomes = _push_until_ok(wh, sb)
        for cid, values in PHASE_2.items():
            wh.set(cid, **values)
        wh.analyse()
        outcomes += _push_until_ok(wh, sb)
        outcomes.append(f"faults injected: {sum(sb.stats.faults.values())}")
        sb.faults = type(sb.faults)(None)
        return _state(sb), outcomes
    finally:
        sb.close()
        engine.dispose()


def test_faults_converge_to_the_fault_free_state(tmp_path: Path) -> None:
    clean, clean_runs = _scenario(tmp_path, "clean", None)
    faulty, faulty_runs = _scenario(tmp_path, "faulty", FAULTS)
    assert clean_runs == ["ok", "ok", "faults injected: 0"]
    assert int(faulty_runs[-1].split(": ")[1]) >= 5, faulty_runs
    assert faulty["n_accounts"] == clean["n_accounts"] == 12
    assert set(faulty["per_external_id"].values()) == {1}, "no duplicate account"
    assert faulty["values"] == clean["values"]
    assert faulty["lists"] == clean["lists"]
    assert faulty["followups"] == clean["followups"]
    assert set(faulty["followups"].values()) == {1}, "no duplicate task or call"
    assert sum(clean["followups"].values()) == 3  # 2 declining tasks, 1 call for "At risk"


def test_run_reports_what_it_retried(tmp_path: Path) -> None:
    """The set_entries path (a Sugar without the bulk method): its retries and re-logins."""
    engine = create_engine_for(f"sqlite:///{tmp_path / 'w.db'}")
    metadata.create_all(engine)
    wh = Warehouse(engine)
    _seed(wh)
    sb = make_sandbox(
        Faults(methods=frozenset({"set_entries"}), at_calls={1: "http500", 2: "expire"})
    )
    config = push_config(batch_size=4, write_method="set_entries")
    try:
        info = push_segments(engine, factory(sb), config, as_of=wh.as_of)
    finally:
        sb.close()
        engine.dispose()
    assert info.status == "ok"
    assert info.sugar_calls["retries"] >= 1
    assert info.sugar_calls["relogins"] >= 1
    assert info.sugar_calls["calls"]["set_entries"] >= 3


def test_bulk_run_retries_a_lost_answer_without_duplicating(tmp_path: Path) -> None:
    """bridge_save_records failing after it committed (the answer lost) is replayed: the
    client-generated ids turn the replayed creates into updates, so nothing is duplicated."""
    engine = create_engine_for(f"sqlite:///{tmp_path / 'w.db'}")
    metadata.create_all(engine)
    wh = Warehouse(engine)
    _seed(wh)
    sb = make_sandbox(
        Faults(
            methods=frozenset({"bridge_save_records"}),
            at_calls={1: "http500", 2: "expire", 3: "drop"},
            when="after",
        )
    )
    try:
        info = push_segments(engine, factory(sb), push_config(batch_size=4), as_of=wh.as_of)
        state = _state(sb)
    finally:
        sb.close()
        engine.dispose()
    assert info.status == "ok", info
    assert info.created == 12
    assert info.writes["method"] == "bridge_save_records"
    assert info.sugar_calls["retries"] >= 2
    assert info.sugar_calls["relogins"] >= 1
    assert "set_entries" not in info.sugar_calls["calls"]
    assert "get_entries" not in info.sugar_calls["calls"], "the answers proved every write"
    assert state["n_accounts"] == 12
    assert set(state["per_external_id"].values()) == {1}, "no duplicate account"
