"""Customer lifetime value: the Fader-Hardie summary of a transaction log, the discounted value of
the next months of purchases, and the fit of a repeat-purchase model with Gamma-Gamma.

The models themselves are in ``analytics.btyd``. References: Fader, Hardie & Lee (2005) "RFM and
CLV: using iso-value curves for customer base analysis".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np

from analytics.btyd import (
    FloatArray,
    GammaGammaModel,
    TransactionModel,
    as_float,
    group_patterns,
    make_model,
)
from analytics.model_input import DAYS_PER_UNIT, ModelInput, TimeUnit

if TYPE_CHECKING:
    import pandas as pd

DAYS_PER_MONTH = 365.25 / 12


def customer_lifetime_value(
    purchases: TransactionModel,
    gamma_gamma: GammaGammaModel,
    frequency: Any,
    recency: Any,
    age: Any,
    monetary: Any,
    *,
    time_unit: TimeUnit = "weeks",
    months: int = 12,
    annual_discount_rate: float = 0.10,
    margin: float = 1.0,
) -> FloatArray:
    """Discounted value of the next ``months`` of purchases (monthly cash flows, end of month).

    Each month's expected purchases (difference of conditional expectations) times the expected
    spend per purchase and the margin, discounted at the monthly equivalent of the annual rate.
    Evaluated once per distinct ``(frequency, recency, T)`` pattern.
    """
    x, tx, t_obs = as_float(frequency), as_float(recency), as_float(age)
    spend = gamma_gamma.conditional_expected_spend(x, monetary) * margin
    patterns, _, inverse = group_patterns(x, tx, t_obs)
    monthly = (1.0 + annual_discount_rate) ** (1.0 / 12.0) - 1.0
    unit = DAYS_PER_UNIT[time_unit]
    previous = np.zeros(len(patterns))
    factor = np.zeros(len(patterns))
    for month in range(1, months + 1):
        horizon = month * DAYS_PER_MONTH / unit
        cumulative = purchases.conditional_expected_purchases(
            horizon, patterns[:, 0], patterns[:, 1], patterns[:, 2]
        )
        factor += (cumulative - previous) / (1.0 + monthly) ** month
        previous = cumulative
    return np.asarray(factor[inverse] * spend, dtype=np.float64)


def grouped_predict(func: Any, *columns: Any) -> FloatArray:
    """Evaluate ``func(*columns)`` once per distinct row of the columns, broadcast back."""
    arrays = [as_float(c) for c in columns]
    if arrays[0].size == 0:
        return np.zeros(0)
    patterns, _, inverse = group_patterns(*arrays)
    values = func(*(patterns[:, i] for i in range(patterns.shape[1])))
    return np.asarray(np.asarray(values, dtype=np.float64)[inverse], dtype=np.float64)


def rfm_summary(
    transactions: pd.DataFrame,
    *,
    customer_col: str,
    date_col: str,
    amount_col: str,
    as_of: date,
    time_unit: TimeUnit = "weeks",
) -> pd.DataFrame:
    """Per-customer ``frequency, recency, T, monetary`` from a transaction log, Fader-Hardie style.

    Only transactions on or before ``as_of`` count; transactions of one day are one purchase;
    ``monetary`` is the mean of the repeat purchase days (0 without repeat purchases). Indexed by
    customer. The warehouse computes the same figures in SQL (analytics.summary); this frame
    version serves small data sets and tests.
    """
    import pandas as pd

    frame = transactions[[customer_col, date_col, amount_col]].copy()
    frame["_day"] = pd.to_datetime(frame[date_col]).dt.normalize()
    frame = frame[frame["_day"] <= pd.Timestamp(as_of)]
    daily = frame.groupby([customer_col, "_day"], sort=True)[amount_col].sum().reset_index()
    grouped = daily.groupby(customer_col, sort=True)
    first = grouped["_day"].min()
    last = grouped["_day"].max()
    n_days = grouped["_day"].count()
    total = grouped[amount_col].sum()
    first_amount = grouped[amount_col].first()  # days are sorted: the first purchase day
    unit = DAYS_PER_UNIT[time_unit]
    frequency = (n_days - 1).astype(np.float64)
    out = pd.DataFrame(
        {
            "frequency": frequency,
            "recency": (last - first).dt.days / unit,
            "T": (pd.Timestamp(as_of) - first).dt.days / unit,
            "monetary": np.where(
                frequency > 0, (total - first_amount) / frequency.where(frequency > 0, 1.0), 0.0
            ),
        }
    )
    return out


@dataclass(frozen=True)
class ClvFit:
    """The fitted repeat-purchase model (by its name), Gamma-Gamma, and the unit of time."""

    model: str  # bgnbd | mbgnbd | pareto_nbd
    purchases: TransactionModel
    gamma_gamma: GammaGammaModel | None
    time_unit: TimeUnit
    n_customers: int
    penalized: float | None = None  # the penalty a degenerate fit was refitted with
    selection: dict[str, Any] | None = None  # how the model was chosen (holdout evaluation)

    @property
    def degenerate(self) -> list[str]:
        """Parameters the fit left at the edge of the parameter space (empty when sound)."""
        return list(self.purchases.degenerate_)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready description (what ``sugar-bridge analytics clv --json`` prints): the
        repeat-purchase model under its name, its parameters under the literature's names."""
        out: dict[str, Any] = {
            "time_unit": self.time_unit,
            "n_customers": self.n_customers,
            "model": self.model,
            self.model: {
                "params": self.purchases.params_,
                "log_likelihood": self.purchases.log_likelihood_,
                "n_customers": self.purchases.n_customers_,
                "n_patterns": self.purchases.n_patterns_,
                "degenerate": self.degenerate,
            },
            "gamma_gamma": None,
            "penalized": self.penalized,
            "selection": self.selection,
        }
        if self.gamma_gamma is not None:
            out["gamma_gamma"] = {
                "params": self.gamma_gamma.params_,
                "log_likelihood": self.gamma_gamma.log_likelihood_,
                "n_customers": self.gamma_gamma.n_customers_,
                "n_patterns": self.gamma_gamma.n_patterns_,
            }
        return out


def fit_clv(
    summary: ModelInput,
    *,
    model: str = "bgnbd",
    time_unit: TimeUnit = "weeks",
    penalizer: float = 0.0,
) -> ClvFit:
    """Fit the repeat-purchase ``model`` on ``frequency, recency, T`` and Gamma-Gamma on the
    repeat buyers' ``monetary``.

    Gamma-Gamma is left out (``None``) when fewer than 2 customers have repeat purchases with a
    positive spend; a failed purchase-model fit raises ConvergenceError.
    """
    purchases = make_model(model, penalizer=penalizer).fit(
        summary.frequency, summary.recency, summary.age
    )
    gamma_gamma: GammaGammaModel | None = None
    repeat = (summary.frequency > 0) & (summary.monetary > 0)
    if int(repeat.sum()) >= 2:
        gamma_gamma = GammaGammaModel(penalizer=penalizer).fit(summary.frequency, summary.monetary)
    return ClvFit(
        model=model,
        purchases=purchases,
        gamma_gamma=gamma_gamma,
        time_unit=time_unit,
        n_customers=len(summary),
    )
