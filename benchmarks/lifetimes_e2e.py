"""lifetimes end to end, run by the *lifetimes venv's* python: the orders CSV → lifetimes' own
``summary_data_from_transaction_data`` → ``BetaGeoFitter`` + ``GammaGammaFitter``.

Usage: ``<lt-venv>/bin/python benchmarks/lifetimes_e2e.py ORDERS.csv AS_OF`` → one JSON line:
``{"bgnbd": {...}, "gamma_gamma": {...}, "customers": n}``. Timed from outside as a whole
process (its imports included), like ``sugar-bridge analytics clv``. Standalone on purpose
(imports nothing of sugar-bridge). The CSV is the canonical orders file the warehouse was loaded
from: one row per order line, ``line_amount`` the line's amount.
"""

from __future__ import annotations

import json
import sys


def main(path: str, as_of: str) -> None:
    """Summarise the orders as lifetimes does, fit both models, print their parameters."""
    import pandas as pd
    from lifetimes import BetaGeoFitter, GammaGammaFitter
    from lifetimes.utils import summary_data_from_transaction_data

    orders = pd.read_csv(
        path,
        usecols=["customer_id", "ordered_at", "line_amount"],
        parse_dates=["ordered_at"],
        dtype={"customer_id": str},
    )
    # Days, expressed in weeks (what sugar-bridge's time_unit "weeks" is): lifetimes' freq "W"
    # would count calendar-week periods instead.
    summary = summary_data_from_transaction_data(
        orders,
        "customer_id",
        "ordered_at",
        monetary_value_col="line_amount",
        observation_period_end=as_of,
        freq="D",
        freq_multiplier=7,
    )
    summary = summary[summary["T"] > 0]
    bg = BetaGeoFitter(penalizer_coef=0.0).fit(
        summary["frequency"], summary["recency"], summary["T"]
    )
    repeat = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    gg = GammaGammaFitter(penalizer_coef=0.0).fit(repeat["frequency"], repeat["monetary_value"])
    out = {
        "bgnbd": {k: float(v) for k, v in bg.params_.items()},
        "gamma_gamma": {("gamma" if k == "v" else k): float(v) for k, v in gg.params_.items()},
        "customers": len(summary),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
