"""``python -m benchmarks <name> [--size small|medium|large] [--mysql-url URL] [--postgres-url URL]
[--repeat N]``.

``python -m benchmarks analytics --mysql-url URL --spider-url URL``: one MariaDB node vs MariaDB
Spider (its head's URL, ``engine=spider``), the same orders in both.

Names: load, incremental, analytics, push, extract, clv-e2e, all (every benchmark at the chosen
size, then a one-screen summary table). See benchmarks/README.md for what each figure means.
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

from benchmarks.common import Result, redact_url, summary_table

NAMES = ("load", "incremental", "analytics", "push", "extract", "clv-e2e")


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
    if name == "extract":
        from benchmarks.extract import run as extract_run

        return extract_run
    if name == "clv-e2e":
        from benchmarks.clv_e2e import run as clv_e2e_run

        return clv_e2e_run
    from benchmarks.push import run as push_run

    return push_run


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run the benchmark(s), print figures (and the summary for ``all``)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("name", choices=(*NAMES, "all"))
    parser.add_argument("--size", choices=("small", "medium", "large"), default="small")
    parser.add_argument("--mysql-url", default=os.environ.get("SUGAR_BRIDGE_BENCH_MYSQL_URL"))
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("SUGAR_BRIDGE_BENCH_POSTGRES_URL"),
        help="load: PostgreSQL figures too (its tables are dropped and rebuilt)",
    )
    parser.add_argument(
        "--spider-url",
        default=os.environ.get("SUGAR_BRIDGE_BENCH_SPIDER_URL"),
        help="analytics: one node (--mysql-url) vs this Spider head (engine=spider), side by side",
    )
    parser.add_argument(
        "--lifetimes-python",
        default=None,
        help="python of a venv with lifetimes (default: /tmp/lt-venv/bin/python if present)",
    )
    parser.add_argument("--workdir", type=Path, default=None, help="where temporary files go")
    parser.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="rounds: of the load benchmark's ETL, floor and naive loader (default 1), of the "
        "push matrix (default 2), of clv-e2e's pairs of processes (default 5)",
    )
    real = parser.add_argument_group(
        "push against a real Sugar",
        "the user name and password come from SUGAR_BRIDGE_BENCH_SUGAR_USERNAME (default admin) "
        "and SUGAR_BRIDGE_BENCH_SUGAR_PASSWORD, never from the command line; the Sugar keeps the "
        "benchmark's accounts, so give it a scratch instance",
    )
    real.add_argument(
        "--sugar-url",
        default=os.environ.get("SUGAR_BRIDGE_BENCH_SUGAR_URL"),
        help="push into this Sugar (site URL) instead of the sandbox: sessions x AOD matrix",
    )
    real.add_argument(
        "--live",
        action="store_true",
        help="push: set_entries with one session vs the default path, side by side, against the "
        "Sugar in SUGAR_LIVE_URL / _USERNAME / _PASSWORD (AOD switched through "
        "SUGAR_LIVE_SUITECRM_ROOT's .ci/suitecrm.sh); its accounts are marked deleted at the end",
    )
    real.add_argument(
        "--keep", action="store_true", help="--live: keep the benchmark's accounts in Sugar"
    )
    real.add_argument(
        "--no-change",
        action="store_true",
        help="push: a night where nothing changed (--accounts already pushed, lists and "
        "follow-ups on), timed whole; against the sandbox, or with --live the SUGAR_LIVE_* Sugar",
    )
    real.add_argument(
        "--matrix",
        action="store_true",
        help="push: the sessions x AOD matrix against the sandbox's AOD model",
    )
    real.add_argument(
        "--page-size", type=int, default=1000, help="extract: records per read (default 1000)"
    )
    real.add_argument(
        "--read-method",
        choices=("auto", "stock"),
        default="auto",
        help="extract: auto (the extension's bridge_read_changed where Sugar has it) or stock "
        "(get_entry_list)",
    )
    real.add_argument("--accounts", type=int, default=300, help="accounts pushed (default 300)")
    real.add_argument("--sessions", default="1,2,4", help="session counts (default 1,2,4)")
    real.add_argument("--aod", default="off,on", help="AOD modes, in order (default off,on)")
    real.add_argument(
        "--aod-command",
        default=None,
        help="command switching the Sugar's AOD indexing, called with on|off "
        "(e.g. 'bash .ci/suitecrm.sh aod')",
    )
    real.add_argument(
        "--suitecrm-root",
        type=Path,
        default=None,
        help="the Sugar's files when local: report AOD's Lucene index file count per part",
    )
    args = parser.parse_args(argv)
    if args.no_change:
        if args.name != "push":
            parser.error("--no-change is for the push benchmark")
        return _push_no_change(args)
    if args.live and args.name == "extract":
        from benchmarks.extract import run as extract_run

        extract_result = extract_run(
            args.size,
            live=True,
            workdir=args.workdir,
            page_size=args.page_size,
            read_method=args.read_method,
        )
        extract_result.print()
        return 0
    if args.live:
        if args.name != "push":
            parser.error("--live is for the push and extract benchmarks")
        return _push_live(args)
    if args.sugar_url or args.matrix:
        if args.name != "push":
            parser.error("--sugar-url and --matrix are for the push benchmark")
        return _push_matrix(args)
    if args.spider_url:
        if args.name != "analytics" or not args.mysql_url:
            parser.error("--spider-url is for the analytics benchmark, with --mysql-url")
        return _analytics_spider(args)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # SQLite stores Numeric as float; the warning says so once per process, not a problem here.
    warnings.filterwarnings("ignore", message=".*Decimal objects natively.*")
    os.environ["PYTHONWARNINGS"] = "ignore::UserWarning"  # the same for the spawned parts
    names = NAMES if args.name == "all" else (args.name,)
    results: list[Result] = []
    started = time.perf_counter()
    for name in names:
        kwargs: dict[str, object] = {"workdir": args.workdir}
        if name in ("load", "incremental", "analytics", "clv-e2e"):
            kwargs["mysql_url"] = args.mysql_url
        if name in ("analytics", "clv-e2e"):
            kwargs["lifetimes_python"] = args.lifetimes_python
        if name == "load":
            kwargs["repeat"] = args.repeat or 1
            kwargs["postgres_url"] = args.postgres_url
        if name == "clv-e2e":
            kwargs["repeat"] = args.repeat or 5
        part_start = time.perf_counter()
        try:
            result = _runner(name)(args.size, **kwargs)
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            result = Result(name, args.size)
            said = f"{type(exc).__name__}: {exc}"
            for url in (args.mysql_url, args.postgres_url):  # never a password in the output
                if url:
                    said = said.replace(url, redact_url(url))
            # the whole message on stderr; the table's cell keeps its first 90 characters
            print(f"{name} failed: {said}", file=sys.stderr)
            result.headline(f"{name}: failed", said[:90], "", False)
        result.add("benchmark wall time", time.perf_counter() - part_start, "s")
        result.print()
        sys.stdout.flush()
        results.append(result)
    if len(results) > 1:
        print(f"\n== summary ({args.size}, {time.perf_counter() - started:.0f} s in all)")
        print(summary_table(results))
    return 0


def _analytics_spider(args: argparse.Namespace) -> int:
    """``analytics --spider-url``: one MariaDB node vs Spider, side by side."""
    from benchmarks.analytics import run_spider

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    os.environ["PYTHONWARNINGS"] = "ignore::UserWarning"
    started = time.perf_counter()
    result = run_spider(args.size, args.mysql_url, args.spider_url, workdir=args.workdir)
    result.add("benchmark wall time", time.perf_counter() - started, "s")
    result.print()
    return 0


def _push_live(args: argparse.Namespace) -> int:
    """``push --live``: the plain and the default path side by side on SUGAR_LIVE_*."""
    from benchmarks.push import live_switch, run_live

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    warnings.filterwarnings("ignore", message=".*Decimal objects natively.*")
    os.environ["PYTHONWARNINGS"] = "ignore::UserWarning"
    missing = [n for n in ("SUGAR_LIVE_URL", "SUGAR_LIVE_PASSWORD") if not os.environ.get(n)]
    if missing:
        print(f"{', '.join(missing)} not set", file=sys.stderr)
        return 2
    root = os.environ.get("SUGAR_LIVE_SUITECRM_ROOT")
    switch = live_switch(Path(root) if root else None)
    aod_modes = tuple(m.strip() for m in args.aod.split(",")) if switch else ("as set",)
    started = time.perf_counter()
    result = run_live(
        os.environ["SUGAR_LIVE_URL"],
        os.environ.get("SUGAR_LIVE_USERNAME") or "admin",
        os.environ["SUGAR_LIVE_PASSWORD"],
        accounts=args.accounts,
        aod_modes=aod_modes,
        switch=switch,
        repeat=args.repeat or 2,
        workdir=args.workdir,
        keep=args.keep,
    )
    result.add("benchmark wall time", time.perf_counter() - started, "s")
    result.print()
    return 0


def _push_no_change(args: argparse.Namespace) -> int:
    """``push --no-change [--live]``: a night without changes, on the sandbox or SUGAR_LIVE_*."""
    from benchmarks.push import run_no_change

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    warnings.filterwarnings("ignore", message=".*Decimal objects natively.*")
    os.environ["PYTHONWARNINGS"] = "ignore::UserWarning"
    live: dict[str, str] = {}
    if args.live:
        missing = [n for n in ("SUGAR_LIVE_URL", "SUGAR_LIVE_PASSWORD") if not os.environ.get(n)]
        if missing:
            print(f"{', '.join(missing)} not set", file=sys.stderr)
            return 2
        live = {
            "url": os.environ["SUGAR_LIVE_URL"],
            "username": os.environ.get("SUGAR_LIVE_USERNAME") or "admin",
            "password": os.environ["SUGAR_LIVE_PASSWORD"],
        }
    started = time.perf_counter()
    result = run_no_change(
        args.accounts, workdir=args.workdir, keep=args.keep, repeat=args.repeat or 2, **live
    )
    result.add("benchmark wall time", time.perf_counter() - started, "s")
    result.print()
    return 0


def _push_matrix(args: argparse.Namespace) -> int:
    """The sessions x AOD matrix, on a real Sugar (``--sugar-url``) or the sandbox's model."""
    from benchmarks.push import run_sandbox_matrix, run_sugar

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    warnings.filterwarnings("ignore", message=".*Decimal objects natively.*")
    os.environ["PYTHONWARNINGS"] = "ignore::UserWarning"
    sessions = tuple(int(s) for s in args.sessions.split(","))
    aod_modes = tuple(m.strip() for m in args.aod.split(","))
    started = time.perf_counter()
    if not args.sugar_url:
        result = run_sandbox_matrix(
            args.accounts, sessions=sessions, aod_modes=aod_modes, repeat=args.repeat or 2,
            workdir=args.workdir,
        )  # fmt: skip
    else:
        password = os.environ.get("SUGAR_BRIDGE_BENCH_SUGAR_PASSWORD")
        if not password:
            print("SUGAR_BRIDGE_BENCH_SUGAR_PASSWORD is not set", file=sys.stderr)
            return 2
        result = run_sugar(
            args.sugar_url,
            os.environ.get("SUGAR_BRIDGE_BENCH_SUGAR_USERNAME") or "admin",
            password,
            accounts=args.accounts,
            sessions=sessions,
            aod_modes=aod_modes,
            aod_command=args.aod_command,
            repeat=args.repeat or 2,
            workdir=args.workdir,
            suitecrm_root=args.suitecrm_root,
        )
    result.add("benchmark wall time", time.perf_counter() - started, "s")
    result.print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
