"""What every benchmark shares: running a part in a fresh process, and printing figures.

Each measured part runs in its own process (``multiprocessing`` spawn), so its peak memory (the
child's ``ru_maxrss``) is its own and not the harness's; wall time is measured around it. Ratios are
measured in the same run, side by side, because the machines are noisy.
"""

from __future__ import annotations

import importlib
import multiprocessing as mp
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Figure:
    """One measured figure: a name, a value, its unit and an optional note."""

    name: str
    value: float
    unit: str
    note: str = ""


@dataclass
class Headline:
    """One line of the summary table of ``all``: a figure, its target, and whether it is met."""

    name: str
    value: str
    target: str = ""
    met: bool | None = None  # None: no target, or not measured

    @property
    def verdict(self) -> str:
        return {True: "met", False: "NOT met", None: "-"}[self.met]


@dataclass
class Result:
    """A benchmark's figures, printed as a table and collected by ``all``."""

    benchmark: str
    size: str
    figures: list[Figure] = field(default_factory=list)
    headlines: list[Headline] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: also write each figure to stderr as it is measured (a run of hours shows its progress,
    #: and what it measured survives a run stopped before its table is printed)
    echo: bool = False

    def add(self, name: str, value: float, unit: str, note: str = "") -> None:
        self.figures.append(Figure(name, value, unit, note))
        if self.echo:
            stamp = time.strftime("%H:%M:%S")
            print(f"[{stamp}] {self.benchmark}: {name} {fmt(value)} {unit} {note}".rstrip(),
                  file=sys.stderr, flush=True)  # fmt: skip

    def headline(self, name: str, value: str, target: str = "", met: bool | None = None) -> None:
        """A figure for the summary table (with its target and verdict)."""
        self.headlines.append(Headline(name, value, target, met))

    def note(self, text: str) -> None:
        """A remark printed under the figures (a skipped comparison, a caveat)."""
        self.notes.append(text)

    def print(self) -> None:
        print(f"\n== {self.benchmark} (size {self.size})")
        width = max((len(f.name) for f in self.figures), default=10)
        for f in self.figures:
            print(f"  {f.name:<{width}}  {fmt(f.value):>14} {f.unit:<10} {f.note}")
        for h in self.headlines:
            target = f"target {h.target}: {h.verdict}" if h.target else ""
            print(f"  -> {h.name}: {h.value}  {target}")
        for text in self.notes:
            print(f"  note: {text}")


def fmt(value: float) -> str:
    """A figure with sensible digits: 0.123, 12.35, 1,234."""
    if value != value:  # NaN
        return "n/a"
    if value and abs(value) < 0.001:
        return f"{value:.1e}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:,.2f}"
    return f"{value:,.3f}"


def summary_table(results: list[Result]) -> str:
    """The one-screen table of every benchmark's headline figures."""
    rows = [("benchmark", "figure", "value", "target", "verdict")]
    for r in results:
        for h in r.headlines:
            rows.append((r.benchmark, h.name, h.value, h.target, h.verdict))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    sizes = "; ".join(f"{r.benchmark} = {r.size}" for r in results)
    return "\n".join([*lines, "", f"sizes: {sizes}"])


def _child(conn: Any, fn: Callable[..., Any], args: tuple[Any, ...], warm: tuple[str, ...]) -> None:
    # Import what the part needs before the clock starts: a fresh process pays ~1 s of imports
    # that a long-lived job (the scheduler) does not.
    for module in warm:
        importlib.import_module(module)
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    try:
        out = fn(*args)
        error = None
    except BaseException as exc:  # reported to the parent, which re-raises
        out, error = None, f"{type(exc).__name__}: {exc}"
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    conn.send((out, error, wall, after.ru_maxrss))
    conn.send(cpu)  # a second message: a parent started with an older harness reads only one
    conn.close()


@dataclass
class Measured:
    """What ``measure`` returns: the part's result, wall seconds, peak RSS in MiB, and the CPU
    seconds of the part's own process (less disturbed than wall time by other jobs on a shared
    machine; threads of the part count, other processes such as a database server do not)."""

    value: Any
    seconds: float
    peak_mib: float
    cpu_seconds: float = 0.0


def measure(fn: Callable[..., Any], *args: Any, warm: tuple[str, ...] = ()) -> Measured:
    """Run ``fn(*args)`` in a fresh process; its wall time and its own peak memory.

    ``warm``: modules imported in that process before the clock starts.
    """
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, fn, args, warm))
    proc.start()
    child.close()
    try:
        out, error, wall, peak_kb = parent.recv()
        cpu = parent.recv()
    except EOFError:  # the child died without answering (killed, out of memory)
        proc.join()
        raise RuntimeError(
            f"benchmark part {getattr(fn, '__name__', fn)} died (exit code {proc.exitcode})"
        ) from None
    proc.join()
    if error:
        raise RuntimeError(f"benchmark part {getattr(fn, '__name__', fn)} failed: {error}")
    peak = peak_kb / 1024 if sys.platform != "darwin" else peak_kb / 1024 / 1024
    return Measured(out, wall, peak, cpu)


def fresh_warehouse(url: str) -> None:
    """An empty warehouse at ``url``, migrated to the current schema (old content dropped)."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from etl.db import create_engine_for, ensure_current
    from etl.schema import metadata
    from etl.spider import drop_node_databases, facts_on_spider

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(database + suffix).unlink(missing_ok=True)
    engine = create_engine_for(url)
    if parsed.get_backend_name() != "sqlite":
        with engine.begin() as conn:
            conn.execute(text("DROP VIEW IF EXISTS customer_habits"))
            on_spider = facts_on_spider(conn)
        metadata.drop_all(engine)
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
            if on_spider:  # the head's DROP TABLE leaves the nodes' tables
                drop_node_databases(conn, str(conn.execute(text("SELECT DATABASE()")).scalar()))
    ensure_current(engine)
    engine.dispose()


def sqlite_url(folder: Path, name: str) -> str:
    """A SQLite warehouse URL for a file in ``folder``."""
    return f"sqlite:///{folder / name}"


def redact_url(url: str) -> str:
    """A database URL with its password masked (for printing)."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


#: What the ETL parts import (warmed before timing). pyarrow imports pandas (when installed) on
#: its first array, not at import: warmed too, as a long-lived process has it loaded.
ETL_MODULES = (
    "etl.run",
    "etl.db",
    "connectors.orders.csv_source",
    "etl.load",
    "etl.validate",
    "pandas",
)
#: What the analytics parts import.
ANALYTICS_MODULES = (
    *ETL_MODULES,
    "analytics.run",
    "analytics.habits",
    "analytics.clv",
    "analytics.btyd",
)
#: What the push parts import.
PUSH_MODULES = ("etl.db", "sugar_bridge.push.push", "connectors.sugar.client")
