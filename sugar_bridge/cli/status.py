"""``sugar-bridge status``: what ran lately, and what it rejected.

One small function per section; other parts of the bridge add their own section function and a
line in ``status_command``. A status only reads: it never creates or migrates the warehouse (a
missing or older one is an error saying what to run).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rich.table import Table

from sugar_bridge.cli.common import (
    handle_errors,
    make_runtime,
    schedule_document,
    schedule_table,
    texts,
    word,
)
from sugar_bridge.cli.output import JsonOption, console, jsonable, print_json
from sugar_bridge.exceptions import ConfigError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from analytics.i18n import Texts
    from sugar_bridge.runtime import Runtime
    from sugar_bridge.scheduler.service import SchedulerStatus


def runs_section(engine: Engine, t: Texts) -> None:
    """The last runs of every job in ``etl_run``: counts, duration, status, error."""
    from etl.history import last_runs

    _ = t.gettext
    runs = last_runs(engine)
    if not runs:
        console.print(_("no runs yet"))
        return
    table = Table(title=_("last runs"))
    for column, right in (
        (_("run"), False),
        (_("job"), False),
        (_("source"), False),
        (_("started"), False),
        (_("status"), False),
        (_("read"), True),
        (_("loaded"), True),
        (_("rejected"), False),
    ):
        table.add_column(column, justify="right" if right else "left")
    table.add_column(_("duration"), justify="right")
    table.add_column(_("error"), overflow="fold")
    for run in runs:
        duration = run.duration_s
        table.add_row(
            str(run.run_id),
            run.job,
            run.source or "",
            t.datetime(run.started_at),
            word(t, run.status),
            t.number(run.rows_read),
            t.number(run.rows_loaded),
            t.number(run.rows_rejected),
            f"{t.number(duration, 1)} s" if duration is not None else "",
            (run.error or "")[:200],
        )
    console.print(table, highlight=False)


def rejects_section(engine: Engine, t: Texts) -> None:
    """Reject counts by rule, for the latest ETL run and over all runs."""
    from etl.history import latest_run_id, reject_counts

    _ = t.gettext
    latest = latest_run_id(engine)
    if latest is None:
        return
    last = dict(reject_counts(engine, latest))
    overall = reject_counts(engine)
    if not overall:
        console.print(_("no rejected rows"))
        return
    table = Table(
        title=_("rejected rows by rule (latest ETL run %(run)s / all runs)") % {"run": latest}
    )
    table.add_column(_("rule"))
    table.add_column(_("run %(run)s") % {"run": latest}, justify="right")
    table.add_column(_("all runs"), justify="right")
    for rule, n in overall:
        table.add_row(rule, t.number(last.get(rule, 0)), t.number(n))
    console.print(table, highlight=False)
    console.print(_("details: `sugar-bridge etl rejects --run N`"))


def push_section(engine: Engine, t: Texts) -> None:
    """The last segment pushes: counts per outcome, failures retried next run."""
    from sugar_bridge.push.status import status_lines as push_status_lines

    lines = push_status_lines(engine, t)
    if lines:
        title = t.gettext("segment pushes")
        console.print(f"[bold]{title}[/]")
        for line in lines:
            console.print(f"  {line}", highlight=False, markup=False)


def lock_section(engine: Engine, t: Texts) -> None:
    """Who holds the sync's job lock now (a sync, ``etl run``, ``analytics run`` or ``segments
    push``), which is why another of them would be refused; nothing when it is free."""
    from sugar_bridge.scheduler.locks import SYNC_LOCK, current_holder

    holder = current_holder(engine, SYNC_LOCK)
    if holder is None:
        return
    line = t.gettext(
        "running now: %(purpose)s (pid %(pid)s on %(host)s) since %(since)s UTC, holding the "
        "sync's lock until %(until)s UTC (another sync, etl run, analytics run or segments "
        "push is refused until then)"
    )
    values = {
        "purpose": holder.purpose,
        "pid": holder.pid,
        "host": holder.host,
        "since": f"{holder.acquired_at:%Y-%m-%d %H:%M:%S}",
        "until": f"{holder.expires_at:%H:%M:%S}",
    }
    console.print(line % values, highlight=False, markup=False)


def status_schedule(runtime: Runtime, engine: Engine) -> SchedulerStatus | str:
    """The schedule and live schedulers, or why it is unknown (the config does not load)."""
    from sugar_bridge.scheduler.service import schedule_status

    try:
        schedule = runtime.config.schedule
    except ConfigError as exc:
        return f"the config does not load ({str(exc).splitlines()[0]})"
    return schedule_status(engine, schedule, runtime.timezone, datetime.now(UTC))


def schedule_section(runtime: Runtime, engine: Engine, t: Texts) -> None:
    """Next runs and live schedulers; a config that does not load is said, not fatal."""
    status = status_schedule(runtime, engine)
    if isinstance(status, str):
        console.print(t.gettext("schedule: unknown, %(why)s") % {"why": status}, highlight=False)
        return
    console.print(schedule_table(status, t), highlight=False)


def status_document(runtime: Runtime, engine: Engine) -> dict[str, Any]:
    """``status --json``: the same sections as the tables, as data (stable keys)."""
    from etl.history import last_runs, latest_run_id, reject_counts
    from sugar_bridge.push import store
    from sugar_bridge.scheduler.locks import SYNC_LOCK, current_holder

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
        "running": jsonable(current_holder(engine, SYNC_LOCK)),  # who holds it, or null
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
        t = texts(runtime)
        console.print(
            t.gettext("warehouse: %(where)s") % {"where": runtime.warehouse_display},
            highlight=False,
        )
        runs_section(engine, t)
        lock_section(engine, t)
        rejects_section(engine, t)
        push_section(engine, t)
        schedule_section(runtime, engine, t)
