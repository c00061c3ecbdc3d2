"""MBG/NBD and Pareto/NBD against their published CDNOW estimates, and against first principles."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from analytics.btyd import (
    MODELS,
    BetaGeoModel,
    ModifiedBetaGeoModel,
    ParetoNbdModel,
    degenerate_params,
    make_model,
)
from analytics.config import ClvConfig
from analytics.exceptions import AnalyticsError, ConvergenceError

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    return pd.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv").set_index("ID")


def test_mbgnbd_reproduces_published_cdnow_estimates(cdnow: pd.DataFrame) -> None:
    # BTYDplus (Platzer), mbgnbd on the CDNOW calibration summary: r = 0.525, alpha = 6.183,
    # a = 0.891, b = 1.614 (weeks).
    model = ModifiedBetaGeoModel().fit(cdnow["x"], cdnow["t_x"], cdnow["T"])
    p = model.params_
    assert p["r"] == pytest.approx(0.525, abs=1e-3)
    assert p["alpha"] == pytest.approx(6.183, abs=1e-3)
    assert p["a"] == pytest.approx(0.891, abs=1e-3)
    assert p["b"] == pytest.approx(1.614, abs=1e-3)
    assert model.n_customers_ == 2357
    assert model.degenerate_ == []


def test_pareto_nbd_reproduces_published_cdnow_estimates(cdnow: pd.DataFrame) -> None:
    # Fader & Hardie (2005), "A Note on Implementing the Pareto/NBD Model in MATLAB":
    # r = 0.5533, alpha = 10.5776, s = 0.6061, beta = 11.6693, LL = -9594.98.
    model = ParetoNbdModel().fit(cdnow["x"], cdnow["t_x"], cdnow["T"])
    p = model.params_
    assert p["r"] == pytest.approx(0.5533, abs=5e-4)
    assert p["alpha"] == pytest.approx(10.5776, abs=5e-3)
    assert p["s"] == pytest.approx(0.6061, abs=5e-4)
    assert p["beta"] == pytest.approx(11.6693, abs=5e-3)
    assert model.log_likelihood_ == pytest.approx(-9594.98, abs=0.05)


def _mbgnbd(r: float = 0.525, alpha: float = 6.183, a: float = 0.891, b: float = 1.614):
    model = ModifiedBetaGeoModel()
    model.params_ = {"r": r, "alpha": alpha, "a": a, "b": b}
    return model


def _pareto(r: float = 0.5533, alpha: float = 10.5776, s: float = 0.6061, beta: float = 11.6693):
    model = ParetoNbdModel()
    model.params_ = {"r": r, "alpha": alpha, "s": s, "beta": beta}
    return model


@pytest.mark.parametrize("t", [1.0, 39.0, 78.0])
def test_mbgnbd_expectation_equals_its_integral(t: float) -> None:
    # Given lambda and p, a customer makes (1 - p)/p (1 - exp(-lambda p t)) purchases in
    # expectation (dropout possible right after each purchase, the first one included);
    # integrated over Gamma(r, alpha) and Beta(a, b).
    r, alpha, a, b = 0.525, 6.183, 0.891, 1.614

    def given_p(p: float) -> float:
        return float((1 - p) / p * (1 - (alpha / (alpha + p * t)) ** r) * stats.beta.pdf(p, a, b))

    expected, _ = integrate.quad(given_p, 0, 1, limit=200)
    assert float(_mbgnbd().expected_purchases(t)) == pytest.approx(expected, rel=1e-7)


@pytest.mark.parametrize("t", [1.0, 39.0, 78.0])
def test_pareto_expectation_equals_its_integral(t: float) -> None:
    # Given lambda and mu: lambda/mu (1 - exp(-mu t)); integrated over Gamma(s, beta) for mu
    # (E[lambda] = r/alpha).
    r, alpha, s, beta = 0.5533, 10.5776, 0.6061, 11.6693

    def given_mu(mu: float) -> float:
        density = stats.gamma.pdf(mu, s, scale=1 / beta)
        return float(r / alpha / mu * (1 - np.exp(-mu * t)) * density)

    expected, _ = integrate.quad(given_mu, 0, np.inf, limit=400)
    assert float(_pareto().expected_purchases(t)) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("model", [_mbgnbd(), _pareto()], ids=["mbgnbd", "pareto_nbd"])
def test_a_customer_just_acquired_is_expected_to_buy_like_a_new_one(model) -> None:
    conditional = model.conditional_expected_purchases(39.0, 0.0, 0.0, 1e-7)
    assert float(conditional) == pytest.approx(float(model.expected_purchases(39.0)), rel=1e-5)


@pytest.mark.parametrize("model", [_mbgnbd(), _pareto()], ids=["mbgnbd", "pareto_nbd"])
def test_one_time_buyers_of_long_ago_are_not_certainly_alive(model) -> None:
    # BG/NBD's flaw: P(alive) = 1 for every customer without a repeat purchase, whatever their
    # age. These models let a one-time buyer die: the older, the less likely alive.
    ages = np.array([1.0, 52.0, 156.0])
    alive = model.probability_alive(np.zeros(3), np.zeros(3), ages)
    assert np.all(np.diff(alive) < 0)
    assert alive[-1] < 0.3
    bgnbd = BetaGeoModel()
    bgnbd.params_ = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    assert np.all(bgnbd.probability_alive(np.zeros(3), np.zeros(3), ages) == 1.0)


@pytest.mark.parametrize("model", [_mbgnbd(), _pareto()], ids=["mbgnbd", "pareto_nbd"])
def test_a_recent_repeat_buyer_is_likelier_alive_and_buys_more(model) -> None:
    recent = (3.0, 37.0, 38.0)
    lapsed = (3.0, 5.0, 38.0)
    assert model.probability_alive(*recent) > model.probability_alive(*lapsed)
    assert model.conditional_expected_purchases(10.0, *recent) > (
        model.conditional_expected_purchases(10.0, *lapsed)
    )


def test_degenerate_parameters_are_named() -> None:
    assert degenerate_params({"r": 0.2, "alpha": 4.0, "a": 3.1e5, "b": 6.8e6}) == ["a", "b"]
    assert degenerate_params({"r": 0.2, "alpha": 4.0, "a": 0.8, "b": 2.4}) == []


def test_models_by_name() -> None:
    assert set(MODELS) == {"bgnbd", "mbgnbd", "pareto_nbd"}
    # the config's choices (which `analytics clv --model` checks against) are these and auto
    assert set(get_args(ClvConfig.model_fields["model"].annotation)) == {"auto", *MODELS}
    assert isinstance(make_model("pareto_nbd"), ParetoNbdModel)
    with pytest.raises(AnalyticsError, match="unknown model 'nbd'"):
        make_model("nbd")


def test_unfitted_model_says_so() -> None:
    with pytest.raises(AnalyticsError, match="not fitted"):
        ParetoNbdModel().probability_alive(1, 1, 2)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_no_repeat_buyer_is_a_convergence_error_not_a_crash(name: str) -> None:
    # Only one-time buyers: the dropout parameters are not identified (BG/NBD's a stayed at its
    # start, 1.0, and E[X(t)] divided by a - 1).
    x = np.zeros(50)
    age = np.linspace(10.0, 100.0, 50)
    with pytest.raises(ConvergenceError, match="repeat purchase"):
        make_model(name).fit(x, x, age)
