"""The prospect score: which Sugar leads and prospect accounts will place a first order.

A transparent logistic regression fitted on the shop's own history (the "méthode du scoring"):

* **Prospects** on a day ``S``: the leads and the accounts known in Sugar (entered before ``S``,
  not deleted) whose customer had placed no order by ``S``. A lead's customer is the one of the
  account (or the person contact) it was converted to.
* **Outcome**: the customer places a first order (not cancelled) within ``horizon_days`` of
  ``S``.
* **Inputs known on S** (nothing recorded later is read): activities on the record before ``S``,
  meetings held, days since the last call or meeting held, amount of the opportunities open on
  ``S`` (accounts), the record's age, whether it is a lead, and its lead source (leads) or
  industry (accounts) for the values frequent enough. A lead's status is *not* an input: Sugar
  keeps only the current one, ``Converted`` after the very conversion the model predicts.
* **Time-based validation**: the model is fitted on prospects seen on days whose outcome window
  ended before the holdout day ``V = as_of - horizon``, and judged on the prospects of ``V``
  (outcomes up to ``as_of``): AUC, base rate, Brier score, calibration by score decile. The
  scores are then given by the same model refitted on every day, for the prospects of
  ``as_of``.

Too little history (fewer buyers or non-buyers than ``min_outcomes`` among the training
examples, or in the holdout fewer than ``min_holdout_outcomes``) gives no score at all and says
why: a score fitted on a handful of conversions would only be noise presented as a number.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Select

from analytics.config import ProspectConfig
from analytics.crm import CLOSED_SALES_STAGES, HELD, crm_present, live
from analytics.exceptions import ConvergenceError
from analytics.frames import read_frame
from analytics.summary import cutoff
from etl.schema import (
    crm_account,
    crm_activity,
    crm_contact,
    crm_lead,
    crm_opportunity,
    fact_order,
)

log = logging.getLogger(__name__)

NEVER_CONTACTED_DAYS = 730.0  # the cap of "days since the last contact"
NUMERIC_INPUTS = (
    "is_lead",
    "log_activities",
    "log_meetings_held",
    "log_days_since_contact",
    "log_open_opportunity_amount",
    "log_age_days",
)
INPUT_LABELS = {
    "is_lead": "is a lead (not an account)",
    "log_activities": "activities before (log 1+n)",
    "log_meetings_held": "meetings held (log 1+n)",
    "log_days_since_contact": "days since last call/meeting held (log 1+d; never = 730)",
    "log_open_opportunity_amount": "open opportunity amount (log 1+x)",
    "log_age_days": "days since the record was entered (log 1+d)",
}


@dataclass(frozen=True)
class ProspectModel:
    """A fitted logistic model: inputs standardised with ``means``/``scales``."""

    inputs: list[str]
    means: np.ndarray[Any, Any]
    scales: np.ndarray[Any, Any]
    intercept: float
    weights: np.ndarray[Any, Any]

    def predict(self, x: pd.DataFrame) -> np.ndarray[Any, Any]:
        z = (x[self.inputs].to_numpy(float) - self.means) / self.scales
        return np.asarray(_sigmoid(self.intercept + z @ self.weights))


def _sigmoid(v: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * v)))  # overflow-free logistic


def fit_logistic(
    x: pd.DataFrame, y: np.ndarray[Any, Any], *, penalizer: float = 1.0
) -> ProspectModel:
    """Logistic regression by L-BFGS on standardised inputs, L2 penalty on the weights (not on
    the intercept). Raises ConvergenceError when the optimiser fails."""
    inputs = list(x.columns)
    data = x.to_numpy(float)
    means = data.mean(axis=0)
    scales = data.std(axis=0)
    scales = np.where(scales > 0, scales, 1.0)
    z = (data - means) / scales
    design = np.column_stack([np.ones(len(z)), z])
    target = y.astype(float)
    penalty = np.r_[0.0, np.full(z.shape[1], penalizer)]

    def loss(beta: np.ndarray[Any, Any]) -> tuple[float, np.ndarray[Any, Any]]:
        eta = design @ beta
        # log(1 + e^eta) - y eta, stable for large |eta|
        value = np.sum(np.logaddexp(0.0, eta) - target * eta) + 0.5 * np.sum(penalty * beta**2)
        grad = design.T @ (_sigmoid(eta) - target) + penalty * beta
        return float(value), grad

    result = optimize.minimize(
        loss, np.zeros(design.shape[1]), jac=True, method="L-BFGS-B", options={"maxiter": 500}
    )
    if not result.success:
        raise ConvergenceError(f"prospect score: the logistic fit failed ({result.message})")
    beta = result.x
    return ProspectModel(inputs, means, scales, float(beta[0]), beta[1:])


def auc(y: np.ndarray[Any, Any], score: np.ndarray[Any, Any]) -> float:
    """Area under the ROC curve (Mann-Whitney, ties counted half)."""
    ranks = stats.rankdata(score)
    positives = y.astype(bool)
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def calibration_table(
    y: np.ndarray[Any, Any], score: np.ndarray[Any, Any], groups: int = 10
) -> list[dict[str, Any]]:
    """Per score decile (lowest first): count, mean score, observed rate of buyers."""
    order = np.argsort(score, kind="stable")
    out = []
    for i, part in enumerate(np.array_split(order, min(groups, len(order)))):
        if len(part) == 0:
            continue
        out.append(
            {
                "decile": i + 1,
                "n": len(part),
                "mean_score": round(float(score[part].mean()), 4),
                "observed_rate": round(float(y[part].mean()), 4),
            }
        )
    return out


# --- the data: prospects and their inputs on a day ---------------------------------------------


def _first_orders(as_of: date) -> Any:
    """Per customer, the first order placed by ``as_of`` (not cancelled)."""
    fo = fact_order
    return (
        select(fo.c.customer_key, func.min(fo.c.ordered_at).label("first_order_at"))
        .where(fo.c.ordered_at < cutoff(as_of), fo.c.status != "cancelled")
        .group_by(fo.c.customer_key)
        .subquery("first_order")
    )


def leads_query(as_of: date) -> Select[Any]:
    """Every lead entered by ``as_of`` with its customer (through the converted account or
    contact) and that customer's first order."""
    lead, acc, con, first = crm_lead, crm_account, crm_contact, _first_orders(as_of)
    customer = func.coalesce(acc.c.customer_key, con.c.customer_key)
    return (
        select(
            lead.c.id,
            lead.c.date_entered,
            lead.c.lead_source.label("category"),
            lead.c.status,
            lead.c.converted,
            customer.label("customer_key"),
            first.c.first_order_at,
        )
        .select_from(
            lead.outerjoin(acc, and_(acc.c.id == lead.c.account_id, live(acc)))
            .outerjoin(con, and_(con.c.id == lead.c.contact_id, live(con)))
            .outerjoin(first, first.c.customer_key == customer)
        )
        .where(live(lead), lead.c.date_entered < cutoff(as_of))
    )


def accounts_query(as_of: date) -> Select[Any]:
    """Every account entered by ``as_of`` with its customer and that customer's first order."""
    acc, first = crm_account, _first_orders(as_of)
    return (
        select(
            acc.c.id,
            acc.c.date_entered,
            acc.c.industry.label("category"),
            acc.c.customer_key,
            first.c.first_order_at,
        )
        .select_from(acc.outerjoin(first, first.c.customer_key == acc.c.customer_key))
        .where(live(acc), acc.c.date_entered < cutoff(as_of))
    )


def _activity_query(day: datetime, key: Any, *where: Any) -> Select[Any]:
    act = crm_activity
    held = and_(act.c.module.in_(("Calls", "Meetings")), act.c.status == HELD)
    return (
        select(
            key.label("id"),
            func.count().label("activities"),
            func.sum(
                case((and_(act.c.module == "Meetings", act.c.status == HELD), 1), else_=0)
            ).label("meetings_held"),
            func.max(case((held, act.c.date_start), else_=None)).label("last_contact_at"),
        )
        .where(live(act), act.c.date_start < day, *where)
        .group_by(key)
    )


def _opportunities_query(day: datetime) -> Select[Any]:
    """Per account, the amount of its opportunities open on ``day``: entered before it, and not
    closed or closed only after it (last modified after it)."""
    o = crm_opportunity
    open_then = or_(
        o.c.sales_stage.is_(None),
        o.c.sales_stage.not_in(CLOSED_SALES_STAGES),
        o.c.date_modified >= day,
    )
    return (
        select(o.c.account_id.label("id"), func.sum(o.c.amount).label("amount"))
        .where(live(o), o.c.date_entered < day, o.c.account_id.is_not(None), open_then)
        .group_by(o.c.account_id)
    )


def _inputs_on(conn: Connection, units: pd.DataFrame, day: datetime) -> pd.DataFrame:
    """The prospects of ``units`` on ``day`` with their numeric inputs and outcome columns."""
    entered = units["date_entered"] < day
    not_buyer = units["first_order_at"].isna() | (units["first_order_at"] >= day)
    frame = units[entered & not_buyer].copy()
    act = crm_activity
    kinds: dict[str, Any] = {"id": "text", "last_contact_at": "datetime"}
    on_leads = read_frame(
        conn,
        _activity_query(day, act.c.parent_id, act.c.parent_type == "Leads"),
        kinds,
        default="float",
    )
    on_accounts = read_frame(
        conn,
        _activity_query(day, act.c.account_id, act.c.account_id.is_not(None)),
        kinds,
        default="float",
    )
    activity = pd.concat(
        [on_leads.assign(module="Leads"), on_accounts.assign(module="Accounts")]
    ).set_index(["module", "id"])
    activity = activity.reindex(pd.MultiIndex.from_arrays([frame["module"], frame["id"]]))
    opportunities = read_frame(conn, _opportunities_query(day), {"id": "text"}, default="float")
    amount = opportunities.set_index("id")["amount"].reindex(frame["id"]).to_numpy(float)
    is_account = (frame["module"] == "Accounts").to_numpy()
    since = (pd.Timestamp(day) - activity["last_contact_at"]).dt.total_seconds() / 86_400
    age = (pd.Timestamp(day) - frame["date_entered"]).dt.total_seconds() / 86_400
    frame["is_lead"] = (~is_account).astype(float)
    frame["log_activities"] = np.log1p(activity["activities"].fillna(0).to_numpy(float))
    frame["log_meetings_held"] = np.log1p(activity["meetings_held"].fillna(0).to_numpy(float))
    frame["log_days_since_contact"] = np.log1p(
        since.fillna(NEVER_CONTACTED_DAYS).clip(0, NEVER_CONTACTED_DAYS).to_numpy(float)
    )
    frame["log_open_opportunity_amount"] = np.log1p(
        np.where(is_account, np.nan_to_num(amount, nan=0.0), 0.0).clip(min=0)
    )
    frame["log_age_days"] = np.log1p(age.clip(lower=0).to_numpy(float))
    frame["snapshot"] = pd.Timestamp(day)
    return frame


def load_units(conn: Connection, as_of: date) -> pd.DataFrame:
    """Leads and accounts with their entry date, category, customer and first order."""
    kinds: dict[str, Any] = {
        "id": "text",
        "date_entered": "datetime",
        "category": "label",
        "first_order_at": "datetime",
        "customer_key": "float",
        "status": "label",
        "converted": "float",
    }
    leads = read_frame(conn, leads_query(as_of), kinds).assign(module="Leads")
    accounts = read_frame(conn, accounts_query(as_of), kinds).assign(module="Accounts")
    accounts["status"] = None
    accounts["converted"] = np.nan
    # In record order: engines return rows in no fixed order, and the fit must not depend on it.
    units = pd.concat([leads, accounts], ignore_index=True)
    return units.sort_values(["module", "id"], ignore_index=True)


def _label(frame: pd.DataFrame, horizon: timedelta) -> np.ndarray[Any, Any]:
    first = frame["first_order_at"]
    return (first.notna() & (first < frame["snapshot"] + horizon)).to_numpy(int)


def _design(frame: pd.DataFrame, levels: list[str]) -> pd.DataFrame:
    x = frame[list(NUMERIC_INPUTS)].astype(float).copy()
    for level in levels:
        module, value = level.split("=", 1)
        field_module = "Leads" if module == "lead_source" else "Accounts"
        x[level] = ((frame["module"] == field_module) & (frame["category"] == value)).astype(float)
    return x


def _levels(frame: pd.DataFrame, min_count: int) -> list[str]:
    """``lead_source=Web``-style inputs for categories seen at least ``min_count`` times."""
    out = []
    for module, name in (("Leads", "lead_source"), ("Accounts", "industry")):
        values = frame.loc[frame["module"] == module, "category"].dropna()
        counts = values[values != ""].value_counts()
        out += [f"{name}={v}" for v, n in sorted(counts.items()) if n >= min_count]
    return out


def score_prospects(
    conn: Connection, as_of: date, config: ProspectConfig
) -> tuple[dict[str, Any] | None, pd.DataFrame]:
    """Fit, validate and apply the prospect model for ``as_of``.

    Returns (the model's description for the report and ``analytics prospects --json``, or None
    without CRM data; the scores: ``module, record_id, customer_key, score`` of today's
    prospects, empty when no score could be given). The description's ``status`` is ``ok`` or
    ``insufficient`` (with ``message``).
    """
    if not crm_present(conn):
        return None, _no_scores()
    horizon = timedelta(days=config.horizon_days)
    end = cutoff(as_of)
    holdout_day = end - horizon
    training_days = [
        holdout_day - horizon - timedelta(days=config.snapshot_step_days * k)
        for k in range(config.snapshots)
    ]
    units = load_units(conn, as_of)
    described: dict[str, Any] = {
        "status": "insufficient",
        "horizon_days": config.horizon_days,
        "holdout_day": holdout_day.date().isoformat(),
        "training_days": [d.date().isoformat() for d in sorted(training_days)],
        "prospects_now": 0,
    }
    current = _current_prospects(units, end)
    described["prospects_now"] = len(current)
    train = pd.concat([_inputs_on(conn, units, d) for d in training_days], ignore_index=True)
    holdout = _inputs_on(conn, units, holdout_day)
    y_train, y_hold = _label(train, horizon), _label(holdout, horizon)
    counts = {
        "training_examples": len(train),
        "training_buyers": int(y_train.sum()),
        "holdout_examples": len(holdout),
        "holdout_buyers": int(y_hold.sum()),
    }
    described.update(counts)
    short = _too_little(y_train, y_hold, config)
    if short is not None:
        described["message"] = short
        log.info("prospect score not given for %s: %s", as_of, short)
        return described, _no_scores()
    levels = _levels(train, config.min_category_count)
    design = _design(train, levels)
    # An input that never varies in the history tells nothing (e.g. is_lead when every
    # prospect was a lead): left out rather than given a weight of nothing.
    constant = [name for name in design.columns if design[name].nunique() < 2]
    inputs = [name for name in design.columns if name not in constant]
    described["constant_inputs"] = constant
    model = fit_logistic(design[inputs], y_train, penalizer=config.penalizer)
    predicted = model.predict(_design(holdout, levels))
    base_rate = float(y_hold.mean())
    described["validation"] = {
        "auc": round(auc(y_hold, predicted), 4),
        "base_rate": round(base_rate, 4),
        "mean_score": round(float(predicted.mean()), 4),
        "brier": round(float(np.mean((predicted - y_hold) ** 2)), 4),
        "brier_base_rate": round(base_rate * (1 - base_rate), 4),
        "calibration": calibration_table(y_hold, predicted),
    }
    everything = pd.concat([train, holdout], ignore_index=True)
    final = fit_logistic(
        _design(everything, levels)[inputs],
        np.r_[y_train, y_hold],
        penalizer=config.penalizer,
    )
    described["status"] = "ok"
    described["base_rate_all"] = round(float(np.r_[y_train, y_hold].mean()), 4)
    described["intercept"] = round(final.intercept, 4)
    described["inputs"] = [
        {
            "name": name,
            "label": INPUT_LABELS.get(name, name),
            "weight": round(float(w), 4),  # per standard deviation of the input
            "odds_ratio": round(float(np.exp(w)), 4),
            "mean": round(float(m), 4),
            "sd": round(float(s), 4),
        }
        for name, w, m, s in zip(
            final.inputs, final.weights, final.means, final.scales, strict=True
        )
    ]
    # A kind of prospect the history holds too few buyers (or non-buyers) of is not scored: the
    # model would extrapolate to it.
    not_scored = _unlearnt_modules(train, y_train, config.min_holdout_outcomes)
    described["not_scored"] = not_scored
    current = current[~current["module"].isin(list(not_scored))]
    if current.empty:
        described["scored"] = 0
        return described, _no_scores()
    now = _inputs_on(conn, current, end)
    scores = pd.DataFrame(
        {
            "module": now["module"].to_numpy(object),
            "record_id": now["id"].to_numpy(object),
            "customer_key": now["customer_key"].to_numpy(float),
            "score": np.round(final.predict(_design(now, levels)), 4),
        }
    )
    described["scored"] = len(scores)
    return described, scores


def _unlearnt_modules(
    train: pd.DataFrame, y_train: np.ndarray[Any, Any], minimum: int
) -> dict[str, str]:
    """``{module: why}`` for the kinds of prospect (Leads, Accounts) with fewer than
    ``minimum`` buyers or non-buyers among the training examples."""
    out = {}
    for module in ("Leads", "Accounts"):
        mask = (train["module"] == module).to_numpy()
        buyers = int(y_train[mask].sum())
        others = int(mask.sum()) - buyers
        if min(buyers, others) < minimum:
            out[module] = (
                f"{module} not scored: {buyers} of them became buyers and {others} did not in the "
                f"training days, at least {minimum} of each needed "
                "(analytics.prospects.min_holdout_outcomes)"
            )
    return out


def _current_prospects(units: pd.DataFrame, end: datetime) -> pd.DataFrame:
    """Today's prospects: not buyers, and (leads) neither converted nor dead."""
    not_buyer = units["first_order_at"].isna() | (units["first_order_at"] >= end)
    is_lead = units["module"] == "Leads"
    open_lead = (units["converted"].fillna(0) == 0) & (units["status"].fillna("") != "Dead")
    return units[not_buyer & (~is_lead | open_lead)]


def _too_little(
    y_train: np.ndarray[Any, Any], y_hold: np.ndarray[Any, Any], config: ProspectConfig
) -> str | None:
    buyers, others = int(y_train.sum()), int(len(y_train) - y_train.sum())
    if min(buyers, others) < config.min_outcomes:
        return (
            f"too little history: {buyers} prospects became buyers and {others} did not in the "
            f"training days, the score needs at least {config.min_outcomes} of each "
            "(analytics.prospects.min_outcomes)"
        )
    h_buyers, h_others = int(y_hold.sum()), int(len(y_hold) - y_hold.sum())
    if min(h_buyers, h_others) < config.min_holdout_outcomes:
        return (
            f"too little history to validate: {h_buyers} buyers and {h_others} non-buyers among "
            f"the holdout day's prospects, at least {config.min_holdout_outcomes} of each needed "
            "(analytics.prospects.min_holdout_outcomes)"
        )
    return None


def _no_scores() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "module": pd.Series(dtype=object),
            "record_id": pd.Series(dtype=object),
            "customer_key": pd.Series(dtype=float),
            "score": pd.Series(dtype=float),
        }
    )


def customer_prospect_scores(customers: pd.DataFrame, scores: pd.DataFrame) -> pd.Series:
    """Per customer without orders, the score of its Sugar account (NaN for the others)."""
    accounts = scores[(scores["module"] == "Accounts") & scores["customer_key"].notna()]
    by_customer = accounts.groupby(accounts["customer_key"].astype("int64"))["score"].max()
    values = by_customer.reindex(customers.index)
    return values.where(customers["n_orders"] == 0)
