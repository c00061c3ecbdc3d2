"""Analytics benchmark: everything of ``analytics run`` for many customers, and the CLV fit side
by side with ``lifetimes`` on the same summary.

The warehouse is filled the fast way (the floor loader: this benchmark measures analytics, not the
load). Then, each in its own process:

- ``analytics.run_analytics`` (SQL statistics, RFM, both models fitted and applied, lifecycle,
  portfolio figures, stored in one transaction): seconds per stage and peak memory;
- the models' input (frequency, recency, T, monetary per buyer) is written to a CSV, and fitted by
  our ``analytics.clv.fit_clv`` and by lifetimes' ``BetaGeoFitter`` + ``GammaGammaFitter`` (in the
  lifetimes venv's python: lifetimes does not import with pandas 3 / numpy 2) — parameters
  compared to 3 decimals, time ratio, peak memory of each.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks.common import (
    ANALYTICS_MODULES,
    ETL_MODULES,
    Result,
    fresh_warehouse,
    measure,
    redact_url,
    sqlite_url,
)
from benchmarks.data import AS_OF, Shape, write_history
from benchmarks.floor import bulk_fill

SIZES = {
    "small": Shape(200_000, 20_000),
    "medium": Shape(2_000_000, 200_000),
    "large": Shape(10_000_000, 1_000_000),
}
DEFAULT_LT_PYTHON = Path("/tmp/lt-venv/bin/python")  # noqa: S108 (the documented venv)
TOLERANCE = 5e-4  # "equal to 3 decimals"
MEMORY_TARGET_MIB = 4096


def analytics_run(url: str, as_of: date) -> dict[str, Any]:
    """``run_analytics`` with the default config (what `sugar-bridge analytics run` does)."""
    from analytics import run_analytics
    from analytics.config import AnalyticsConfig
    from etl.db import create_engine_for

    engine = create_engine_for(url)
    info = run_analytics(engine, AnalyticsConfig(), as_of)
    engine.dispose()
    return {
        "customers": info.n_customers,
        "buyers": info.n_buyers,
        "orders": info.n_orders,
        "timings": info.timings,
        "clv_error": info.clv_error,
    }


def write_summary(url: str, as_of: date, path: str) -> int:
    """The models' input, as ``analytics run`` computes it, to a CSV; returns its rows."""
    from analytics.config import AnalyticsConfig
    from analytics.habits import compute_habits
    from etl.db import create_engine_for

    engine = create_engine_for(url)
    with engine.connect() as conn:
        customers = compute_habits(conn, as_of, AnalyticsConfig()).customers
    engine.dispose()
    buyers = customers[customers["n_orders"] > 0]
    summary = buyers[["frequency", "recency", "T", "monetary"]].astype(float)
    summary = summary[summary["T"] > 0]
    summary.to_csv(path, index=False)
    return len(summary)


def our_fit(path: str) -> dict[str, Any]:
    """Our BG/NBD + Gamma-Gamma on the summary CSV (fit time only, not the CSV read)."""
    import pandas as pd

    from analytics.btyd import BetaGeoModel, GammaGammaModel

    summary = pd.read_csv(path)
    # The two fits fit_clv makes, timed one by one.
    start = time.perf_counter()
    bg = BetaGeoModel().fit(summary["frequency"], summary["recency"], summary["T"])
    bg_s = time.perf_counter() - start
    start = time.perf_counter()
    gg = GammaGammaModel().fit(summary["frequency"], summary["monetary"])
    gg_s = time.perf_counter() - start
    return {
        "bgnbd": dict(bg.params_),
        "gamma_gamma": dict(gg.params_),
        "seconds": {"bgnbd": bg_s, "gamma_gamma": gg_s},
        "patterns": bg.n_patterns_,
    }


def lifetimes_fit(python: Path, path: str) -> dict[str, Any]:
    """lifetimes' fitters, in their own venv's interpreter (its own process and memory)."""
    script = Path(__file__).with_name("lifetimes_side.py")
    start = time.perf_counter()
    done = subprocess.run(  # noqa: S603 (the python the user named, our own script)
        [str(python), str(script), path], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"lifetimes side failed: {done.stderr.strip()[-500:]}")
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    out["wall"] = time.perf_counter() - start
    return out


def _split(seconds: dict[str, float]) -> str:
    return f"BG/NBD {seconds['bgnbd']:.2f} s, GG {seconds['gamma_gamma']:.2f} s"


def _lifetimes_python(given: str | None) -> Path | None:
    if given:
        return Path(given)
    return DEFAULT_LT_PYTHON if DEFAULT_LT_PYTHON.exists() else None


def _compare(result: Result, ours: dict[str, Any], theirs: dict[str, Any]) -> float:
    """Parameters side by side; equal when each agrees to 3 decimals of its own scale.

    Scale parameters (alpha in weeks, gamma in currency) are in the tens or thousands, where
    "3 decimals" absolute would ask both optimisers for 8 significant digits: the difference is
    compared to 5e-4 x max(1, |value|), i.e. 3 decimals for parameters below 1 and 3 decimals of
    the leading digits above.
    """
    worst = 0.0
    for model in ("bgnbd", "gamma_gamma"):
        for name, value in ours[model].items():
            other = theirs[model][name]
            scaled = abs(value - other) / max(1.0, abs(other))
            worst = max(worst, scaled)
            result.add(
                f"{model} {name}: ours", value, "", f"ours {value:.6g}, lifetimes {other:.6g}"
            )
    result.add(
        "largest scaled parameter difference", worst, "", f"equal to 3 decimals: <= {TOLERANCE}"
    )
    return worst


def loglik_both(path: str, ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, float]:
    """Our log-likelihoods at both parameter sets (which optimiser got closer to the maximum)."""
    import numpy as np
    import pandas as pd

    from analytics.btyd import BetaGeoModel, GammaGammaModel

    s = pd.read_csv(path)
    x, tx, t = (s[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    repeat = (s["frequency"] > 0) & (s["monetary"] > 0)
    gx, gm = s.loc[repeat, "frequency"].to_numpy(float), s.loc[repeat, "monetary"].to_numpy(float)
    out = {}
    for who, params in (("ours", ours), ("lifetimes", theirs)):
        bg = np.log([params["bgnbd"][k] for k in BetaGeoModel.param_names])
        gg = np.log([params["gamma_gamma"][k] for k in GammaGammaModel.param_names])
        out[f"bgnbd_{who}"] = float(BetaGeoModel._loglik_terms(bg, x, tx, t)[0].sum())
        out[f"gg_{who}"] = float(GammaGammaModel._loglik_terms(gg, gx, gm)[0].sum())
    return out


def run(
    size: str,
    workdir: Path | None = None,
    mysql_url: str | None = None,
    lifetimes_python: str | None = None,
) -> Result:
    """Run the analytics benchmark at ``size`` on SQLite (or on MariaDB with a URL)."""
    shape = SIZES[size]
    result = Result("analytics", f"{size}: {shape.customers:,} customers, {shape.lines:,} lines")
    with tempfile.TemporaryDirectory(dir=workdir, prefix="bench-analytics-") as tmp:
        folder = Path(tmp)
        url = mysql_url or sqlite_url(folder, "warehouse.db")
        label = "MariaDB" if mysql_url else "SQLite"
        if mysql_url:
            result.note(f"warehouse: MariaDB at {redact_url(mysql_url)} (tables rebuilt)")
        orders = folder / "orders.csv"
        write_history(orders, shape)
        fresh_warehouse(url)
        fill = measure(bulk_fill, url, str(orders), warm=ETL_MODULES)
        result.add("warehouse filled (floor loader)", fill.seconds, "s", f"{fill.value:,} lines")

        full = measure(analytics_run, url, AS_OF, warm=ANALYTICS_MODULES)
        info = full.value
        if info["clv_error"]:
            result.note(f"CLV not fitted: {info['clv_error']}")
        result.add(f"{label}: analytics run, all stages", full.seconds, "s")
        for stage, seconds in info["timings"].items():
            result.add(f"  stage {stage}", seconds, "s")
        result.add(f"{label}: analytics run peak RSS", full.peak_mib, "MiB")
        result.add("customers / buyers", info["customers"], "", f"{info['buyers']:,} buyers")
        result.headline(
            f"{label} analytics run: time, peak RSS",
            f"{full.seconds:.1f} s, {full.peak_mib:,.0f} MiB",
            f"< {MEMORY_TARGET_MIB} MiB",
            full.peak_mib < MEMORY_TARGET_MIB,
        )

        summary = str(folder / "summary.csv")
        n = measure(write_summary, url, AS_OF, summary, warm=ANALYTICS_MODULES).value
        ours = measure(our_fit, summary, warm=ANALYTICS_MODULES)
        result.add("CLV: buyers in the summary", n, "", f"{ours.value['patterns']:,} patterns")
        our_s = ours.value["seconds"]["bgnbd"] + ours.value["seconds"]["gamma_gamma"]
        result.add(
            "CLV: our fit (BG/NBD + GG)",
            our_s,
            "s",
            _split(ours.value["seconds"]),
        )
        result.add("CLV: our fit peak RSS", ours.peak_mib, "MiB")
        python = _lifetimes_python(lifetimes_python)
        if python is None:
            result.note(
                "lifetimes comparison skipped: no lifetimes venv (make one: python3.11 -m venv "
                "/tmp/lt-venv && /tmp/lt-venv/bin/pip install 'numpy<2' 'pandas<2' "
                "'scipy<1.13' lifetimes; or pass --lifetimes-python)"
            )
            result.headline("CLV vs lifetimes", "skipped: no lifetimes venv")
            return result
        theirs = lifetimes_fit(python, summary)
        lt_seconds = theirs["seconds"]["bgnbd"] + theirs["seconds"]["gamma_gamma"]
        result.add(
            "CLV: lifetimes fit (BG/NBD + GG)",
            lt_seconds,
            "s",
            _split(theirs["seconds"]),
        )
        versions = ", ".join(f"{k} {v}" for k, v in theirs["versions"].items())
        result.note(f"lifetimes side: {python} ({versions})")
        result.add("CLV: lifetimes peak RSS", theirs["peak_mib"], "MiB")
        speedup = lt_seconds / our_s
        result.add("CLV: time ratio lifetimes / ours", speedup, "x")
        worst_scaled = _compare(result, ours.value, theirs)
        equal = worst_scaled <= TOLERANCE
        ll = loglik_both(summary, ours.value, theirs)
        for model in ("bgnbd", "gg"):
            gain = ll[f"{model}_ours"] - ll[f"{model}_lifetimes"]
            result.add(
                f"{model} log-likelihood, ours - lifetimes'",
                gain,
                "",
                "> 0: our optimum is the higher one",
            )
        result.headline(
            "CLV fit time: ours vs lifetimes",
            f"{our_s:.2f} vs {lt_seconds:.2f} s ({speedup:.1f}x)",
            "faster than lifetimes",
            speedup > 1,
        )
        result.headline(
            "CLV params vs lifetimes",
            f"max scaled diff {worst_scaled:.1e}",
            "equal to 3 decimals",
            equal,
        )
        result.headline(
            "CLV fit peak RSS: ours vs lifetimes",
            f"{ours.peak_mib:,.0f} vs {theirs['peak_mib']:,.0f} MiB",
        )
    return result


def stored_figures(url: str) -> dict[str, Any]:
    """What the analytics run stored, engine-neutral: per-customer sums and counts by segment
    and stage, and the models' parameters (rounded to 9 significant digits)."""
    from sqlalchemy import func, select

    from etl.db import create_engine_for
    from etl.schema import analytics_run as runs
    from etl.schema import customer_metrics as m

    engine = create_engine_for(url)
    with engine.connect() as conn:
        sums = conn.execute(
            select(
                func.count(),
                func.sum(m.c.total_amount),
                func.sum(m.c.n_orders),
                func.sum(m.c.clv_12m),
                func.sum(m.c.repeat_purchase_days),
            )
        ).one()
        segments = dict(
            conn.execute(select(m.c.rfm_segment, func.count()).group_by(m.c.rfm_segment)).all()
        )
        stages = dict(
            conn.execute(
                select(m.c.lifecycle_stage, func.count()).group_by(m.c.lifecycle_stage)
            ).all()
        )
        models = conn.execute(select(runs.c.models)).scalar_one()
    engine.dispose()

    def params(model: str) -> dict[str, str]:
        found = (models or {}).get(model) or {}
        return {k: f"{v:.9g}" for k, v in (found.get("params") or {}).items()}

    return {
        "customers": int(sums[0]),
        "total_amount": str(sums[1]),
        "orders": int(sums[2] or 0),
        "clv_12m": str(sums[3]),
        "repeat_days": int(sums[4] or 0),
        "segments": {str(k): int(v) for k, v in segments.items()},
        "stages": {str(k): int(v) for k, v in stages.items()},
        "model": (models or {}).get("model"),
        "purchases": params(str((models or {}).get("model"))),
        "gamma_gamma": params("gamma_gamma"),
    }


def run_spider(size: str, mysql_url: str, spider_url: str, workdir: Path | None = None) -> Result:
    """One MariaDB node vs MariaDB Spider (facts sharded over its data nodes), same orders: the
    fill, ``analytics run`` stage by stage, and whether both stored the same figures."""
    from sqlalchemy import text

    from etl.db import create_engine_for
    from etl.spider import nodes

    shape = SIZES[size]
    result = Result(
        "analytics-spider",
        f"{size}: {shape.customers:,} customers, {shape.lines:,} lines",
        echo=True,  # about an hour at the large size
    )
    engine = create_engine_for(spider_url)
    with engine.connect() as conn:
        servers = [f"{n.name} ({n.host}:{n.port})" for n in nodes(conn)]
        version = conn.execute(text("SELECT VERSION()")).scalar()
    engine.dispose()
    result.note(f"one node: MariaDB at {redact_url(mysql_url)}")
    result.note(f"Spider: head {redact_url(spider_url)} ({version}), nodes {', '.join(servers)}")
    with tempfile.TemporaryDirectory(dir=workdir, prefix="bench-spider-") as tmp:
        orders = Path(tmp) / "orders.csv"
        write_history(orders, shape)
        runs: dict[str, Any] = {}
        for label, url in (("one node", mysql_url), ("Spider", spider_url)):
            fresh_warehouse(url)
            fill = measure(bulk_fill, url, str(orders), warm=ETL_MODULES)
            result.add(
                f"{label}: filled (floor loader)", fill.seconds, "s", f"{fill.value:,} lines"
            )
            full = measure(analytics_run, url, AS_OF, warm=ANALYTICS_MODULES)
            runs[label] = full
            if full.value["clv_error"]:
                result.note(f"{label}: CLV not fitted: {full.value['clv_error']}")
            result.add(f"{label}: analytics run, all stages", full.seconds, "s")
            for stage, seconds in full.value["timings"].items():
                result.add(f"  {label}: stage {stage}", seconds, "s")
            result.add(f"{label}: analytics run peak RSS", full.peak_mib, "MiB")
            runs[f"{label} figures"] = stored_figures(url)
        one, sharded = runs["one node"], runs["Spider"]
        same = runs["one node figures"] == runs["Spider figures"]
        if not same:
            a, b = runs["one node figures"], runs["Spider figures"]
            differ = [k for k in a if a[k] != b.get(k)]
            result.note(f"figures differ in: {', '.join(differ)}")
        ratio = sharded.seconds / one.seconds
        result.add("analytics run time: Spider / one node", ratio, "x")
        result.headline(
            "analytics run: one node vs Spider",
            f"{one.seconds:.1f} vs {sharded.seconds:.1f} s ({ratio:.2f}x)",
        )
        result.headline(
            "Spider's figures = one node's",
            "equal" if same else "DIFFERENT",
            "equal",
            same,
        )
    return result
