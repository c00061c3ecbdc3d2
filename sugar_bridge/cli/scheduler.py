"""``sugar-bridge scheduler``: run the nightly sync (and drift check) on the configured cron.

``start`` runs in the foreground until SIGTERM/Ctrl-C (a service manager or the Docker container
keeps it running) and logs to stdout, plain or JSON lines (``SUGAR_BRIDGE_LOG_FORMAT``). ``next``
shows when the jobs run next. The config is re-read for each run, so edits to sources, analytics
or push apply the next night; changes to the ``schedule:`` section need a restart.
"""

from __future__ import annotations

import logging
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from sugar_bridge.cli.common import EXIT_FAILED, Context, handle_errors, make_context
from sugar_bridge.cli.output import CONTEXT_SETTINGS, JsonOption, console, print_json
from sugar_bridge.exceptions import ConfigError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from sugar_bridge.scheduler.service import JobFunc, SchedulerStatus
    from sugar_bridge.settings import Settings

log = logging.getLogger("sugar_bridge.scheduler")

app = typer.Typer(
    help="Run the nightly sync (and the provisioning drift check) on the configured schedule.",
    no_args_is_help=True,
    context_settings=CONTEXT_SETTINGS,
)


def _job_label(job_id: str) -> str:
    from sugar_bridge.scheduler.service import DRIFT_JOB_ID, SYNC_JOB_ID

    return {SYNC_JOB_ID: "sync", DRIFT_JOB_ID: "drift check"}.get(job_id, job_id)


def _log_to_stdout() -> None:
    # A service's log goes to stdout (journald, `docker logs`), in either format.
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stderr:
            handler.setStream(sys.stdout)


def sync_job(settings: Settings) -> JobFunc:
    """The scheduled sync: re-reads the config, runs :func:`sync` for today in the time zone."""
    from sugar_bridge.config import load_config
    from sugar_bridge.pipeline import sync

    def run(stop: threading.Event) -> str:
        config = load_config(settings.config)
        zone = ZoneInfo(config.schedule.zone(settings.timezone))
        as_of = datetime.now(zone).date()
        info = sync(settings, config, as_of=as_of, cancel=stop, purpose="scheduler")
        steps = ", ".join(f"{s.name} {s.seconds:.1f}s" for s in info.steps)
        return f"run {info.run_id} {info.status}: {steps}"

    return run


def drift_job(settings: Settings) -> JobFunc:
    """The scheduled drift check (``provision plan`` without writing)."""
    from sugar_bridge.config import load_config
    from sugar_bridge.pipeline import warehouse_engine
    from sugar_bridge.provision.drift import drift_check

    def run(stop: threading.Event) -> str:
        spec = load_config(settings.config).sugar
        info = drift_check(settings, spec, engine=warehouse_engine(settings))
        return f"{info.changes} change(s)" if info.drifted else "no drift"

    return run


@app.command("start")
@handle_errors
def start_command() -> None:
    """Run the scheduler in the foreground until SIGTERM/Ctrl-C (finishes the current step)."""
    from sugar_bridge.pipeline import warehouse_engine
    from sugar_bridge.scheduler.service import SchedulerService

    ctx = make_context()
    _log_to_stdout()
    config = ctx.config
    settings = ctx.settings
    settings.require_sugar()  # the nightly push needs Sugar: refuse now, not at 02:00
    engine = warehouse_engine(settings)
    service = SchedulerService(
        config.schedule,
        settings.timezone,
        sync_job(settings),
        run_drift=drift_job(settings) if config.schedule.drift_check_cron else None,
        engine=engine,
    )
    service.install_signal_handlers()
    log.info(
        "scheduler started (time zone %s, sync cron %r, misfire grace %s h)",
        service.tz,
        config.schedule.sync_cron,
        config.schedule.misfire_grace_hours,
    )
    service.run_forever()


def scheduler_status(ctx: Context) -> SchedulerStatus:
    """Next runs (from the config) and live schedulers (from their heartbeat) for ``status``."""
    from sqlalchemy.engine import make_url

    from etl.db import create_engine_for, ensure_current
    from etl.exceptions import EtlError
    from sugar_bridge.scheduler.service import schedule_status

    engine: Engine | None = None
    url = make_url(ctx.settings.warehouse_url_value)
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").exists():
        return schedule_status(None, ctx.config.schedule, ctx.settings.timezone, datetime.now(UTC))
    try:  # read-only: a missing or older warehouse is not created or migrated by a status
        engine = create_engine_for(ctx.settings.warehouse_url_value)
        ensure_current(engine, auto=False)
    except EtlError:
        log.debug("no current warehouse for the scheduler status", exc_info=True)
        engine = None
    return schedule_status(engine, ctx.config.schedule, ctx.settings.timezone, datetime.now(UTC))


def status_table(status: SchedulerStatus) -> Table:
    """The schedule section of ``sugar-bridge status``."""
    zone = ZoneInfo(status.timezone)
    table = Table(title=f"schedule ({status.timezone})")
    table.add_column("job")
    table.add_column("next run")
    for job_id, when in status.next_runs.items():
        table.add_row(_job_label(job_id), f"{when.astimezone(zone):%Y-%m-%d %H:%M %Z}")
    if status.instances:
        for inst in status.instances:
            table.add_row(
                "scheduler",
                f"running on {inst['host']} (pid {inst['pid']}), "
                f"heartbeat {inst['heartbeat_at']:%H:%M:%S} UTC",
            )
    else:
        table.add_row("scheduler", "not running (`sugar-bridge scheduler start`)")
    return table


def schedule_document(status: SchedulerStatus) -> dict[str, Any]:
    """The schedule as JSON: next run of each job (ISO, in the schedule's zone), live schedulers."""
    zone = ZoneInfo(status.timezone)
    return {
        "timezone": status.timezone,
        "next_runs": {
            _job_label(job_id): when.astimezone(zone) for job_id, when in status.next_runs.items()
        },
        "running": bool(status.instances),
        "schedulers": status.instances,
    }


def status_schedule(ctx: Context, engine: Engine | None) -> SchedulerStatus | str:
    """The schedule for ``sugar-bridge status``, or why it is unknown (the config does not load)."""
    from sugar_bridge.scheduler.service import schedule_status

    try:
        schedule = ctx.config.schedule
    except ConfigError as exc:
        return f"the config does not load ({str(exc).splitlines()[0]})"
    return schedule_status(engine, schedule, ctx.settings.timezone, datetime.now(UTC))


def status_section(ctx: Context, engine: Engine | None) -> None:
    """The schedule section of ``sugar-bridge status``: next runs and live schedulers."""
    status = status_schedule(ctx, engine)
    if isinstance(status, str):
        console.print(f"schedule: unknown, {status}", highlight=False)
        return
    console.print(status_table(status), highlight=False)


@app.command("next")
@handle_errors
def next_command(
    require_running: Annotated[
        bool,
        typer.Option(
            "--require-running",
            help="Exit 1 when no scheduler has sent a heartbeat lately (a container health check).",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Show when the sync (and drift check) run next, and whether a scheduler is running."""
    ctx = make_context()
    status = scheduler_status(ctx)
    if as_json:
        print_json(schedule_document(status))
    else:
        console.print(status_table(status))
    if require_running and not status.instances:
        raise typer.Exit(EXIT_FAILED)
