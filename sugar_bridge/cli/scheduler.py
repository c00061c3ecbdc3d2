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
from typing import TYPE_CHECKING, Annotated

import typer

from sugar_bridge.cli.common import (
    EXIT_FAILED,
    handle_errors,
    make_runtime,
    schedule_document,
    schedule_table,
)
from sugar_bridge.cli.output import CONTEXT_SETTINGS, JsonOption, console, print_json

if TYPE_CHECKING:
    from sugar_bridge.runtime import Runtime
    from sugar_bridge.scheduler.service import JobFunc, SchedulerStatus
    from sugar_bridge.settings import Settings

log = logging.getLogger("sugar_bridge.scheduler")

app = typer.Typer(
    help="Run the nightly sync (and the provisioning drift check) on the configured schedule.",
    no_args_is_help=True,
    context_settings=CONTEXT_SETTINGS,
)


def _log_to_stdout() -> None:
    # A service's log goes to stdout (journald, `docker logs`), in either format.
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stderr:
            handler.setStream(sys.stdout)


def sync_job(settings: Settings) -> JobFunc:
    """The scheduled sync: re-reads the config, runs :func:`sync` for today in the time zone."""
    from sugar_bridge.config import load_config
    from sugar_bridge.pipeline import sync
    from sugar_bridge.runtime import Runtime

    def run(stop: threading.Event) -> str:
        runtime = Runtime(settings, load_config(settings.config))
        # The night's date is the schedule's: the cron fires in its time zone.
        as_of = runtime.today(runtime.config.schedule.zone(runtime.timezone))
        info = sync(runtime, as_of=as_of, cancel=stop, purpose="scheduler")
        steps = ", ".join(f"{s.name} {s.seconds:.1f}s" for s in info.steps)
        return f"run {info.run_id} {info.status}: {steps}"

    return run


def drift_job(settings: Settings) -> JobFunc:
    """The scheduled drift check (``provision plan`` without writing)."""
    from sugar_bridge.config import load_config
    from sugar_bridge.provision.drift import drift_check
    from sugar_bridge.runtime import Runtime

    def run(stop: threading.Event) -> str:
        runtime = Runtime(settings, load_config(settings.config))
        with runtime.warehouse("write") as engine:
            info = drift_check(settings, runtime.config.sugar, engine=engine)
        return f"{info.changes} change(s)" if info.drifted else "no drift"

    return run


@app.command("start")
@handle_errors
def start_command() -> None:
    """Run the scheduler in the foreground until SIGTERM/Ctrl-C (finishes the current step)."""
    from sugar_bridge.scheduler.service import SchedulerService

    runtime = make_runtime()
    _log_to_stdout()
    config = runtime.config
    settings = runtime.settings
    settings.require_sugar()  # the nightly push needs Sugar: refuse now, not at 02:00
    engine = runtime.connect_warehouse("write")
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


def scheduler_status(runtime: Runtime) -> SchedulerStatus:
    """Next runs (from the config) and live schedulers (from their heartbeat in the warehouse).

    The schedule shows without a warehouse: heartbeats are read only from a current one, which is
    never created or migrated here.
    """
    from sugar_bridge.scheduler.service import schedule_status

    engine = runtime.warehouse_if_current()
    try:
        return schedule_status(engine, runtime.config.schedule, runtime.timezone, datetime.now(UTC))
    finally:
        if engine is not None:
            engine.dispose()


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
    status = scheduler_status(make_runtime())
    if as_json:
        print_json(schedule_document(status))
    else:
        console.print(schedule_table(status))
    if require_running and not status.instances:
        raise typer.Exit(EXIT_FAILED)
