"""The lifetimes side of the CLV comparison, run by the *lifetimes venv's* python.

Usage: ``<lt-venv>/bin/python benchmarks/lifetimes_side.py SUMMARY.csv`` → one JSON line:
``{"bgnbd": {...params}, "gamma_gamma": {...}, "seconds": {...}, "peak_mib": ..., "versions"}``.
Standalone on purpose (imports nothing of sugar-bridge): lifetimes needs pandas < 2 / numpy < 2,
which the project's venv does not have.
"""

from __future__ import annotations

import json
import resource
import sys
import time


def main(path: str) -> None:
    """Fit BetaGeoFitter and GammaGammaFitter on the summary CSV; print params and timings."""
    import lifetimes
    import numpy as np
    import pandas as pd
    from lifetimes import BetaGeoFitter, GammaGammaFitter

    summary = pd.read_csv(path)
    start = time.perf_counter()
    bg = BetaGeoFitter(penalizer_coef=0.0).fit(
        summary["frequency"], summary["recency"], summary["T"]
    )
    bg_s = time.perf_counter() - start
    repeat = summary[(summary["frequency"] > 0) & (summary["monetary"] > 0)]
    start = time.perf_counter()
    gg = GammaGammaFitter(penalizer_coef=0.0).fit(repeat["frequency"], repeat["monetary"])
    gg_s = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = {
        "bgnbd": {k: float(v) for k, v in bg.params_.items()},
        "gamma_gamma": {("gamma" if k == "v" else k): float(v) for k, v in gg.params_.items()},
        "seconds": {"bgnbd": bg_s, "gamma_gamma": gg_s},
        "peak_mib": peak_kb / 1024,
        "versions": {
            "lifetimes": lifetimes.__version__,
            "pandas": pd.__version__,
            "numpy": np.__version__,
        },
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
