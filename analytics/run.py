"""One analytics run: statistics, RFM, CLV, lifecycle and portfolio figures for an ``as_of`` date.

``run_analytics(engine, config, as_of)`` is the library entry point of the sync pipeline's
"analyse" step. It records the run in ``etl_run`` (job ``analytics``; ``watermark_to`` = as_of),
computes everything, and stores the per-customer rows, the models and the portfolio figures in
one transaction together with the run's final status: a run is either wholly visible in
``customer_habits`` or not at all.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import update
from sqlalchemy.engine import Connection, Engine

from analytics.clv import ClvFit, customer_lifetime_value, grouped_predict
from analytics.config import AnalyticsConfig
from analytics.crm import add_crm_statistics, crm_summary
from analytics.exceptions import AnalyticsError, ConvergenceError
from analytics.habits import compute_habits, lifecycle_stages
from analytics.holdout import choose_model, fit_models
from analytics.model_input import DAYS_PER_UNIT, ModelInput
from analytics.portfolio import compute_portfolio
from analytics.prospects import customer_prospect_scores, score_prospects
from analytics.store import (
    RunKind,
    insert_prospect_scores,
    insert_run,
    latest_run,
    load_portfolio_metrics,
    load_run,
    prune_runs,
    results_digest,
    scores_digest,
    set_portfolio,
    stored_digest,
)
from etl.fx import ConversionInfo, convert_orders, resolve_reporting_currency
from etl.runs import JobName, Run, run_ledger
from etl.schema import analytics_run

log = logging.getLogger(__name__)

JOB: JobName = "analytics"

#: ``progress(step, done, total)``: the run's phases as they finish (for a progress display).
Progress = Callable[[str, int, int], None]

#: The phases counted by ``progress("analyse", done, 3)``, in order.
PHASES = ("statistics and models", "customers stored", "portfolio figures")


def _utcnow() -> datetime:
    # Run bookkeeping only (started/finished timestamps); the figures depend on as_of alone.
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class AnalyticsRunInfo:
    """What one run computed: counts, segment and stage sizes, models, timings (seconds)."""

    run_id: int
    as_of: date
    n_customers: int
    n_buyers: int
    n_orders: int
    segments: dict[str, int]
    stages: dict[str, int]
    models: dict[str, Any] | None
    clv_error: str | None
    revenue: float
    top_20_pct_revenue_share: float | None
    #: The reporting currency of every amount, and the conversion (orders without a rate …).
    currency: str = ""
    conversion: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    # True when the results were those of run ``run_id`` already stored for as_of (nothing was
    # stored again); ``run_id`` is then that earlier run, whose results stand.
    unchanged: bool = False

    @property
    def duration_s(self) -> float:
        return sum(self.timings.values())


def model_summary(customers: pd.DataFrame) -> ModelInput:
    """The buyers' ``frequency, recency, T, monetary`` (the models' input)."""
    buyers = customers[customers["n_orders"] > 0]
    return ModelInput.from_frame(buyers[["frequency", "recency", "T", "monetary"]].astype(float))


def apply_models(customers: pd.DataFrame, fit: ClvFit, config: AnalyticsConfig) -> pd.DataFrame:
    """Add ``p_alive``, ``expected_orders_90d`` and ``clv_12m`` for the buyers."""
    out = customers.copy(deep=False)  # adds new columns only: sharing the others is safe
    buyers = out["n_orders"] > 0
    x = out.loc[buyers, "frequency"].to_numpy(float)
    tx = out.loc[buyers, "recency"].to_numpy(float)
    age = out.loc[buyers, "T"].to_numpy(float)
    bg = fit.purchases
    horizon = config.clv.expected_orders_days / DAYS_PER_UNIT[fit.time_unit]
    out["p_alive"] = np.nan
    out["expected_orders_90d"] = np.nan
    out["clv_12m"] = np.nan
    out.loc[buyers, "p_alive"] = grouped_predict(bg.probability_alive, x, tx, age)
    out.loc[buyers, "expected_orders_90d"] = grouped_predict(
        lambda a, b, c: bg.conditional_expected_purchases(horizon, a, b, c), x, tx, age
    )
    if fit.gamma_gamma is not None:
        out.loc[buyers, "clv_12m"] = customer_lifetime_value(
            bg,
            fit.gamma_gamma,
            x,
            tx,
            age,
            out.loc[buyers, "monetary"].to_numpy(float),
            time_unit=fit.time_unit,
            months=config.clv.horizon_months,
            annual_discount_rate=config.clv.annual_discount_rate,
            margin=config.clv.margin,
        )
    return out


def score_customers(
    conn: Connection, as_of: date, config: AnalyticsConfig
) -> tuple[pd.DataFrame, ClvFit | None, str | None, int, dict[str, float]]:
    """Habits + models + lifecycle for ``as_of``: (frame, fit or None, CLV error, orders, timings).

    A CLV fit that fails does not fail the run: the CLV columns stay empty, the error is returned
    (and stored with the run) and lifecycle falls back to the recency rules.
    """
    timings: dict[str, float] = {}
    start = time.perf_counter()
    habits = compute_habits(conn, as_of, config)
    timings["statistics_sql"] = time.perf_counter() - start
    customers = habits.customers
    start = time.perf_counter()
    fit: ClvFit | None = None
    clv_error: str | None = None
    try:
        choice = choose_model(
            conn,
            as_of,
            model=config.clv.model,
            holdout_days=config.clv.holdout_days,
            time_unit=config.clv.time_unit,
            penalizer=config.clv.penalizer,
            min_customers=config.clv.min_customers,
        )
        fit = fit_models(model_summary(customers), config, choice)
        customers = apply_models(customers, fit, config)
    except ConvergenceError as exc:
        clv_error = str(exc)
        log.warning("CLV models not fitted for %s: %s", as_of, exc)
        for name in ("p_alive", "expected_orders_90d", "clv_12m"):
            customers[name] = np.nan
    timings["clv_models"] = time.perf_counter() - start
    customers["lifecycle_stage"] = lifecycle_stages(customers, config)
    return customers, fit, clv_error, habits.n_orders_read, timings


def run_analytics(
    engine: Engine,
    config: AnalyticsConfig,
    as_of: date,
    *,
    clock: Callable[[], datetime] = _utcnow,
    progress: Progress | None = None,
    backdated: bool = False,
    default_currency: str = "EUR",
) -> AnalyticsRunInfo:
    """Compute and store everything for ``as_of``; returns what was computed.

    The orders are first converted to the reporting currency (``config.currency.reporting``;
    else their own when they all have one; else ``default_currency``) with the rates in the
    warehouse (``etl.fx.convert_orders``): orders without a usable rate are flagged (counted in
    the run's details) and left out of every money figure.

    ``backdated``: ``as_of`` is a past day recomputed (the caller knows today, in its time
    zone): the run is stored and reported but ``customer_habits`` and the push keep showing the
    latest current run.

    ``progress`` is told each phase of :data:`PHASES` as it finishes.

    The run is opened in the ledger first (:mod:`etl.runs`, status ``running``) so a crash
    leaves a trace; the results and the final status are one transaction. Raises AnalyticsError
    (after marking the run failed) on any failure.
    """
    run_id: int | None = None
    try:
        with run_ledger(engine, JOB, watermark_to=as_of.isoformat(), started_at=clock()) as run:
            run_id = run.run_id
            log.info("analytics run %d for as_of %s started", run_id, as_of)
            # Computed on a read connection, stored in a short write transaction: on SQLite
            # (WAL) a transaction that reads for minutes and then writes fails ("database is
            # locked") when the run's heartbeat commits in between, its snapshot being stale.
            # The orders in the reporting currency first (a short write of its own).
            start = time.perf_counter()
            with engine.begin() as conn:
                currency = resolve_reporting_currency(
                    conn, config.currency.reporting, default_currency
                )
                conversion = convert_orders(
                    conn, currency, max_rate_age_days=config.currency.max_rate_age_days
                )
            convert_s = time.perf_counter() - start
            with engine.connect() as read:
                computed = _compute(read, as_of, config)
            computed.timings["currency_conversion"] = convert_s
            run.last_beat()  # the store below holds the run's row (see Run.last_beat)
            with engine.begin() as conn:
                info = _compute_and_store(
                    conn,
                    run,
                    as_of,
                    config,
                    clock,
                    computed,
                    progress,
                    "backdated" if backdated else "current",
                    currency,
                    conversion,
                )
    except Exception as exc:
        if run_id is None:  # the ledger could not even be written
            raise
        log.error("analytics run %d failed: %s", run_id, exc)
        if isinstance(exc, AnalyticsError):
            raise
        raise AnalyticsError(f"analytics run {run_id} failed: {exc}") from exc
    log.info(
        "analytics run %d: %d customers (%d buyers) in %.1fs",
        run_id,
        info.n_customers,
        info.n_buyers,
        info.duration_s,
    )
    return info


@dataclass
class _Computed:
    """What a run computed, before anything is stored."""

    customers: pd.DataFrame
    fit: ClvFit | None
    clv_error: str | None
    n_orders: int
    timings: dict[str, float]
    prospects: dict[str, Any] | None  # the prospect model (None without CRM records)
    scores: pd.DataFrame  # the prospect scores
    crm: dict[str, Any] | None  # the report's CRM figures (None without CRM records)


def _compute(conn: Connection, as_of: date, config: AnalyticsConfig) -> _Computed:
    """Statistics, models, lifecycle, CRM statistics and prospect scores for ``as_of`` (reads
    only)."""
    customers, fit, clv_error, n_orders, timings = score_customers(conn, as_of, config)
    start = time.perf_counter()
    customers = add_crm_statistics(conn, customers, as_of)
    prospects, scores = score_prospects(conn, as_of, config.prospects)
    if prospects is not None:
        customers["prospect_score"] = customer_prospect_scores(customers, scores)
    crm = crm_summary(conn, customers, as_of)
    timings["crm"] = time.perf_counter() - start
    return _Computed(customers, fit, clv_error, n_orders, timings, prospects, scores, crm)


def _compute_and_store(
    conn: Connection,
    run: Run,
    as_of: date,
    config: AnalyticsConfig,
    clock: Callable[[], datetime],
    computed: _Computed,
    progress: Progress | None = None,
    kind: RunKind = "current",
    currency: str = "EUR",
    conversion: ConversionInfo | None = None,
) -> AnalyticsRunInfo:
    def phase_done(n: int) -> None:
        if progress is not None:
            progress("analyse", n, len(PHASES))

    customers, fit, clv_error = computed.customers, computed.fit, computed.clv_error
    n_orders, timings = computed.n_orders, computed.timings
    prospects, scores, crm = computed.prospects, computed.scores, computed.crm
    # The caller still holds ``computed``: drop its frame, so that the one below is the only
    # reference and is let go before the portfolio figures.
    computed.customers = customers.iloc[:0]
    phase_done(1)
    models = fit.as_dict() if fit is not None else None
    stored_models = {**(models or {}), "error": clv_error}
    if prospects is not None:
        # The scores are stored apart (prospect_score): their digest makes a rerun whose
        # scores differ store again.
        stored_models["prospects"] = {**prospects, "scores_digest": scores_digest(scores)}
    config_json = config.model_dump(mode="json")
    start = time.perf_counter()
    digest = results_digest(
        as_of,
        customers,
        time_unit=config.clv.time_unit,
        models=stored_models,
        config={**config_json, "reporting_currency": currency},
    )
    # A rerun that would store exactly what the latest run stored (a no-change night rerun)
    # stores nothing again: that run's results stand, and customer_habits already shows them.
    latest = latest_run(conn, as_of)  # the newest run of this date, of either kind
    same = latest is not None
    results_id = latest.run_id if same and latest is not None else run.run_id
    unchanged = same and stored_digest(conn, results_id) == digest
    pruned = 0
    if not unchanged:
        results_id = run.run_id
        insert_run(
            conn,
            results_id,
            as_of,
            customers,
            time_unit=config.clv.time_unit,
            models=stored_models,
            config=config_json,
            created_at=clock(),
            kind=kind,
            currency=currency,
        )
        insert_prospect_scores(conn, results_id, scores)
        pruned = prune_runs(conn, config.keep_runs)
    else:
        log.info(
            "analytics run %d: same results as run %d, not stored again", run.run_id, results_id
        )
        if kind == "current":  # the day recomputed earlier is now the one to show and push
            conn.execute(
                update(analytics_run)
                .where(analytics_run.c.run_id == results_id)
                .values(kind="current")
            )
    timings["store"] = time.perf_counter() - start
    phase_done(2)
    buyers = customers["n_orders"] > 0
    segments = {
        str(name): int(n) for name, n in customers.loc[buyers, "rfm_segment"].value_counts().items()
    }
    stages = {str(k): int(v) for k, v in customers["lifecycle_stage"].value_counts().items()}
    n_customers, n_buyers = len(customers), int(buyers.sum())
    # The per-customer frame is stored: let it go before the portfolio figures read the
    # stored metrics back, so the two are never in memory together.
    del customers, buyers
    start = time.perf_counter()
    portfolio: dict[str, Any]
    stored = load_run(conn, results_id) if unchanged else None
    if stored is not None and stored["portfolio"]:
        portfolio = stored["portfolio"]
    else:
        metrics = load_portfolio_metrics(conn, results_id)
        portfolio = compute_portfolio(conn, results_id, as_of, metrics, config, currency)
        if crm is not None:
            portfolio["crm"] = crm
        del metrics
        set_portfolio(conn, results_id, portfolio)
    timings["portfolio"] = time.perf_counter() - start
    phase_done(3)
    concentration: dict[str, Any] = portfolio["concentration"]
    info = AnalyticsRunInfo(
        run_id=results_id,
        as_of=as_of,
        n_customers=n_customers,
        n_buyers=n_buyers,
        n_orders=n_orders,
        segments=segments,
        stages=stages,
        models=models,
        clv_error=clv_error,
        revenue=float(portfolio["totals"]["revenue"]),
        top_20_pct_revenue_share=concentration.get("top_20_pct"),
        timings={k: round(v, 3) for k, v in timings.items()},
        unchanged=unchanged,
        currency=currency,
        conversion=conversion.as_dict() if conversion is not None else {},
    )
    run.rows_read, run.rows_loaded = n_orders, 0 if unchanged else n_customers
    run.details = {
        "as_of": as_of.isoformat(),
        "buyers": info.n_buyers,
        "segments": segments,
        "stages": stages,
        "timings": info.timings,
        "pruned_rows": pruned,
        "clv_error": clv_error,
        "currency": conversion.as_dict() if conversion is not None else {},
        "results_digest": digest,
        **({"unchanged": True, "results_run_id": results_id} if unchanged else {}),
    }
    # In the results' transaction: a run is ok exactly when its results are visible.
    run.finish("ok", conn=conn, finished_at=clock())
    return info
