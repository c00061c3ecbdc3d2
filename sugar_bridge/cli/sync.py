"""``sugar-bridge sync``: one run of extract → validate → load → analyse → push.

Exit codes: 0 every step ok; 1 a step failed (the message names it; what earlier steps did is
kept) or another sync is running; 2 config error (nothing done); 3 the run completed but rows were
rejected or some pushes failed (they are retried by the next run).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from sugar_bridge.cli.common import (
    EXIT_PARTIAL,
    handle_errors,
    make_runtime,
    quiet_library_logs,
    step_counts,
    step_printer,
    texts,
    word,
)
from sugar_bridge.cli.output import (
    JsonOption,
    console,
    json_logs,
    print_json,
    progress_reporter,
    report_problem,
)

if TYPE_CHECKING:
    from analytics.i18n import Texts
    from sugar_bridge.pipeline import SyncInfo


@contextmanager
def stop_on_signals(cancel: threading.Event) -> Iterator[None]:
    """First Ctrl-C/SIGTERM: stop after the current step; the second one interrupts at once."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        report_problem(
            signal.Signals(signum).name,
            "stopping after the current step (again to interrupt now)",
            level=logging.WARNING,
        )

    old_int = signal.signal(signal.SIGINT, handler)
    old_term = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)


def sync_document(info: SyncInfo) -> dict[str, object]:
    """The ``--json`` document of a sync run (stable keys; ``steps`` in run order)."""
    return {
        "run_id": info.run_id,
        "as_of": info.as_of,
        "dry_run": info.dry_run,
        "status": info.status,
        "seconds": round(info.seconds, 3),
        "rows_rejected": info.rows_rejected,
        "push_failures": info.push_failures,
        "steps": [step.as_dict() for step in info.steps],
    }


def render_sync(info: SyncInfo, t: Texts | None = None) -> None:
    """The run's summary table, in ``t``'s language (default English)."""
    t = t or texts()
    _ = t.gettext
    title = _("sync run %(run)s as of %(day)s: %(status)s") % {
        "run": info.run_id,
        "day": t.date(info.as_of),
        "status": word(t, info.status),
    }
    table = Table(title=title)
    for column, right in (
        (_("step"), False),
        (_("status"), False),
        (_("seconds"), True),
        (_("counts"), False),
        (_("run"), True),
    ):
        table.add_column(column, justify="right" if right else "left")
    for step in info.steps:
        table.add_row(
            word(t, step.name),
            word(t, step.status),
            t.number(step.seconds, 1),
            step_counts(step, t),
            str(step.run_id) if step.run_id is not None else "",
        )
    console.print(table)
    if info.rows_rejected:
        console.print(
            _("%(n)s order row(s) rejected: `sugar-bridge etl rejects` lists them with the reason.")
            % {"n": t.number(info.rows_rejected)}
        )
    if info.push_failures:
        console.print(
            _(
                "%(n)s push write(s) failed; they are retried by the next run "
                "(`sugar-bridge status` shows them)."
            )
            % {"n": t.number(info.push_failures)}
        )


@handle_errors
def sync_command(
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Date of the statistics (default: today in the time zone)."),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Load and analyse, but push nothing (show what would)."),
    ] = False,
    push_past: Annotated[
        bool,
        typer.Option(
            "--push-past",
            help="With a past --as-of: send that day's statistics to Sugar (not done by default).",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Run one sync: orders → warehouse → statistics → segments pushed into Sugar.

    A past --as-of recomputes that day and keeps it (report, warehouse) without touching Sugar,
    unless --push-past; a future one is refused.

    Exit codes: 0 ok, 1 a step failed, 2 config error, 3 completed with rejected rows or failed
    pushes.
    """
    from sugar_bridge.pipeline import sync

    runtime = make_runtime()
    when = runtime.parse_as_of(as_of)
    cancel = threading.Event()
    # One line per step: printed here for a person, or only logged (JSON logs, --json), never
    # both; the library's own INFO lines would repeat them.
    quiet_library_logs(runtime.settings)
    t = texts(runtime)
    on_step = None if as_json or json_logs() else step_printer(t)
    with stop_on_signals(cancel), progress_reporter() as progress:
        info = sync(runtime, as_of=when, dry_run=dry_run, cancel=cancel, on_step=on_step,
                    progress=progress, push_past=push_past)  # fmt: skip
    if as_json:
        print_json(sync_document(info))
    else:
        render_sync(info, t)
    if info.status == "partial":
        raise typer.Exit(EXIT_PARTIAL)
