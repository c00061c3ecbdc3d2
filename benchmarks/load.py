"""Load benchmark: N order lines from the canonical CSV into the warehouse, against the floor.

Figures, measured side by side in one run (each part in its own process, so its peak memory is
its own):

- the ETL's load (``etl.load_csv``: stream, validate, merge, checkpoint) of N lines: lines/s and
  peak memory;
- the floor: the same rows inserted into the same tables by the driver's bare ``executemany``
  (rows parsed and converted to driver values beforehand, untimed) — and that preparation time,
  to show what reading CSV alone costs; also the same rows through SQLAlchemy Core's
  ``conn.execute(table.insert(), rows)`` (what a plain SQLAlchemy loader pays per row);
- the naive loader (``benchmarks/naive.py``: csv module + ``executemany`` into an order and a
  line table of its own, no validation), what issue 18 compares the ETL with;
- the ETL's load of N/4 lines, to show that peak memory does not grow with the file.

With ``repeat`` > 1, the ETL, the floor and the naive loader run that many times, interleaved;
each ratio is taken within a round and reported as min / median over the rounds.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from benchmarks.common import ETL_MODULES, Result, fresh_warehouse, measure, redact_url, sqlite_url
from benchmarks.data import Shape, write_history
from benchmarks.floor import floor_load
from benchmarks.naive import naive_load
from connectors.orders.canonical import DEFAULT_BATCH_LINES

SIZES = {"small": 100_000, "medium": 300_000, "large": 1_000_000}
TARGET_RATIO = 2.5
TARGET_NAIVE = 1.5  # issue 18: the ETL within 1.5 x the naive csv + executemany loader
DEFAULT_BATCH = DEFAULT_BATCH_LINES  # the ETL's default batch_lines


def etl_load(url: str, path: str, batch_lines: int = DEFAULT_BATCH) -> dict[str, float]:
    """The ETL's load of one canonical file (what `sugar-bridge etl run --csv` does)."""
    from etl import load_csv
    from etl.db import create_engine_for

    engine = create_engine_for(url)
    info = load_csv(engine, path, batch_lines=batch_lines)
    engine.dispose()
    return {
        "lines": float(info.rows_loaded),
        "rejected": float(info.rows_rejected),
        "batches": float(info.batches),
    }


def _spread(values: list[float]) -> str:
    """min / median of a figure over the rounds (the value alone for one round)."""
    if len(values) == 1:
        return f"{values[0]:.2f}x"
    return f"{min(values):.2f}x min / {statistics.median(values):.2f}x median"


def _one_backend(
    result: Result, label: str, url: str, big: Path, small: Path, n: int, repeat: int = 1
) -> None:
    rounds = []
    for _ in range(repeat):
        fresh_warehouse(url)
        floor = measure(floor_load, url, str(big), DEFAULT_BATCH, "driver", warm=ETL_MODULES)
        fresh_warehouse(url)
        naive = measure(naive_load, url, str(big), DEFAULT_BATCH, warm=ETL_MODULES)
        fresh_warehouse(url)
        etl = measure(etl_load, url, str(big), warm=ETL_MODULES)
        rounds.append((floor, naive, etl))
    fresh_warehouse(url)
    core = measure(floor_load, url, str(big), DEFAULT_BATCH, "core", warm=ETL_MODULES)
    # Memory is flat in file size once a file spans several batches: compare N/4 and N with a
    # batch size that makes N/4 at least five batches (the default batch for the large size).
    pair_batch = min(DEFAULT_BATCH, n // 20)
    if pair_batch == DEFAULT_BATCH:
        etl_big = rounds[0][2]
    else:
        fresh_warehouse(url)
        etl_big = measure(etl_load, url, str(big), pair_batch, warm=ETL_MODULES)
    fresh_warehouse(url)
    etl_small = measure(etl_load, url, str(small), pair_batch, warm=ETL_MODULES)
    ratios = [e.seconds / f.value["insert_s"] for f, _, e in rounds]
    naive_ratios = [e.seconds / v.seconds for _, v, e in rounds]
    cpu_ratios = [e.cpu_seconds / v.cpu_seconds for _, v, e in rounds]
    parse_ratios = [e.seconds / (f.value["insert_s"] + f.value["parse_s"]) for f, _, e in rounds]
    # The round of the median ETL time gives the single figures.
    floor, naive, etl = sorted(rounds, key=lambda r: r[2].seconds)[(len(rounds) - 1) // 2]
    lines = etl.value["lines"]
    if etl.value["rejected"]:
        result.note(f"{label}: {etl.value['rejected']:.0f} lines rejected (should be 0)")
    ratio = etl.seconds / floor.value["insert_s"]
    ratio_parse = etl.seconds / (floor.value["insert_s"] + floor.value["parse_s"])
    if repeat > 1:
        result.note(f"{label}: {repeat} rounds; single figures from the round of median ETL time")
        for name, values in (
            ("ETL time", [e.seconds for _, _, e in rounds]),
            ("floor insert time", [f.value["insert_s"] for f, _, _ in rounds]),
            ("naive loader time", [v.seconds for _, v, _ in rounds]),
        ):
            result.note(f"{label}: {name} per round: " + ", ".join(f"{x:.2f} s" for x in values))
    result.add(f"{label}: ETL load", etl.seconds, "s", f"{lines:,.0f} lines")
    result.add(f"{label}: ETL load rate", lines / etl.seconds, "lines/s")
    result.add(f"{label}: ETL CPU time", etl.cpu_seconds, "s", "the loader's own process")
    result.add(f"{label}: floor: driver executemany", floor.value["insert_s"], "s")
    result.add(f"{label}: floor rate", floor.value["lines"] / floor.value["insert_s"], "lines/s")
    result.add(f"{label}: naive loader (csv + executemany)", naive.seconds, "s",
               f"{naive.value['lines']:,.0f} lines, CPU {naive.cpu_seconds:.2f} s")  # fmt: skip
    result.add(f"{label}: ratio ETL / naive loader", etl.seconds / naive.seconds, "x",
               f"target <= {TARGET_NAIVE}")  # fmt: skip
    core_s = core.value["insert_s"]
    result.add(f"{label}: SQLAlchemy Core executemany", core_s, "s", "the same rows")
    result.add(f"{label}: ratio ETL / Core executemany", etl.seconds / core_s, "x")
    result.add(f"{label}: CSV parse + conversion (floor's)", floor.value["parse_s"], "s")
    result.add(f"{label}: ratio ETL / floor", ratio, "x", f"target <= {TARGET_RATIO}")
    result.add(f"{label}: ratio ETL / (parse + floor)", ratio_parse, "x")
    result.add(f"{label}: ETL peak RSS (batch {DEFAULT_BATCH:,})", etl.peak_mib, "MiB")
    result.add(f"{label}: floor peak RSS (rows held)", floor.peak_mib, "MiB")
    result.add(f"{label}: naive loader peak RSS", naive.peak_mib, "MiB")
    result.add(
        f"{label}: ETL peak RSS, {n // 4:,} lines",
        etl_small.peak_mib,
        "MiB",
        f"batch {pair_batch:,}",
    )
    result.add(
        f"{label}: ETL peak RSS, {n:,} lines", etl_big.peak_mib, "MiB", f"batch {pair_batch:,}"
    )
    growth = etl_big.peak_mib / etl_small.peak_mib
    result.add(f"{label}: peak RSS growth for 4x the file", growth, "x", "flat = ~1.0")
    result.headline(f"{label} lines/s", f"{lines / etl.seconds:,.0f}")
    result.headline(
        f"{label} time / naive csv + executemany loader",
        _spread(naive_ratios) + f" (CPU {_spread(cpu_ratios)})",
        f"<= {TARGET_NAIVE}x",
        statistics.median(naive_ratios) <= TARGET_NAIVE,
    )
    result.headline(
        f"{label} time / driver executemany floor",
        _spread(ratios),
        f"<= {TARGET_RATIO}x",
        statistics.median(ratios) <= TARGET_RATIO,
    )
    result.headline(
        f"{label} time / (CSV parse + floor)",
        f"{_spread(parse_ratios)} (Core executemany {etl.seconds / core_s:.2f}x)",
    )
    result.headline(
        f"{label} peak RSS, file N/4 -> N",
        f"{etl_small.peak_mib:.0f} -> {etl_big.peak_mib:.0f} MiB",
        "flat (< 1.25x)",
        growth < 1.25,
    )


def run(
    size: str,
    workdir: Path | None = None,
    mysql_url: str | None = None,
    repeat: int = 1,
    postgres_url: str | None = None,
) -> Result:
    """Run the load benchmark at ``size``; figures for SQLite (and MariaDB, PostgreSQL with
    their URLs)."""
    n = SIZES[size]
    result = Result("load", f"{size}: {n:,} lines")
    with tempfile.TemporaryDirectory(dir=workdir, prefix="bench-load-") as tmp:
        folder = Path(tmp)
        big = folder / "orders.csv"
        small = folder / "orders-quarter.csv"
        write_history(big, Shape(n, max(100, n // 10)))
        write_history(small, Shape(n // 4, max(100, n // 40)), seed=8)
        url = sqlite_url(folder, "warehouse.db")
        _one_backend(result, "SQLite", url, big, small, n, repeat)
        if mysql_url:
            result.note(f"MariaDB at {redact_url(mysql_url)} (its tables are dropped and rebuilt)")
            _one_backend(result, "MariaDB", mysql_url, big, small, n, repeat)
        if postgres_url:
            result.note(
                f"PostgreSQL at {redact_url(postgres_url)} (its tables are dropped and rebuilt)"
            )
            _one_backend(result, "PostgreSQL", postgres_url, big, small, n, repeat)
    return result
