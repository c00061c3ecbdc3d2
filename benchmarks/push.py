"""Push benchmark: N changed accounts into the sandbox Sugar, at the real per-record server cost.

The sandbox (``sugar_bridge.sandbox``) sleeps ~40 ms per created and ~65 ms per updated record
(what a real SuiteCRM 7 with search indexing costs per saved record). Setup, without latency: the
segment fields are provisioned from the example config, N customers get statistics in a SQLite
warehouse, and a first push creates their N accounts. Then, with latency, each in its own process:

1. every customer's figures change, and ``push_segments`` (the default config: ``set_entries``
   batches over concurrent sessions, each batch read back) writes the N accounts;
2. the figures change again, and a one-record-per-call loop (``set_entry`` per account, one
   session, no read-back) writes the same fields of the same N accounts — the naive baseline;
3. nothing changes, and ``push_segments`` runs again: it must send no write at all.

HTTP calls are counted by the sandbox. The sandbox sleeps in parallel for parallel sessions, so
the speed-up from S sessions tends to S; the recordings measured ~1.9x for 4 sessions on a real
server (its CPU and database are shared), which bounds what more sessions bring there.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from benchmarks.common import PUSH_MODULES, Result, fresh_warehouse, measure, sqlite_url

SIZES = {"small": 500, "medium": 2_000, "large": 10_000}
PER_CREATE = 0.040
PER_UPDATE = 0.065
SEGMENTS = ("Champions", "Loyal", "At risk", "Can't lose them", "Hibernating", "Lost")
STAGES = ("new", "active", "declining", "lost")
AS_OF = date(2026, 11, 24)
REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Target:
    """Where the parts find Sugar and the warehouse (picklable for the spawned processes)."""

    url: str  # Sugar's base URL (the sandbox's, or a real one's)
    password: str  # never printed
    warehouse: str
    sessions: int
    batch_size: int
    username: str = "admin"
    write_method: str = "auto"  # push.write_method
    adaptive: bool = True  # push.adaptive
    #: The example config's push section (target lists and follow-ups on), not accounts only.
    whole_night: bool = False
    #: ``segments push --full-check``: read every record from Sugar, not only the changed ones.
    full_check: bool = False


def push_config(target: Target) -> Any:
    """The push config of the benchmark: defaults, lists and follow-ups off (accounts only); or,
    for ``whole_night``, the example config's (target lists and follow-up rules on)."""
    from sugar_bridge.config import load_config
    from sugar_bridge.push.config import PushConfig

    if target.whole_night:
        example = load_config(REPO / "config" / "sugar-bridge.yaml").push
        # No read overlap: the benchmark's nights follow each other within minutes, so the
        # default 5 minutes would re-read every account the setup saved; nights 24 h apart
        # re-read only what Sugar saved in the 5 minutes before the last read.
        return example.model_copy(
            update={
                "sessions": target.sessions,
                "batch_size": target.batch_size,
                "read_overlap_minutes": 0,
            }
        )
    return PushConfig.model_validate(
        {
            "sessions": target.sessions,
            "batch_size": target.batch_size,
            "write_method": target.write_method,
            "adaptive": target.adaptive,
            "target_lists": {"enabled": False},
        }
    )


def _client(target: Target) -> Any:
    from connectors.sugar.client import SugarClient

    return SugarClient(
        target.url, target.username, target.password, max_retries=4, backoff=0.05, timeout=(10, 300)
    )


def push_part(target: Target) -> dict[str, Any]:
    """One ``push_segments`` run; its counts and timings."""
    from etl.db import create_engine_for
    from sugar_bridge.push.push import push_segments

    engine = create_engine_for(target.warehouse)
    info = push_segments(
        engine,
        lambda: _client(target),
        push_config(target),
        as_of=AS_OF,
        full_check=target.full_check,
    )
    engine.dispose()
    return {
        "status": info.status,
        **info.counts(),
        "reads": info.reads,
        "timings": info.timings,
        "writes": info.writes,
        "calls": info.sugar_calls.get("calls") or {},
        "total_calls": info.sugar_calls.get("total_calls") or 0,
    }


def loop_part(target: Target, values: dict[str, dict[str, Any]]) -> int:
    """The naive baseline: one set_entry per account, one session, no read-back."""
    with _client(target) as client:
        accounts = client.module("Accounts")
        for account_id, fields in values.items():
            accounts.update(account_id, fields)
    return len(values)


def _habits(i: int, generation: int) -> dict[str, Any]:
    return {
        "n_orders": 3 + i % 40 + generation,
        "total_amount": 1000 + 17 * i,
        "avg_order_amount": 150 + (i % 97) + generation,
        "last_order_at": datetime(2026, 1 + i % 10, 1 + i % 27, 15, 30),
        "preferred_payment_method": ("card", "transfer", "cheque")[i % 3],
        "avg_payment_delay_days": 10.5 + i % 20,
        "r_score": 1 + (i + generation) % 5,
        "f_score": 1 + i % 5,
        "m_score": 1 + (i * 7) % 5,
        "rfm_segment": SEGMENTS[(i + generation) % len(SEGMENTS)],
        "lifecycle_stage": STAGES[(i + generation) % len(STAGES)],
        "p_alive": round(0.5 + ((i * 13 + generation) % 50) / 100, 4),
        "expected_orders_90d": 1.5,
        "clv_12m": 900.0 + i + 10 * generation,
    }


def _analyse(url: str, n: int, generation: int, figures: int | None = None) -> None:
    """One analytics run in the warehouse with generation-specific figures for every customer
    (those of generation ``figures`` when given: a new run with the same figures)."""
    from sqlalchemy import insert, select

    from etl.db import create_engine_for
    from etl.schema import analytics_run, customer_metrics, dim_customer, etl_run

    engine = create_engine_for(url)
    now = datetime(2026, 11, 24, 2, 0)
    with engine.begin() as conn:
        if generation == 0:
            conn.execute(
                insert(dim_customer),
                [
                    {
                        "source": "shop",
                        "source_customer_id": f"C{i:06d}",
                        "name": f"Customer {i}",
                        "email": f"c{i}@example.com",
                        "first_seen_at": now,
                        "updated_at": now,
                    }
                    for i in range(n)
                ],
            )
        key = conn.execute(
            insert(etl_run).values(job="analytics", started_at=now, status="ok")
        ).inserted_primary_key
        assert key is not None
        run_id = int(key[0])
        conn.execute(
            insert(analytics_run).values(
                run_id=run_id, as_of=AS_OF, n_customers=n, n_buyers=n, time_unit="weeks",
                created_at=now,
            )
        )  # fmt: skip
        keys = {
            str(r[0]): int(r[1])
            for r in conn.execute(
                select(dim_customer.c.source_customer_id, dim_customer.c.customer_key)
            )
        }
        conn.execute(
            insert(customer_metrics),
            [
                {
                    "run_id": run_id,
                    "customer_key": keys[f"C{i:06d}"],
                    "as_of": AS_OF,
                    "source": "shop",
                    "customer_id": f"C{i:06d}",
                    **_habits(i, generation if figures is None else figures),
                }
                for i in range(n)
            ],
        )
    engine.dispose()


def _loop_values(url: str, n: int, generation: int) -> dict[str, dict[str, Any]]:
    """What the loop writes: the mapped fields of every account, as the push would send them."""
    from sqlalchemy import select

    from etl.db import create_engine_for
    from etl.schema import dim_customer

    engine = create_engine_for(url)
    with engine.connect() as conn:
        ids = {
            str(r[0]): r[1]
            for r in conn.execute(
                select(dim_customer.c.source_customer_id, dim_customer.c.sugar_account_id)
            )
        }
    engine.dispose()
    out = {}
    for i in range(n):
        h = _habits(i, generation)
        out[str(ids[f"C{i:06d}"])] = {
            "segment_c": h["rfm_segment"].lower().replace("'", "").replace(" ", "_"),
            "lifecycle_stage_c": h["lifecycle_stage"],
            "rfm_score_c": h["r_score"] * 100 + h["f_score"] * 10 + h["m_score"],
            "clv_12m_c": f"{h['clv_12m']:.2f}",
            "p_alive_c": f"{h['p_alive']:.4f}",
            "n_orders_c": h["n_orders"],
            "avg_order_amount_c": f"{h['avg_order_amount']:.2f}",
            "segment_updated_c": "2026-11-24 02:00:00",
        }
    return out


def _provision(url: str, password: str, username: str = "admin", *, people: bool = False) -> None:
    """The example config's custom fields (only those: no users, roles or accounts); with
    ``people`` its users, roles and security groups too (the owner rules of a whole night name
    them)."""
    from connectors.sugar.client import SugarClient
    from sugar_bridge.config import load_config
    from sugar_bridge.provision.apply import apply

    spec = load_config(REPO / "config" / "sugar-bridge.yaml").sugar
    fields_only = spec.model_copy(
        update={"accounts": []}
        if people
        else {"users": [], "roles": [], "security_groups": [], "accounts": []}
    )
    with (
        tempfile.TemporaryDirectory() as tmp,
        SugarClient(url, username, password, timeout=(10, 300)) as client,
    ):
        apply(client, fields_only, passwords_file=Path(tmp) / "pw.tsv")


def run(size: str, workdir: Path | None = None, sessions: int = 4) -> Result:
    """Run the push benchmark at ``size`` (N changed accounts)."""
    from sugar_bridge.sandbox import Latency, Sandbox

    n = SIZES[size]
    result = Result("push", f"{size}: {n:,} changed accounts")
    with tempfile.TemporaryDirectory(dir=workdir, prefix="bench-push-") as tmp, Sandbox() as sb:
        url = sqlite_url(Path(tmp), "warehouse.db")
        fresh_warehouse(url)
        target = Target(sb.base_url, sb.admin_password, url, sessions, 50)
        _provision(sb.base_url, sb.admin_password)
        _analyse(url, n, 0)
        first = measure(
            push_part, target, warm=PUSH_MODULES
        )  # creates the N accounts, no latency yet
        if first.value["created"] != n:
            result.note(f"setup push created {first.value['created']} accounts, not {n}")

        sb.set_latency(Latency(per_create=PER_CREATE, per_update=PER_UPDATE))
        _analyse(url, n, 1)
        sb.stats.reset()
        pushed = measure(push_part, target, warm=PUSH_MODULES)
        push_calls = sb.stats.total_calls
        push_writes = sb.stats.calls.get("set_entries", 0) + sb.stats.calls.get("set_entry", 0)
        updated = pushed.value["updated"]

        _analyse(url, n, 2)
        values = _loop_values(url, n, 2)
        sb.stats.reset()
        loop = measure(loop_part, target, values, warm=PUSH_MODULES)
        loop_calls = sb.stats.total_calls

        sb.stats.reset()
        # The loop wrote generation 2 behind the push's back, so the push's snapshot is still
        # generation 1: this run re-sends generation 2 (and verifies it); the next one has
        # nothing left to send.
        again = measure(push_part, target, warm=PUSH_MODULES)
        sb.stats.reset()
        nothing = measure(push_part, target, warm=PUSH_MODULES)
        none_writes = sb.stats.total_writes
        none_calls = sb.stats.total_calls

    speedup = loop.seconds / pushed.seconds
    result.add("push: accounts updated and verified", updated, "", pushed.value["status"])
    result.add(f"push ({sessions} sessions, batches of 50)", pushed.seconds, "s")
    result.add("push: accounts/s", updated / pushed.seconds, "acc/s")
    result.add("push: HTTP calls", push_calls, "", f"{push_writes} set_entries")
    result.add("push: HTTP calls per account", push_calls / n, "")
    result.add("push: peak RSS", pushed.peak_mib, "MiB")
    result.add("loop (set_entry per account)", loop.seconds, "s")
    result.add("loop: accounts/s", n / loop.seconds, "acc/s")
    result.add("loop: HTTP calls per account", loop_calls / n, "")
    result.add("speed-up push / loop", speedup, "x")
    result.add(
        "push after the loop (re-sync)", again.seconds, "s", f"{again.value['updated']} updated"
    )
    result.add("no-change push", nothing.seconds, "s", f"{none_calls} calls (reads)")
    result.add("no-change push: writes", none_writes, "")
    result.headline(
        f"{n:,} accounts: push vs 1-per-call loop",
        f"{pushed.seconds:.1f} vs {loop.seconds:.1f} s ({speedup:.1f}x)",
        "faster than the loop",
        speedup > 1,
    )
    result.headline(
        "HTTP calls per account",
        f"{push_calls / n:.3f} (loop {loop_calls / n:.2f})",
    )
    result.headline("no-change push: writes", f"{none_writes}", "0", none_writes == 0)
    result.note(
        f"sandbox latency {PER_CREATE * 1000:.0f} ms per created, {PER_UPDATE * 1000:.0f} ms "
        "per updated record; the sandbox sleeps in parallel for parallel sessions (ideal "
        "scaling), a real server gave ~1.9x for 4 sessions"
    )
    return result


# --- sessions x AOD matrix ----------------------------------------------------------------------

#: Where SuiteCRM keeps AOD's Lucene index (``AOD_Index::getIndex``'s location).
AOD_INDEX_DIR = Path("modules/AOD_Index/Index/Index")

AodSwitch = Callable[[str], None]
"""Turns the target Sugar's AOD search indexing ``"on"`` or ``"off"``."""


def index_events_since(target: Target, since: str) -> int | None:
    """AOD_IndexEvent rows modified since ``since`` (Sugar's UTC ``Y-m-d H:i:s``): one per record
    AOD indexed (``get_entries_count``); None when the Sugar has no such module (the sandbox)."""
    from connectors.sugar.exceptions import SugarError

    with _client(target) as client:
        try:
            answer = client.call(
                "get_entries_count",
                module_name="AOD_IndexEvent",
                query=f"aod_indexevent.date_modified >= '{since}'",
                deleted=0,
            )
        except SugarError:
            return None
    return int(answer.get("result_count") or 0) if isinstance(answer, dict) else None


def sugar_now(target: Target) -> str:
    """Sugar's clock (``get_server_info``'s ``gmt_time``), to count what a part indexed."""
    with _client(target) as client:
        return str(client.call("get_server_info").get("gmt_time", ""))


def command_switch(command: str) -> AodSwitch:
    """An ``AodSwitch`` running ``<command> on|off`` (e.g. ``bash .ci/suitecrm.sh aod``); waits
    past PHP's opcache revalidation (2 s) so the next request reads the new config."""
    import shlex
    import subprocess
    import time

    def switch(mode: str) -> None:
        subprocess.run([*shlex.split(command), mode], check=True, stdout=subprocess.DEVNULL)  # noqa: S603 (the operator's own command)
        time.sleep(3)

    return switch


def _files(folder: Path | None) -> int | None:
    """Files in the Lucene index folder (its segments pile up while writers collide)."""
    if folder is None or not folder.is_dir():
        return None
    return sum(1 for _ in folder.iterdir())


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def run_matrix(
    target: Target,
    n: int,
    *,
    sessions: tuple[int, ...],
    aod_modes: tuple[str, ...],
    switch: AodSwitch | None,
    repeat: int,
    warehouse_dir: Path,
    label: str,
    index_dir: Path | None = None,
) -> Result:
    """Full pushes of ``n`` accounts with each session count and AOD mode, interleaved, ``repeat``
    rounds: every push updates all ``n`` accounts (each customer's figures change before it)."""
    result = Result("push", f"{label}: {n:,} accounts, sessions {sessions}, AOD {aod_modes}")
    url = sqlite_url(warehouse_dir, "warehouse.db")
    fresh_warehouse(url)
    _provision(target.url, target.password, target.username)
    generation = 0
    _analyse(url, n, generation)
    setup = measure(push_part, replace(target, warehouse=url, sessions=max(sessions)),
                    warm=PUSH_MODULES)  # fmt: skip
    result.note(
        f"setup push (untimed): {setup.value['created']} created, {setup.value['updated']} "
        f"updated, {setup.value['unchanged']} unchanged, status {setup.value['status']}"
    )
    times: dict[tuple[str, int], list[float]] = {}
    for round_no in range(1, repeat + 1):
        for mode in aod_modes:
            if switch is not None:
                switch(mode)
            for s in sessions:
                generation += 1
                _analyse(url, n, generation)
                part = replace(target, warehouse=url, sessions=s)
                since = sugar_now(part)
                files_before = _files(index_dir)
                pushed = measure(push_part, part, warm=PUSH_MODULES)
                events = index_events_since(part, since)
                files = _files(index_dir)
                times.setdefault((mode, s), []).append(pushed.seconds)
                indexed = "" if events is None else f", {events} AOD index events"
                if files is not None:
                    indexed += f", Lucene files {files_before} -> {files}"
                result.add(
                    f"round {round_no}: AOD {mode}, {s} session(s)",
                    pushed.seconds,
                    "s",
                    f"{pushed.value['updated']} updated, status {pushed.value['status']}{indexed}",
                )
    for mode in aod_modes:
        base = _median(times[(mode, min(sessions))])
        for s in sessions:
            t = times[(mode, s)]
            result.add(
                f"AOD {mode}, {s} session(s): median",
                _median(t),
                "s",
                f"min {min(t):.1f}, max {max(t):.1f} s; x{base / _median(t):.2f} vs "
                f"{min(sessions)} session(s)",
            )
    for s in sessions:
        if "on" in aod_modes and "off" in aod_modes:
            on, off = _median(times[("on", s)]), _median(times[("off", s)])
            result.add(f"{s} session(s): AOD on / AOD off", on / off, "x")
    return result


def live_switch(suitecrm_root: Path | None) -> AodSwitch | None:
    """``.ci/suitecrm.sh aod`` for the Sugar whose files are at ``suitecrm_root`` (the script's
    layout: the root is ``<SUGAR_BRIDGE_SUITECRM_DIR>/www``); None without them."""
    if suitecrm_root is None:
        return None
    script = REPO / ".ci" / "suitecrm.sh"
    return command_switch(f"env SUGAR_BRIDGE_SUITECRM_DIR={suitecrm_root.parent} bash {script} aod")


def _delete_accounts(target: Target, warehouse: str) -> int:
    """Mark deleted the accounts the benchmark's warehouse matched (what it created)."""
    from sqlalchemy import select

    from connectors.sugar.extension.bulk import save_records
    from etl.db import create_engine_for
    from etl.schema import dim_customer

    engine = create_engine_for(warehouse)
    with engine.connect() as conn:
        ids = [str(r[0]) for r in conn.execute(select(dim_customer.c.sugar_account_id)) if r[0]]
    engine.dispose()
    with _client(target) as client:
        for start in range(0, len(ids), 200):
            save_records(
                client, "Accounts", [{"id": i, "deleted": 1} for i in ids[start : start + 200]]
            )
    return len(ids)


#: The two paths of ``push --live``: the stock one (set_entries, one session, read back) and the
#: default (bulk where the extension has it, adaptive sessions up to ``push.sessions``' default).
LIVE_PARTS = {
    "set_entries, 1 session": {"write_method": "set_entries", "sessions": 1, "adaptive": False},
    "default": {"write_method": "auto", "sessions": 4, "adaptive": True},
}


def run_live(
    url: str,
    username: str,
    password: str,
    *,
    accounts: int,
    aod_modes: tuple[str, ...] = ("off", "on"),
    switch: AodSwitch | None = None,
    repeat: int = 2,
    workdir: Path | None = None,
    keep: bool = False,
) -> Result:
    """``push --live``: the same ``accounts`` pushed in full (every account changed) by the
    plain ``set_entries`` path with one session and by the default path, side by side, each AOD
    mode, ``repeat`` rounds (the order of the two parts alternates per round). Accounts/s are
    of the write phase (``timings.write``); every write is verified either way. The benchmark's
    accounts are marked deleted at the end unless ``keep``."""
    if switch is None and len(aod_modes) > 1:
        raise ValueError("several AOD modes need the Sugar's files (SUGAR_LIVE_SUITECRM_ROOT)")
    result = Result("push", f"live {url}: {accounts:,} accounts, AOD {aod_modes}, {repeat} rounds")
    rates: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory(dir=workdir, prefix="bench-push-live-") as tmp:
        warehouse = sqlite_url(Path(tmp), "warehouse.db")
        fresh_warehouse(warehouse)
        base = Target(url, password, warehouse, 4, 50, username=username)
        _provision(url, password, username)
        generation = 0
        _analyse(warehouse, accounts, generation)
        setup = measure(push_part, base, warm=PUSH_MODULES)
        result.note(
            f"setup push (untimed): {setup.value['created']} created, status "
            f"{setup.value['status']}"
        )
        try:
            for round_no in range(1, repeat + 1):
                for mode in aod_modes:
                    if switch is not None:
                        switch(mode)
                    parts = list(LIVE_PARTS.items())
                    for label, options in parts if round_no % 2 else parts[::-1]:
                        generation += 1
                        _analyse(warehouse, accounts, generation)
                        pushed = measure(push_part, replace(base, **options), warm=PUSH_MODULES)
                        value = pushed.value
                        write = float(value["timings"].get("write") or pushed.seconds)
                        rate = value["verified"] / write if write else 0.0
                        rates.setdefault((mode, label), []).append(rate)
                        how = value["writes"]
                        result.add(
                            f"round {round_no}: AOD {mode}, {label}",
                            rate,
                            "acc/s",
                            f"{value['verified']}/{accounts} verified, {value['status']}, write "
                            f"{write:.1f} s, push {pushed.seconds:.1f} s; {how.get('method')}, "
                            f"{how.get('sessions', {}).get('chosen')} session(s): "
                            f"{how.get('sessions', {}).get('reason')}",
                        )
        finally:
            if switch is not None:
                switch(aod_modes[0])
            if not keep:
                result.note(f"marked deleted afterwards: {_delete_accounts(base, warehouse)}")
    for mode in aod_modes:
        plain = _median(rates[(mode, "set_entries, 1 session")])
        default = _median(rates[(mode, "default")])
        target = 5.0 if mode == "on" else 2.0
        result.headline(
            f"AOD {mode}: accounts/s, set_entries 1 session -> default",
            f"{plain:.1f} -> {default:.1f} (x{default / plain:.2f})",
            f">= x{target:.0f}" + (", >= 150 acc/s" if mode == "off" else ""),
            default >= target * plain and (mode == "on" or default >= 150),
        )
    return result


def run_sugar(
    url: str,
    username: str,
    password: str,
    *,
    accounts: int,
    sessions: tuple[int, ...] = (1, 2, 4),
    aod_modes: tuple[str, ...] = ("off", "on"),
    aod_command: str | None = None,
    repeat: int = 2,
    workdir: Path | None = None,
    suitecrm_root: Path | None = None,
) -> Result:
    """The matrix against a real Sugar at ``url`` (it keeps the benchmark's accounts: use a
    scratch instance). Without ``aod_command`` the AOD mode is whatever the Sugar has, so give a
    single mode. ``suitecrm_root`` (the Sugar's files, when local): report the Lucene index's
    file count around each part."""
    if aod_command is None and len(aod_modes) > 1:
        raise ValueError("several AOD modes need --aod-command to switch the Sugar between them")
    with tempfile.TemporaryDirectory(dir=workdir, prefix="bench-push-") as tmp:
        target = Target(url, password, "", 1, 50, username=username)
        switch = command_switch(aod_command) if aod_command else None
        return run_matrix(
            target, accounts, sessions=sessions, aod_modes=aod_modes, switch=switch,
            repeat=repeat, warehouse_dir=Path(tmp), label=f"real Sugar {url}",
            index_dir=suitecrm_root / AOD_INDEX_DIR if suitecrm_root else None,
        )  # fmt: skip


#: The sandbox's costs in the matrix: per updated record, the server's cores, and AOD's index
#: write (``AodIndex`` defaults), chosen so that its ratios resemble the real SuiteCRM 7.15's
#: (benchmarks/README.md, "Sessions and AOD").
MATRIX_PER_UPDATE = 0.015
MATRIX_WORKERS = 2


def run_sandbox_matrix(
    accounts: int,
    *,
    sessions: tuple[int, ...] = (1, 2, 4),
    aod_modes: tuple[str, ...] = ("off", "on"),
    repeat: int = 2,
    workdir: Path | None = None,
) -> Result:
    """The same matrix against the sandbox with its AOD model (``Sandbox.set_aod``)."""
    from sugar_bridge.sandbox import Latency, Sandbox

    with (
        tempfile.TemporaryDirectory(dir=workdir, prefix="bench-push-") as tmp,
        Sandbox() as sb,
    ):
        target = Target(sb.base_url, sb.admin_password, "", 1, 50)
        latency = Latency(per_update=MATRIX_PER_UPDATE, workers=MATRIX_WORKERS)

        def switch(mode: str) -> None:
            sb.set_latency(latency)
            sb.set_aod(mode == "on")

        result = run_matrix(
            target, accounts, sessions=sessions, aod_modes=aod_modes, switch=switch,
            repeat=repeat, warehouse_dir=Path(tmp), label="sandbox AOD model",
        )  # fmt: skip
    result.note(
        f"sandbox: {MATRIX_PER_UPDATE * 1000:.0f} ms per updated record on {MATRIX_WORKERS} "
        "workers; AOD on: AodIndex() defaults (index write per record under one lock, more when "
        "it had to wait)"
    )
    return result


# --- a no-change night ---------------------------------------------------------------------------


def run_no_change(
    accounts: int,
    *,
    url: str | None = None,
    username: str = "admin",
    password: str = "",
    workdir: Path | None = None,
    keep: bool = False,
    repeat: int = 2,
) -> Result:
    """A night where nothing changed: ``accounts`` customers already pushed (accounts, target
    lists), the same figures again, the example config's push (lists and follow-ups on).

    Against the sandbox without latency, or the real Sugar at ``url``. Setup (untimed): a first
    push creates the accounts and fills the lists. Then ``repeat`` pushes of unchanged figures,
    each timed whole (a fresh process: matching, diff, lists and follow-ups included); each must
    send no write. The benchmark's accounts are marked deleted at the end on a real Sugar unless
    ``keep``.
    """
    from contextlib import ExitStack

    from sugar_bridge.sandbox import Sandbox

    where = url or "the sandbox"
    live = url is not None
    result = Result("push", f"no-change night, {where}: {accounts:,} accounts")
    with ExitStack() as stack:
        tmp = stack.enter_context(
            tempfile.TemporaryDirectory(dir=workdir, prefix="bench-push-nochange-")
        )
        if url is None:
            sb = stack.enter_context(Sandbox())
            url, password = sb.base_url, sb.admin_password
        warehouse = sqlite_url(Path(tmp), "warehouse.db")
        fresh_warehouse(warehouse)
        target = Target(url, password, warehouse, 4, 200, username=username, whole_night=True)
        _provision(url, password, username, people=True)
        _analyse(warehouse, accounts, 0)
        setup = measure(push_part, target, warm=PUSH_MODULES)
        result.note(
            f"setup push (untimed, {setup.seconds:.0f} s): {setup.value['created']} created, "
            f"lists +{setup.value['list_added']}, status {setup.value['status']}"
        )
        try:
            times: dict[str, list[float]] = {}
            parts = [("default", target), ("--full-check", replace(target, full_check=True))]
            for round_no in range(1, repeat + 1):
                _analyse(warehouse, accounts, round_no, figures=0)  # a new run, same figures
                for label, part in parts if round_no % 2 else parts[::-1]:
                    night = measure(push_part, part, warm=PUSH_MODULES)
                    value = night.value
                    times.setdefault(label, []).append(night.seconds)
                    steps = ", ".join(f"{k} {v:.1f}" for k, v in value["timings"].items())
                    read = value["reads"].get("Accounts", {})
                    result.add(
                        f"round {round_no}: no-change push, {label}",
                        night.seconds,
                        "s",
                        f"push process CPU {night.cpu_seconds:.1f} s; "
                        f"{value['unchanged']} unchanged, {value['sugar_writes']} writes, "
                        f"{sum(value['calls'].values())} Sugar calls {value['calls']}; read "
                        f"{read.get('mode')}: {read.get('read')} records in {read.get('calls')} "
                        f"pages; {steps} s",
                    )
                    if value["sugar_writes"] or value["unchanged"] != accounts:
                        result.note(f"round {round_no}: not a no-change night: {value}")
            edited = _edit_night(target, warehouse, accounts)
            result.add(
                "night after 1 edit + 1 deletion in Sugar", edited["seconds"], "s", edited["what"]
            )
        finally:
            if live and not keep:
                result.note(f"marked deleted afterwards: {_delete_accounts(target, warehouse)}")
    for label, values in times.items():
        result.add(
            f"no-change night, {label}: best", min(values), "s", f"median {_median(values):.1f} s"
        )
    best = min(times["default"])
    result.headline(
        f"no-change night, {accounts:,} accounts ({where})",
        f"{best:.1f} s (median {_median(times['default']):.1f} s; --full-check "
        f"{min(times['--full-check']):.1f} s), 0 writes",
        "< 10 s",
        best < 10,
    )
    return result


def _edit_night(target: Target, warehouse: str, accounts: int) -> dict[str, Any]:
    """One account's segment edited and another account deleted in Sugar (as a rep would),
    then a night: the edited one is read again and its segment restored, the deleted one
    recreated; the others stay unchanged."""
    from sqlalchemy import select

    from etl.db import create_engine_for
    from etl.schema import dim_customer

    engine = create_engine_for(warehouse)
    with engine.connect() as conn:
        ids = sorted(
            str(r[0]) for r in conn.execute(select(dim_customer.c.sugar_account_id)) if r[0]
        )
    engine.dispose()
    edited_id, deleted_id = ids[0], ids[1]
    with _client(target) as client:
        module = client.module("Accounts")
        before = module.get_many([edited_id], fields=["id", "segment_c"])[edited_id]
        wrong = "lost" if before.get("segment_c") != "lost" else "champions"
        module.update(edited_id, {"segment_c": wrong})
        module.update(deleted_id, {"deleted": 1})
        night = measure(push_part, target, warm=PUSH_MODULES)
        after = module.get_many([edited_id], fields=["id", "segment_c"])[edited_id]
    value = night.value
    read = value["reads"].get("Accounts", {})
    restored = after.get("segment_c") == before.get("segment_c")
    return {
        "seconds": night.seconds,
        "what": f"read {read.get('mode')}: {read.get('read')} records ({read.get('deleted')} "
        f"deleted, {read.get('edited')} edited); {value['updated']} updated, "
        f"{value['created']} created, {value['unchanged']} unchanged of {accounts}; segment "
        f"{before.get('segment_c')!r} -> {wrong!r} in Sugar -> {after.get('segment_c')!r}: "
        f"{'restored' if restored else 'NOT restored'}",
    }
