"""The sync pipeline: extract → validate → load → analyse → push, as one recorded run.

:func:`sync` is what ``sugar-bridge sync``, the scheduler and the demo call. Each step returns a
small :class:`StepInfo` (counts, seconds, the run id of the step's own record); a failing step
stops the run with :class:`PipelineStepFailed` naming it. The run is one row of the run ledger
(:mod:`etl.runs`, ``job='sync'``, per-step counts and timings in ``details``), written when it
starts and when it ends, so ``status`` and the scheduler's catch-up see it.

Safe to re-run at any point, because every step is: the load is an idempotent merge whose
watermark commits with its rows, analytics recompute everything for ``as_of``, and the push sends
what differs from the last *verified* snapshot. So a push that fails keeps the load of the same
run, and the next run pushes what was missed.

Only one sync runs at a time: the run holds the ``sync`` lock in the warehouse
(:mod:`sugar_bridge.scheduler.locks`). A stop request (SIGTERM in the scheduler) is honoured
between steps.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from etl.runs import Run, RunStatus, prune_history, start_run
from sugar_bridge.config import ProjectConfig
from sugar_bridge.exceptions import (
    ConfigError,
    PipelineStepFailed,
    RunCancelled,
    SugarBridgeError,
)
from sugar_bridge.runtime import Runtime
from sugar_bridge.scheduler.locks import SYNC_LOCK, JobLock
from sugar_bridge.settings import Settings

if TYPE_CHECKING:
    from etl.crm import CrmExtractInfo
    from etl.fx import RatesLoadInfo

log = logging.getLogger(__name__)

#: ``progress(step, done, total)``: how far a long step is (total 0 when unknown); the CLI turns
#: it into a progress bar or periodic log lines, the library never prints.
Progress = Callable[[str, int, int], None]

StepName = Literal["extract", "validate", "load", "crm", "analyse", "push"]
STEP_NAMES: tuple[StepName, ...] = ("extract", "validate", "load", "crm", "analyse", "push")
StepStatus = Literal["ok", "partial", "skipped"]


@dataclass
class StepInfo:
    """What one step did: its counts, how long it took, and its own run record."""

    name: StepName
    status: StepStatus = "ok"
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    run_id: int | None = None  # the step's own run (etl_run of the ETL, analytics_run, push_run)
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        """For ``etl_run.details`` (JSON)."""
        out = asdict(self)
        out["seconds"] = round(self.seconds, 3)
        return out


@dataclass
class SyncInfo:
    """One sync run: its steps in order, its status and what the CLI's exit code should be."""

    run_id: int
    as_of: date
    dry_run: bool
    status: RunStatus = "running"
    steps: list[StepInfo] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None
    failed_step: str | None = None

    def step(self, name: StepName) -> StepInfo | None:
        """The info of step ``name`` (None when it did not run)."""
        return next((s for s in self.steps if s.name == name), None)

    @property
    def rows_rejected(self) -> int:
        """Order rows and exchange rates rejected by validation in this run."""
        info = self.step("validate")
        return info.counts.get("rejected", 0) + info.counts.get("rates_rejected", 0) if info else 0

    @property
    def push_failures(self) -> int:
        """Accounts, list memberships and tasks the push could not write (retried next run)."""
        info = self.step("push")
        if info is None:
            return 0
        return sum(info.counts.get(k, 0) for k in ("failed", "list_failed", "tasks_failed"))

    def details(self) -> dict[str, Any]:
        """The ``etl_run.details`` JSON of the sync run."""
        return {
            "as_of": self.as_of.isoformat(),
            "dry_run": self.dry_run,
            "steps": [s.as_dict() for s in self.steps],
            "failed_step": self.failed_step,
        }


@dataclass
class StepContext:
    """What a step gets: the run's runtime (settings, config), warehouse, date, stop signal."""

    runtime: Runtime
    engine: Engine
    as_of: date
    dry_run: bool
    sync_run_id: int
    cancel: threading.Event
    progress: Progress | None = None
    # as_of is a past day: the statistics are computed and kept, nothing goes to Sugar unless
    # push_past (asked for explicitly)
    backdated: bool = False
    push_past: bool = False

    @property
    def settings(self) -> Settings:
        """The run's settings."""
        return self.runtime.settings

    @property
    def config(self) -> ProjectConfig:
        """The run's config."""
        return self.runtime.config


#: A stage of the pipeline: runs one or more steps, returns their infos in order. It raises
#: PipelineStepFailed naming the exact step when it knows it; any other exception is reported
#: against the stage's first step that has not reported yet.
Stage = Callable[[StepContext], list[StepInfo]]


@dataclass(frozen=True)
class StageSpec:
    """A stage and the step names it covers (in order)."""

    steps: tuple[StepName, ...]
    run: Stage


def _finish_record(run: Run, info: SyncInfo) -> None:
    """Close the sync's ledger row with its status, per-step details and headline counts."""
    extract, load = info.step("extract"), info.step("load")
    run.status, run.error, run.details = info.status, info.error, info.details()
    run.rows_read = extract.counts.get("rows_read", 0) if extract else 0
    run.rows_loaded = load.counts.get("rows_loaded", 0) if load else 0
    run.rows_rejected = info.rows_rejected
    run.finish()


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return text if text else type(exc).__name__


def run_stages(
    ctx: StepContext,
    stages: Sequence[StageSpec],
    info: SyncInfo,
    lock: JobLock | None = None,
    on_step: Callable[[StepInfo], None] | None = None,
) -> None:
    """Run ``stages`` in order into ``info``; raise PipelineStepFailed / RunCancelled."""
    for stage in stages:
        if ctx.cancel.is_set():
            raise RunCancelled(f"sync run {info.run_id} stopped before step '{stage.steps[0]}'")
        if lock is not None and lock.lost:
            raise PipelineStepFailed(
                stage.steps[0], SugarBridgeError("the sync lock was lost (the run stalled)")
            )
        started = time.perf_counter()
        try:
            infos = stage.run(ctx)
        except PipelineStepFailed:
            raise
        except Exception as exc:
            done = {s.name for s in info.steps}
            step = next((s for s in stage.steps if s not in done), stage.steps[-1])
            raise PipelineStepFailed(step, exc) from exc
        if len(infos) == 1 and not infos[0].seconds:
            infos[0].seconds = time.perf_counter() - started
        for step_info in infos:
            info.steps.append(step_info)
            log.info(
                "sync %d: %s %s in %.1f s %s",
                info.run_id,
                step_info.name,
                step_info.status,
                step_info.seconds,
                " ".join(f"{k}={v}" for k, v in step_info.counts.items()),
            )
            if on_step is not None:
                on_step(step_info)


def sync(
    runtime: Runtime,
    *,
    as_of: date,
    dry_run: bool = False,
    engine: Engine | None = None,
    stages: Sequence[StageSpec] | None = None,
    cancel: threading.Event | None = None,
    purpose: str = "cli",
    lock_ttl: timedelta | None = None,
    on_step: Callable[[StepInfo], None] | None = None,
    progress: Progress | None = None,
    push_past: bool = False,
) -> SyncInfo:
    """Run one sync for ``as_of``: extract → validate → load → analyse → push.

    An ``as_of`` before today is a recomputation of a past day: its statistics are stored as a
    backdated run (``customer_habits`` and the push keep the latest current one) and the push
    step is skipped, unless ``push_past`` asks for it. An ``as_of`` after today is refused
    (ConfigError): that day's orders are not all in.

    ``dry_run`` loads and analyses but pushes nothing (the push step reports what it would
    change). Raises :class:`LockHeldError` when another sync runs, :class:`PipelineStepFailed`
    naming the step that failed (earlier steps' work is kept and recorded), and
    :class:`RunCancelled` when ``cancel`` was set between steps. ``on_step`` is called after
    each step (the CLI prints it), ``progress`` as the load, the analytics and the push advance.
    ``stages`` defaults to the real ETL, analytics and push (:func:`default_stages`); the engine
    defaults to the runtime's warehouse, migrated to the current schema.
    """
    config = runtime.config
    backdated = runtime.is_backdated(as_of)
    if stages is None:
        preflight(runtime)
        stages = default_stages()
    if engine is None:
        engine = runtime.connect_warehouse("write")
    cancel = cancel or threading.Event()
    ttl = lock_ttl or timedelta(seconds=config.schedule.lock_ttl_seconds)
    started = time.perf_counter()
    with JobLock(engine, SYNC_LOCK, purpose=purpose, ttl=ttl) as lock:
        run = start_run(
            engine,
            "sync",
            watermark_to=as_of.isoformat(),
            details={"as_of": as_of.isoformat(), "dry_run": dry_run, "steps": []},
        )
        run_id = run.run_id
        info = SyncInfo(run_id=run_id, as_of=as_of, dry_run=dry_run)
        ctx = StepContext(
            runtime, engine, as_of, dry_run, run_id, cancel, progress, backdated, push_past
        )
        log.info("sync %d: as of %s%s", run_id, as_of, " (dry run)" if dry_run else "")
        try:
            run_stages(ctx, stages, info, lock, on_step)
        except PipelineStepFailed as exc:
            info.status, info.failed_step = "failed", exc.step
            info.error = f"step '{exc.step}' failed: {_describe(exc.cause)}"
            raise
        except RunCancelled as exc:
            info.status, info.error = "cancelled", str(exc)
            raise
        except BaseException as exc:  # KeyboardInterrupt, bugs: still close the record
            info.status, info.error = "failed", f"{type(exc).__name__}: {_describe(exc)}"
            raise
        else:
            partial = info.rows_rejected or info.push_failures
            partial = partial or any(s.status == "partial" for s in info.steps)
            info.status = "partial" if partial else "ok"
        finally:
            info.seconds = time.perf_counter() - started
            _finish_record(run, info)
            log.info("sync %d: %s in %.1f s", run_id, info.status, info.seconds)
        prune_history_safely(engine, runtime.settings.history_days)
    return info


def prune_history_safely(engine: Engine, days: int) -> None:
    """Prune the history older than ``days`` (:func:`etl.runs.prune_history`) after a run.

    Housekeeping never fails the run it follows: a warehouse error is logged as a warning and the
    next run tries again.
    """
    try:
        prune_history(engine, days)
    except SQLAlchemyError as exc:
        log.warning("could not prune the run history: %s", exc)


# --- the real stages ---------------------------------------------------------------------------


def default_stages() -> list[StageSpec]:
    """The production pipeline: the ETL (extract, validate, load), the CRM extraction from Sugar
    (when ``sugar_source.enabled``), analytics, push."""
    return [
        StageSpec(("extract", "validate", "load"), etl_stage),
        StageSpec(("crm",), crm_stage),
        StageSpec(("analyse",), analytics_stage),
        StageSpec(("push",), push_stage),
    ]


def load_configured_rates(runtime: Runtime, engine: Engine) -> RatesLoadInfo | None:
    """Load the exchange rates of ``analytics.currency.rates`` (None when none are configured).

    Unchanged rates are skipped; bad rows are rejects of the rates' run (``etl rejects``).
    """
    from sqlalchemy.engine import make_url

    from connectors.orders.rates import read_rates_csv, read_rates_sql
    from etl.fx import load_rates

    currency = runtime.config.analytics.currency
    rates = currency.rates
    if rates is None or currency.reporting is None:
        return None
    if rates.csv is not None:
        read = read_rates_csv(rates.csv, delimiter=rates.delimiter, encoding=rates.encoding)
    else:
        assert rates.sql is not None  # the config allows exactly one
        url = rates.sql.url.get_secret_value()
        password = make_url(url).password
        if password:
            runtime.add_secret(str(password))  # never in a log line
        read = read_rates_sql(url, rates.sql.query)
    return load_rates(engine, read, base=currency.reporting)


def etl_stage(ctx: StepContext) -> list[StepInfo]:
    """Extract, validate and load every configured source (``etl.run.run_etl``).

    The ETL streams the three steps batch by batch (each batch validated and committed with its
    watermark), so their time is reported once, on ``load``; the counts are each step's own.
    """
    from connectors.orders.exceptions import SourceError
    from connectors.orders.sources import make_sources
    from etl.exceptions import EtlError
    from etl.run import EtlProgress, run_etl

    report = ctx.progress

    def loaded(event: EtlProgress) -> None:
        if report is not None:
            report("load: order lines read", event.rows_read, 0)

    try:
        sources = make_sources(ctx.runtime.sources)
    except SourceError as exc:
        raise PipelineStepFailed("extract", exc) from exc
    defaults = ctx.runtime.load_defaults()
    currency = ctx.config.analytics.currency
    try:
        rates = load_configured_rates(ctx.runtime, ctx.engine)
        info = run_etl(
            ctx.engine,
            sources,
            default_currency=defaults.currency,
            batch_lines=defaults.batch_lines,
            progress=loaded if report is not None else None,
            reporting_currency=currency.reporting,
            max_rate_age_days=currency.max_rate_age_days,
        )
    except SourceError as exc:
        raise PipelineStepFailed("extract", exc) from exc
    except EtlError as exc:
        raise PipelineStepFailed("load", exc) from exc
    streamed = "streamed batch by batch with validate and load: time shown on load"
    valid = info.rows_read - info.rows_rejected - info.rows_skipped
    return [
        StepInfo(
            "extract",
            counts={
                "sources": len(sources),
                "rows_read": info.rows_read,
                "rows_skipped": info.rows_skipped,
            },
            note=streamed,
        ),
        StepInfo(
            "validate",
            status="partial" if info.rows_rejected or (rates and rates.rejected) else "ok",
            counts={
                "valid": valid,
                "rejected": info.rows_rejected,
                **({"rates_rejected": rates.rejected} if rates is not None else {}),
                **{f"rejected:{rule}": n for rule, n in sorted(info.rejects_by_rule.items())},
            },
        ),
        StepInfo(
            "load",
            seconds=info.duration_s,
            counts={
                "rows_loaded": info.rows_loaded,
                "orders_inserted": info.orders_inserted,
                "orders_updated": info.orders_updated,
                "orders_unchanged": info.orders_unchanged,
                "lines_written": info.lines_written,
                "batches": info.batches,
                **_rates_counts(rates, info.conversion),
            },
            run_id=info.run_id,
            note=_currency_note(info.conversion),
        ),
    ]


def extract_sugar(
    runtime: Runtime,
    engine: Engine,
    *,
    full: bool = False,
    modules: Sequence[str] | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> CrmExtractInfo:
    """Extract Sugar's records into the ``crm_*`` tables (``etl.crm.extract_crm``).

    A configured field or module Sugar does not have is a ConfigError (nothing is written).
    """
    from connectors.sugar.crm import UnknownField
    from connectors.sugar.exceptions import InvalidCall
    from etl.crm import extract_crm
    from sugar_bridge.sugar import make_client

    config = runtime.config.sugar_source
    try:
        selected = config.selected(list(modules) if modules else None)
    except InvalidCall as exc:
        raise ConfigError(f"--module: {exc}") from None
    with make_client(runtime.settings) as client:
        try:
            return extract_crm(
                engine,
                client,
                config,
                full=full,
                modules=[m.name for m in selected],
                progress=progress,
            )
        except UnknownField as exc:
            raise ConfigError(f"{runtime.settings.config}: {exc}") from None


def crm_stage(ctx: StepContext) -> list[StepInfo]:
    """Extract what changed in Sugar since the last run into the ``crm_*`` tables.

    Sugar unreachable or failing is not the end of the night: the step is ``partial`` (what
    committed stays, the next run resumes from the watermark) and the statistics go on with
    the CRM data extracted so far. A config error stops the run.
    """
    from connectors.sugar.exceptions import InvalidCall, SugarError

    if not ctx.config.sugar_source.enabled:
        return []  # not a step of this installation's sync: nothing to show
    report = ctx.progress
    started = time.perf_counter()
    try:
        info = extract_sugar(
            ctx.runtime,
            ctx.engine,
            progress=(lambda module, done: report(f"crm: {module}", done, 0))
            if report is not None
            else None,
        )
    except InvalidCall:
        raise
    except SugarError as exc:
        log.warning("the Sugar extraction failed, the next run resumes it: %s", exc)
        return [
            StepInfo(
                "crm",
                status="partial",
                seconds=time.perf_counter() - started,
                note=f"Sugar extraction failed (resumed by the next run): {_describe(exc)}",
            )
        ]
    skipped = [f"{m.module} skipped ({m.skipped})" for m in info.modules if m.skipped]
    return [
        StepInfo(
            "crm",
            seconds=info.seconds,
            counts=info.counts(),
            run_id=info.run_id,
            note="; ".join(skipped),
        )
    ]


def _rates_counts(rates: RatesLoadInfo | None, conversion: dict[str, Any]) -> dict[str, int]:
    """The rates load's and the conversion's counts for the load step."""
    counts: dict[str, int] = {}
    if rates is not None:
        counts["rates_loaded"] = rates.inserted + rates.updated
    if conversion:
        counts["orders_without_rate"] = int(conversion.get("unconverted_orders", 0))
    return counts


def _currency_note(conversion: dict[str, Any]) -> str:
    """Which orders have no usable exchange rate (left out of the money figures)."""
    missing = conversion.get("unconverted") or []
    if not missing:
        return ""
    listed = ", ".join(f"{m['orders']} in {m['currency']}" for m in missing)
    return (
        f"orders without a rate to {conversion['reporting_currency']}: {listed} "
        "(kept, left out of the money figures)"
    )


def analytics_stage(ctx: StepContext) -> list[StepInfo]:
    """Compute and store the client-habit statistics for ``as_of`` (``analytics.run_analytics``)."""
    from analytics import run_analytics

    started = time.perf_counter()
    info = run_analytics(
        ctx.engine,
        ctx.config.analytics,
        ctx.as_of,
        progress=ctx.progress,
        backdated=ctx.backdated and not ctx.push_past,
        default_currency=ctx.runtime.load_defaults().currency,
    )
    return [
        StepInfo(
            "analyse",
            seconds=time.perf_counter() - started,
            counts={
                "customers": info.n_customers,
                "buyers": info.n_buyers,
                "orders": info.n_orders,
                "segments": len([n for n in info.segments.values() if n]),
                "orders_without_rate": int(info.conversion.get("unconverted_orders", 0)),
            },
            run_id=info.run_id,
            note="; ".join(
                n
                for n in (
                    _analytics_note(info.unchanged, info.run_id, info.clv_error),
                    _currency_note(info.conversion),
                )
                if n
            ),
        )
    ]


def _analytics_note(unchanged: bool, run_id: int, clv_error: str | None) -> str:
    notes = [f"same results as run {run_id}: not stored again"] if unchanged else []
    if clv_error:
        notes.append(f"CLV not fitted: {clv_error}")
    return "; ".join(notes)


#: The prefix of the push step's per-person counters (``contacts_created``: the persons' share).
PERSONS_PREFIX = "contacts_"


def push_stage(ctx: StepContext) -> list[StepInfo]:
    """Push the segments into Sugar (``sugar_bridge.push.push.push_segments``).

    Only changed accounts are written, each batch verified by read-back; rows that did not stick
    make the step ``partial`` and are retried by the next run. A dry run reads Sugar and writes
    nothing.
    """
    from sugar_bridge.push.push import push_segments
    from sugar_bridge.sugar import make_client

    if ctx.backdated and not ctx.push_past:
        log.info("push skipped: as of %s is a past day (--push-past to send it)", ctx.as_of)
        return [
            StepInfo(
                "push",
                status="skipped",
                note=f"as of {ctx.as_of} is a past day: statistics kept, nothing sent to Sugar "
                "(--push-past to send them)",
            )
        ]
    settings = ctx.settings
    started = time.perf_counter()
    report = ctx.progress
    info = push_segments(
        ctx.engine,
        lambda: make_client(settings),
        ctx.runtime.push_config,
        as_of=ctx.as_of,
        dry_run=ctx.dry_run,
        locale=settings.locale,
        currency=settings.default_currency,
        progress=(lambda step, done, total: report(f"push: {step}", done, total))
        if report is not None
        else None,
    )
    counts = info.counts()
    counts["transitions"] = sum(info.transitions.values())
    # The persons' share (pushed to Contacts): contacts_customers, contacts_created, ...
    counts |= {f"{PERSONS_PREFIX}{k}": v for k, v in info.modules.get("Contacts", {}).items()}
    return [
        StepInfo(
            "push",
            status="partial" if info.status == "partial" else "ok",
            seconds=time.perf_counter() - started,
            counts=counts,
            run_id=info.run_id,
            note="dry run: nothing written to Sugar" if ctx.dry_run else "",
        )
    ]


def preflight(runtime: Runtime) -> None:
    """Settings problems that would stop the run halfway, found before anything runs.

    Raises ConfigError (exit code 2, nothing done): the extract needs at least one source, the push
    needs Sugar's URL and password.
    """
    if not runtime.sources.inputs:
        raise ConfigError(
            f"{runtime.settings.config}: no order source under sources.inputs: the sync has "
            "nothing to extract (see README, `sugar-bridge etl`)"
        )
    runtime.settings.require_sugar()
