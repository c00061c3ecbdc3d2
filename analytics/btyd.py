"""Models of repeat purchases (BG/NBD, MBG/NBD, Pareto/NBD) and of spend (Gamma-Gamma).

All follow Fader & Hardie's conventions:

* ``frequency`` = number of *repeat* purchase days (distinct days with a purchase, minus one),
* ``recency`` = time between the first and the last purchase day,
* ``T`` = time between the first purchase day and the end of the observation (``as_of``),
* ``monetary`` = mean amount of the repeat purchase days (the first purchase is left out).

Fits are maximum likelihood on vectorised log-likelihoods, optimised in log space (so every
parameter stays positive) by scipy's BFGS; BG/NBD and Gamma-Gamma with analytic gradients, the
other two by central differences. Customers sharing the same ``(frequency, recency, T)`` pattern
contribute one weighted term, which is what keeps a million customers fast: in practice the
distinct patterns are far fewer than the customers.

* **BG/NBD**: Fader, Hardie & Lee (2005) "Counting your customers the easy way: an alternative to
  the Pareto/NBD model", Marketing Science 24(2). CDNOW: r = 0.243, alpha = 4.414, a = 0.793,
  b = 2.426. P(alive) is 1 for every customer without a repeat purchase (its known flaw).
* **MBG/NBD** (Batislam, Denizel & Filiztekin 2007): BG/NBD where a customer may also drop out
  right after the first purchase, so a one-time buyer seen long ago is no longer certainly alive.
  CDNOW (BTYDplus, Platzer): r = 0.525, alpha = 6.183, a = 0.891, b = 1.614.
* **Pareto/NBD** (Schmittlein, Morrison & Colombo 1987), likelihood of Fader & Hardie's note "A
  Note on Implementing the Pareto/NBD Model in MATLAB" (2005). CDNOW: r = 0.5533,
  alpha = 10.5776, s = 0.6061, beta = 11.6693, log-likelihood -9594.98.
* **Gamma-Gamma**: Fader & Hardie (2013) "The Gamma-Gamma model of monetary value".

The repeat-purchase models share one interface (``TransactionModel``): ``fit(frequency, recency,
T) -> self``, ``params_`` under the literature's names, ``expected_purchases``,
``conditional_expected_purchases``, ``probability_alive``; ``degenerate_`` names the parameters
a fit left at the edge of the parameter space.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol, Self

import numpy as np
import numpy.typing as npt
from scipy import optimize, special

from analytics.exceptions import AnalyticsError, ConvergenceError

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
#: Distinct values of a column and, per row, the index of its value among them.
Levels = tuple[FloatArray, npt.NDArray[np.intp]]

# A parameter beyond these bounds means the likelihood is maximised on the edge of the parameter
# space: the model found no heterogeneity in that process and its predictions lean on a limit.
DEGENERATE_ABOVE = 1e4
DEGENERATE_BELOW = 1e-4


def as_float(values: Any) -> FloatArray:
    """The values as a float64 array."""
    return np.asarray(values, dtype=np.float64)


def group_patterns(*columns: FloatArray) -> tuple[FloatArray, FloatArray, npt.NDArray[np.intp]]:
    """Distinct rows of the columns (sorted), their counts, and the inverse index (row ->
    distinct row).

    numpy alone (pandas stays out of the commands that only fit a model): each column is ranked
    by a one-dimensional ``np.unique``, the ranks make one integer key per row, and the key is
    grouped by a last ``np.unique``; ``np.unique(axis=0)``, which sorts the rows as opaque bytes,
    is several times slower. NaNs are equal to each other (one group), as are 0.0 and -0.0.

    The distinct rows come in sorted order, not in the order first seen: the log-likelihood is
    then summed in one order whatever order the warehouse returned the customers in (it differs
    between engines), so a fit gives the same parameters to the last bit on each of them.
    """
    n_rows = len(columns[0]) if columns else 0
    if n_rows == 0:
        return np.zeros((0, len(columns))), np.zeros(0), np.zeros(0, dtype=np.intp)
    arrays = [as_float(c) for c in columns]
    # Each column as the rank of its value among the column's distinct values (np.unique sorts
    # one column, NaNs last and equal), then the ranks combined into one integer key whose order
    # is the rows' lexicographic order.
    key = np.zeros(n_rows, dtype=np.int64)
    radix = 1
    for values in arrays:
        distinct, codes = np.unique(values, return_inverse=True)
        radix *= len(distinct)
        if radix >= 2**62:  # too many combinations for one int64: sort the rows themselves
            return _group_rows(arrays)
        key = key * len(distinct) + codes.reshape(-1)
    _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1).astype(np.intp)
    # Each group's first row in the original order: scattered in reverse, the earliest wins.
    first = np.empty(len(counts), dtype=np.intp)
    first[inverse[::-1]] = np.arange(n_rows - 1, -1, -1, dtype=np.intp)
    return np.column_stack(arrays)[first], counts.astype(np.float64), inverse


def _group_rows(arrays: list[FloatArray]) -> tuple[FloatArray, FloatArray, npt.NDArray[np.intp]]:
    """``group_patterns`` by a lexicographic sort of the rows (any number of distinct values)."""
    rows = np.column_stack(arrays)
    order = np.lexsort(rows.T[::-1])  # stable: equal rows keep their original order
    ordered = rows[order]
    before, after = ordered[:-1], ordered[1:]
    differs = (before != after) & ~(np.isnan(before) & np.isnan(after))
    starts = np.empty(len(rows), dtype=bool)
    starts[0] = True
    np.any(differs, axis=1, out=starts[1:])
    group_of_sorted = np.cumsum(starts, dtype=np.intp) - 1
    inverse = np.empty(len(rows), dtype=np.intp)
    inverse[order] = group_of_sorted
    counts = np.bincount(group_of_sorted).astype(np.float64)
    return np.asarray(ordered[starts], dtype=np.float64), counts, inverse


def _minimize(
    name: str,
    objective: Any,
    x0: FloatArray,
    tolerance: float,
) -> FloatArray:
    """BFGS on ``objective`` (returns value and gradient); ConvergenceError when it fails.

    BFGS often stops with "precision loss" at the optimum of a flat likelihood; the fit is
    accepted when the gradient there is small, whatever the status says. When it is not (a
    likelihood rising slowly towards the edge of the parameter space, where BFGS's line search
    gives up), L-BFGS-B continues from there; a fit it drives to the edge is then reported by
    the model as degenerate rather than failed.
    """
    with np.errstate(all="ignore"):
        result = optimize.minimize(objective, x0, jac=True, method="BFGS", options={"gtol": 1e-7})
        if (
            not result.success
            and np.all(np.isfinite(result.x))
            and float(np.max(np.abs(result.jac))) > tolerance
        ):
            result = optimize.minimize(
                objective, result.x, jac=True, method="L-BFGS-B", options={"maxiter": 5000}
            )
    grad = np.asarray(result.jac, dtype=np.float64)
    if not np.all(np.isfinite(result.x)) or not np.isfinite(result.fun):
        raise ConvergenceError(
            f"{name}: the likelihood is not finite at the optimum ({result.message})"
        )
    if not result.success and float(np.max(np.abs(grad))) > tolerance:
        raise ConvergenceError(
            f"{name}: the fit did not converge ({result.message}; "
            f"gradient {float(np.max(np.abs(grad))):.2e} after {result.nit} iterations)"
        )
    return np.asarray(result.x, dtype=np.float64)


class _PatternModel:
    """What both models share: an L2 ``penalizer``, the fitted attributes, and the fit.

    The fit maximises the penalised mean log-likelihood over the distinct customer patterns,
    each weighted by how many customers share it.
    """

    name = ""
    param_names: tuple[str, ...] = ()

    def __init__(self, penalizer: float = 0.0) -> None:
        if penalizer < 0:
            raise AnalyticsError("penalizer must be >= 0")
        self.penalizer = penalizer
        self.params_: dict[str, float] = {}
        self.log_likelihood_: float = float("nan")
        self.n_customers_: int = 0
        self.n_patterns_: int = 0
        self.degenerate_: list[str] = []  # parameters at the edge of the parameter space

    def _fit_patterns(
        self,
        terms: Callable[[FloatArray], tuple[FloatArray, FloatArray]],
        weights: FloatArray,
        start: FloatArray,
        initial_params: Mapping[str, float] | None,
    ) -> None:
        """Fit the parameters from ``initial_params`` (else ``start``); ``terms(log params)``
        gives the per-pattern log-likelihood and its gradient with respect to the log-parameters.
        Sets ``params_``, ``log_likelihood_`` and the counts."""
        if initial_params is not None:
            start = np.array([initial_params[k] for k in self.param_names])
        x0 = np.log(start)
        n = float(weights.sum())

        # Weighted sums by numpy's pairwise summation, not BLAS dot products (``weights @ ll``):
        # a BLAS library splits a long dot product among its threads, so the last bits of the
        # likelihood (and of the fitted parameters) depended on the machine's core count, and on
        # a busy machine the threads' hand-offs cost more than the sums (half of a fit's time).
        def objective(logp: FloatArray) -> tuple[float, FloatArray]:
            ll, grad = terms(logp)
            params = np.exp(logp)
            value = -float(np.sum(ll * weights)) / n + self.penalizer * float(params @ params)
            gradient = -np.sum(grad * weights, axis=1) / n + 2.0 * self.penalizer * params * params
            return float(value), gradient

        logp = _minimize(self.name, objective, x0, tolerance=1e-4)
        ll, _ = terms(logp)
        self.params_ = dict(zip(self.param_names, map(float, np.exp(logp)), strict=True))
        self.log_likelihood_ = float(np.sum(ll * weights))
        self.n_customers_ = int(n)
        self.n_patterns_ = len(weights)


class BetaGeoModel(_PatternModel):
    """BG/NBD model of repeat purchases: ``fit(frequency, recency, T) -> self``.

    Fitted attributes: ``params_`` (``{"r", "alpha", "a", "b"}``), ``log_likelihood_`` (total over
    customers, unpenalised), ``n_customers_``, ``n_patterns_``. Times are in whatever unit the
    caller uses consistently (the CDNOW estimates are in weeks).
    """

    name = "BG/NBD"
    param_names = ("r", "alpha", "a", "b")

    @staticmethod
    def _loglik_terms(
        logp: FloatArray,
        x: FloatArray,
        tx: FloatArray,
        age: FloatArray,
        by_frequency: Levels | None = None,
        by_time: tuple[Levels, Levels] | None = None,
    ) -> tuple[FloatArray, FloatArray]:
        """Per-pattern log-likelihood and its gradient with respect to the log-parameters.

        The gamma/digamma terms depend on the frequency only, which takes few distinct values:
        they are evaluated once per frequency and gathered; so are ``alpha + T`` and
        ``alpha + t_x`` and their logs, per distinct T and t_x (``by_time``: days since the first
        purchase take a few hundred values), leaving a ``logaddexp`` and an exp per pattern.
        """
        r, alpha, a, b = np.exp(logp)
        levels, at = by_frequency or np.unique(x, return_inverse=True)
        (ages, at_age), (recencies, at_tx) = by_time or (
            np.unique(age, return_inverse=True),
            np.unique(tx, return_inverse=True),
        )
        bx1_l = b + np.maximum(levels, 1.0) - 1.0
        psi_ab = special.digamma(a + b)
        psi_abx_l = special.digamma(a + b + levels)
        base_l = (
            special.gammaln(r + levels)
            - special.gammaln(r)
            + r * np.log(alpha)
            + special.gammaln(a + b)
            + special.gammaln(b + levels)
            - special.gammaln(b)
            - special.gammaln(a + b + levels)
        )
        branch_l = np.where(levels > 0, np.log(a) - np.log(bx1_l), -np.inf)
        d_r_l = special.digamma(r + levels) - special.digamma(r) + np.log(alpha)
        d_a_l = psi_ab - psi_abx_l
        d_b_l = psi_ab + special.digamma(b + levels) - special.digamma(b) - psi_abx_l
        alpha_age_l, alpha_tx_l = alpha + ages, alpha + recencies
        alpha_age, alpha_tx = alpha_age_l[at_age], alpha_tx_l[at_tx]
        log_a_age = np.log(alpha_age_l)[at_age]
        log_atx = np.log(alpha_tx_l)[at_tx]
        rx = r + x
        a3 = -rx * log_a_age
        a4 = branch_l[at] - rx * log_atx
        mix = np.logaddexp(a3, a4)
        ll = base_l[at] + mix
        w4 = np.exp(a4 - mix)  # share of the "dropped out after the last purchase" branch
        w3 = 1.0 - w4
        d_r = d_r_l[at] - w3 * log_a_age - w4 * log_atx
        d_alpha = r / alpha - rx * (w3 / alpha_age + w4 / alpha_tx)
        d_a = d_a_l[at] + w4 / a
        d_b = d_b_l[at] - w4 / bx1_l[at]
        grad = np.stack([d_r * r, d_alpha * alpha, d_a * a, d_b * b])
        return ll, grad

    def fit(
        self,
        frequency: Any,
        recency: Any,
        age: Any,
        initial_params: dict[str, float] | None = None,
    ) -> BetaGeoModel:
        """Maximum-likelihood fit; raises ConvergenceError when the optimiser fails."""
        x, tx, t_obs = as_float(frequency), as_float(recency), as_float(age)
        _check_summary(x, tx, t_obs)
        patterns, weights, _ = group_patterns(x, tx, t_obs)
        px, ptx, page = patterns[:, 0], patterns[:, 1], patterns[:, 2]
        by_frequency = np.unique(px, return_inverse=True)
        by_time = (np.unique(page, return_inverse=True), np.unique(ptx, return_inverse=True))
        # r and a around 1; alpha on the scale of the observation periods.
        start = np.array([1.0, max(float(np.mean(t_obs)), 1e-3), 1.0, 1.0])
        self._fit_patterns(
            lambda logp: self._loglik_terms(logp, px, ptx, page, by_frequency, by_time),
            weights,
            start,
            initial_params,
        )
        log.debug(
            "BG/NBD fitted on %d customers (%d patterns): %s",
            self.n_customers_,
            self.n_patterns_,
            self.params_,
        )
        self.degenerate_ = [k for k in ("a", "b") if self.params_[k] > 1e4]
        if self.params_["a"] + self.params_["b"] > 1e4:
            # The likelihood is maximised on the boundary: every customer seems to share one
            # dropout probability a/(a+b). Predictions stay sound; a penalizer keeps a, b finite.
            log.warning(
                "BG/NBD: a and b are very large (a=%.3g, b=%.3g): no heterogeneity in dropout "
                "detected; consider analytics.clv.penalizer > 0",
                self.params_["a"],
                self.params_["b"],
            )
        return self

    def _params(self) -> tuple[float, float, float, float]:
        if not self.params_:
            raise AnalyticsError("BG/NBD model is not fitted: call fit() first")
        p = self.params_
        return p["r"], p["alpha"], p["a"], p["b"]

    def expected_purchases(self, t: Any) -> FloatArray:
        """E[X(t)]: expected repeat purchases of a new customer in a period of length ``t``."""
        r, alpha, a, b = self._params()
        t = as_float(t)
        hyp = special.hyp2f1(r, b, a + b - 1.0, t / (alpha + t))
        return np.asarray(
            (a + b - 1.0) / (a - 1.0) * (1.0 - (alpha / (alpha + t)) ** r * hyp), dtype=np.float64
        )

    def conditional_expected_purchases(
        self, t: Any, frequency: Any, recency: Any, age: Any
    ) -> FloatArray:
        """E[Y(t) | x, t_x, T]: expected repeat purchases in the next ``t`` (FHL 2005, eq. 10).

        ``age`` is T, the time since the first purchase.
        """
        r, alpha, a, b = self._params()
        t, x, tx, t_obs = (as_float(v) for v in (t, frequency, recency, age))
        z = t / (alpha + t_obs + t)
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1.0, z)
        first = (a + b + x - 1.0) / (a - 1.0)
        second = 1.0 - ((alpha + t_obs) / (alpha + t_obs + t)) ** (r + x) * hyp
        return np.asarray(first * second * self.probability_alive(x, tx, t_obs), dtype=np.float64)

    def probability_alive(self, frequency: Any, recency: Any, age: Any) -> FloatArray:
        """P(alive | x, t_x, T); 1 for customers without repeat purchases (a BG/NBD property)."""
        r, alpha, a, b = self._params()
        x, tx, t_obs = (as_float(v) for v in (frequency, recency, age))
        bx1 = b + np.maximum(x, 1.0) - 1.0
        log_odds = np.log(a) - np.log(bx1) + (r + x) * (np.log(alpha + t_obs) - np.log(alpha + tx))
        return np.asarray(np.where(x > 0, 1.0 / (1.0 + np.exp(log_odds)), 1.0), dtype=np.float64)


class GammaGammaModel(_PatternModel):
    """Gamma-Gamma model of the mean spend per repeat purchase: ``fit(frequency, monetary)``.

    Fitted on customers with at least one repeat purchase and a positive mean (the model's
    support); others are ignored by ``fit``. ``params_`` = ``{"p", "q", "gamma"}``.
    """

    name = "Gamma-Gamma"
    param_names = ("p", "q", "gamma")

    @staticmethod
    def _loglik_terms(
        logp: FloatArray,
        x: FloatArray,
        m: FloatArray,
        by_frequency: Levels | None = None,
        logs: tuple[FloatArray, FloatArray] | None = None,
    ) -> tuple[FloatArray, FloatArray]:
        """Per-pattern log-likelihood and its gradient with respect to the log-parameters.

        The gamma/digamma terms depend on the frequency only (few distinct values): evaluated
        once per frequency and gathered, like BG/NBD's; ``log(m)`` and ``log(x)`` do not depend
        on the parameters (the fit passes them once). The same values either way, to the bit.
        """
        p, q, g = np.exp(logp)
        levels, at = by_frequency or np.unique(x, return_inverse=True)
        log_m, log_x = logs or (np.log(m), np.log(x))
        px = p * x
        px_l = p * levels
        pxq_l = px_l + q
        log_gmx = np.log(g + m * x)
        ll = (
            special.gammaln(pxq_l)[at]
            - special.gammaln(px_l)[at]
            - special.gammaln(q)
            + q * np.log(g)
            + (px - 1.0) * log_m
            + px * log_x
            - (px + q) * log_gmx
        )
        psi_pxq = special.digamma(pxq_l)[at]
        d_p = x * (psi_pxq - special.digamma(px_l)[at] + log_m + log_x - log_gmx)
        d_q = psi_pxq - special.digamma(q) + np.log(g) - log_gmx
        d_g = q / g - (px + q) / (g + m * x)
        return ll, np.stack([d_p * p, d_q * q, d_g * g])

    def fit(
        self, frequency: Any, monetary: Any, initial_params: dict[str, float] | None = None
    ) -> GammaGammaModel:
        """Maximum-likelihood fit on the repeat buyers; ConvergenceError when it fails."""
        x, m = as_float(frequency), as_float(monetary)
        if x.shape != m.shape:
            raise AnalyticsError("frequency and monetary must have the same length")
        keep = (x > 0) & (m > 0) & np.isfinite(m)
        if int(keep.sum()) < 2:
            raise ConvergenceError("Gamma-Gamma: fewer than 2 customers with repeat purchases")
        patterns, weights, _ = group_patterns(x[keep], m[keep])
        px, pm = patterns[:, 0], patterns[:, 1]
        by_frequency = np.unique(px, return_inverse=True)
        logs = (np.log(pm), np.log(px))
        start = np.array([1.0, 2.0, max(float(np.mean(pm)), 1e-3)])
        self._fit_patterns(
            lambda logp: self._loglik_terms(logp, px, pm, by_frequency, logs),
            weights,
            start,
            initial_params,
        )
        if self.params_["q"] <= 1.0:
            log.warning("Gamma-Gamma q <= 1: the population mean spend is undefined")
        return self

    def conditional_expected_spend(self, frequency: Any, monetary: Any) -> FloatArray:
        """E[Z | x, zbar]: expected mean spend per purchase (population mean when x = 0)."""
        if not self.params_:
            raise AnalyticsError("Gamma-Gamma model is not fitted: call fit() first")
        p, q, g = self.params_["p"], self.params_["q"], self.params_["gamma"]
        x = as_float(frequency)
        m = np.nan_to_num(as_float(monetary), nan=0.0)
        m = np.where(x > 0, m, 0.0)
        return np.asarray((p * g + p * x * m) / (p * x + q - 1.0), dtype=np.float64)


def _check_summary(x: FloatArray, tx: FloatArray, t_obs: FloatArray) -> None:
    if not (x.shape == tx.shape == t_obs.shape):
        raise AnalyticsError("frequency, recency and T must have the same length")
    if x.size == 0:
        raise ConvergenceError("no customers to fit")
    if not np.any(x > 0):
        # Without a repeat purchase the likelihood does not depend on the dropout parameters
        # (a, b stay where the optimiser started: BG/NBD's E[X(t)] then divides by a - 1 = 0).
        raise ConvergenceError(
            f"none of the {x.size} customers has a repeat purchase: the purchase models need "
            "repeat buyers to estimate how customers drop out"
        )
    if np.any(x < 0) or np.any(tx < 0) or np.any(tx > t_obs + 1e-9) or np.any(t_obs <= 0):
        raise AnalyticsError("invalid summary: need frequency >= 0 and 0 <= recency <= T, T > 0")


class TransactionModel(Protocol):
    """What the CLV code and the holdout evaluation need of a repeat-purchase model."""

    name: str
    params_: dict[str, float]
    log_likelihood_: float
    n_customers_: int
    n_patterns_: int
    degenerate_: list[str]

    def fit(self, frequency: Any, recency: Any, age: Any) -> TransactionModel: ...

    def expected_purchases(self, t: Any) -> FloatArray: ...

    def conditional_expected_purchases(
        self, t: Any, frequency: Any, recency: Any, age: Any
    ) -> FloatArray: ...

    def probability_alive(self, frequency: Any, recency: Any, age: Any) -> FloatArray: ...


def degenerate_params(params: dict[str, float]) -> list[str]:
    """Names of the fitted parameters that sit at the edge of the parameter space."""
    return [k for k, v in params.items() if v > DEGENERATE_ABOVE or v < DEGENERATE_BELOW]


def _numeric_terms(
    loglik: Callable[[FloatArray], FloatArray], logp: FloatArray, step: float = 1e-6
) -> tuple[FloatArray, FloatArray]:
    """Per-pattern log-likelihood and its gradient in log-parameters (central differences)."""
    ll = loglik(logp)
    grad = np.empty((len(logp), ll.size))
    for i in range(len(logp)):
        up, down = logp.copy(), logp.copy()
        up[i] += step
        down[i] -= step
        grad[i] = (loglik(up) - loglik(down)) / (2.0 * step)
    return ll, grad


class _SummaryModel(_PatternModel):
    """The fit of a model whose likelihood takes ``(x, t_x, T)`` per pattern."""

    start: tuple[float, ...] = ()

    @staticmethod
    def _loglik(params: FloatArray, x: FloatArray, tx: FloatArray, age: FloatArray) -> FloatArray:
        raise NotImplementedError

    def fit(
        self,
        frequency: Any,
        recency: Any,
        age: Any,
        initial_params: dict[str, float] | None = None,
    ) -> Self:
        """Maximum-likelihood fit; raises ConvergenceError when the optimiser fails."""
        self._fit_summary(frequency, recency, age, initial_params)
        return self

    def _fit_summary(
        self, frequency: Any, recency: Any, age: Any, initial_params: dict[str, float] | None
    ) -> None:
        x, tx, t_obs = as_float(frequency), as_float(recency), as_float(age)
        _check_summary(x, tx, t_obs)
        patterns, weights, _ = group_patterns(x, tx, t_obs)
        px, ptx, page = patterns[:, 0], patterns[:, 1], patterns[:, 2]
        start = np.array(self.start, dtype=np.float64)
        # The scale parameters start on the scale of the observation periods.
        start[1] = max(float(np.mean(t_obs)), 1e-3)

        def loglik(logp: FloatArray) -> FloatArray:
            return self._loglik(np.exp(logp), px, ptx, page)

        self._fit_patterns(
            lambda logp: _numeric_terms(loglik, logp), weights, start, initial_params
        )
        self.degenerate_ = degenerate_params(self.params_)
        if self.degenerate_:
            log.warning(
                "%s: parameters at the edge of the parameter space (%s): %s",
                self.name,
                ", ".join(self.degenerate_),
                self.params_,
            )
        log.debug(
            "%s fitted on %d customers (%d patterns): %s",
            self.name,
            self.n_customers_,
            self.n_patterns_,
            self.params_,
        )

    def _values(self) -> tuple[float, float, float, float]:
        if not self.params_:
            raise AnalyticsError(f"{self.name} model is not fitted: call fit() first")
        a, b, c, d = (self.params_[k] for k in self.param_names)
        return a, b, c, d


class ModifiedBetaGeoModel(_SummaryModel):
    """MBG/NBD (Batislam et al. 2007): ``fit(frequency, recency, T) -> self``.

    ``params_`` = ``{"r", "alpha", "a", "b"}``; ``degenerate_`` lists parameters at the edge.
    """

    name = "MBG/NBD"
    param_names = ("r", "alpha", "a", "b")
    start = (1.0, 1.0, 1.0, 1.0)

    @staticmethod
    def _loglik(params: FloatArray, x: FloatArray, tx: FloatArray, age: FloatArray) -> FloatArray:
        r, alpha, a, b = params
        base = (
            special.gammaln(r + x)
            - special.gammaln(r)
            + r * np.log(alpha)
            + special.gammaln(a + b)
            + special.gammaln(b + x + 1.0)
            - special.gammaln(b)
            - special.gammaln(a + b + x + 1.0)
            - (r + x) * np.log(alpha + age)
        )
        dropped = np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + age) - np.log(alpha + tx))
        return np.asarray(base + np.logaddexp(dropped, 0.0), dtype=np.float64)

    def expected_purchases(self, t: Any) -> FloatArray:
        """E[X(t)]: expected repeat purchases of a new customer in a period of length ``t``."""
        r, alpha, a, b = self._values()
        t = as_float(t)
        hyp = special.hyp2f1(r, b + 1.0, a + b, t / (alpha + t))
        return np.asarray(b / (a - 1.0) * (1.0 - hyp * (alpha / (alpha + t)) ** r), np.float64)

    def conditional_expected_purchases(
        self, t: Any, frequency: Any, recency: Any, age: Any
    ) -> FloatArray:
        """E[Y(t) | x, t_x, T]: expected repeat purchases in the next ``t`` (Batislam eq. 9)."""
        r, alpha, a, b = self._values()
        t, x, tx, t_obs = (as_float(v) for v in (t, frequency, recency, age))
        hyp = special.hyp2f1(r + x, b + x + 1.0, a + b + x, t / (alpha + t_obs + t))
        first = (a + b + x) / (a - 1.0)
        second = 1.0 - hyp * ((alpha + t_obs) / (alpha + t + t_obs)) ** (r + x)
        return np.asarray(first * second * self.probability_alive(x, tx, t_obs), np.float64)

    def probability_alive(self, frequency: Any, recency: Any, age: Any) -> FloatArray:
        """P(alive | x, t_x, T); below 1 for one-time buyers too, falling with their age."""
        r, alpha, a, b = self._values()
        x, tx, t_obs = (as_float(v) for v in (frequency, recency, age))
        age_gap = np.log(alpha + t_obs) - np.log(alpha + tx)
        log_odds = np.log(a) - np.log(b + x) + (r + x) * age_gap
        return np.asarray(1.0 / (1.0 + np.exp(log_odds)), dtype=np.float64)


class ParetoNbdModel(_SummaryModel):
    """Pareto/NBD (Schmittlein, Morrison & Colombo 1987): ``fit(frequency, recency, T) -> self``.

    ``params_`` = ``{"r", "alpha", "s", "beta"}``; ``degenerate_`` lists parameters at the edge.
    """

    name = "Pareto/NBD"
    param_names = ("r", "alpha", "s", "beta")
    start = (1.0, 1.0, 1.0, 1.0)

    @staticmethod
    def _log_a0(params: FloatArray, x: FloatArray, tx: FloatArray, age: FloatArray) -> FloatArray:
        """log A0 of Fader & Hardie's note (eq. 19/20), by the larger of alpha and beta."""
        r, alpha, s, beta = params
        if alpha >= beta:
            high, low, third = alpha, beta, s + 1.0
        else:
            high, low, third = beta, alpha, r + x
        rsx = r + s + x
        gap = high - low
        p1 = special.hyp2f1(rsx, third, rsx + 1.0, gap / (high + tx))
        p2 = special.hyp2f1(rsx, third, rsx + 1.0, gap / (high + age))
        q1, q2 = high + tx, high + age
        # A0 = p1 / q1^rsx - p2 / q2^rsx > 0 (recency <= T), in logs.
        first = np.log(p1) - rsx * np.log(q1)
        second = np.log(p2) - rsx * np.log(q2)
        with np.errstate(divide="ignore"):
            return np.asarray(first + np.log1p(-np.exp(second - first)), dtype=np.float64)

    @classmethod
    def _loglik(
        cls, params: FloatArray, x: FloatArray, tx: FloatArray, age: FloatArray
    ) -> FloatArray:
        r, alpha, s, beta = params
        head = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        alive = -(r + x) * np.log(alpha + age) - s * np.log(beta + age)
        dead = np.log(s) - np.log(r + s + x) + cls._log_a0(params, x, tx, age)
        return np.asarray(head + np.logaddexp(alive, dead), dtype=np.float64)

    def _fit_summary(
        self, frequency: Any, recency: Any, age: Any, initial_params: dict[str, float] | None
    ) -> None:
        # beta, the dropout scale, starts on the time scale as well.
        mean_age = max(float(np.mean(as_float(age))), 1e-3) if len(as_float(age)) else 1.0
        self.start = (1.0, mean_age, 1.0, mean_age)
        super()._fit_summary(frequency, recency, age, initial_params)

    def expected_purchases(self, t: Any) -> FloatArray:
        """E[X(t)] = r beta / (alpha (s - 1)) (1 - (beta / (beta + t))^(s - 1))."""
        r, alpha, s, beta = self._values()
        t = as_float(t)
        if abs(s - 1.0) < 1e-9:
            return np.asarray(r * beta / alpha * np.log1p(t / beta), dtype=np.float64)
        return np.asarray(
            r * beta / (alpha * (s - 1.0)) * (1.0 - (beta / (beta + t)) ** (s - 1.0)), np.float64
        )

    def conditional_expected_purchases(
        self, t: Any, frequency: Any, recency: Any, age: Any
    ) -> FloatArray:
        """E[Y(t) | x, t_x, T] (Fader & Hardie's note, eq. 22)."""
        r, alpha, s, beta = self._values()
        t, x, tx, t_obs = (as_float(v) for v in (t, frequency, recency, age))
        params = np.array([r, alpha, s, beta])
        ll = self._loglik(params, x, tx, t_obs)
        first = (
            special.gammaln(r + x)
            - special.gammaln(r)
            + r * np.log(alpha)
            + s * np.log(beta)
            - (r + x) * np.log(alpha + t_obs)
            - s * np.log(beta + t_obs)
        )
        second = np.log(r + x) + np.log(beta + t_obs) - np.log(alpha + t_obs)
        if abs(s - 1.0) < 1e-9:
            third = np.log(np.log1p(t / (beta + t_obs)))
        else:
            third = np.log((1.0 - ((beta + t_obs) / (beta + t_obs + t)) ** (s - 1.0)) / (s - 1.0))
        return np.asarray(np.exp(first + second + third - ll), dtype=np.float64)

    def probability_alive(self, frequency: Any, recency: Any, age: Any) -> FloatArray:
        """P(alive | x, t_x, T) (Fader & Hardie's note, eq. 18)."""
        r, alpha, s, beta = self._values()
        x, tx, t_obs = (as_float(v) for v in (frequency, recency, age))
        params = np.array([r, alpha, s, beta])
        log_ratio = (
            np.log(s)
            - np.log(r + s + x)
            + (r + x) * np.log(alpha + t_obs)
            + s * np.log(beta + t_obs)
            + self._log_a0(params, x, tx, t_obs)
        )
        return np.asarray(1.0 / (1.0 + np.exp(log_ratio)), dtype=np.float64)


# The names ``sugar-bridge analytics clv --model`` takes, and the JSON keys of each model.
MODELS: dict[str, type[BetaGeoModel] | type[ModifiedBetaGeoModel] | type[ParetoNbdModel]] = {
    "bgnbd": BetaGeoModel,
    "mbgnbd": ModifiedBetaGeoModel,
    "pareto_nbd": ParetoNbdModel,
}


# How the report and the CLI name each model.
MODEL_LABELS: dict[str, str] = {key: cls.name for key, cls in MODELS.items()}


def make_model(name: str, penalizer: float = 0.0) -> TransactionModel:
    """A new, unfitted model by its CLI name (``bgnbd``, ``mbgnbd``, ``pareto_nbd``)."""
    try:
        cls = MODELS[name]
    except KeyError:
        raise AnalyticsError(f"unknown model {name!r}: choose one of {', '.join(MODELS)}") from None
    model: TransactionModel = cls(penalizer=penalizer)
    return model
