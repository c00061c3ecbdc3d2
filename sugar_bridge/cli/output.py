"""How commands print: the result on stdout (Rich, or one JSON document), the rest on stderr.

- **stdout carries a command's result only**: its tables and lines, or with ``--json`` a single
  JSON document (:func:`print_json`) and nothing else. Logs, progress bars and warnings go to
  stderr.
- **Off a terminal nothing is wrapped or cut**: piped into ``cat``, a file or a test's runner,
  the consoles render at an unbounded width, so a number or a field name is always whole.
- **Progress**: library functions report ``(step, done, total)`` to a callback;
  :func:`progress_reporter` turns it into a Rich bar (counts, rate, time left) on a terminal, and
  into a log line every few seconds otherwise, so JSON logs stay pure JSON.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console, ConsoleDimensions
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from sugar_bridge.logs import JsonLinesFormatter

log = logging.getLogger("sugar_bridge.cli")

#: Width the consoles render at when they do not write to a terminal: no line is ever wrapped
#: or truncated there (tables size themselves to their content, not to this).
UNWRAPPED_WIDTH = 10_000

#: A library's progress callback: the step's name, items done so far, items in all (0: unknown).
ProgressCallback = Callable[[str, int, int], None]

#: Every Typer app's context settings: ``-h`` is ``--help`` too (also when a group's app is run on
#: its own, as the sandbox's tests do).
CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"]}

JsonOption = Annotated[
    bool,
    typer.Option(
        "--json", help="Print the result as one JSON document on stdout (nothing else there)."
    ),
]


class _Console(Console):
    """A Rich console that never wraps or truncates when it does not write to a terminal.

    Rich otherwise takes the width of whichever standard stream is a terminal (or 80), so
    ``status | cat`` cut numbers ("31,1…") and tables broke field names mid-word.
    """

    @property
    def size(self) -> ConsoleDimensions:
        size = super().size
        if self.is_terminal:
            return size
        return ConsoleDimensions(UNWRAPPED_WIDTH, size.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        width, height = new_size
        self._width, self._height = width, height


console: Console = _Console()
err_console: Console = _Console(stderr=True)


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON types: dataclasses and mappings as objects, dates as ISO text."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [jsonable(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Enum):
        return jsonable(value.value)
    return value


def print_json(document: object) -> None:
    """Write ``document`` (a mapping or a dataclass) as the command's only stdout output.

    Indented, keys in the order given (a dataclass: its fields' order), dates as ISO text.
    """
    typer.echo(json.dumps(jsonable(document), indent=2, ensure_ascii=False))


def json_logs() -> bool:
    """Whether the root logger writes JSON lines (then no human chatter goes to stderr)."""
    return any(isinstance(h.formatter, JsonLinesFormatter) for h in logging.getLogger().handlers)


def report_problem(label: str, message: str, *, level: int = logging.ERROR) -> None:
    """An error or warning for a person (``label: message`` on stderr, in colour).

    With JSON logs it is a log record instead, so that stderr stays JSON lines only.
    """
    if json_logs():
        log.log(level, "%s: %s", label, message)
        return
    style = "bold red" if level >= logging.ERROR else "yellow"
    err_console.print(f"[{style}]{label}:[/] {escape(message)}", highlight=False)


class _RateColumn(ProgressColumn):
    """Items per second (Rich's own speed column counts bytes)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f}/s", style="progress.data.speed")


@contextmanager
def progress_reporter(*, every_s: float = 10.0) -> Iterator[ProgressCallback]:
    """A progress callback for the library: a Rich bar per step, or periodic log lines.

    The bar (on stderr, removed when done) is for a person at a terminal; otherwise (a pipe, a
    scheduler, JSON logs) a step that lasts logs ``step: done / total, rate/s`` every
    ``every_s`` seconds and once when it completes; a quick step logs nothing.
    """
    if err_console.is_terminal and not json_logs():
        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            _RateColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=err_console, transient=True) as bar:
            tasks: dict[str, Any] = {}

            def advance(step: str, done: int, total: int) -> None:
                if step not in tasks:
                    tasks[step] = bar.add_task(step, total=total or None)
                bar.update(tasks[step], completed=done, total=total or None)

            yield advance
        return
    yield _LogProgress(every_s)


class _LogProgress:
    """Progress as log lines: a step's counts every ``every_s`` seconds, and at the end.

    The final line only for a step that already logged: the step lines say the rest.
    """

    def __init__(self, every_s: float) -> None:
        self.every_s = every_s
        self.started: dict[str, float] = {}
        self.last: dict[str, float] = {}
        self.finished: set[str] = set()

    def __call__(self, step: str, done: int, total: int) -> None:
        if step in self.finished:
            return
        now = time.monotonic()
        started = self.started.setdefault(step, now)
        last = self.last.get(step)
        finished = bool(total) and done >= total
        if finished:
            self.finished.add(step)
        due = now - (last if last is not None else started) >= self.every_s
        if not due and not (finished and last is not None):
            return
        self.last[step] = now
        elapsed = now - started
        rate = f", {done / elapsed:,.0f}/s" if elapsed > 0 and done else ""
        of = f" / {total:,}" if total else ""
        log.info("%s: %s%s%s", step, f"{done:,}", of, rate)
