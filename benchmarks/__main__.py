"""``python -m benchmarks <name> [--size small|medium|large] [--mysql-url URL] [--repeat N]``.

Names: load, incremental, analytics, push, all (every benchmark at the chosen size, then a
one-screen summary table). See benchmarks/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

from benchmarks.common import Result, summary_table

NAMES = ("load", "incremental", "analytics", "push")


def _runner(name: str) -> Callable[..., Result]:
    if name == "load":
        from benchmarks.load import run as load_run

        return load_run
    if name == "incremental":
        from benchmarks.incremental import run as incremental_run

        return incremental_run
    if name == "analytics":
        from benchmarks.analytics import run as analytics_run

        return analytics_run
    from benchmarks.push import run as push_run

    return push_run


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run the benchmark(s), print figures (and the summary for ``all``)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("name", choices=(*NAMES, "all"))
    parser.add_argument("--size", choices=("small", "medium", "large"), default="small")
    parser.add_argument("--mysql-url", default=os.environ.get("SUGAR_BRIDGE_BENCH_MYSQL_URL"))
    parser.add_argument(
        "--lifetimes-python",
        default=None,
        help="python of a venv with lifetimes (default: /tmp/lt-venv/bin/python if present)",
    )
    parser.add_argument("--workdir", type=Path, default=None, help="where temporary files go")
    parser.add_argument(
        "--repeat", type=int, default=1, help="load: rounds of ETL, floor and naive loader"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # SQLite stores Numeric as float; the warning says so once per process, not a problem here.
    warnings.filterwarnings("ignore", message=".*Decimal objects natively.*")
    os.environ["PYTHONWARNINGS"] = "ignore::UserWarning"  # the same for the spawned parts
    names = NAMES if args.name == "all" else (args.name,)
    results: list[Result] = []
    started = time.perf_counter()
    for name in names:
        kwargs: dict[str, object] = {"workdir": args.workdir}
        if name in ("load", "incremental", "analytics"):
            kwargs["mysql_url"] = args.mysql_url
        if name == "analytics":
            kwargs["lifetimes_python"] = args.lifetimes_python
        if name == "load":
            kwargs["repeat"] = args.repeat
        part_start = time.perf_counter()
        try:
            result = _runner(name)(args.size, **kwargs)
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            result = Result(name, args.size)
            result.headline(f"{name}: failed", f"{type(exc).__name__}: {exc}"[:90], "", False)
        result.add("benchmark wall time", time.perf_counter() - part_start, "s")
        result.print()
        sys.stdout.flush()
        results.append(result)
    if len(results) > 1:
        print(f"\n== summary ({args.size}, {time.perf_counter() - started:.0f} s in all)")
        print(summary_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
