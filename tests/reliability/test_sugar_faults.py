"""Reliability: Sugar faults injected at random on 10 % and 30 % of calls, during a provision
apply and a segment push. The end state equals a fault-free run's, nothing is duplicated, and the
run reports what it retried.

The sandbox draws the faults (HTTP 500 with an empty body, a ``null`` body, a timeout, a dropped
connection, an expired session) from a fixed seed, half of them *after* the call was committed
(the nasty case: written, but the client sees a failure). Like the nightly job, a run that still
fails is simply run again; the assertions are on where the reruns converge.

Two fault mixes:

- ``transient``: 5xx with an empty body, timeouts, dropped connections, expired sessions — the
  client retries (or logs in again) and the runs complete *with the faults still on*;
- ``all``: the same plus ``null`` bodies. Sugar answers ``null`` to a malformed call or a rejected
  write, so the client rightly treats it as terminal: a run that meets one stops cleanly (nothing
  half-applied that a rerun cannot finish). At 30 % no run of a few hundred calls escapes a null,
  so the faults stay on for the first runs only, then the nightly rerun converges.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from connectors.sugar.client import SugarClient
from connectors.sugar.exceptions import SugarError
from etl.db import create_engine_for
from etl.schema import metadata
from sugar_bridge.config import load_config
from sugar_bridge.provision.apply import apply
from sugar_bridge.provision.exceptions import ApplyFailed
from sugar_bridge.provision.export import export
from sugar_bridge.provision.plan import plan
from sugar_bridge.provision.spec import SugarSpec
from sugar_bridge.push.push import PushRunInfo, push_segments
from sugar_bridge.sandbox import FAULT_KINDS, Faults, Sandbox
from tests.conftest import REPO
from tests.sugar_bridge.push.conftest import (
    Warehouse,
    make_sandbox,
    push_config,
    sugar_push_state,
)

RATES = (0.10, 0.30)
MIXES = ("transient", "all")
TRANSIENT = tuple(k for k in FAULT_KINDS if k != "null")
MAX_RUNS = 15
FAULTY_RUNS_WITH_NULLS = 3  # then the faults stop (Sugar is healthy again)


def _faults(rate: float, mix: str, seed: int) -> Faults:
    kinds = FAULT_KINDS if mix == "all" else TRANSIENT
    return Faults(rate=rate, kinds=kinds, when="random", seed=seed, timeout_seconds=0.4)


def _faulty_runs(mix: str) -> int:
    return FAULTY_RUNS_WITH_NULLS if mix == "all" else MAX_RUNS


def _client(sb: Sandbox) -> SugarClient:
    # A read timeout below the sandbox's injected timeout, quick retries: the test stays short.
    return SugarClient(
        sb.base_url, "admin", sb.admin_password,
        timeout=(2, 0.25), max_retries=6, backoff=0.01, backoff_cap=0.05,
    )  # fmt: skip


@pytest.fixture(autouse=True)
def _passwords_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # The example config reads some passwords from the environment.
    spec = load_config(REPO / "config" / "sugar-bridge.yaml").sugar
    for user in spec.users:
        env = getattr(user.password, "env", None)
        if env:
            monkeypatch.setenv(env, f"Pw-{user.user_name}-1!")


# --- provision apply --------------------------------------------------------------------------


def _example_spec() -> SugarSpec:
    return load_config(REPO / "config" / "sugar-bridge.yaml").sugar


def _canonical(value: Any) -> Any:
    """The same data in an order that does not depend on Sugar's random ids."""
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        items = [_canonical(v) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True, default=str))
    return value


def _names(client: SugarClient) -> dict[str, Counter[str]]:
    """How many records carry each natural key (a duplicate shows as a count of 2)."""
    return {
        "users": Counter(u["user_name"] for u in client.module("Users").list(fields=["user_name"])),
        "roles": Counter(r["name"] for r in client.module("ACLRoles").list(fields=["name"])),
        "groups": Counter(g["name"] for g in client.module("SecurityGroups").list(fields=["name"])),
        "accounts": Counter(
            str(a.get("external_id_c") or a["name"])
            for a in client.module("Accounts").list(fields=["name", "external_id_c"])
        ),
    }


def _apply_until_done(
    sb: Sandbox, spec: SugarSpec, tmp: Path, faulty_runs: int
) -> tuple[list[str], int]:
    """Apply like a retrying operator; (outcome of each run, retries + re-logins reported)."""
    outcomes: list[str] = []
    retried = 0
    for attempt in range(MAX_RUNS):
        if attempt == faulty_runs:
            sb.set_faults(None)
        client = _client(sb)
        try:
            apply(client, spec, passwords_file=tmp / f"pw-{attempt}.tsv")
            outcomes.append("ok")
        except (ApplyFailed, SugarError) as exc:
            outcomes.append(type(exc).__name__)
        finally:
            retried += client.stats.retries + client.stats.relogins
            with contextlib.suppress(SugarError):
                client.close()
        if outcomes[-1] == "ok":
            return outcomes, retried
    raise AssertionError(f"no successful apply after {MAX_RUNS} runs: {outcomes}")


def _provision_state(
    sb: Sandbox, spec: SugarSpec, tmp: Path, rate: float, mix: str = "all"
) -> dict[str, Any]:
    if rate:
        sb.set_faults(_faults(rate, mix, seed=int(rate * 1000) + 7))
    outcomes, retried = _apply_until_done(sb, spec, tmp, _faulty_runs(mix))
    faults = sum(sb.stats.faults.values())
    sb.set_faults(None)
    with _client(sb) as client:
        remaining = plan(client, spec)
        return {
            "outcomes": outcomes,
            "retried": retried,
            "faults": faults,
            "in_sync": not remaining.has_changes,
            "export": _canonical(export(client).section),
            "names": _names(client),
        }


@pytest.fixture(scope="module")
def clean_provision(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    with Sandbox() as sb:
        mp = pytest.MonkeyPatch()
        spec = load_config(REPO / "config" / "sugar-bridge.yaml").sugar
        for user in spec.users:
            env = getattr(user.password, "env", None)
            if env:
                mp.setenv(env, f"Pw-{user.user_name}-1!")
        try:
            return _provision_state(sb, spec, tmp_path_factory.mktemp("clean"), 0.0)
        finally:
            mp.undo()


@pytest.mark.parametrize("mix", MIXES)
@pytest.mark.parametrize("rate", RATES)
def test_provision_apply_converges_under_faults(
    rate: float,
    mix: str,
    clean_provision: dict[str, Any],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="connectors.sugar")
    with Sandbox() as sb:
        faulty = _provision_state(sb, _example_spec(), tmp_path, rate, mix)
    assert clean_provision["outcomes"] == ["ok"]
    assert faulty["faults"] > 0, "no fault was injected: the test proves nothing"
    assert faulty["in_sync"], "after the reruns Sugar matches the spec"
    assert faulty["export"] == clean_provision["export"], "same state as the fault-free run"
    for kind, counts in faulty["names"].items():
        assert set(counts.values()) == {1}, f"duplicate {kind}: {counts.most_common(3)}"
    assert faulty["names"] == clean_provision["names"]
    # What was retried is reported: the client's counters and a warning per retry.
    assert faulty["retried"] > 0
    assert any("retry" in r.getMessage() for r in caplog.records)


# --- segment push -----------------------------------------------------------------------------

SEGMENTS = ["Champions", "Loyal", "At risk", "Can't lose them"]
PHASE_2 = {
    "C000": {"rfm_segment": "Lost", "lifecycle_stage": "declining"},
    "C003": {"lifecycle_stage": "declining", "n_orders": 40},
    "C005": {"rfm_segment": "At risk"},
    "C008": {"clv_12m": 5000},
    "C011": {"rfm_segment": "Champions", "p_alive": 0.5},
}


def _seed(wh: Warehouse) -> None:
    for i in range(16):
        wh.add_customer(
            f"C{i:03d}",
            f"Customer {i}",
            f"c{i}@example.com",
            rfm_segment=SEGMENTS[i % 4],
            n_orders=i + 1,
        )
    wh.analyse()


def _push_until_ok(
    wh: Warehouse, sb: Sandbox, faults: Faults | None, faulty_runs: int
) -> tuple[list[str], int]:
    """Push like the nightly job until a run is clean; (outcomes, retries reported by runs)."""
    config = push_config(batch_size=4)
    outcomes: list[str] = []
    retried = 0
    sb.set_faults(faults)
    for attempt in range(MAX_RUNS):
        if attempt == faulty_runs:
            sb.set_faults(None)
        try:
            info: PushRunInfo = push_segments(
                wh.engine, lambda: _client(sb), config, as_of=wh.as_of
            )
        except SugarError as exc:
            outcomes.append(f"failed: {type(exc).__name__}")
            continue
        outcomes.append(info.status)
        calls = getattr(info, "sugar_calls", {}) or {}
        retried += int(calls.get("retries", 0)) + int(calls.get("relogins", 0))
        retried += info.failed + info.list_failed + info.tasks_failed
        if info.status == "ok":
            return outcomes, retried
    raise AssertionError(f"no clean push after {MAX_RUNS} runs: {outcomes}")


def _sugar_state(sb: Sandbox) -> dict[str, Any]:
    with _client(sb) as client:
        return sugar_push_state(client)


def _push_scenario(tmp_path: Path, rate: float, mix: str = "all") -> dict[str, Any]:
    engine = create_engine_for(f"sqlite:///{tmp_path / f'push-{rate}.db'}")
    metadata.create_all(engine)
    wh = Warehouse(engine)
    sb = make_sandbox()
    try:
        _seed(wh)
        with _client(sb) as client:  # one account exists already (matched by email)
            client.module("Accounts").create({"name": "Customer 1", "email1": "c1@example.com"})
        faults = _faults(rate, mix, seed=int(rate * 1000) + 11) if rate else None
        outcomes, retried = _push_until_ok(wh, sb, faults, _faulty_runs(mix))
        for cid, values in PHASE_2.items():
            wh.set(cid, **values)
        wh.analyse()
        more, retried_more = _push_until_ok(wh, sb, faults, _faulty_runs(mix))
        injected = sum(sb.stats.faults.values())
        bulk_calls = sb.stats.calls["bridge_save_records"]
        member_reads = sb.stats.calls["bridge_get_related_ids"]
        sb.set_faults(None)
        return {
            "bulk_calls": bulk_calls,
            "member_reads": member_reads,
            "state": _sugar_state(sb),
            "outcomes": outcomes + more,
            "retried": retried + retried_more,
            "faults": injected,
        }
    finally:
        sb.close()
        engine.dispose()


@pytest.fixture(scope="module")
def clean_push(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _push_scenario(tmp_path_factory.mktemp("clean-push"), 0.0)


@pytest.mark.parametrize("mix", MIXES)
@pytest.mark.parametrize("rate", RATES)
def test_segment_push_converges_under_faults(
    rate: float, mix: str, clean_push: dict[str, Any], tmp_path: Path
) -> None:
    faulty = _push_scenario(tmp_path, rate, mix)
    assert clean_push["outcomes"] == ["ok", "ok"]
    assert faulty["faults"] > 0, "no fault was injected: the test proves nothing"
    # The default path writes accounts and follow-ups with the extension's bulk method.
    assert clean_push["bulk_calls"] > 0
    assert faulty["bulk_calls"] > 0
    # ... and reads the lists' members in one request each (bridge_get_related_ids).
    assert clean_push["member_reads"] > 0
    assert faulty["member_reads"] > 0
    clean, state = clean_push["state"], faulty["state"]
    assert set(state["per_external_id"].values()) == {1}, "no duplicate account"
    assert state["values"] == clean["values"]
    assert state["lists"] == clean["lists"]
    assert set(state["followups"].values()) == {1}, "no duplicate task or call"
    assert state["followups"] == clean["followups"]
    assert faulty["retried"] > 0, "the runs report what they retried"
