"""CLV you can check: a calibration/holdout split and the standard evaluation of a model.

The orders up to ``calibration_end`` fit the model; the orders after it, up to ``holdout_end``,
are what it should have predicted. The evaluation is the one of the BTYD literature (Fader, Hardie
& Lee 2005; Schmittlein & Peterson 1994):

* per customer: predicted vs actual repeat purchases in the holdout, as MAE and RMSE;
* **conditional expectations by calibration frequency**: mean actual vs predicted holdout
  purchases of the customers who made 0, 1, ... 7+ repeat purchases in the calibration period;
* **tracking**: cumulative and incremental repeat purchases per period, actual vs the model's
  expectation from each customer's first purchase, across calibration and holdout;
* **frequency/recency matrices** of the expected purchases in the next period and of P(alive),
  for a customer of the longest age.

Every function is pure: it takes a transaction frame and explicit dates, nothing reads "today".
pandas is imported by the functions that evaluate on a holdout, not with the module: a run with a
named model and no holdout (``analytics clv --model bgnbd``) only fits (:func:`fit_models`).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.engine import Connection

from analytics.btyd import (
    MODELS,
    FloatArray,
    TransactionModel,
    degenerate_params,
    make_model,
)
from analytics.clv import ClvFit, fit_clv, grouped_predict
from analytics.exceptions import AnalyticsError, ConvergenceError
from analytics.model_input import DAYS_PER_UNIT, ModelInput, TimeUnit
from analytics.summary import purchase_filter
from etl.schema import fact_order

if TYPE_CHECKING:
    import pandas as pd

    from analytics.config import AnalyticsConfig

log = logging.getLogger(__name__)

FREQUENCY_BUCKETS = 8  # 0, 1, ..., 6 and "7+"


def calibration_holdout(
    transactions: pd.DataFrame,
    *,
    customer_col: str,
    date_col: str,
    calibration_end: date,
    holdout_end: date,
    time_unit: TimeUnit = "weeks",
) -> pd.DataFrame:
    """Per customer of the calibration cohort (first purchase on or before ``calibration_end``):
    ``frequency, recency, T`` at the end of calibration, ``holdout_purchases`` (purchase days in
    ``(calibration_end, holdout_end]``) and ``first_day`` (days from the first order of the data).

    Purchases of one day count once, as in the fit.
    """
    if holdout_end <= calibration_end:
        raise AnalyticsError(
            f"the holdout must end after the calibration ({holdout_end} <= {calibration_end})"
        )
    import pandas as pd

    days = pd.to_datetime(transactions[date_col]).dt.normalize()
    frame = pd.DataFrame({"customer": transactions[customer_col].to_numpy(), "day": days})
    frame = frame[frame["day"] <= pd.Timestamp(holdout_end)].drop_duplicates()
    cal_end = pd.Timestamp(calibration_end)
    first = frame.groupby("customer", sort=True)["day"].min()
    cohort = first[first <= cal_end]
    if cohort.empty:
        raise AnalyticsError(
            f"no customer bought on or before the calibration end ({calibration_end})"
        )
    frame = frame[frame["customer"].isin(cohort.index)]
    calibration = frame[frame["day"] <= cal_end].groupby("customer", sort=True)["day"]
    holdout = frame[frame["day"] > cal_end].groupby("customer", sort=True)["day"].count()
    unit = DAYS_PER_UNIT[time_unit]
    origin = frame["day"].min()
    out = pd.DataFrame(
        {
            "frequency": (calibration.count() - 1).astype(np.float64),
            "recency": (calibration.max() - cohort).dt.days / unit,
            "T": (cal_end - cohort).dt.days / unit,
            "first_day": (cohort - origin).dt.days.astype(np.int64),
        }
    )
    out["holdout_purchases"] = holdout.reindex(out.index, fill_value=0).astype(np.float64)
    # Customers whose first purchase is the calibration's last day have T = 0: not fittable.
    return out[out["T"] > 0]


@dataclass
class HoldoutEvaluation:
    """How one model predicted the holdout; ``as_dict()`` is the JSON of ``analytics clv``."""

    model: str
    params: dict[str, float]
    log_likelihood: float
    degenerate: list[str]
    n_customers: int
    calibration_end: str
    holdout_end: str
    holdout_periods: float
    time_unit: str
    actual_total: float
    predicted_total: float
    mae: float
    rmse: float
    by_frequency: list[dict[str, Any]] = field(default_factory=list)
    tracking: list[dict[str, Any]] = field(default_factory=list)
    matrices: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _by_frequency(summary: pd.DataFrame, predicted: FloatArray) -> list[dict[str, Any]]:
    bucket = np.minimum(summary["frequency"].to_numpy(), FREQUENCY_BUCKETS - 1).astype(int)
    rows = []
    for level in range(FREQUENCY_BUCKETS):
        mask = bucket == level
        if not mask.any():
            continue
        label = f"{level}+" if level == FREQUENCY_BUCKETS - 1 else str(level)
        rows.append(
            {
                "frequency": label,
                "customers": int(mask.sum()),
                "actual": float(summary["holdout_purchases"].to_numpy()[mask].mean()),
                "predicted": float(predicted[mask].mean()),
            }
        )
    return rows


def _tracking(
    transactions: pd.DataFrame,
    summary: pd.DataFrame,
    model: TransactionModel,
    *,
    customer_col: str,
    date_col: str,
    holdout_end: date,
    time_unit: TimeUnit,
) -> list[dict[str, Any]]:
    """Repeat purchases per period since the data's first day: actual vs expected."""
    import pandas as pd

    unit = DAYS_PER_UNIT[time_unit]
    days = pd.to_datetime(transactions[date_col]).dt.normalize()
    frame = pd.DataFrame({"customer": transactions[customer_col].to_numpy(), "day": days})
    frame = frame[frame["customer"].isin(summary.index)]
    frame = frame[frame["day"] <= pd.Timestamp(holdout_end)].drop_duplicates()
    origin = frame["day"].min()
    offset = (frame["day"] - origin).dt.days.to_numpy()
    first = summary["first_day"].reindex(frame["customer"]).to_numpy()
    repeat = offset[offset > first]
    n_days = (pd.Timestamp(holdout_end) - origin).days + 1
    n_periods = int(np.ceil(n_days / unit))
    actual = np.bincount((repeat // unit).astype(int), minlength=n_periods)[:n_periods]
    # Expected cumulative repeat purchases at the end of each period (the last one ends with the
    # holdout, so a partial period is compared with a partial expectation): sum over customers
    # of E[X(t - first)], evaluated once per distinct first day.
    firsts, counts = np.unique(summary["first_day"].to_numpy(), return_counts=True)
    ends = np.minimum(np.arange(1, n_periods + 1) * unit, n_days)
    cumulative = np.zeros(n_periods)
    for first_day, count in zip(firsts, counts, strict=True):
        ages = np.maximum(ends - first_day - 1, 0.0) / unit
        cumulative += count * np.where(ages > 0, model.expected_purchases(ages), 0.0)
    incremental = np.diff(cumulative, prepend=0.0)
    actual_cumulative = np.cumsum(actual)
    return [
        {
            "period": i + 1,
            "actual": int(actual[i]),
            "predicted": float(incremental[i]),
            "actual_cumulative": int(actual_cumulative[i]),
            "predicted_cumulative": float(cumulative[i]),
        }
        for i in range(n_periods)
    ]


def _matrices(summary: pd.DataFrame, model: TransactionModel) -> dict[str, Any]:
    """Expected purchases in the next period and P(alive) by frequency x recency, at max T."""
    t_max = float(summary["T"].max())
    max_frequency = int(min(summary["frequency"].max(), 30))
    frequencies = np.arange(0, max_frequency + 1, dtype=np.float64)
    recencies = np.linspace(0.0, t_max, num=min(int(t_max) + 1, 40))
    x, tx = np.meshgrid(frequencies, recencies, indexing="ij")
    # A customer without repeat purchase has recency 0; show those cells as such.
    tx = np.where(x == 0, 0.0, tx)
    age = np.full_like(x, t_max)
    expected = model.conditional_expected_purchases(1.0, x.ravel(), tx.ravel(), age.ravel())
    alive = model.probability_alive(x.ravel(), tx.ravel(), age.ravel())
    return {
        "T": t_max,
        "frequency": frequencies.astype(int).tolist(),
        "recency": [round(float(v), 3) for v in recencies],
        "expected_next_period": np.round(expected.reshape(x.shape), 4).tolist(),
        "p_alive": np.round(alive.reshape(x.shape), 4).tolist(),
    }


def evaluate_model(
    transactions: pd.DataFrame,
    name: str,
    *,
    customer_col: str,
    date_col: str,
    calibration_end: date,
    holdout_end: date,
    time_unit: TimeUnit = "weeks",
    penalizer: float = 0.0,
    summary: pd.DataFrame | None = None,
) -> HoldoutEvaluation:
    """Fit model ``name`` on the calibration period and measure it on the holdout."""
    if summary is None:
        summary = calibration_holdout(
            transactions,
            customer_col=customer_col,
            date_col=date_col,
            calibration_end=calibration_end,
            holdout_end=holdout_end,
            time_unit=time_unit,
        )
    model = make_model(name, penalizer=penalizer)
    model.fit(summary["frequency"], summary["recency"], summary["T"])
    periods = (holdout_end - calibration_end).days / DAYS_PER_UNIT[time_unit]
    predicted = grouped_predict(
        lambda x, tx, age: model.conditional_expected_purchases(periods, x, tx, age),
        summary["frequency"],
        summary["recency"],
        summary["T"],
    )
    actual = summary["holdout_purchases"].to_numpy()
    error = predicted - actual
    return HoldoutEvaluation(
        model=name,
        params=dict(model.params_),
        log_likelihood=model.log_likelihood_,
        degenerate=degenerate_params(model.params_),
        n_customers=len(summary),
        calibration_end=calibration_end.isoformat(),
        holdout_end=holdout_end.isoformat(),
        holdout_periods=periods,
        time_unit=time_unit,
        actual_total=float(actual.sum()),
        predicted_total=float(predicted.sum()),
        mae=float(np.mean(np.abs(error))),
        rmse=float(np.sqrt(np.mean(error**2))),
        by_frequency=_by_frequency(summary, predicted),
        tracking=_tracking(
            transactions,
            summary,
            model,
            customer_col=customer_col,
            date_col=date_col,
            holdout_end=holdout_end,
            time_unit=time_unit,
        ),
        matrices=_matrices(summary, model),
    )


def compare_models(
    transactions: pd.DataFrame,
    *,
    customer_col: str,
    date_col: str,
    calibration_end: date,
    holdout_end: date,
    time_unit: TimeUnit = "weeks",
    penalizer: float = 0.0,
    models: tuple[str, ...] = tuple(MODELS),
) -> dict[str, HoldoutEvaluation]:
    """Every model evaluated on the same split (one summary, computed once)."""
    summary = calibration_holdout(
        transactions,
        customer_col=customer_col,
        date_col=date_col,
        calibration_end=calibration_end,
        holdout_end=holdout_end,
        time_unit=time_unit,
    )
    return {
        name: evaluate_model(
            transactions,
            name,
            customer_col=customer_col,
            date_col=date_col,
            calibration_end=calibration_end,
            holdout_end=holdout_end,
            time_unit=time_unit,
            penalizer=penalizer,
            summary=summary,
        )
        for name in models
    }


def best_model(evaluations: dict[str, HoldoutEvaluation]) -> str:
    """The model with the lowest per-customer holdout MAE among the non-degenerate fits (all of
    them when every fit is degenerate); ties go to the first in ``MODELS`` order."""
    if not evaluations:
        raise AnalyticsError("no model was evaluated")
    sound = {k: v for k, v in evaluations.items() if not v.degenerate} or evaluations
    return min(sound, key=lambda k: (round(sound[k].mae, 9), list(MODELS).index(k)))


# --- the model of a run ------------------------------------------------------------------------

MIN_HOLDOUT_DAYS = 28
MAX_HOLDOUT_DAYS = 365
FALLBACK_MODEL = "mbgnbd"  # without a holdout: never P(alive) = 1 for a one-time buyer
# The L2 penalty a degenerate fit is refitted with (parameters at the edge of their space).
DEGENERATE_PENALIZER = 1e-3


@dataclass
class ModelChoice:
    """Which repeat-purchase model a run uses and why (stored with the run, shown in the report)."""

    model: str
    reason: str
    calibration_end: date | None = None
    evaluations: dict[str, HoldoutEvaluation] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "reason": self.reason,
            "calibration_end": self.calibration_end.isoformat() if self.calibration_end else None,
            # The matrices of the chosen model only: the others' are not shown.
            "evaluations": {
                k: {**v.as_dict(), "matrices": v.matrices if k == self.model else {}}
                for k, v in self.evaluations.items()
            },
        }


def purchase_days(conn: Connection, as_of: date) -> pd.DataFrame:
    """``customer, day`` of every purchase day up to ``as_of`` (cancelled orders are not
    purchases), one row per customer and day, as the models count them."""
    import pandas as pd

    from analytics.frames import read_frame

    query = (
        select(fact_order.c.customer_key.label("customer"), fact_order.c.order_date_key)
        .where(purchase_filter(as_of))
        .distinct()
    )
    frame = read_frame(conn, query, {"customer": "int", "order_date_key": "int"})
    frame["day"] = pd.to_datetime(frame.pop("order_date_key").astype(str), format="%Y%m%d")
    return frame


def holdout_days_for(days: pd.DataFrame, as_of: date, configured: int | None) -> int | None:
    """The holdout length: as configured, else a third of the history (28-365 days); None
    when the history is too short for one."""
    import pandas as pd

    if days.empty:
        return None
    history = (pd.Timestamp(as_of) - days["day"].min()).days
    length = configured or min(MAX_HOLDOUT_DAYS, history // 3)
    if length < MIN_HOLDOUT_DAYS or history - length < MIN_HOLDOUT_DAYS:
        return None
    return int(length)


def choose_model(
    conn: Connection,
    as_of: date,
    *,
    model: str,
    holdout_days: int | None,
    time_unit: TimeUnit,
    penalizer: float,
    min_customers: int,
) -> ModelChoice:
    """The run's model: ``model`` itself, or for ``auto`` the one with the lowest holdout error
    on the shop's own orders (``FALLBACK_MODEL`` when the history is too short to hold out).

    For a named model the holdout check runs when ``holdout_days`` is given (the report then
    shows how well it predicts); for ``auto`` always, with history enough. A model that fails
    to fit on the calibration period is left out of the comparison.
    """
    if model != "auto" and holdout_days is None:
        # A model named without a holdout: nothing to choose, and the check is not asked for.
        return ModelChoice(model, "configured (no holdout check asked: clv.holdout_days)")
    days = purchase_days(conn, as_of)
    length = holdout_days_for(days, as_of, holdout_days)
    if length is None:
        name = FALLBACK_MODEL if model == "auto" else model
        return ModelChoice(name, "too little history for a holdout evaluation")
    calibration_end = as_of - timedelta(days=length)
    try:
        summary = calibration_holdout(
            days,
            customer_col="customer",
            date_col="day",
            calibration_end=calibration_end,
            holdout_end=as_of,
            time_unit=time_unit,
        )
    except AnalyticsError as exc:
        name = FALLBACK_MODEL if model == "auto" else model
        return ModelChoice(name, f"no holdout evaluation: {exc}")
    if len(summary) < min_customers:
        name = FALLBACK_MODEL if model == "auto" else model
        return ModelChoice(
            name, f"{len(summary)} customers before {calibration_end}: too few to hold out"
        )
    evaluations: dict[str, HoldoutEvaluation] = {}
    for name in MODELS:
        try:
            evaluations[name] = evaluate_model(
                days,
                name,
                customer_col="customer",
                date_col="day",
                calibration_end=calibration_end,
                holdout_end=as_of,
                time_unit=time_unit,
                penalizer=penalizer,
                summary=summary,
            )
        except ConvergenceError as exc:
            log.warning("%s did not fit on the calibration period: %s", name, exc)
    if model != "auto":
        return ModelChoice(model, "configured", calibration_end, evaluations)
    if not evaluations:
        return ModelChoice(FALLBACK_MODEL, "no model fitted the calibration period")
    best = best_model(evaluations)
    ev = evaluations[best]
    reason = f"lowest holdout error (MAE {ev.mae:.4f} over {ev.n_customers} customers)"
    return ModelChoice(best, reason, calibration_end, evaluations)


def fit_models(
    summary: ModelInput, config: AnalyticsConfig, choice: ModelChoice | None = None
) -> ClvFit:
    """Fit the chosen repeat-purchase model and Gamma-Gamma on the buyers of ``summary`` whose
    first purchase is before as_of.

    A fit left at the edge of the parameter space (degenerate) is not used silently: the next
    model by holdout error is tried, and when every one is degenerate the chosen one is refitted
    with a penalty (``penalized`` in the stored models; the report flags it). Raises
    ConvergenceError when there are too few buyers or a fit fails.
    """
    summary = summary.where(summary.age > 0)  # first bought on as_of: no observation time yet
    if len(summary) < config.clv.min_customers:
        raise ConvergenceError(
            f"CLV: {len(summary)} buyers with some history, the models need at least "
            f"{config.clv.min_customers} (analytics.clv.min_customers)"
        )
    clv = config.clv
    chosen = choice.model if choice is not None else clv.model
    if chosen == "auto":
        chosen = FALLBACK_MODEL
    candidates = [chosen]
    if choice is not None and clv.model == "auto":
        ranked = sorted(choice.evaluations.values(), key=lambda ev: ev.mae)
        candidates += [ev.model for ev in ranked if ev.model != chosen]
    selection = choice.as_dict() if choice is not None else None
    skipped: list[str] = []
    for name in candidates:
        fit = fit_clv(summary, model=name, time_unit=clv.time_unit, penalizer=clv.penalizer)
        if not fit.degenerate:
            return replace(fit, selection=_with_skipped(selection, skipped))
        log.warning("CLV: %s is degenerate on %s (%s)", name, fit.degenerate, fit.purchases.params_)
        skipped.append(f"{name} (degenerate: {', '.join(fit.degenerate)})")
    penalizer = max(clv.penalizer, DEGENERATE_PENALIZER)
    fit = fit_clv(summary, model=chosen, time_unit=clv.time_unit, penalizer=penalizer)
    return replace(fit, penalized=penalizer, selection=_with_skipped(selection, skipped))


def _with_skipped(selection: dict[str, Any] | None, skipped: list[str]) -> dict[str, Any] | None:
    """The model choice with the models whose fit on all the data was degenerate."""
    if selection is None or not skipped:
        return selection
    return {**selection, "skipped": skipped}
