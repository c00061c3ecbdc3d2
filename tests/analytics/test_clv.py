"""BG/NBD and Gamma-Gamma against the published CDNOW estimates (Fader, Hardie & Lee)."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analytics.btyd import BetaGeoModel, GammaGammaModel
from analytics.clv import customer_lifetime_value, fit_clv, rfm_summary
from analytics.exceptions import AnalyticsError, ConvergenceError
from analytics.model_input import ModelInput

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    return pd.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv").set_index("ID")


@pytest.fixture(scope="module")
def summary(cdnow_transactions: pd.DataFrame) -> pd.DataFrame:
    """The CDNOW sample summarised at the end of the published calibration period."""
    return rfm_summary(
        cdnow_transactions,
        customer_col="customer",
        date_col="date",
        amount_col="amount",
        as_of=date(1997, 9, 30),
    )


@pytest.fixture(scope="module")
def bgnbd(cdnow: pd.DataFrame) -> BetaGeoModel:
    return BetaGeoModel().fit(cdnow["x"], cdnow["t_x"], cdnow["T"])


def test_bgnbd_reproduces_published_cdnow_estimates(bgnbd: BetaGeoModel) -> None:
    # Fader, Hardie & Lee (2005), section 5: r = 0.243, alpha = 4.414, a = 0.793, b = 2.426,
    # LL = -9582.4 (time in weeks).
    p = bgnbd.params_
    assert p["r"] == pytest.approx(0.243, abs=5e-4)
    assert p["alpha"] == pytest.approx(4.414, abs=5e-4)
    assert p["a"] == pytest.approx(0.793, abs=5e-4)
    assert p["b"] == pytest.approx(2.426, abs=5e-4)
    assert bgnbd.log_likelihood_ == pytest.approx(-9582.4, abs=0.05)
    assert bgnbd.n_customers_ == 2357
    assert bgnbd.n_patterns_ < 2357  # identical (x, t_x, T) patterns were grouped


def test_bgnbd_published_conditional_expectation(bgnbd: BetaGeoModel) -> None:
    # The paper's worked example: x = 2, t_x = 30.43, T = 38.86 -> 1.226 purchases in 39 weeks.
    value = bgnbd.conditional_expected_purchases(39, 2, 30.43, 38.86)
    assert float(value) == pytest.approx(1.226, abs=5e-4)


def test_bgnbd_unconditional_expectation_matches_hardie_spreadsheet(bgnbd: BetaGeoModel) -> None:
    # E[X(t)] from Hardie's BG/NBD spreadsheet (the cumulative-repeat-sales curve).
    times = [0.1429, 1.0, 3.0, 31.8571, 32.0, 78.0]
    expected = [0.0078, 0.0532, 0.1506, 1.0405, 1.0437, 1.8576]
    np.testing.assert_allclose(bgnbd.expected_purchases(times), expected, atol=1e-3)


def test_bgnbd_aggregate_forecast_matches_holdout_scale(
    bgnbd: BetaGeoModel, cdnow: pd.DataFrame
) -> None:
    # Sum of conditional expectations over the 39-week holdout: the paper's Figure 4 shows the
    # model tracking the 1,788 actual holdout repeat purchases closely.
    total = bgnbd.conditional_expected_purchases(39, cdnow["x"], cdnow["t_x"], cdnow["T"]).sum()
    assert 1650 < total < 1900


def test_probability_alive(bgnbd: BetaGeoModel) -> None:
    p = bgnbd.probability_alive([0, 2, 2, 10], [0, 30.43, 5.0, 38.0], [38.86, 38.86, 38.86, 38.86])
    assert p[0] == 1.0  # no repeat purchase: alive by construction of the BG/NBD
    assert 0.0 < p[2] < p[1] < 1.0  # same frequency, older last purchase: less likely alive
    assert p[3] > 0.9


def test_gamma_gamma_reproduces_published_estimates(summary: pd.DataFrame) -> None:
    # Fader & Hardie (2013), "The Gamma-Gamma model of monetary value": p = 6.25, q = 3.74,
    # gamma = 15.44 on the 946 CDNOW customers with repeat purchases in the calibration period.
    model = GammaGammaModel().fit(summary["frequency"], summary["monetary"])
    assert model.n_customers_ == 946
    assert model.params_["p"] == pytest.approx(6.25, abs=5e-3)
    assert model.params_["q"] == pytest.approx(3.74, abs=5e-3)
    assert model.params_["gamma"] == pytest.approx(15.44, abs=5e-3)


def test_gamma_gamma_conditional_spend_matches_hardie_spreadsheet(cdnow: pd.DataFrame) -> None:
    model = GammaGammaModel().fit(cdnow["x"], cdnow["zbar"])
    # The summary file's zbar is rounded to cents, which moves gamma by < 0.01.
    assert model.params_["gamma"] == pytest.approx(15.44, abs=0.01)
    head = cdnow.head(10)
    expected = [24.65, 18.91, 35.17, 35.17, 35.17, 71.46, 18.91, 35.17, 27.28, 35.17]
    actual = model.conditional_expected_spend(head["x"], head["zbar"])
    np.testing.assert_allclose(actual, expected, atol=0.015)


def test_rfm_summary_reproduces_the_published_calibration_summary(
    summary: pd.DataFrame, cdnow: pd.DataFrame
) -> None:
    assert len(summary) == 2357
    np.testing.assert_array_equal(summary["frequency"].to_numpy(), cdnow["x"].to_numpy())
    np.testing.assert_allclose(summary["recency"], cdnow["t_x"], atol=0.006)
    np.testing.assert_allclose(summary["T"], cdnow["T"], atol=0.006)
    np.testing.assert_allclose(summary["monetary"], cdnow["zbar"], atol=0.006)


def test_clv_is_discounted_and_grows_with_value(bgnbd: BetaGeoModel, cdnow: pd.DataFrame) -> None:
    gg = GammaGammaModel().fit(cdnow["x"], cdnow["zbar"])
    args = (cdnow["x"], cdnow["t_x"], cdnow["T"], cdnow["zbar"])
    undiscounted = customer_lifetime_value(bgnbd, gg, *args, annual_discount_rate=0.0)
    discounted = customer_lifetime_value(bgnbd, gg, *args, annual_discount_rate=0.10)
    assert np.all(discounted <= undiscounted + 1e-12)
    assert np.all(discounted >= 0)
    # Undiscounted 12-month CLV = E[Y(12 months)] * E[Z].
    weeks = 365.25 / 7
    purchases = bgnbd.conditional_expected_purchases(weeks, cdnow["x"], cdnow["t_x"], cdnow["T"])
    spend = gg.conditional_expected_spend(cdnow["x"], cdnow["zbar"])
    np.testing.assert_allclose(undiscounted, purchases * spend, rtol=1e-9)


def test_penalizer_shrinks_parameters(cdnow: pd.DataFrame) -> None:
    plain = BetaGeoModel().fit(cdnow["x"], cdnow["t_x"], cdnow["T"])
    penalised = BetaGeoModel(penalizer=0.1).fit(cdnow["x"], cdnow["t_x"], cdnow["T"])
    assert sum(v**2 for v in penalised.params_.values()) < sum(v**2 for v in plain.params_.values())


def test_fit_clv_as_dict(cdnow: pd.DataFrame) -> None:
    summary = cdnow.rename(columns={"x": "frequency", "t_x": "recency", "zbar": "monetary"})
    fitted = fit_clv(ModelInput.from_frame(summary)).as_dict()
    assert fitted["time_unit"] == "weeks"
    assert fitted["n_customers"] == 2357
    assert set(fitted["bgnbd"]["params"]) == {"r", "alpha", "a", "b"}
    assert set(fitted["gamma_gamma"]["params"]) == {"p", "q", "gamma"}


def test_failures_are_typed() -> None:
    with pytest.raises(ConvergenceError):
        BetaGeoModel().fit([], [], [])
    with pytest.raises(AnalyticsError):
        BetaGeoModel().fit([1], [5.0], [2.0])  # recency beyond T
    with pytest.raises(ConvergenceError):
        GammaGammaModel().fit([0, 0, 1], [0.0, 0.0, 5.0])
    with pytest.raises(AnalyticsError):
        BetaGeoModel().probability_alive([1], [1], [2])  # not fitted


def simulate_bgnbd(
    n: int, r: float, alpha: float, a: float, b: float, seed: int = 7
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Customers drawn from the BG/NBD itself (weeks; purchase times on whole days)."""
    rng = np.random.default_rng(seed)
    age_days = rng.integers(7, 3 * 365, n)
    age = age_days / 7.0
    rate = rng.gamma(r, 1 / alpha, n)
    dropout = rng.beta(a, b, n)
    purchases = rng.poisson(rate * age)  # repeat purchases if it never dropped out
    survives = rng.geometric(dropout)  # drops out right after its k-th repeat purchase, k >= 1
    x = np.minimum(purchases, survives)
    # Time of the x-th of `purchases` uniform arrivals in (0, T]: T * Beta(x, purchases - x + 1).
    share = np.where(x > 0, rng.beta(np.maximum(x, 1), purchases - x + 1), 0.0)
    recency = np.floor(share * age_days) / 7.0
    return x.astype(float), recency, age


def test_fit_is_fast_and_recovers_simulated_parameters() -> None:
    # 300,000 simulated customers with day-resolution times (a million is the benchmark's job):
    # grouping on patterns and analytic gradients keep the fit to seconds.
    truth = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}
    x, recency, age = simulate_bgnbd(300_000, **truth)
    start = time.perf_counter()
    model = BetaGeoModel().fit(x, recency, age)
    elapsed = time.perf_counter() - start
    assert model.n_customers_ == 300_000
    assert model.n_patterns_ < 200_000
    for name, value in truth.items():
        assert model.params_[name] == pytest.approx(value, rel=0.1), name
    assert elapsed < 20, elapsed
