"""The push: segments and habits from the warehouse into Sugar accounts, lists and tasks.

``push_segments`` is the library entry point (the ``segments push`` command and the sync pipeline
call it). Companies go to Sugar's Accounts and persons (B2C customers, ``push.persons``) to its
Contacts; steps 1–3 run once per module, with the same machinery. Steps, each visible in the
returned :class:`PushRunInfo`:

1. read the customers with statistics (``customer_habits``) and Sugar's accounts;
2. match them (external id → email → name), record matches in ``dim_customer``, list the
   ambiguous ones, create accounts for customers without one (policy ``push.match.unmatched``);
3. diff each account's mapped values against the snapshot of the last verified push, and write
   only the changed accounts in batches: with the extension's ``bridge_save_records`` where Sugar
   has it (AOD indexing deferred, each record verified from the stored values it answers), else
   ``set_entries`` read back with ``get_entries``; over up to ``push.sessions`` sessions, the
   number adapted to Sugar's throughput (the snapshot takes only what Sugar showed stored);
4. reconcile one target list per segment (members read in one request with the extension's
   ``bridge_get_related_ids`` where Sugar has it);
5. create the follow-up tasks of the commercial policy (:mod:`sugar_bridge.push.followups`):
   records in a watched state without an open follow-up, or that entered a value; at most
   ``push.followup_limits.per_owner_per_day`` per owner a night, the most valuable first.

Every record written and every follow-up gets an owner (:mod:`sugar_bridge.push.owners`): a
record created, or found without an owner, gets the one the ``push.owners`` rules choose; an
owner set in Sugar is kept.

A row that did not stick is logged as failed with the reason and, its snapshot unchanged, sent
again by the next run; the run still completes for the others (status ``partial``).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from analytics.i18n import Texts
from connectors.sugar.adaptive import AdaptiveConcurrency
from connectors.sugar.aod import aod_indexing
from connectors.sugar.client import SugarClient
from connectors.sugar.exceptions import SugarError
from connectors.sugar.extension.bulk import BulkSupport, bulk_support
from connectors.sugar.pool import Outcome, SessionPool, sum_stats
from etl.runs import RunStatus, describe_error, run_ledger
from sugar_bridge.push import store
from sugar_bridge.push.config import FollowupRule, PushConfig
from sugar_bridge.push.diff import FieldSpec, changed_fields, desired_values, resolve_fields
from sugar_bridge.push.exceptions import MissingFieldsError
from sugar_bridge.push.followups import (
    Trigger,
    closed_in_sugar,
    cooling,
    detect,
    holds,
    recent_buyer,
    run_followups,
    select_capped,
    value_of,
)
from sugar_bridge.push.leads import push_lead_scores
from sugar_bridge.push.lists import Members, reconcile_lists
from sugar_bridge.push.match import Account, MatchResult, match_customers
from sugar_bridge.push.moved import retire_moved
from sugar_bridge.push.owners import Assignment, OwnerPolicy, Party, SugarUser, read_directory
from sugar_bridge.push.reads import drift, read_for_push
from sugar_bridge.push.store import CustomerRow, LogEntry, Pushed
from sugar_bridge.push.sugar_io import (
    Expect,
    RowResult,
    WriteRow,
    read_records,
    write_batch,
    write_batch_bulk,
)
from sugar_bridge.push.values import sugar_datetime

log = logging.getLogger(__name__)

#: Modules the extension's ``bridge_save_records`` refuses (SAVE_REFUSED_MODULES of its PHP).
BULK_REFUSED_MODULES = frozenset({"Users", "Employees", "Contacts"})

#: The field of a record's owner in Sugar.
OWNER_FIELD = "assigned_user_id"

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
    tasks_waiting: int = 0  # over the night's per-owner cap: created on later nights
    tasks_still_open: int = 0  # state rules held back: the record's follow-up is still open
    tasks_unowned: int = 0  # follow-ups without an owner (none can be made: a check)
    owners_assigned: int = 0  # records given an owner (created, or without one in Sugar)
    retired: int = 0  # old records of customers who moved module, their fields emptied (moved.py)
    sugar_writes: int = 0
    transitions: dict[str, int] = field(default_factory=dict)  # "old → new" segment: accounts
    sample: list[dict[str, Any]] = field(default_factory=list)  # a few planned changes
    timings: dict[str, float] = field(default_factory=dict)  # step: seconds
    sugar_calls: dict[str, Any] = field(default_factory=dict)  # HTTP calls, retries, re-logins
    # How the accounts were written: method, AOD, the sessions chosen and why (WritePlan.details)
    writes: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # said in the run's details and the CLI
    # The commercial policy: what fired, what was held back and why, per owner; a sample
    followups: dict[str, Any] = field(default_factory=dict)
    owners: dict[str, Any] = field(default_factory=dict)  # records' owners: kept, by rule
    # Per Sugar module (Accounts, Contacts): customers, matched, created, updated, ...
    modules: dict[str, dict[str, int]] = field(default_factory=dict)
    # The prospect score pushed to the Leads (sugar_bridge/push/leads.py): counts of leads.
    leads: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    # How each module's records were read: full or changed since the last read, why, counts
    # (sugar_bridge.push.reads.ReadInfo), per module.
    reads: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The currency of the amounts (the analytics run's reporting currency), and whether the
    # money fields were among the fields sent (held back when it is not Sugar's, push.currency).
    currency: str | None = None
    money_pushed: bool = False

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

    def contacts(self, counter: str) -> int:
        """One counter (e.g. ``created``) for the persons pushed to Contacts."""
        return self.modules.get("Contacts", {}).get(counter, 0)


#: The counters kept per module in ``PushRunInfo.modules``.
MODULE_COUNTERS = ("matched", "ambiguous", "unmatched", "created", "updated", "unchanged", "failed")

#: Sugar module -> its link on ProspectLists (target lists).
LIST_LINK = {"Accounts": "accounts", "Contacts": "contacts"}


def module_of(config: PushConfig, row: CustomerRow) -> str:
    """``Contacts`` for a person (``push.persons``), else ``Accounts``."""
    person = config.persons.is_person(row.customer.customer_type, row.source)
    return "Contacts" if person else "Accounts"


def split_name(name: str | None) -> tuple[str, str]:
    """``(first_name, last_name)`` of a person's name as order systems give it ("Marie Dupont",
    "Jean de La Fontaine" → "Jean", "de La Fontaine"); a single word is a last name (Sugar
    requires one)."""
    words = (name or "").split()
    if len(words) < 2:
        return "", " ".join(words)
    return words[0], " ".join(words[1:])


def _by_module(config: PushConfig, rows: list[CustomerRow]) -> dict[str, list[CustomerRow]]:
    """The customers per Sugar module, each carrying the record matched earlier in that module
    (``sugar_account_id`` of the matcher holds a person's ``sugar_contact_id``)."""
    out: dict[str, list[CustomerRow]] = {"Accounts": [], "Contacts": []}
    for row in rows:
        module = module_of(config, row)
        if module == "Contacts":
            customer = replace(row.customer, sugar_account_id=row.customer.sugar_contact_id)
            row = replace(row, customer=customer)
        out[module].append(row)
    return out


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
    locale: str = "en",
    currency: str | None = None,
    full_check: bool = False,
) -> PushRunInfo:
    """Push the latest ``customer_habits`` to Sugar (see the module docstring).

    ``client_factory`` builds a new, independent SugarClient per call (e.g.
    ``lambda: make_client(settings)``): one for reads, and one per concurrent writing session
    (``config.sessions``). ``dry_run`` reads Sugar and the warehouse and writes to neither (but
    records the run). ``full`` resends every mapped value, changed or not. ``locale``
    (SUGAR_BRIDGE_LOCALE) is the follow-up texts' language and number formats, ``currency`` the
    amounts' currency in them. ``full_check`` reads every record from Sugar, not only those
    modified since the last read (:mod:`sugar_bridge.push.reads`; ``full`` does too, and so does
    a night every ``push.full_check_days`` days). Raises PushError for a setup problem (no
    statistics, missing fields, an owner rule naming a user Sugar lacks); Sugar errors of single
    batches, lists or tasks are recorded and make the run ``partial`` instead.
    """
    started = _now()
    run = store.start_run(engine, as_of, dry_run=dry_run, full=full, now=started)
    run_id = run.run_id
    info = PushRunInfo(run_id=run_id, as_of=as_of, dry_run=dry_run, full=full)
    texts = _TextOptions(locale, currency)
    try:
        _run(engine, client_factory, config, info, started, progress, texts, full_check)
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
    failures = info.failed + info.list_failed + info.tasks_failed + info.leads.get("failed", 0)
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
        info = PushRunInfo(run_id=run.run_id, as_of=now.date(), dry_run=False, full=False)
        out = MatchInfo(run_id=run.run_id, customers=len(rows))
        methods: Counter[str] = Counter()
        issues: list[dict[str, Any]] = []
        client = client_factory()
        try:
            for module, part in _by_module(config, rows).items():
                if not part:
                    continue
                records = read_records(client, module, config.match.external_id_field)
                result = _match(config, module, part, records)
                by_key = {r.customer.customer_key: r for r in part}
                by_id = {a.id: a for a in records}
                issues += _record_match(engine, config, info, result, by_key, by_id, now, module)
                out.accounts += len(records)
                out.new_matches += sum(1 for m in result.matches.values() if m.new)
                methods.update(m.method for m in result.matches.values())
        finally:
            client.close()
        store.replace_match_issues(engine, run.run_id, issues, now)
        out.matched, out.ambiguous, out.unmatched = info.matched, info.ambiguous, info.unmatched
        out.by_method = dict(methods)
        run.details = asdict(out)
    return out


def _match(
    config: PushConfig, module: str, rows: list[CustomerRow], records: list[Account]
) -> MatchResult:
    """Match ``rows`` to ``module``'s records: a person's name is compared as written (the
    legal-form words are for companies)."""
    suffixes = config.match.name_suffixes if module == "Accounts" else ()
    return match_customers([r.customer for r in rows], records, config.match.order, suffixes)


def _details(info: PushRunInfo) -> dict[str, Any]:
    return {
        "transitions": info.transitions,
        "sample": info.sample,
        "timings": info.timings,
        "sugar_calls": info.sugar_calls,
        "writes": info.writes,
        "warnings": info.warnings,
        "modules": info.modules,
        "followups": info.followups,
        "owners": info.owners,
        "list_failed": info.list_failed,
        "tasks_failed": info.tasks_failed,
        "leads": info.leads,
        "reads": info.reads,
        "currency": info.currency,
        **({"money_currency": info.currency} if info.money_pushed and not info.dry_run else {}),
    }


class _Timer:
    def __init__(self, info: PushRunInfo) -> None:
        self.info = info
        self.last = time.perf_counter()

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        self.info.timings[step] = round(now - self.last, 3)
        self.last = now


@dataclass
class _Target:
    """One Sugar module's share of a run: its customers, records, match and plan."""

    module: str  # Accounts | Contacts
    rows: list[CustomerRow]
    specs: list[FieldSpec]
    by_id: dict[str, Account]
    snapshot: dict[str, dict[str, Pushed]]
    desired_all: dict[int, dict[str, str]]
    record_of: dict[int, str]  # customer_key -> record id in Sugar (matched or created now)
    owned: dict[int, tuple[Party, Assignment]] = field(default_factory=dict)  # its owners


@dataclass(frozen=True)
class _TextOptions:
    locale: str
    currency: str | None


def _run(
    engine: Engine,
    client_factory: ClientFactory,
    config: PushConfig,
    info: PushRunInfo,
    now: datetime,
    progress: Progress | None,
    texts: _TextOptions,
    full_check: bool = False,
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
        warning = store.clv_warning(engine)
        # Owners: Sugar's users (and the round-robin's roles and groups), checked before any
        # write; an OwnerError stops the run here.
        policy = OwnerPolicy(config, read_directory(main, config))
        targets: list[_Target] = []
        issues: list[dict[str, Any]] = []
        for module, part in _by_module(config, rows).items():
            if not part:
                continue
            before = _module_counts(info)
            target, found = _push_module(
                engine, client_factory, main, config, info, module, part, warning, now, progress,
                policy, full_check,
            )  # fmt: skip
            targets.append(target)
            issues += found
            info.modules[module] = {"customers": len(part)} | {
                k: v - before[k] for k, v in _module_counts(info).items()
            }
        if not info.dry_run:
            store.replace_match_issues(engine, info.run_id, issues, now)
        if not info.dry_run and info.modules.get("Contacts"):
            log.info(
                "push: %d persons pushed to Contacts (%d matched, %d created)",
                info.modules["Contacts"]["customers"],
                info.modules["Contacts"]["matched"],
                info.modules["Contacts"]["created"],
            )
        _retire_moved(engine, main, config, rows, targets, info, now)
        timer.last = time.perf_counter()

        support: list[BulkSupport] = []

        def extension() -> BulkSupport:  # bridge_info: one read, only when something needs it
            if not support:
                try:
                    support.append(bulk_support(main))
                except SugarError as exc:  # the stock paths then: paged reads, one by one
                    log.warning("bridge_info failed, lists and follow-ups without it: %s", exc)
                    support.append(BulkSupport(False, f"bridge_info failed: {exc}"))
            return support[0]

        if config.target_lists.enabled and targets:
            _lists(main, config, targets, info, engine, now, progress, extension().related_ids)
            timer.lap("lists")
        owned = {k: t.owned[k][1] for t in targets for k in t.record_of if k in t.owned}
        info.owners = {
            "assigned": sum(policy.assigned.values()),
            "kept": sum(1 for a in owned.values() if a.kept),
            "by_rule": dict(sorted(policy.assigned.items())),
        }
        info.owners_assigned = info.owners["assigned"]
        if not info.dry_run:
            store.record_owners(engine, {k: _owner_name(policy, a) for k, a in owned.items()}, now)
        if config.followups:
            _followups(engine, main, config, targets, info, now, texts, policy)
            timer.lap("followups")
        _lead_scores(engine, main, config, info, now)
        timer.lap("leads")
    finally:
        info.sugar_calls = sum_stats([info.sugar_calls, main.stats.snapshot()])
        main.close()


def _retire_moved(
    engine: Engine,
    main: SugarClient,
    config: PushConfig,
    rows: list[CustomerRow],
    targets: list[_Target],
    info: PushRunInfo,
    now: datetime,
) -> None:
    """The old records of customers who changed module (a company now a person, or back):
    their pushed fields emptied (``sugar_bridge.push.moved``)."""
    known = {t.module: t.specs for t in targets}

    def specs_of(module: str) -> list[FieldSpec]:
        return known[module] if module in known else _resolve(main, config, module)

    plans: dict[str, WritePlan] = {}  # one bridge_info / AOD read per module, not per batch

    def write(c: SugarClient, batch: list[WriteRow], module: str) -> list[RowResult]:
        if module not in plans:
            plans[module] = write_plan(c, config, module)
        info.sugar_writes += 1
        return plans[module].write(c, batch, module)

    retired, failed = retire_moved(
        engine,
        main,
        {r.customer.customer_key: module_of(config, r) for r in rows},
        tuple(LIST_LINK),
        {rid for t in targets for rid in t.record_of.values()},
        specs_of,
        write,
        run_id=info.run_id,
        now=now,
        dry_run=info.dry_run,
        batch_size=config.batch_size,
    )
    info.retired += retired
    info.failed += failed


def _lead_scores(
    engine: Engine, client: SugarClient, config: PushConfig, info: PushRunInfo, now: datetime
) -> None:
    """The prospect scores to the Leads (nothing at all when the run scored no lead)."""
    pushed = push_lead_scores(
        engine,
        client,
        config.lead_score,
        run_id=info.run_id,
        now=now,
        dry_run=info.dry_run,
        full=info.full,
    )
    if pushed.scored:
        info.leads = pushed.as_dict()
    info.sugar_writes += pushed.sugar_writes
    info.warnings.extend(pushed.warnings)


def _module_counts(info: PushRunInfo) -> dict[str, int]:
    return {k: int(getattr(info, k)) for k in MODULE_COUNTERS}


def _push_module(
    engine: Engine,
    client_factory: ClientFactory,
    main: SugarClient,
    config: PushConfig,
    info: PushRunInfo,
    module: str,
    rows: list[CustomerRow],
    clv_warning: str | None,
    now: datetime,
    progress: Progress | None,
    policy: OwnerPolicy,
    full_check: bool = False,
) -> tuple[_Target, list[dict[str, Any]]]:
    """Steps 1–3 for one module: read its records, match, diff, write and verify. Returns the
    module's state for lists and follow-ups, and its match issues."""
    timer = _Timer(info)
    lap = "" if module == "Accounts" else f"{module.lower()}_"
    specs = _resolve(main, config, module)
    held = [s.field for s in specs if s.column in store.CLV_COLUMNS]
    if clv_warning and held:
        # Never pushed silently: the model fields keep their values in Sugar.
        specs = [s for s in specs if s.column not in store.CLV_COLUMNS]
        said = f"{clv_warning}: {', '.join(held)} not pushed"
        if said not in info.warnings:
            info.warnings.append(said)
            log.warning("%s", said)
    specs = _check_currency(engine, config, info, specs)
    ext_field = config.match.external_id_field
    known = read_for_push(
        engine,
        main,
        module,
        ext_field,
        [s.field for s in specs],
        now=now,
        run_id=info.run_id,
        full_check=full_check or info.full,
        full_check_days=config.full_check_days,
        overlap=timedelta(minutes=config.read_overlap_minutes),
        keep=not info.dry_run,
    )
    records = known.accounts
    timer.lap(f"{lap}read")
    result = _match(config, module, rows, records)
    by_key = {r.customer.customer_key: r for r in rows}
    by_id = {a.id: a for a in records}
    issues = _record_match(engine, config, info, result, by_key, by_id, now, module)
    # The round-robin gives the next record to the user owning the fewest.
    policy.load.update(a.assigned_user_id for a in records if a.assigned_user_id)
    owned = _owners(config, policy, rows, result, by_id)
    timer.lap(f"{lap}match")

    snapshot = store.load_snapshot(engine, module)
    # Records read tonight whose pushed values Sugar holds otherwise than the snapshot says
    # (edited in Sugar): diffed against Sugar's values, so the push restores its own.
    kinds = {s.field: Expect("", s.kind, s.precision) for s in specs} | {
        ext_field: Expect("", "text")
    }
    matched = {m.account_id for m in result.matches.values()}
    read = {rid: rec for rid, rec in known.read.items() if rid in matched and rid in snapshot}
    edited = drift(
        read,
        {rid: {f: p.value for f, p in snapshot[rid].items()} for rid in read},
        kinds,
    )
    known.info.edited = len(edited)
    info.reads[module] = known.info.as_dict()
    stamp = sugar_datetime(now)
    plan, desired_all = _plan(
        config, specs, rows, result, snapshot, info, stamp, module, owned, edited
    )
    _dry_run_report(config, specs, plan, info)
    timer.lap(f"{lap}diff")

    results: list[RowResult] = []
    if not info.dry_run and plan.rows:
        _preregister_transitions(
            engine, config, module, specs, result, snapshot, desired_all, info, now
        )
        how = write_plan(main, config, module)
        results = _write(engine, client_factory, config, how, plan, info, now, progress, module)
    if plan.entries and not info.dry_run:
        store.write_log(engine, info.run_id, plan.entries, now)
    timer.lap(f"{lap}write")

    # Records that exist in Sugar now: matched ones, and created ones that were read back.
    record_of = {k: m.account_id for k, m in result.matches.items()}
    record_of.update(
        {
            r.row.customer_key: r.account_id
            for r in results
            if r.row.account_id is None and r.found and r.account_id
        }
    )
    return _Target(module, rows, specs, by_id, snapshot, desired_all, record_of, owned), issues


def _preregister_transitions(
    engine: Engine,
    config: PushConfig,
    module: str,
    specs: list[FieldSpec],
    result: MatchResult,
    snapshot: dict[str, dict[str, Pushed]],
    desired_all: dict[int, dict[str, str]],
    info: PushRunInfo,
    now: datetime,
) -> None:
    """Register the ``enters`` transitions of matched records as ``waiting`` *before* their new
    values are written: once written, the snapshot holds them and a run that fails before its
    follow-up step (an expired session twice over, a crash) would lose the transition on the
    rerun. The follow-up step of this run (or of the rerun) finds them in the book and creates
    them, capped like any other; one already registered is left as it is."""
    rules = [r for r in config.followups if not r.on_state and r.enters is not None]
    if not rules:
        return
    spec_of = {s.column: s for s in specs}
    rows: list[dict[str, Any]] = []
    for key, match in result.matches.items():
        desired = desired_all.get(key)
        if desired is None:
            continue
        for rule in rules:
            spec = spec_of.get(rule.column)
            if spec is None:
                continue
            previous = snapshot.get(match.account_id, {}).get(spec.field)
            fired = detect(rule, spec, desired.get(spec.field, ""), previous)
            if fired is None:
                continue
            rows.append(
                {
                    "account_id": match.account_id,
                    "parent_type": module,
                    "rule": rule.name,
                    "from_value": fired[0],
                    "to_value": desired.get(spec.field, ""),
                    "from_run_id": fired[1],
                    "module": rule.module,
                    "record_id": str(uuid.uuid4()),
                }
            )
    if rows:
        store.register_waiting(engine, rows, run_id=info.run_id, now=now)


def _check_currency(
    engine: Engine, config: PushConfig, info: PushRunInfo, specs: list[FieldSpec]
) -> list[FieldSpec]:
    """The specs to push, without the money fields when their amounts are not in the currency
    Sugar's fields are in: ``push.currency``, else the currency of the last push that sent them
    (an amount in another currency would show as if it were in that one; never silently)."""
    info.currency = store.habits_currency(engine)
    money = [s.field for s in specs if s.column in store.MONEY_COLUMNS]
    if not money:
        return specs
    expected = config.currency or store.last_pushed_currency(engine)
    if info.currency and expected and info.currency != expected:
        reason = "push.currency" if config.currency else "the currency of the last push"
        warning = (
            f"the amounts are in {info.currency}, Sugar's money fields in {expected} ({reason}): "
            f"{', '.join(money)} not pushed"
        )
        if warning not in info.warnings:  # said once, whatever the modules pushed
            info.warnings.append(warning)
            log.warning("%s", warning)
        return [s for s in specs if s.column not in store.MONEY_COLUMNS]
    info.money_pushed = info.currency is not None
    return specs


def _resolve(client: SugarClient, config: PushConfig, module: str = "Accounts") -> list[FieldSpec]:
    """Field specs with Sugar's types (Sugar method ``get_module_fields`` of ``module``); refuses
    to push into fields Sugar does not have."""
    wanted = [m.field for m in config.fields.values()] + [config.match.external_id_field]
    if config.updated_field:
        wanted.append(config.updated_field)
    known = client.module(module).fields(wanted).module_fields
    missing = [f for f in wanted if f not in known]
    if missing:
        raise MissingFieldsError(missing, module)
    return resolve_fields(config, known)


def _record_match(
    engine: Engine,
    config: PushConfig,
    info: PushRunInfo,
    result: MatchResult,
    by_key: dict[int, CustomerRow],
    by_id: dict[str, Account],
    now: datetime,
    module: str = "Accounts",
) -> list[dict[str, Any]]:
    """Count the match in ``info``, record new matches (and lost ones) in ``dim_customer``;
    returns the match issues (for ``push_match_issue``, replaced once for every module)."""
    info.matched += len(result.matches)
    info.ambiguous += len(result.ambiguous)
    info.unmatched += len(result.unmatched) - len(result.ambiguous)
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
                "module": module,
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
        return issues
    changes: list[tuple[int, str | None, str | None]] = []
    for key, match in result.matches.items():
        if match.new:
            changes.append((key, match.account_id, match.method))
    for key in result.unmatched:
        if by_key[key].customer.sugar_account_id:  # its record is gone or now ambiguous
            changes.append((key, None, None))
    store.record_matches(engine, changes, now, module)
    return issues


def _plan(
    config: PushConfig,
    specs: list[FieldSpec],
    rows: list[CustomerRow],
    result: MatchResult,
    snapshot: dict[str, dict[str, Pushed]],
    info: PushRunInfo,
    stamp: str,
    module: str = "Accounts",
    owned: dict[int, tuple[Party, Assignment]] | None = None,
    edited: dict[str, dict[str, str]] | None = None,
) -> tuple[_Plan, dict[int, dict[str, str]]]:
    """The rows to write in ``module``, and every customer's desired values (for lists and
    follow-ups). A record without an owner in Sugar gets the one ``owned`` says (a kept owner is
    never written). ``edited``: per record, the pushed fields Sugar was seen holding otherwise
    than the snapshot says, with Sugar's value — diffed against that value."""
    owned = owned or {}
    edited = edited or {}
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
                    module=module,
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

        assignment = owned[key][1] if key in owned else None
        if match is not None:
            previous = {f: p.value for f, p in snapshot.get(match.account_id, {}).items()}
            changes = changed_fields(desired, previous or None, full=info.full, specs=kinds)
            in_sugar = edited.get(match.account_id, {})
            for name, value in in_sugar.items():
                if name in desired and desired[name] != value:
                    changes[name] = (value, desired[name])
            if assignment is not None and not assignment.kept:
                # No owner in Sugar: the rules' owner (a rep's choice is never undone).
                changes[OWNER_FIELD] = ("", assignment.user.id)
            if not changes:
                info.unchanged += 1
                continue
            values: dict[str, Any] = {f: new for f, (_, new) in changes.items()}
            plan.old[key] = {f: old for f, (old, _) in changes.items()}
            # The stamp says when the values changed: a --full rewrite of the same values is not
            # a change (it only repairs what someone edited in Sugar).
            moved = any(
                (previous.get(f) if f in in_sugar else old) != new
                for f, (old, new) in changes.items()
            )
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
            values = _create_values(config, row, module) | desired
            owner = {OWNER_FIELD: assignment.user.id} if assignment is not None else {}
            if not owner and owner_for_new(config, row, module):
                owner = {OWNER_FIELD: str(owner_for_new(config, row, module))}
            values |= owner
            if config.updated_field:
                values[config.updated_field] = stamp
            plan.old[key] = dict.fromkeys(desired | owner)
            plan.rows.append(WriteRow(key, None, values, expect(desired | owner, values)))
    return plan, desired_all


def _create_values(config: PushConfig, row: CustomerRow, module: str) -> dict[str, Any]:
    """What a record the push creates starts with, besides the mapped values: the name, the
    e-mail and, where the orders say, the town and country (shown in Sugar's list and detail
    views; an existing record's address is the reps' to keep)."""
    customer = row.customer
    values: dict[str, Any]
    if module == "Contacts":
        first, last = split_name(customer.name)
        values = {"first_name": first, "last_name": last or customer.external_id}
        city, country = "primary_address_city", "primary_address_country"
        if config.persons.lead_source:
            values["lead_source"] = config.persons.lead_source
    else:
        values = {
            "name": customer.name or customer.external_id,
            "account_type": config.match.account_type,
        }
        city, country = "billing_address_city", "billing_address_country"
    if customer.email:
        values["email1"] = customer.email
    if customer.city:
        values[city] = customer.city
    if customer.country:
        values[country] = customer.country
    return values


def owner_for_new(config: PushConfig, row: CustomerRow, module: str) -> str | None:
    """``push.match.assigned_user_id``: the owner of a record the push creates where no
    ``push.owners`` rule gives one (:func:`_owners`; the rules live in
    :mod:`sugar_bridge.push.owners`), None for none."""
    del row, module  # the same owner for every new record, whatever the customer or module
    return config.match.assigned_user_id


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

    write: Callable[[SugarClient, list[WriteRow], str], list[RowResult]]  # (client, rows, module)
    concurrency: AdaptiveConcurrency
    details: dict[str, Any]


def write_plan(client: SugarClient, config: PushConfig, module: str = "Accounts") -> WritePlan:
    """The write method and session controller for this Sugar and ``module`` (``bridge_info``,
    maybe two reads).

    ``bridge_save_records`` where the extension has it (``write_method: auto``), else
    ``set_entries`` — always for Contacts, which the extension refuses: Sugar's ``set_entries``
    gives a contact semantics a plain save has not (a duplicate check by e-mail and last name
    for a record without an id, an account made from ``account_name``; the push sends neither,
    its creates carry their own ids). Sessions adapt up to ``push.sessions`` — except where every
    save is indexed by AOD under its lock (``set_entries`` on a Sugar whose AOD is on, or cannot
    be told off), where more sessions are slower than one: there it is one.
    """
    maximum = AUTO_MAX_SESSIONS if config.sessions == "auto" else config.sessions
    support = bulk_support(client)
    refused = module in BULK_REFUSED_MODULES
    bulk = config.write_method == "auto" and support.available and not refused
    aod = support.aod_enabled
    if aod is None and not bulk and maximum > 1:
        aod = aod_indexing(client)
    details: dict[str, Any] = {
        "method": "bridge_save_records" if bulk else "set_entries",
        "why": (
            "push.write_method"
            if config.write_method != "auto"
            else f"the extension refuses {module}"
            if refused
            else support.reason
        ),
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

    def write(c: SugarClient, rows: list[WriteRow], module: str) -> list[RowResult]:
        if bulk:
            return write_batch_bulk(c, rows, verify=verify, module=module)
        return write_batch(c, rows, verify=verify, module=module)

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
    module: str = "Accounts",
) -> list[RowResult]:
    """Write the planned rows into ``module`` in batches over the session pool (as many at once
    as ``how``'s controller says); log and snapshot per batch."""
    batches = [
        plan.rows[i : i + config.batch_size] for i in range(0, len(plan.rows), config.batch_size)
    ]
    all_results: list[RowResult] = []
    done = 0
    size = max(1, min(how.concurrency.maximum, len(batches)))
    with SessionPool(client_factory, size) as pool:
        outcomes = pool.adaptive_outcomes(
            lambda c, rows: how.write(c, rows, module),
            batches,
            how.concurrency,
            weight=len,
            failed=_batch_failed,
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
                        module,
                    )
                )
            store.write_log(engine, info.run_id, entries, now)
            if matched_created:
                store.record_matches(engine, matched_created, now, module)
            all_results.extend(results)
            done += len(outcome.item)
            if progress is not None:
                progress("write", done, len(plan.rows))
        # the sessions the pool logged in (at a level of 2, a batch may find the first one idle)
        opened = len(pool.clients)
    info.sugar_calls = sum_stats([info.sugar_calls, pool.stats()])
    sessions = how.concurrency.summary() | {"opened": opened}
    writes = how.details | {"sessions": sessions}
    if module == "Accounts" or not info.writes:
        info.writes = writes
    else:
        info.writes[module] = writes
    return all_results


def _lists(
    client: SugarClient,
    config: PushConfig,
    targets: list[_Target],
    info: PushRunInfo,
    engine: Engine,
    now: datetime,
    progress: Progress | None,
    fast_members: bool,
) -> None:
    """Step 4: each segment's list holds its companies (link ``accounts``) and its persons
    (link ``contacts``); ``fast_members``: read members with ``bridge_get_related_ids``."""
    column = config.target_lists.column
    members: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for target in targets:
        link = LIST_LINK[target.module]
        for row in target.rows:
            key = row.customer.customer_key
            record_id = target.record_of.get(key)
            if record_id is None or key not in target.desired_all:
                continue
            segment = row.habits.get(column)
            if segment:
                members[str(segment)][link].add(record_id)
    wanted: Members = members
    res = reconcile_lists(
        client,
        config.target_lists,
        wanted,
        dry_run=info.dry_run,
        progress=(lambda d, t: progress("lists", d, t)) if progress else None,
        fast_members=fast_members,
    )
    info.list_added, info.list_removed, info.list_failed = res.added, res.removed, res.failed
    info.sugar_writes += res.writes
    if not info.dry_run:
        store.write_log(engine, info.run_id, res.entries, now)


def _owner_name(policy: OwnerPolicy, assignment: Assignment) -> str:
    return assignment.user.user_name or policy.name_of(assignment.user.id)


def _owners(
    config: PushConfig,
    policy: OwnerPolicy,
    rows: list[CustomerRow],
    result: MatchResult,
    by_id: dict[str, Account],
) -> dict[int, tuple[Party, Assignment]]:
    """Each pushed customer's account owner: kept from Sugar, else chosen by the rules (an
    account to create, or one without an owner)."""
    create = config.match.unmatched == "create"
    out: dict[int, tuple[Party, Assignment]] = {}
    for row in rows:
        key = row.customer.customer_key
        match = result.matches.get(key)
        unmatched = result.unmatched.get(key)
        if match is not None:
            account = by_id.get(match.account_id)
            party = Party(
                external_id=(account.external_id if account else "") or row.customer.external_id,
                country=(account.country if account else "") or (row.customer.country or ""),
                city=(account.city if account else "") or (row.customer.city or ""),
                postcode=account.postcode if account else "",
                owner_id=account.assigned_user_id if account else "",
            )
        elif create and unmatched is not None and unmatched.reason == "no_account":
            party = Party(
                external_id=row.customer.external_id,
                country=row.customer.country or "",
                city=row.customer.city or "",
            )
        else:
            continue
        assignment = policy.owner_of(party)
        if assignment.reason == "api_user" and config.match.assigned_user_id:
            # The former setting for created accounts' owner still applies where no rule does.
            uid = config.match.assigned_user_id
            user = policy.directory.by_id(uid) or SugarUser(uid, "", True)
            assignment = Assignment(user, "match.assigned_user_id")
        out[key] = (party, assignment)
    return out


def _followups(
    engine: Engine,
    client: SugarClient,
    config: PushConfig,
    targets: list[_Target],
    info: PushRunInfo,
    now: datetime,
    texts: _TextOptions,
    policy: OwnerPolicy,
) -> None:
    """The night's follow-ups: read which earlier ones were closed in Sugar, find the rules
    that fire, cap them per owner (most valuable first), create the chosen ones."""
    book = store.followup_book(engine, info.as_of)
    try:
        closed = closed_in_sugar(client, book, now)
    except SugarError as exc:
        # Unknown tonight: they stay open, so a state rule waits rather than duplicates.
        closed = []
        info.warnings.append(f"follow-ups' status not read from Sugar: {exc}")
    if closed:
        closed_ids = {fid for fid, _, _ in closed}
        by_fid = {int(r["followup_id"]): r for r in book.in_sugar}
        for fid, _, at in closed:
            row = by_fid[fid]
            key = (str(row["account_id"]), str(row["rule"]))
            book.open.discard(key)
            if key not in book.last_closed or at > book.last_closed[key]:
                book.last_closed[key] = at
        book.in_sugar = [r for r in book.in_sugar if int(r["followup_id"]) not in closed_ids]
        if not info.dry_run:
            store.close_followups(engine, closed, now)
    stats: Counter[str] = Counter()
    triggers, drop = _triggers(config, targets, book, policy, info.as_of, texts, stats)
    limits = config.followup_limits
    chosen, waiting = select_capped(
        triggers, limits.per_owner_per_day, book.made_on, limits.rules_first
    )
    # Follow-ups in bulk where the extension has it (bridge_info: one read, only when a rule
    # fired).
    bulk = (
        bool(chosen)
        and not info.dry_run
        and config.write_method == "auto"
        and bulk_support(client).available
    )
    fres, entries = run_followups(
        engine,
        client,
        chosen,
        as_of=info.as_of,
        run_id=info.run_id,
        now=now,
        dry_run=info.dry_run,
        bulk=bulk,
        locale=texts.locale,
        sample_size=config.dry_run_sample,
    )
    if not info.dry_run:
        store.drop_waiting(engine, drop, now)
        store.register_waiting(
            engine,
            [
                {
                    "account_id": t.account_id,
                    "parent_type": t.parent_type,
                    "rule": t.rule.name,
                    "from_value": t.from_value,
                    "to_value": t.to_value,
                    "from_run_id": t.from_run_id,
                    "module": t.rule.module,
                    "record_id": str(uuid.uuid4()),
                    "owner_id": t.owner_id,
                    "owner_name": t.owner_name,
                }
                for t in waiting
                if not t.rule.on_state  # a state rule fires again by itself
            ],
            run_id=info.run_id,
            now=now,
        )
    info.tasks_created = fres.planned if info.dry_run else fres.created
    info.tasks_failed = fres.failed
    info.tasks_waiting = len(waiting)
    info.tasks_still_open = stats["open"]
    info.tasks_unowned = sum(1 for t in chosen if not t.owner_id)
    info.sugar_writes += fres.writes
    info.followups = {
        "fired": len(triggers),
        "fired_by_rule": dict(sorted(Counter(t.rule.name for t in triggers).items())),
        "chosen_by_rule": dict(sorted(Counter(t.rule.name for t in chosen).items())),
        "created": info.tasks_created,
        "already": fres.already,
        "failed": fres.failed,
        "waiting": len(waiting),
        "waiting_by_owner": dict(Counter(t.owner_name or t.owner_id for t in waiting)),
        "per_owner_per_day": limits.per_owner_per_day,
        "order_by": list(limits.order_by),
        "by_owner": dict(sorted(fres.by_owner.items())),
        "unowned": info.tasks_unowned,
        "closed_in_sugar": len(closed),
        "held_back": dict(sorted(stats.items())),
        "sample": fres.sample,
    }
    store.write_log(engine, info.run_id, entries, now)


def _label(spec: FieldSpec, value: str, texts: _TextOptions) -> str:
    """A Sugar value as people read it: a lifecycle stage in the locale, else Sugar's label."""
    label = spec.label(value)
    if spec.column == "lifecycle_stage":
        # The stage names are in the report's catalog (lower case); untranslated: Sugar's label.
        translated = Texts.for_locale(texts.locale).gettext(value.lower())
        return translated if translated != value.lower() else label
    return label


def _triggers(
    config: PushConfig,
    targets: list[_Target],
    book: store.FollowupBook,
    policy: OwnerPolicy,
    as_of: date,
    texts: _TextOptions,
    stats: Counter[str],
) -> tuple[list[Trigger], list[int]]:
    """The follow-up rules that fire, per record in Sugar (matched, or created by this run) of
    each module, and the waiting registrations to drop (their record left the value they
    entered). A model field held back this run (clv_warning) fires no rule."""
    rules = {r.name: r for r in config.followups}
    key_accounts = set(config.owners.key_account_managers)
    out: dict[tuple[str, str, str, str, int], Trigger] = {}
    where: dict[str, tuple[_Target, int]] = {}  # record id -> its target and customer

    def make(
        target: _Target,
        rule: FollowupRule,
        key: int,
        record_id: str,
        from_value: str,
        to_value: str,
        n: int,
    ) -> Trigger | None:
        spec_of = {s.column: s for s in target.specs}
        row = by_key[target.module][key]
        days = (
            rule.recent_buyer_days
            if rule.recent_buyer_days is not None
            else (config.recent_buyer_days)
        )
        if recent_buyer(days, row.habits):
            stats["recent_buyer"] += 1
            return None
        record = target.by_id.get(record_id)
        party, assignment = target.owned.get(key) or (Party(), policy.owner_of(Party()))
        owner = policy.followup_owner(party, assignment, rule.owner)
        spec = spec_of.get(rule.column)
        if rule.on_state:
            shown = [
                _label(spec_of[c], v, texts)
                for c, v in zip(rule.conditions(), to_value.split("|"), strict=False)
                if c in spec_of
            ]
            new_value = ", ".join(shown)
        else:
            assert spec is not None
            new_value = _label(spec, to_value, texts)
        context = dict(row.habits) | {
            "account_name": record.name if record else (row.customer.name or ""),
            "account_id": record_id,
            "module": target.module,
            "customer_id": row.source_customer_id,
            "external_id": row.customer.external_id,
            "rule": rule.name,
            "old_value": _label(spec, from_value, texts) if from_value and spec else "",
            "new_value": new_value,
            "owner": owner.user_name,
            "currency": row.habits.get("currency") or texts.currency,
        }
        return Trigger(
            rule, record_id, key, from_value, to_value, n, context, owner.id, owner.user_name,
            value_of(row.habits, config.followup_limits.order_by), target.module,
        )  # fmt: skip

    by_key = {t.module: {r.customer.customer_key: r for r in t.rows} for t in targets}
    for target in targets:
        spec_of = {s.column: s for s in target.specs}
        for key, record_id in target.record_of.items():
            where[record_id] = (target, key)
            desired = target.desired_all.get(key)
            if desired is None:
                continue
            record = target.by_id.get(record_id)
            row = by_key[target.module][key]
            external_id = (record.external_id if record else "") or row.customer.external_id
            for rule in config.followups:
                if rule.on_state:
                    if any(c not in spec_of for c in rule.conditions()):
                        continue  # a model field held back this run (clv_warning)
                    state = holds(rule, spec_of, desired, external_id in key_accounts)
                    if state is None:
                        continue
                    pair = (record_id, rule.name)
                    if pair in book.open:
                        stats["open"] += 1
                        continue
                    if cooling(rule, book.last_closed.get(pair), as_of):
                        stats["cooling_down"] += 1
                        continue
                    n = book.next_occurrence.get(pair, 1)
                    trig = make(target, rule, key, record_id, "", state, n)
                else:
                    spec = spec_of.get(rule.column)
                    if spec is None:
                        continue
                    new_value = desired.get(spec.field, "")
                    previous = target.snapshot.get(record_id, {}).get(spec.field)
                    fired = detect(rule, spec, new_value, previous)
                    if fired is None:
                        continue
                    trig = make(target, rule, key, record_id, fired[0], new_value, fired[1])
                if trig is not None:
                    out[trig.key] = trig
    drop: list[int] = []
    for pending in book.waiting:
        waiting_rule = rules.get(str(pending["rule"]))
        found = where.get(str(pending["account_id"]))
        if waiting_rule is None or waiting_rule.on_state or found is None:
            drop.append(int(pending["followup_id"]))  # its rule or record is gone
            continue
        target, key = found
        waiting_spec = next((s for s in target.specs if s.column == waiting_rule.column), None)
        now_desired = target.desired_all.get(key)
        if waiting_spec is None or now_desired is None:
            drop.append(int(pending["followup_id"]))
            continue
        if now_desired.get(waiting_spec.field, "") != pending["to_value"]:
            drop.append(int(pending["followup_id"]))  # left the value it entered
            continue
        trig = make(
            target, waiting_rule, key, str(pending["account_id"]), str(pending["from_value"]),
            str(pending["to_value"]), int(pending["from_run_id"]),
        )  # fmt: skip
        if trig is None:
            drop.append(int(pending["followup_id"]))
        else:
            out.setdefault(trig.key, trig)
    return list(out.values()), drop
