"""Load benchmark: N order lines from the canonical CSV into the warehouse, against the floor.

Figures, measured side by side in one run (each part in its own process, so its peak memory is
its own):

- the ETL's load (``etl.load_csv``: stream, validate, merge, checkpoint) of N lines: lines/s and
  peak memory;
- the floor: the same rows inserted into the same tables by the driver's bare ``executemany``
  (rows parsed and converted to driver values beforehand, untimed) — and that preparation time,
  to show what reading CSV alone costs; also the same rows through SQLAlchemy Core's
  ``conn.execute(table.insert(), rows)`` (what a plain SQLAlchemy loader pays per row);
- the ETL's load of N/4 lines, to show that peak memory does not grow with the file.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from benchmarks.common import ETL_MODULES, Result, fresh_warehouse, measure, redact_url, sqlite_url
from benchmarks.data import Shape, write_history
from benchmarks.floor import floor_load

SIZES = {"small": 100_000, "medium": 300_000, "large": 1_000_000}
TARGET_RATIO = 2.5
DEFAULT_BATCH = 50_000  # the ETL's default batch_lines


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


def _one_backend(result: Result, label: str, url: str, big: Path, small: Path, n: int) -> None:
    fresh_warehouse(url)
    floor = measure(floor_load, url, str(big), DEFAULT_BATCH, "driver", warm=ETL_MODULES)
    fresh_warehouse(url)
    core = measure(floor_load, url, str(big), DEFAULT_BATCH, "core", warm=ETL_MODULES)
    fresh_warehouse(url)
    etl = measure(etl_load, url, str(big), warm=ETL_MODULES)
    # Memory is flat in file size once a file spans several batches: compare N/4 and N with a
    # batch size that makes N/4 at least five batches (the default batch for the large size).
    pair_batch = min(DEFAULT_BATCH, n // 20)
    if pair_batch == DEFAULT_BATCH:
        etl_big = etl
    else:
        fresh_warehouse(url)
        etl_big = measure(etl_load, url, str(big), pair_batch, warm=ETL_MODULES)
    fresh_warehouse(url)
    etl_small = measure(etl_load, url, str(small), pair_batch, warm=ETL_MODULES)
    lines = etl.value["lines"]
    if etl.value["rejected"]:
        result.note(f"{label}: {etl.value['rejected']:.0f} lines rejected (should be 0)")
    ratio = etl.seconds / floor.value["insert_s"]
    ratio_parse = etl.seconds / (floor.value["insert_s"] + floor.value["parse_s"])
    result.add(f"{label}: ETL load", etl.seconds, "s", f"{lines:,.0f} lines")
    result.add(f"{label}: ETL load rate", lines / etl.seconds, "lines/s")
    result.add(f"{label}: floor: driver executemany", floor.value["insert_s"], "s")
    result.add(f"{label}: floor rate", floor.value["lines"] / floor.value["insert_s"], "lines/s")
    core_s = core.value["insert_s"]
    result.add(f"{label}: SQLAlchemy Core executemany", core_s, "s", "the same rows")
    result.add(f"{label}: ratio ETL / Core executemany", etl.seconds / core_s, "x")
    result.add(f"{label}: CSV parse + conversion (floor's)", floor.value["parse_s"], "s")
    result.add(f"{label}: ratio ETL / floor", ratio, "x", f"target <= {TARGET_RATIO}")
    result.add(f"{label}: ratio ETL / (parse + floor)", ratio_parse, "x")
    result.add(f"{label}: ETL peak RSS (batch {DEFAULT_BATCH:,})", etl.peak_mib, "MiB")
    result.add(f"{label}: floor peak RSS (rows held)", floor.peak_mib, "MiB")
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
        f"{label} time / driver executemany floor",
        f"{ratio:.2f}x",
        f"<= {TARGET_RATIO}x",
        ratio <= TARGET_RATIO,
    )
    result.headline(
        f"{label} time / (CSV parse + floor)",
        f"{ratio_parse:.2f}x (Core executemany {etl.seconds / core_s:.2f}x)",
    )
    result.headline(
        f"{label} peak RSS, file N/4 -> N",
        f"{etl_small.peak_mib:.0f} -> {etl_big.peak_mib:.0f} MiB",
        "flat (< 1.25x)",
        growth < 1.25,
    )


def run(size: str, workdir: Path | None = None, mysql_url: str | None = None) -> Result:
    """Run the load benchmark at ``size``; figures for SQLite (and MariaDB with a URL)."""
    n = SIZES[size]
    result = Result("load", f"{size}: {n:,} lines")
    with tempfile.TemporaryDirectory(dir=workdir, prefix="bench-load-") as tmp:
        folder = Path(tmp)
        big = folder / "orders.csv"
        small = folder / "orders-quarter.csv"
        write_history(big, Shape(n, max(100, n // 10)))
        write_history(small, Shape(n // 4, max(100, n // 40)), seed=8)
        _one_backend(result, "SQLite", sqlite_url(folder, "warehouse.db"), big, small, n)
        if mysql_url:
            result.note(f"MariaDB at {redact_url(mysql_url)} (its tables are dropped and rebuilt)")
            _one_backend(result, "MariaDB", mysql_url, big, small, n)
    return result
