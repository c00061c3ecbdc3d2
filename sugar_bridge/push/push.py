"""The push: segments and habits from the warehouse into Sugar accounts, lists and tasks.

``push_segments`` is the library entry point (the ``segments push`` command and the sync pipeline
call it). Steps, each visible in the returned :class:`PushRunInfo`:

1. read the customers with statistics (``customer_habits``) and Sugar's accounts;
2. match them (external id → email → name), record matches in ``dim_customer``, list the
   ambiguous ones, create accounts for customers without one (policy ``push.match.unmatched``);
3. diff each account's mapped values against the snapshot of the last verified push, and write
   only the changed accounts in batches: with the extension's ``bridge_save_records`` where Sugar
   has it (AOD indexing deferred, each record verified from the stored values it answers), else
   ``set_entries`` read back with ``get_entries``; over up to ``push.sessions`` sessions, the
   number adapted to Sugar's throughput (the snapshot takes only what Sugar showed stored);
4. reconcile one target list per segment;
5. create the follow-up tasks of accounts that entered a stage.

A row that did not stick is logged as failed with the reason and, its snapshot unchanged, sent
again by the next run; the run still completes for the others (status ``partial``).
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine

from connectors.sugar.adaptive import AdaptiveConcurrency
from connectors.sugar.aod import aod_indexing
from connectors.sugar.client import SugarClient
from connectors.sugar.extension.bulk import bulk_support
from connectors.sugar.pool import Outcome, SessionPool, sum_stats
from etl.runs import RunStatus, describe_error, run_ledger
from sugar_bridge.push import store
from sugar_bridge.push.config import PushConfig
from sugar_bridge.push.diff import FieldSpec, changed_fields, desired_values, resolve_fields
from sugar_bridge.push.exceptions import MissingFieldsError
from sugar_bridge.push.followups import Trigger, detect, run_followups
from sugar_bridge.push.lists import reconcile_lists
from sugar_bridge.push.match import Account, MatchResult, match_customers
from sugar_bridge.push.store import CustomerRow, LogEntry, Pushed
from sugar_bridge.push.sugar_io import (
    Expect,
    RowResult,
    WriteRow,
    read_accounts,
    write_batch,
    write_batch_bulk,
)
from sugar_bridge.push.values import sugar_datetime

log = logging.getLogger(__name__)

#: ``push.sessions: auto``: the most sessions the push may adapt up to.
AUTO_MAX_SESSIONS = 4

Progress = Callable[[str, int, int], None]
"""``progress(step, done, total)``: called as the push advances (for a progress bar)."""

ClientFactory = Callable[[], SugarClient]
"""Builds a new client (its own HTTP session, hence its own Sugar session) on each call."""


@dataclass
class PushRunInfo:
    """What one push did: counts per outcome, segment transitions, timings."""

    run_id: int
    as_of: date
    dry_run: bool
    full: bool
    status: RunStatus = "running"  # ok | partial | failed
    customers: int = 0
    matched: int = 0
    ambiguous: int = 0
    unmatched: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    verified: int = 0
    list_added: int = 0
    list_removed: int = 0
    list_failed: int = 0
    tasks_created: int = 0
    tasks_failed: int = 0
    sugar_writes: int = 0
    transitions: dict[str, int] = field(default_factory=dict)  # "old → new" segment: accounts
    sample: list[dict[str, Any]] = field(default_factory=list)  # a few planned changes
    timings: dict[str, float] = field(default_factory=dict)  # step: seconds
    sugar_calls: dict[str, Any] = field(default_factory=dict)  # HTTP calls, retries, re-logins
    # How the accounts were written: method, AOD, the sessions chosen and why (WritePlan.details)
    writes: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # said in the run's details and the CLI
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when everything was written and verified."""
        return self.status == "ok"

    def counts(self) -> dict[str, int]:
        """The counters, for ``push_run`` and reports."""
        return {
            k: v
            for k, v in asdict(self).items()
            if isinstance(v, int) and not isinstance(v, bool) and k != "run_id"
        }


def _now() -> datetime:
    # Run bookkeeping only (start/end times, the "updated" field); figures depend on as_of alone.
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


@dataclass
class _Plan:
    """The rows to write and what they mean for the log."""

    rows: list[WriteRow] = field(default_factory=list)
    old: dict[int, dict[str, str | None]] = field(
        default_factory=dict
    )  # customer_key -> old values
    entries: list[LogEntry] = field(default_factory=list)  # failures found while planning


def push_segments(
    engine: Engine,
    client_factory: ClientFactory,
    config: PushConfig,
    *,
    as_of: date,
    dry_run: bool = False,
    full: bool = False,
    progress: Progress | None = None,
) -> PushRunInfo:
    """Push the latest ``customer_habits`` to Sugar (see the module docstring).

    ``client_factory`` builds a new, independent SugarClient per call (e.g.
    ``lambda: make_client(settings)``): one for reads, and one per concurrent writing session
    (``config.sessions``). ``dry_run`` reads Sugar and the warehouse and writes to neither (but
    records the run). ``full`` resends every mapped value, changed or not. Raises PushError for a
    setup problem (no statistics, missing fields); Sugar errors of single batches, lists or tasks
    are recorded and make the run ``partial`` instead.
    """
    started = _now()
    run = store.start_run(engine, as_of, dry_run=dry_run, full=full, now=started)
    run_id = run.run_id
    info = PushRunInfo(run_id=run_id, as_of=as_of, dry_run=dry_run, full=full)
    try:
        _run(engine, client_factory, config, info, started, progress)
    except BaseException as exc:
        info.status = "failed"
        info.error = describe_error(exc)
        store.finish_run(
            run,
            status="failed",
            counts=info.counts(),
            details=_details(info),
            error=info.error,
            now=_now(),
        )
        raise
    failures = info.failed + info.list_failed + info.tasks_failed
    info.status = "partial" if failures else "ok"
    store.finish_run(
        run,
        status=info.status,
        counts=info.counts(),
        details=_details(info),
        error=None,
        now=_now(),
    )
    log.info(
        "push run %d %s: %d matched, %d created, %d updated, %d unchanged, %d failed, "
        "lists +%d/-%d, %d tasks, %d Sugar writes",
        run_id,
        info.status,
        info.matched,
        info.created,
        info.updated,
        info.unchanged,
        info.failed,
        info.list_added,
        info.list_removed,
        info.tasks_created,
        info.sugar_writes,
    )
    return info


@dataclass
class MatchInfo:
    """What :func:`match_accounts` found."""

    run_id: int
    customers: int = 0
    accounts: int = 0
    matched: int = 0
    new_matches: int = 0
    ambiguous: int = 0
    unmatched: int = 0
    by_method: dict[str, int] = field(default_factory=dict)


def match_accounts(engine: Engine, client_factory: ClientFactory, config: PushConfig) -> MatchInfo:
    """Match warehouse customers to Sugar accounts and record it, without writing to Sugar.

    Reads every account (get_entry_list: id, name, email1, assigned user, external id), records
    new matches in ``dim_customer`` and replaces the list of ambiguous/unmatched customers that
    ``segments unmatched`` shows. The push does the same as its first step.
    """
    now = _now()
    with run_ledger(engine, "push", source="match", started_at=now) as run:
        rows, _ = store.load_customers(engine, config.match.external_id_format)
        client = client_factory()
        try:
            accounts = read_accounts(client.module("Accounts"), config.match.external_id_field)
        finally:
            client.close()
        result = match_customers(
            [r.customer for r in rows], accounts, config.match.order, config.match.name_suffixes
        )
        info = PushRunInfo(run_id=run.run_id, as_of=now.date(), dry_run=False, full=False)
        by_key = {r.customer.customer_key: r for r in rows}
        _record_match(engine, config, info, result, by_key, {a.id: a for a in accounts}, now)
        out = MatchInfo(
            run_id=run.run_id,
            customers=len(rows),
            accounts=len(accounts),
            matched=info.matched,
            new_matches=sum(1 for m in result.matches.values() if m.new),
            ambiguous=info.ambiguous,
            unmatched=info.unmatched,
            by_method=dict(Counter(m.method for m in result.matches.values())),
        )
        run.details = asdict(out)
    return out


def _details(info: PushRunInfo) -> dict[str, Any]:
    return {
        "transitions": info.transitions,
        "sample": info.sample,
        "timings": info.timings,
        "sugar_calls": info.sugar_calls,
        "writes": info.writes,
        "warnings": info.warnings,
        "list_failed": info.list_failed,
        "tasks_failed": info.tasks_failed,
    }


class _Timer:
    def __init__(self, info: PushRunInfo) -> None:
        self.info = info
        self.last = time.perf_counter()

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        self.info.timings[step] = round(now - self.last, 3)
        self.last = now


def _run(
    engine: Engine,
    client_factory: ClientFactory,
    config: PushConfig,
    info: PushRunInfo,
    now: datetime,
    progress: Progress | None,
) -> None:
    timer = _Timer(info)
    rows, habits_as_of = store.load_customers(engine, config.match.external_id_format)
    if habits_as_of is not None and habits_as_of != info.as_of:
        log.warning(
            "customer_habits is as of %s, the push was asked for %s: pushing the statistics of %s",
            habits_as_of,
            info.as_of,
            habits_as_of,
        )
    info.customers = len(rows)
    main = client_factory()
    try:
        specs = _resolve(main, config)
        warning = store.clv_warning(engine)
        held = [s.field for s in specs if s.column in store.CLV_COLUMNS]
        if warning and held:
            # Never pushed silently: the model fields keep their values in Sugar.
            specs = [s for s in specs if s.column not in store.CLV_COLUMNS]
            info.warnings.append(f"{warning}: {', '.join(held)} not pushed")
            log.warning("%s: %s not pushed", warning, ", ".join(held))
        accounts = read_accounts(main.module("Accounts"), config.match.external_id_field)
        timer.lap("read")
        result = match_customers(
            [r.customer for r in rows], accounts, config.match.order, config.match.name_suffixes
        )
        by_key = {r.customer.customer_key: r for r in rows}
        by_id = {a.id: a for a in accounts}
        _record_match(engine, config, info, result, by_key, by_id, now)
        timer.lap("match")

        snapshot = store.load_snapshot(engine)
        stamp = sugar_datetime(now)
        plan, desired_all = _plan(config, specs, rows, result, snapshot, info, stamp)
        _dry_run_report(config, specs, plan, info)
        timer.lap("diff")

        results: list[RowResult] = []
        if not info.dry_run and plan.rows:
            how = write_plan(main, config)
            results = _write(engine, client_factory, config, how, plan, info, now, progress)
        if plan.entries and not info.dry_run:
            store.write_log(engine, info.run_id, plan.entries, now)
        timer.lap("write")

        # Accounts that exist in Sugar now: matched ones, and created ones that were read back.
        account_of = {k: m.account_id for k, m in result.matches.items()}
        created_now = {
            r.row.customer_key: r.account_id
            for r in results
            if r.row.account_id is None and r.found and r.account_id
        }
        account_of.update({k: v for k, v in created_now.items() if v})

        if config.target_lists.enabled:
            _lists(main, config, specs, rows, account_of, desired_all, info, engine, now, progress)
            timer.lap("lists")
        if config.followups:
            triggers = _triggers(config, specs, by_key, by_id, account_of, desired_all, snapshot)
            # Follow-ups in bulk where the extension has it (bridge_info: one read, only when a
            # rule fired).
            bulk = (
                bool(triggers)
                and not info.dry_run
                and config.write_method == "auto"
                and bulk_support(main).available
            )
            fres, entries = run_followups(
                engine,
                main,
                triggers,
                as_of=info.as_of,
                run_id=info.run_id,
                now=now,
                dry_run=info.dry_run,
                bulk=bulk,
            )
            info.tasks_created = fres.planned if info.dry_run else fres.created
            info.tasks_failed = fres.failed
            info.sugar_writes += fres.writes
            store.write_log(engine, info.run_id, entries, now)
            timer.lap("followups")
    finally:
        info.sugar_calls = sum_stats([info.sugar_calls, main.stats.snapshot()])
        main.close()


def _resolve(client: SugarClient, config: PushConfig) -> list[FieldSpec]:
    """Field specs with Sugar's types (Sugar method ``get_module_fields``); refuses to push into
    fields Sugar does not have."""
    wanted = [m.field for m in config.fields.values()] + [config.match.external_id_field]
    if config.updated_field:
        wanted.append(config.updated_field)
    known = client.module("Accounts").fields(wanted).module_fields
    missing = [f for f in wanted if f not in known]
    if missing:
        raise MissingFieldsError(missing)
    return resolve_fields(config, known)


def _record_match(
    engine: Engine,
    config: PushConfig,
    info: PushRunInfo,
    result: MatchResult,
    by_key: dict[int, CustomerRow],
    by_id: dict[str, Account],
    now: datetime,
) -> None:
    info.matched = len(result.matches)
    info.ambiguous = len(result.ambiguous)
    info.unmatched = len(result.unmatched) - info.ambiguous
    issues = []
    for u in result.unmatched.values():
        if u.reason == "no_account" and config.match.unmatched != "report":
            continue
        issues.append(
            {
                "customer_key": u.customer_key,
                "reason": u.reason,
                "method": u.method,
                "detail": u.detail,
                "candidates": [
                    {
                        "id": i,
                        "name": by_id[i].name,
                        "email": by_id[i].email,
                        "external_id": by_id[i].external_id,
                    }
                    for i in u.candidates
                    if i in by_id
                ],
            }
        )
    if info.dry_run:
        return
    changes: list[tuple[int, str | None, str | None]] = []
    for key, match in result.matches.items():
        if match.new:
            changes.append((key, match.account_id, match.method))
    for key in result.unmatched:
        if by_key[key].customer.sugar_account_id:  # its account is gone or now ambiguous
            changes.append((key, None, None))
    store.record_matches(engine, changes, now)
    store.replace_match_issues(engine, info.run_id, issues, now)


def _plan(
    config: PushConfig,
    specs: list[FieldSpec],
    rows: list[CustomerRow],
    result: MatchResult,
    snapshot: dict[str, dict[str, Pushed]],
    info: PushRunInfo,
    stamp: str,
) -> tuple[_Plan, dict[int, dict[str, str]]]:
    """The rows to write, and every customer's desired values (for lists and follow-ups)."""
    plan = _Plan()
    desired_all: dict[int, dict[str, str]] = {}
    ext_field = config.match.external_id_field
    kinds = {s.field: s for s in specs}
    create = config.match.unmatched == "create"
    for row in rows:
        key = row.customer.customer_key
        match = result.matches.get(key)
        unmatched = result.unmatched.get(key)
        if match is None and not (
            create and unmatched is not None and unmatched.reason == "no_account"
        ):
            continue
        try:
            desired = desired_values(row.habits, specs)
        except ValueError as exc:
            info.failed += 1
            plan.entries.append(
                LogEntry(
                    "update" if match else "create",
                    "failed",
                    match.account_id if match else None,
                    key,
                    error=str(exc),
                )
            )
            continue
        desired[ext_field] = row.customer.external_id
        desired_all[key] = desired

        def expect(values: dict[str, str], stamped: dict[str, Any]) -> dict[str, Expect]:
            out = {}
            for name, value in values.items():
                spec = kinds.get(name)
                out[name] = (
                    Expect(value, spec.kind, spec.precision) if spec else Expect(value, "text")
                )
            if config.updated_field and config.updated_field in stamped:
                out[config.updated_field] = Expect(stamp, "datetime")
            return out

        if match is not None:
            previous = {f: p.value for f, p in snapshot.get(match.account_id, {}).items()}
            changes = changed_fields(desired, previous or None, full=info.full, specs=kinds)
            if not changes:
                info.unchanged += 1
                continue
            values: dict[str, Any] = {f: new for f, (_, new) in changes.items()}
            plan.old[key] = {f: old for f, (old, _) in changes.items()}
            # The stamp says when the values changed: a --full rewrite of the same values is not
            # a change (it only repairs what someone edited in Sugar).
            moved = any(old != new for old, new in changes.values())
            if config.updated_field and moved:
                values[config.updated_field] = stamp
            plan.rows.append(
                WriteRow(
                    key,
                    match.account_id,
                    values,
                    expect({f: new for f, (_, new) in changes.items()}, values),
                )
            )
        else:
            values = {
                "name": row.customer.name or row.customer.external_id,
                "account_type": config.match.account_type,
                **desired,
            }
            if row.customer.email:
                values["email1"] = row.customer.email
            # Where the orders say: an account the push creates shows its town and country in
            # Sugar's list and detail views (an existing account's address is the reps' to keep).
            if row.customer.city:
                values["billing_address_city"] = row.customer.city
            if row.customer.country:
                values["billing_address_country"] = row.customer.country
            if config.match.assigned_user_id:
                values["assigned_user_id"] = config.match.assigned_user_id
            if config.updated_field:
                values[config.updated_field] = stamp
            plan.old[key] = dict.fromkeys(desired)
            plan.rows.append(WriteRow(key, None, values, expect(desired, values)))
    return plan, desired_all


def _dry_run_report(
    config: PushConfig, specs: list[FieldSpec], plan: _Plan, info: PushRunInfo
) -> None:
    """Segment transitions and a sample of the planned rows (computed for every run)."""
    seg = next((s for s in specs if s.column == config.target_lists.column), None)
    counts: Counter[str] = Counter()
    for row in plan.rows:
        if seg is None:
            break
        old = plan.old.get(row.customer_key, {}).get(seg.field)
        new = row.values.get(seg.field)
        if new is not None and old != new:
            counts[
                f"{seg.label(old) if old else '(none)'} → {seg.label(str(new)) or '(none)'}"
            ] += 1
    info.transitions = dict(counts.most_common())
    for row in plan.rows[: config.dry_run_sample]:
        before = plan.old.get(row.customer_key, {})
        info.sample.append(
            {
                "customer_key": row.customer_key,
                "account_id": row.account_id or "(new)",
                "operation": "update" if row.account_id else "create",
                "changes": {f: [before.get(f), v] for f, v in row.values.items() if f in before},
            }
        )
    if info.dry_run:
        info.updated = sum(1 for r in plan.rows if r.account_id)
        info.created = sum(1 for r in plan.rows if not r.account_id)


@dataclass
class WritePlan:
    """How a run writes its accounts: the batch function and the session controller."""

    write: Callable[[SugarClient, list[WriteRow]], list[RowResult]]
    concurrency: AdaptiveConcurrency
    details: dict[str, Any]


def write_plan(client: SugarClient, config: PushConfig) -> WritePlan:
    """The write method and session controller for this Sugar (``bridge_info``, maybe two reads).

    ``bridge_save_records`` where the extension has it (``write_method: auto``), else
    ``set_entries``. Sessions adapt up to ``push.sessions`` — except where every save is
    indexed by AOD under its lock (``set_entries`` on a Sugar whose AOD is on, or cannot be told
    off), where more sessions are slower than one: there it is one.
    """
    maximum = AUTO_MAX_SESSIONS if config.sessions == "auto" else config.sessions
    support = bulk_support(client)
    bulk = config.write_method == "auto" and support.available
    aod = support.aod_enabled
    if aod is None and not bulk and maximum > 1:
        aod = aod_indexing(client)
    details: dict[str, Any] = {
        "method": "bridge_save_records" if bulk else "set_entries",
        "why": support.reason if config.write_method == "auto" else "push.write_method",
        "aod": {True: "on", False: "off", None: "unknown"}[aod],
        "index_deferred": bool(bulk and aod),
    }
    fixed: str | None = None
    if not config.adaptive:
        fixed = f"push.adaptive is off: push.sessions ({maximum})"
    elif not bulk and aod is not False and maximum > 1:
        maximum = 1
        fixed = (
            f"AOD indexing {details['aod']} and set_entries: each save takes the index lock, "
            "more sessions would be slower than one"
        )
    concurrency = AdaptiveConcurrency(maximum, fixed=fixed)
    details["sessions"] = concurrency.summary()
    log.info(
        "push writes with %s (%s), AOD %s, sessions: %s",
        details["method"],
        details["why"],
        details["aod"],
        concurrency.reason,
    )
    verify = config.verify

    def write(c: SugarClient, rows: list[WriteRow]) -> list[RowResult]:
        if bulk:
            return write_batch_bulk(c, rows, verify=verify)
        return write_batch(c, rows, verify=verify)

    return WritePlan(write, concurrency, details)


def _batch_failed(outcome: Outcome[list[WriteRow], list[RowResult]]) -> bool:
    """Whether a whole batch failed on a Sugar error (not rows Sugar refused one by one)."""
    if outcome.error is not None:
        return True
    results = outcome.value or []
    return bool(results) and all(r.batch_failed for r in results)


def _write(
    engine: Engine,
    client_factory: ClientFactory,
    config: PushConfig,
    how: WritePlan,
    plan: _Plan,
    info: PushRunInfo,
    now: datetime,
    progress: Progress | None,
) -> list[RowResult]:
    """Write the planned rows in batches over the session pool (as many at once as ``how``'s
    controller says); log and snapshot per batch."""
    batches = [
        plan.rows[i : i + config.batch_size] for i in range(0, len(plan.rows), config.batch_size)
    ]
    all_results: list[RowResult] = []
    done = 0
    size = max(1, min(how.concurrency.maximum, len(batches)))
    with SessionPool(client_factory, size) as pool:
        outcomes = pool.adaptive_outcomes(
            how.write, batches, how.concurrency, weight=len, failed=_batch_failed
        )
        for outcome in outcomes:
            info.sugar_writes += 1
            results = outcome.value or [
                RowResult(r, r.account_id, error=f"batch failed: {outcome.error}")
                for r in outcome.item
            ]
            entries = []
            matched_created: list[tuple[int, str | None, str | None]] = []
            for res in results:
                row = res.row
                creating = row.account_id is None
                if res.ok:
                    info.verified += 1
                    if creating:
                        info.created += 1
                    else:
                        info.updated += 1
                else:
                    info.failed += 1
                if creating and res.found and res.account_id:
                    matched_created.append((row.customer_key, res.account_id, "created"))
                new_values = {f: v for f, v in row.values.items() if f in row.expect}
                entries.append(
                    LogEntry(
                        "create" if creating else "update",
                        "ok" if res.ok else "failed",
                        res.account_id if res.found or not creating else None,
                        row.customer_key,
                        plan.old.get(row.customer_key),
                        new_values,
                        res.error,
                        res.stuck if res.found else None,
                    )
                )
            store.write_log(engine, info.run_id, entries, now)
            if matched_created:
                store.record_matches(engine, matched_created, now)
            all_results.extend(results)
            done += len(outcome.item)
            if progress is not None:
                progress("write", done, len(plan.rows))
    info.sugar_calls = pool.stats()
    info.writes = how.details | {"sessions": how.concurrency.summary()}
    return all_results


def _lists(
    client: SugarClient,
    config: PushConfig,
    specs: list[FieldSpec],
    rows: list[CustomerRow],
    account_of: dict[int, str],
    desired_all: dict[int, dict[str, str]],
    info: PushRunInfo,
    engine: Engine,
    now: datetime,
    progress: Progress | None,
) -> None:
    column = config.target_lists.column
    members: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        key = row.customer.customer_key
        account_id = account_of.get(key)
        if account_id is None or key not in desired_all:
            continue
        segment = row.habits.get(column)
        if segment:
            members[str(segment)].add(account_id)
    res = reconcile_lists(
        client,
        config.target_lists,
        members,
        dry_run=info.dry_run,
        progress=(lambda d, t: progress("lists", d, t)) if progress else None,
    )
    info.list_added, info.list_removed, info.list_failed = res.added, res.removed, res.failed
    info.sugar_writes += res.writes
    if not info.dry_run:
        store.write_log(engine, info.run_id, res.entries, now)


def _triggers(
    config: PushConfig,
    specs: list[FieldSpec],
    by_key: dict[int, CustomerRow],
    by_id: dict[str, Account],
    account_of: dict[int, str],
    desired_all: dict[int, dict[str, str]],
    snapshot: dict[str, dict[str, Pushed]],
) -> list[Trigger]:
    """The follow-up rules that fire, per account in Sugar (matched, or created by this run:
    those have no pushed history, so only ``on_first_push`` rules fire for them)."""
    spec_of = {s.column: s for s in specs}
    out = []
    for key, account_id in account_of.items():
        desired = desired_all.get(key)
        if desired is None:
            continue
        account = by_id.get(account_id)
        row = by_key[key]
        for rule in config.followups:
            spec = spec_of[rule.column]
            new_value = desired.get(spec.field, "")
            fired = detect(rule, spec, new_value, snapshot.get(account_id, {}).get(spec.field))
            if fired is None:
                continue
            from_value, from_run = fired
            context = dict(row.habits) | {
                "account_name": account.name if account else (row.customer.name or ""),
                "account_id": account_id,
                "customer_id": row.source_customer_id,
                "external_id": row.customer.external_id,
                "rule": rule.name,
                "old_value": spec.label(from_value) if from_value else "",
                "new_value": spec.label(new_value),
            }
            out.append(
                Trigger(
                    rule,
                    account_id,
                    key,
                    from_value,
                    new_value,
                    from_run,
                    context,
                    account.assigned_user_id if account else (config.match.assigned_user_id or ""),
                )
            )
    return out
