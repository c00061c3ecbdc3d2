"""The two other classic models of repeat purchases next to BG/NBD: MBG/NBD and Pareto/NBD.

Both share BG/NBD's interface (``fit(frequency, recency, T) -> self``, ``params_`` under the
literature's names, ``expected_purchases``, ``conditional_expected_purchases``,
``probability_alive``) so the CLV code and the holdout evaluation take any of the three.

* **MBG/NBD** (Batislam, Denizel & Filiztekin 2007): BG/NBD where a customer may also drop out
  right after the first purchase, so a one-time buyer seen long ago is no longer certainly alive
  (BG/NBD's known flaw: P(alive) = 1 for every customer without a repeat purchase). Published
  CDNOW estimates (BTYDplus, Platzer): r = 0.525, alpha = 6.183, a = 0.891, b = 1.614.
* **Pareto/NBD** (Schmittlein, Morrison & Colombo 1987), with the likelihood of Fader & Hardie's
  2005 note "A Note on Implementing the Pareto/NBD Model in MATLAB": lifetimes exponential with a
  gamma-distributed dropout rate. Published CDNOW estimates: r = 0.5533, alpha = 10.5776,
  s = 0.6061, beta = 11.6693 (log-likelihood -9594.98).

The likelihoods are written in logs; the gradient for BFGS is taken by central differences in
log-parameter space, evaluated once per distinct customer pattern (few, whatever the customers).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
from scipy import special

from analytics.clv import (
    BetaGeoModel,
    FloatArray,
    _as_float,
    _check_summary,
    _group,
    _PatternModel,
)
from analytics.exceptions import AnalyticsError

log = logging.getLogger(__name__)

# A parameter beyond these bounds means the likelihood is maximised on the edge of the parameter
# space: the model found no heterogeneity in that process and its predictions lean on a limit.
DEGENERATE_ABOVE = 1e4
DEGENERATE_BELOW = 1e-4


class TransactionModel(Protocol):
    """What the CLV code and the holdout evaluation need of a repeat-purchase model."""

    name: str
    params_: dict[str, float]
    log_likelihood_: float
    n_customers_: int

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

    def _fit_summary(
        self, frequency: Any, recency: Any, age: Any, initial_params: dict[str, float] | None
    ) -> None:
        x, tx, t_obs = _as_float(frequency), _as_float(recency), _as_float(age)
        _check_summary(x, tx, t_obs)
        patterns, weights, _ = _group(x, tx, t_obs)
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

    def fit(
        self,
        frequency: Any,
        recency: Any,
        age: Any,
        initial_params: dict[str, float] | None = None,
    ) -> ModifiedBetaGeoModel:
        """Maximum-likelihood fit; raises ConvergenceError when the optimiser fails."""
        self._fit_summary(frequency, recency, age, initial_params)
        return self

    def expected_purchases(self, t: Any) -> FloatArray:
        """E[X(t)]: expected repeat purchases of a new customer in a period of length ``t``."""
        r, alpha, a, b = self._values()
        t = _as_float(t)
        hyp = special.hyp2f1(r, b + 1.0, a + b, t / (alpha + t))
        return np.asarray(b / (a - 1.0) * (1.0 - hyp * (alpha / (alpha + t)) ** r), np.float64)

    def conditional_expected_purchases(
        self, t: Any, frequency: Any, recency: Any, age: Any
    ) -> FloatArray:
        """E[Y(t) | x, t_x, T]: expected repeat purchases in the next ``t`` (Batislam eq. 9)."""
        r, alpha, a, b = self._values()
        t, x, tx, t_obs = (_as_float(v) for v in (t, frequency, recency, age))
        hyp = special.hyp2f1(r + x, b + x + 1.0, a + b + x, t / (alpha + t_obs + t))
        first = (a + b + x) / (a - 1.0)
        second = 1.0 - hyp * ((alpha + t_obs) / (alpha + t + t_obs)) ** (r + x)
        return np.asarray(first * second * self.probability_alive(x, tx, t_obs), np.float64)

    def probability_alive(self, frequency: Any, recency: Any, age: Any) -> FloatArray:
        """P(alive | x, t_x, T); below 1 for one-time buyers too, falling with their age."""
        r, alpha, a, b = self._values()
        x, tx, t_obs = (_as_float(v) for v in (frequency, recency, age))
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

    def fit(
        self,
        frequency: Any,
        recency: Any,
        age: Any,
        initial_params: dict[str, float] | None = None,
    ) -> ParetoNbdModel:
        """Maximum-likelihood fit; raises ConvergenceError when the optimiser fails."""
        self._fit_summary(frequency, recency, age, initial_params)
        return self

    def _fit_summary(
        self, frequency: Any, recency: Any, age: Any, initial_params: dict[str, float] | None
    ) -> None:
        # beta, the dropout scale, starts on the time scale as well.
        mean_age = max(float(np.mean(_as_float(age))), 1e-3) if len(_as_float(age)) else 1.0
        self.start = (1.0, mean_age, 1.0, mean_age)
        super()._fit_summary(frequency, recency, age, initial_params)

    def expected_purchases(self, t: Any) -> FloatArray:
        """E[X(t)] = r beta / (alpha (s - 1)) (1 - (beta / (beta + t))^(s - 1))."""
        r, alpha, s, beta = self._values()
        t = _as_float(t)
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
        t, x, tx, t_obs = (_as_float(v) for v in (t, frequency, recency, age))
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
        x, tx, t_obs = (_as_float(v) for v in (frequency, recency, age))
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


def make_model(name: str, penalizer: float = 0.0) -> TransactionModel:
    """A new, unfitted model by its CLI name (``bgnbd``, ``mbgnbd``, ``pareto_nbd``)."""
    try:
        cls = MODELS[name]
    except KeyError:
        raise AnalyticsError(f"unknown model {name!r}: choose one of {', '.join(MODELS)}") from None
    model: TransactionModel = cls(penalizer=penalizer)
    return model
