"""The calibration/holdout evaluation on CDNOW: the split reproduces the published calibration
summary, and the evaluation's figures agree with the data and with each other."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analytics.exceptions import AnalyticsError
from analytics.holdout import (
    FREQUENCY_BUCKETS,
    HoldoutEvaluation,
    best_model,
    calibration_holdout,
    compare_models,
)

DATA = Path(__file__).parent / "data"
# The published CDNOW split: 39 weeks of calibration (1997), 39 weeks of holdout.
CAL_END = date(1997, 9, 30)
HOLDOUT_END = date(1998, 6, 30)


@pytest.fixture(scope="module")
def evaluations(cdnow_transactions: pd.DataFrame) -> dict[str, HoldoutEvaluation]:
    return compare_models(
        cdnow_transactions,
        customer_col="customer",
        date_col="date",
        calibration_end=CAL_END,
        holdout_end=HOLDOUT_END,
    )


def test_split_reproduces_the_published_calibration_summary(
    cdnow_transactions: pd.DataFrame,
) -> None:
    published = pd.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv").set_index("ID")
    split = calibration_holdout(
        cdnow_transactions,
        customer_col="customer",
        date_col="date",
        calibration_end=CAL_END,
        holdout_end=HOLDOUT_END,
    )
    assert len(split) == 2357
    np.testing.assert_array_equal(split["frequency"].to_numpy(), published["x"].to_numpy())
    np.testing.assert_allclose(split["recency"], published["t_x"], atol=0.006)
    np.testing.assert_allclose(split["T"], published["T"], atol=0.006)
    # Holdout purchases are purchase days after the calibration, counted from the raw log.
    days = cdnow_transactions.assign(day=cdnow_transactions["date"].dt.normalize())
    later = days[(days["day"] > pd.Timestamp(CAL_END)) & (days["day"] <= pd.Timestamp(HOLDOUT_END))]
    assert split["holdout_purchases"].sum() == later.drop_duplicates(["customer", "day"]).shape[0]


def test_every_model_is_fitted_on_the_calibration_only(
    evaluations: dict[str, HoldoutEvaluation],
) -> None:
    # The calibration fit is the published one: the holdout never leaks into it.
    assert evaluations["bgnbd"].params["r"] == pytest.approx(0.243, abs=5e-4)
    assert evaluations["mbgnbd"].params["b"] == pytest.approx(1.614, abs=1e-3)
    assert evaluations["pareto_nbd"].params["s"] == pytest.approx(0.6061, abs=5e-4)


def test_evaluation_figures_agree_with_each_other(
    evaluations: dict[str, HoldoutEvaluation],
) -> None:
    for ev in evaluations.values():
        assert ev.n_customers == 2357
        assert ev.holdout_periods == pytest.approx(273 / 7)
        assert ev.degenerate == []
        assert 0 < ev.mae <= ev.rmse
        # by frequency: buckets 0..6 and 7+, customers adding up, actual means weighted to the
        # holdout total
        assert [r["frequency"] for r in ev.by_frequency][-1] == f"{FREQUENCY_BUCKETS - 1}+"
        assert sum(r["customers"] for r in ev.by_frequency) == ev.n_customers
        actual = sum(r["actual"] * r["customers"] for r in ev.by_frequency)
        predicted = sum(r["predicted"] * r["customers"] for r in ev.by_frequency)
        assert actual == pytest.approx(ev.actual_total)
        assert predicted == pytest.approx(ev.predicted_total)
        # more calibration purchases -> more expected holdout purchases
        means = [r["predicted"] for r in ev.by_frequency]
        assert means == sorted(means)
        # tracking: 78 weeks; cumulative is the running sum of the incremental
        assert len(ev.tracking) == 78
        assert np.allclose(
            np.cumsum([r["predicted"] for r in ev.tracking]),
            [r["predicted_cumulative"] for r in ev.tracking],
        )
        holdout_actual = ev.tracking[-1]["actual_cumulative"] - ev.tracking[38]["actual_cumulative"]
        # week 39 ends on 1997-09-30's week: the holdout's purchase days are the weeks after it
        assert abs(holdout_actual - ev.actual_total) <= 0.02 * ev.actual_total
        alive = np.array(ev.matrices["p_alive"])
        assert alive.shape == (len(ev.matrices["frequency"]), len(ev.matrices["recency"]))
        assert np.all((alive >= 0) & (alive <= 1))


def test_models_forecast_the_holdout_within_a_fifth(
    evaluations: dict[str, HoldoutEvaluation],
) -> None:
    # 1,882 repeat purchase days in the holdout; each model forecasts 1,577-1,666 of them.
    for ev in evaluations.values():
        assert ev.actual_total == 1882
        assert ev.predicted_total == pytest.approx(ev.actual_total, rel=0.2)


def test_best_model_is_the_lowest_error_among_sound_fits(
    evaluations: dict[str, HoldoutEvaluation],
) -> None:
    best = best_model(evaluations)
    assert evaluations[best].mae == min(ev.mae for ev in evaluations.values())
    degenerate = dict(evaluations)
    degenerate[best] = HoldoutEvaluation(**{**evaluations[best].as_dict(), "degenerate": ["a"]})
    assert best_model(degenerate) != best


def test_holdout_must_follow_calibration(cdnow_transactions: pd.DataFrame) -> None:
    with pytest.raises(AnalyticsError, match="must end after the calibration"):
        calibration_holdout(
            cdnow_transactions,
            customer_col="customer",
            date_col="date",
            calibration_end=CAL_END,
            holdout_end=CAL_END,
        )


def test_validation_charts_show_every_model(evaluations: dict[str, HoldoutEvaluation]) -> None:
    from analytics.report.charts import (
        clv_frequency_chart,
        clv_tracking_chart,
        p_alive_matrix_chart,
    )

    as_dicts = {k: v.as_dict() for k, v in evaluations.items()}
    tracking = clv_tracking_chart(as_dicts, chosen="pareto_nbd")
    assert tracking.startswith("<svg")
    for label in ("BG/NBD", "MBG/NBD", "Pareto/NBD (chosen)", "actual"):
        assert label in tracking
    assert "Pareto/NBD" in clv_frequency_chart(as_dicts)
    assert "P(alive), MBG/NBD" in p_alive_matrix_chart(as_dicts["mbgnbd"]["matrices"], "mbgnbd")
    assert "no holdout evaluation" in clv_tracking_chart({}, chosen="bgnbd")


def test_cdnow_through_the_warehouse_reproduces_the_three_published_fits(
    cdnow_transactions: pd.DataFrame, tmp_path: Path
) -> None:
    """The product's own path: CDNOW's transactions loaded by the ETL into a warehouse, then the
    model check of `analytics clv --holdout 273` as of the end of the published holdout."""
    import csv

    from analytics.holdout import choose_model
    from etl import load_csv
    from etl.db import create_engine_for, upgrade

    path = tmp_path / "cdnow.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["order_id", "line_no", "ordered_at", "customer_id", "sku", "quantity",
                      "unit_price", "line_amount"])  # fmt: skip
        for i, row in enumerate(cdnow_transactions.itertuples(index=False)):
            quantity = int(row.cds)  # at least one CD per transaction (8 cost 0.00)
            day = row.date.date().isoformat()
            price, amount = f"{row.amount / quantity:.6f}", f"{row.amount:.2f}"
            out.writerow([f"T{i}", 1, day, f"C{row.customer}", "CD", quantity, price, amount])
    engine = create_engine_for(f"sqlite:///{tmp_path / 'w.db'}")
    upgrade(engine)
    loaded = load_csv(engine, path)
    assert loaded.rows_rejected == 0
    assert loaded.rows_loaded == len(cdnow_transactions)
    with engine.connect() as conn:
        choice = choose_model(
            conn,
            HOLDOUT_END,
            model="auto",
            holdout_days=(HOLDOUT_END - CAL_END).days,
            time_unit="weeks",
            penalizer=0.0,
            min_customers=20,
        )
    engine.dispose()
    assert choice.calibration_end == CAL_END
    published = {
        "bgnbd": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
        "mbgnbd": {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614},
        "pareto_nbd": {"r": 0.5533, "alpha": 10.5776, "s": 0.6061, "beta": 11.6693},
    }
    for name, params in published.items():
        fitted = choice.evaluations[name].params
        for key, value in params.items():
            assert fitted[key] == pytest.approx(value, rel=2e-3), (name, key)
        assert choice.evaluations[name].actual_total == 1882
    assert choice.model == best_model(choice.evaluations)
