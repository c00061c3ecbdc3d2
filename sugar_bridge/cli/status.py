"""``sugar-bridge status``: what ran lately, and what it rejected.

One small function per section; other parts of the bridge add their own section function and a
line in ``status_command``. A status only reads: it never creates or migrates the warehouse (a
missing or older one is an error saying what to run).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rich.table import Table

from sugar_bridge.cli.common import handle_errors, make_runtime, schedule_document, schedule_table
from sugar_bridge.cli.output import JsonOption, console, jsonable, print_json
from sugar_bridge.exceptions import ConfigError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from sugar_bridge.runtime import Runtime
    from sugar_bridge.scheduler.service import SchedulerStatus


def runs_section(engine: Engine) -> None:
    """The last runs of every job in ``etl_run``: counts, duration, status, error."""
    from etl.history import last_runs

    runs = last_runs(engine)
    if not runs:
        console.print("no runs yet")
        return
    table = Table(title="last runs")
    for column in ("run", "job", "source", "started", "status", "read", "loaded", "rejected"):
        table.add_column(column, justify="right" if column in ("read", "loaded") else "left")
    table.add_column("duration", justify="right")
    table.add_column("error", overflow="fold")
    for run in runs:
        duration = run.duration_s
        table.add_row(
            str(run.run_id),
            run.job,
            run.source or "",
            run.started_at.strftime("%Y-%m-%d %H:%M:%S"),
            run.status,
            f"{run.rows_read:,}",
            f"{run.rows_loaded:,}",
            f"{run.rows_rejected:,}",
            f"{duration:.1f} s" if duration is not None else "",
            (run.error or "")[:200],
        )
    console.print(table, highlight=False)


def rejects_section(engine: Engine) -> None:
    """Reject counts by rule, for the latest ETL run and over all runs."""
    from etl.history import latest_run_id, reject_counts

    latest = latest_run_id(engine)
    if latest is None:
        return
    last = dict(reject_counts(engine, latest))
    overall = reject_counts(engine)
    if not overall:
        console.print("no rejected rows")
        return
    table = Table(title=f"rejected rows by rule (latest ETL run {latest} / all runs)")
    table.add_column("rule")
    table.add_column(f"run {latest}", justify="right")
    table.add_column("all runs", justify="right")
    for rule, n in overall:
        table.add_row(rule, f"{last.get(rule, 0):,}", f"{n:,}")
    console.print(table, highlight=False)
    console.print("details: `sugar-bridge etl rejects --run N`")


def push_section(engine: Engine) -> None:
    """The last segment pushes: counts per outcome, failures retried next run."""
    from sugar_bridge.push.status import status_lines as push_status_lines

    lines = push_status_lines(engine)
    if lines:
        console.print("[bold]segment pushes[/]")
        for line in lines:
            console.print(f"  {line}", highlight=False, markup=False)


def status_schedule(runtime: Runtime, engine: Engine) -> SchedulerStatus | str:
    """The schedule and live schedulers, or why it is unknown (the config does not load)."""
    from sugar_bridge.scheduler.service import schedule_status

    try:
        schedule = runtime.config.schedule
    except ConfigError as exc:
        return f"the config does not load ({str(exc).splitlines()[0]})"
    return schedule_status(engine, schedule, runtime.timezone, datetime.now(UTC))


def schedule_section(runtime: Runtime, engine: Engine) -> None:
    """Next runs and live schedulers; a config that does not load is said, not fatal."""
    status = status_schedule(runtime, engine)
    if isinstance(status, str):
        console.print(f"schedule: unknown, {status}", highlight=False)
        return
    console.print(schedule_table(status), highlight=False)


def status_document(runtime: Runtime, engine: Engine) -> dict[str, Any]:
    """``status --json``: the same sections as the tables, as data (stable keys)."""
    from etl.history import last_runs, latest_run_id, reject_counts
    from sugar_bridge.push import store

    latest = latest_run_id(engine)
    last = dict(reject_counts(engine, latest)) if latest is not None else {}
    schedule = status_schedule(runtime, engine)
    return {
        "warehouse": runtime.warehouse_display,
        "runs": [{**jsonable(run), "duration_s": run.duration_s} for run in last_runs(engine)],
        "rejects": {
            "latest_etl_run": latest,
            "by_rule": [
                {"rule": rule, "latest_run": last.get(rule, 0), "all_runs": n}
                for rule, n in reject_counts(engine)
            ],
        },
        "pushes": store.last_runs(engine, 3),
        "schedule": {"error": schedule}
        if isinstance(schedule, str)
        else schedule_document(schedule),
    }


@handle_errors
def status_command(as_json: JsonOption = False) -> None:
    """Show the last runs of every job (counts, duration, errors) and rejects by reason."""
    runtime = make_runtime()
    with runtime.warehouse("read") as engine:
        if as_json:
            print_json(status_document(runtime, engine))
            return
        console.print(f"warehouse: {runtime.warehouse_display}", highlight=False)
        runs_section(engine)
        rejects_section(engine)
        push_section(engine)
        schedule_section(runtime, engine)
