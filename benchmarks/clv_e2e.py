"""From data at rest to fitted BG/NBD + Gamma-Gamma: ``sugar-bridge analytics clv`` reading its
warehouse, side by side with lifetimes reading the same orders from CSV (issue 18).

The data: the CDNOW sample (Fader & Hardie: 2,357 customers, 6,919 transactions, 1997-01 to
1998-06; ``tests/analytics/data``) repeated ``copies`` times as distinct customers. Copy ``k``'s
dates are moved ``k`` days earlier and its amounts scaled by ``1 + k/200``, so the copies are not
identical histories (their ``T``, and their spend, differ: as many distinct patterns as real
customers would give, not one per CDNOW customer). Written as a canonical orders file (one line
per transaction, ``unit_price`` = amount / quantity with 6 decimals, ``line_amount`` the amount),
loaded by the ETL into a fresh warehouse (untimed; zero rejects expected).

Timed, each as a whole process from its start to its exit (imports included), in turn A B A B
(a warm-up pair first, not counted), the ratio taken pair by pair:

- A: ``sugar-bridge analytics clv --model bgnbd --as-of 1998-06-30 --json`` on the warehouse;
- B: ``benchmarks/lifetimes_e2e.py`` in the lifetimes venv's python: ``pandas.read_csv`` of the
  orders file, lifetimes' ``summary_data_from_transaction_data`` (days, in weeks), its
  ``BetaGeoFitter`` and ``GammaGammaFitter`` (penalizer 0).

Wall time from just before the start to just after the exit; CPU time (user + system) and peak
memory from the operating system's accounting of the finished child (``os.wait4``). Both sides'
parameters are compared to 3 decimals.
"""

from __future__ import annotations

import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from benchmarks.analytics import TOLERANCE, _lifetimes_python
from benchmarks.common import Result, fresh_warehouse, measure, redact_url, sqlite_url

#: Copies of the CDNOW sample per size: 23,570 customers (CDNOW's whole cohort), 235,700, 942,800.
SIZES = {"small": 10, "medium": 100, "large": 400}
AS_OF = date(1998, 6, 30)  # the last day of CDNOW's data
CDNOW = Path(__file__).resolve().parent.parent / "tests" / "analytics" / "data" / "CDNOW_sample.txt"
TARGET = 0.5  # issue 18: analytics clv end to end <= 0.5 x lifetimes' time
HEADER = [
    "order_id", "line_no", "ordered_at", "customer_id", "sku", "quantity", "unit_price",
    "line_amount",
]  # fmt: skip


def write_orders(path: Path, copies: int) -> int:
    """The CDNOW sample ``copies`` times as a canonical orders file; returns its lines."""
    rows = [line.split() for line in CDNOW.read_text(encoding="utf-8").splitlines() if line.strip()]
    n = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(HEADER)
        for copy in range(copies):
            for _master, customer, day, cds, amount in rows:
                when = date(int(day[:4]), int(day[4:6]), int(day[6:])) - timedelta(days=copy)
                quantity = int(cds)  # at least one CD per transaction
                value = round(float(amount) * (1 + copy / 200), 2)
                out.writerow([
                    f"T{n}", 1, when.isoformat(), f"C{copy:03d}{int(customer):04d}", "CD",
                    quantity, f"{value / quantity:.6f}", f"{value:.2f}",
                ])  # fmt: skip
                n += 1
    return n


def load(url: str, path: str) -> dict[str, int]:
    """The orders file loaded by the ETL (the product's own path)."""
    from etl import load_csv
    from etl.db import create_engine_for

    engine = create_engine_for(url)
    info = load_csv(engine, path)
    engine.dispose()
    return {"loaded": info.rows_loaded, "rejected": info.rows_rejected}


@dataclass
class Run:
    """One finished process: wall and CPU seconds, peak RSS (MiB), what it printed."""

    wall: float
    cpu: float
    peak_mib: float
    stdout: str


def run_process(argv: list[str], env: dict[str, str], cwd: Path) -> Run:
    """Start ``argv``, wait for it; raise with its error output when it fails."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env, cwd=cwd)  # noqa: S603
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {err.read().decode(errors='replace')[-500:]}")
        peak = usage.ru_maxrss / 1024 if sys.platform != "darwin" else usage.ru_maxrss / 2**20
        return Run(wall, usage.ru_utime + usage.ru_stime, peak, out.read().decode())


def _ours(stdout: str) -> dict[str, dict[str, float]]:
    result = json.loads(stdout)
    return {
        "bgnbd": result["bgnbd"]["params"],
        "gamma_gamma": result["gamma_gamma"]["params"],
        "customers": result["n_customers"],
    }


def _figures(runs: list[Run]) -> tuple[float, float, float]:
    walls = [r.wall for r in runs]
    return min(walls), statistics.median(walls), max(walls)


def _cli(python: str) -> list[str]:
    script = Path(python).with_name("sugar-bridge")
    if script.exists():
        return [str(script)]
    return [python, "-c", "from sugar_bridge.cli.app import main; main()"]


def run(
    size: str,
    workdir: Path | None = None,
    mysql_url: str | None = None,
    lifetimes_python: str | None = None,
    repeat: int = 5,
) -> Result:
    """The end-to-end comparison at ``size`` on SQLite (or on the server of ``mysql_url``)."""
    copies = SIZES[size]
    result = Result("clv-e2e", f"{size}: CDNOW x {copies} = {2357 * copies:,} customers")
    python = _lifetimes_python(lifetimes_python)
    with tempfile.TemporaryDirectory(dir=workdir, prefix="bench-clv-") as tmp:
        folder = Path(tmp)
        orders = folder / "orders.csv"
        lines = write_orders(orders, copies)
        url = mysql_url or sqlite_url(folder, "warehouse.db")
        label = "MariaDB" if mysql_url else "SQLite"
        if mysql_url:
            result.note(f"warehouse: MariaDB at {redact_url(mysql_url)} (tables rebuilt)")
        fresh_warehouse(url)
        loaded = measure(load, url, str(orders))
        result.add(
            "warehouse loaded by the ETL (untimed part)",
            loaded.seconds,
            "s",
            f"{loaded.value['loaded']:,} of {lines:,} lines, {loaded.value['rejected']} rejected",
        )
        if python is None:
            result.note(
                "lifetimes side skipped: no lifetimes venv (see benchmarks/README.md, or pass "
                "--lifetimes-python)"
            )
            result.headline("clv end to end vs lifetimes", "skipped: no lifetimes venv")
            return result
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("SUGAR_BRIDGE_")},
            "SUGAR_BRIDGE_WAREHOUSE_URL": url,
        }
        ours = [*_cli(sys.executable), "analytics", "clv", "--model", "bgnbd"]
        ours += ["--as-of", AS_OF.isoformat(), "--json"]
        theirs = [str(python), str(Path(__file__).with_name("lifetimes_e2e.py")), str(orders)]
        theirs.append(AS_OF.isoformat())
        run_process(ours, env, folder)  # warm-up pair: page cache, bytecode
        run_process(theirs, env, folder)
        a_runs: list[Run] = []
        b_runs: list[Run] = []
        for _ in range(repeat):
            a_runs.append(run_process(ours, env, folder))
            b_runs.append(run_process(theirs, env, folder))
        wall_ratios = [a.wall / b.wall for a, b in zip(a_runs, b_runs, strict=True)]
        cpu_ratios = [a.cpu / b.cpu for a, b in zip(a_runs, b_runs, strict=True)]
        for name, runs in ((f"{label}: analytics clv", a_runs), ("lifetimes from CSV", b_runs)):
            low, mid, high = _figures(runs)
            result.add(
                f"{name}, wall", mid, "s", f"median of {repeat}; min {low:.2f}, max {high:.2f}"
            )
            result.add(f"{name}, CPU", statistics.median(r.cpu for r in runs), "s", "user + sys")
            result.add(f"{name}, peak RSS", statistics.median(r.peak_mib for r in runs), "MiB")
        ratio = statistics.median(wall_ratios)
        result.add(
            "ratio ours / lifetimes, wall",
            ratio,
            "x",
            f"pair by pair: min {min(wall_ratios):.3f}, max {max(wall_ratios):.3f}",
        )
        result.add(
            "ratio ours / lifetimes, CPU",
            statistics.median(cpu_ratios),
            "x",
            f"pair by pair: min {min(cpu_ratios):.3f}, max {max(cpu_ratios):.3f}",
        )
        mine, other = _ours(a_runs[-1].stdout), json.loads(b_runs[-1].stdout)
        worst = 0.0
        for model in ("bgnbd", "gamma_gamma"):
            for key, value in mine[model].items():
                scaled = abs(value - other[model][key]) / max(1.0, abs(other[model][key]))
                worst = max(worst, scaled)
                result.add(
                    f"{model} {key}",
                    value,
                    "",
                    f"ours {value:.6g}, lifetimes {other[model][key]:.6g}",
                )
        result.add("customers fitted", mine["customers"], "", f"lifetimes {other['customers']:,}")
        cpu_ratio = statistics.median(cpu_ratios)
        result.headline(
            f"{label} analytics clv end to end / lifetimes from CSV",
            f"{ratio:.2f}x wall (CPU {cpu_ratio:.2f}x), median of {repeat} pairs",
            f"<= {TARGET}x",
            ratio <= TARGET,
        )
        result.headline(
            "clv end to end: params vs lifetimes",
            f"max scaled diff {worst:.1e}",
            "equal to 3 decimals",
            worst <= TOLERANCE and mine["customers"] == other["customers"],
        )
    return result
