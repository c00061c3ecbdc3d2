"""The scheduler: the nightly ``sync`` (and an optional provisioning drift check) on a cron.

APScheduler 3.11's ``BlockingScheduler`` with one ``CronTrigger`` job per task, under a stable id,
``coalesce=True`` (several missed fires make one run), ``max_instances=1`` and a misfire grace of
hours. Two things APScheduler alone does not give, and how they are covered:

- **A machine that was off at 02:00.** APScheduler's misfire grace covers a process that was
  asleep (suspended) over the fire time; a process that did not exist then has nothing in memory.
  At start we therefore look at the run history (``etl_run``): when the latest fire time within
  the grace window has no run since, the job's first run is set to *now* — once, however many
  fires were missed (:func:`missed_fire_time`).
- **Two schedulers, or a scheduler and a manual ``sync``.** Every run takes the job's lease in the
  warehouse (:mod:`sugar_bridge.scheduler.locks`); a run that finds it held logs who holds it and
  skips.

Stopping: the first SIGTERM/SIGINT stops the scheduler from starting anything new and asks the
running job to stop after its current step (the step finishes, the run is recorded as cancelled);
a second one exits at once (every warehouse write is transactional, so that is safe too).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    EVENT_SCHEDULER_STARTED,
    JobExecutionEvent,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from etl.schema import etl_run, scheduler_instance
from sugar_bridge.exceptions import LockHeldError, RunCancelled, SugarBridgeError
from sugar_bridge.scheduler.config import ScheduleConfig, parse_cron

log = logging.getLogger(__name__)

SYNC_JOB_ID = "sugar-bridge.sync"
DRIFT_JOB_ID = "sugar-bridge.drift-check"
HEARTBEAT_JOB_ID = "sugar-bridge.heartbeat"
RETRY_SUFFIX = ".retry"

#: A job body: gets the stop event (set on SIGTERM) and returns a short summary for the log.
JobFunc = Callable[[threading.Event], object]


def cron_trigger(expression: str, timezone: str) -> CronTrigger:
    """The trigger of a 5-field cron expression in ``timezone``."""
    trigger: CronTrigger = parse_cron(expression, timezone)
    return trigger


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def fire_times_between(trigger: CronTrigger, start: datetime, end: datetime) -> list[datetime]:
    """Every fire time of ``trigger`` in ``[start, end]`` (aware datetimes)."""
    out: list[datetime] = []
    t: datetime | None = trigger.get_next_fire_time(None, start)
    while t is not None and t <= end:
        out.append(t)
        t = trigger.get_next_fire_time(t, t + timedelta(microseconds=1))
    return out


def missed_fire_time(
    trigger: CronTrigger,
    now: datetime,
    grace: timedelta,
    last_started: datetime | None,
) -> datetime | None:
    """The fire time to catch up on at start, or ``None``.

    That is the latest fire time in ``[now - grace, now]`` when no run started at or after it
    (``last_started``, naive = UTC). Several missed fires give one catch-up (coalescing); a fire
    older than the grace is not caught up: the next regular one will do.
    """
    now = _aware(now)
    fires = fire_times_between(trigger, now - grace, now)
    if not fires:
        return None
    latest = fires[-1]
    if last_started is not None and _aware(last_started) >= latest:
        return None
    return latest


def next_run_times(schedule: ScheduleConfig, default_tz: str, now: datetime) -> dict[str, datetime]:
    """The next fire time of each configured job after ``now``."""
    tz = schedule.zone(default_tz)
    out: dict[str, datetime] = {}
    jobs = {SYNC_JOB_ID: schedule.sync_cron, DRIFT_JOB_ID: schedule.drift_check_cron}
    for job_id, expression in jobs.items():
        if expression:
            t = cron_trigger(expression, tz).get_next_fire_time(None, _aware(now))
            if t is not None:
                out[job_id] = t
    return out


def last_sync_started(engine: Engine) -> datetime | None:
    """When the latest ``sync`` run started (naive UTC), from ``etl_run``."""
    with engine.connect() as conn:
        started: datetime | None = conn.execute(
            select(etl_run.c.started_at)
            .where(etl_run.c.job == "sync")
            .order_by(etl_run.c.started_at.desc())
            .limit(1)
        ).scalar()
    return started


@dataclass
class SchedulerStatus:
    """What ``sugar-bridge status`` shows about the schedule."""

    timezone: str
    next_runs: dict[str, datetime]
    instances: list[dict[str, Any]] = field(default_factory=list)  # live schedulers


def schedule_status(
    engine: Engine | None, schedule: ScheduleConfig, default_tz: str, now: datetime
) -> SchedulerStatus:
    """Next runs from the config, and the schedulers that have sent a heartbeat recently."""
    status = SchedulerStatus(
        timezone=schedule.zone(default_tz), next_runs=next_run_times(schedule, default_tz, now)
    )
    if engine is not None:
        recent = _aware(now).astimezone(UTC).replace(tzinfo=None) - timedelta(minutes=3)
        try:
            with engine.connect() as conn:
                rows = conn.execute(
                    select(scheduler_instance).where(
                        scheduler_instance.c.stopped_at.is_(None),
                        scheduler_instance.c.heartbeat_at >= recent,
                    )
                ).mappings()
                status.instances = [dict(r) for r in rows]
        except SQLAlchemyError:
            log.debug("no scheduler heartbeat table yet", exc_info=True)
    return status


class SchedulerService:
    """Runs the configured jobs until stopped; see the module docstring for the behaviour.

    ``run_sync`` and ``run_drift`` are the job bodies (they take their own locks); ``engine`` is the
    warehouse, used for the catch-up decision and the heartbeat row. ``scheduler`` may be given to
    drive the service with another APScheduler scheduler (tests use a background one).
    """

    def __init__(
        self,
        schedule: ScheduleConfig,
        default_tz: str,
        run_sync: JobFunc,
        *,
        run_drift: JobFunc | None = None,
        engine: Engine | None = None,
        scheduler: BaseScheduler | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.schedule = schedule
        self.tz = ZoneInfo(schedule.zone(default_tz))
        self.run_sync = run_sync
        self.run_drift = run_drift
        self.engine = engine
        self.now = now
        self.stop_event = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._signals = 0
        self._retries: dict[str, int] = {}
        self.instance_id = uuid.uuid4().hex
        self.scheduler = scheduler or BlockingScheduler(
            timezone=self.tz, executors={"default": ThreadPoolExecutor(max_workers=2)}
        )
        self.scheduler.add_listener(
            self._on_event,
            EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED | EVENT_SCHEDULER_STARTED,
        )

    # --- jobs --------------------------------------------------------------------------------

    def _job_defaults(self) -> dict[str, Any]:
        return {
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": int(self.schedule.misfire_grace_hours * 3600),
            "replace_existing": True,
        }

    def add_jobs(self) -> None:
        """Register the cron jobs (and catch up a missed run); idempotent."""
        tz = str(self.tz)
        sync_trigger = cron_trigger(self.schedule.sync_cron, tz)
        extra: dict[str, Any] = {}
        missed = self._missed(sync_trigger)
        if missed is not None:
            log.warning(
                "the sync due at %s was missed (the scheduler was not running): running it now",
                missed.astimezone(self.tz).isoformat(timespec="minutes"),
            )
            extra["next_run_time"] = self.now()
        self.scheduler.add_job(
            self._run,
            sync_trigger,
            args=(SYNC_JOB_ID, self.run_sync),
            id=SYNC_JOB_ID,
            name="sync: orders -> warehouse -> analytics -> Sugar",
            **self._job_defaults(),
            **extra,
        )
        if self.schedule.drift_check_cron and self.run_drift is not None:
            self.scheduler.add_job(
                self._run,
                cron_trigger(self.schedule.drift_check_cron, tz),
                args=(DRIFT_JOB_ID, self.run_drift),
                id=DRIFT_JOB_ID,
                name="provisioning drift check",
                **self._job_defaults(),
            )
        if self.engine is not None:
            self.scheduler.add_job(
                self._heartbeat,
                IntervalTrigger(seconds=60, timezone=self.tz),
                id=HEARTBEAT_JOB_ID,
                name="scheduler heartbeat",
                coalesce=True,
                max_instances=1,
                replace_existing=True,
            )

    def _missed(self, trigger: CronTrigger) -> datetime | None:
        if self.engine is None:
            return None
        try:
            last = last_sync_started(self.engine)
        except SQLAlchemyError as exc:
            log.warning("cannot read the run history (%s): no catch-up", type(exc).__name__)
            return None
        grace = timedelta(hours=self.schedule.misfire_grace_hours)
        return missed_fire_time(trigger, self.now(), grace, last)

    def _run(self, job_id: str, func: JobFunc) -> None:
        """One run of a job: never raises (APScheduler would only log it)."""
        base_id = job_id.removesuffix(RETRY_SUFFIX)
        if self.stop_event.is_set():
            return
        self._idle.clear()
        try:
            log.info("%s: starting", base_id)
            summary = func(self.stop_event)
            log.info("%s: done%s", base_id, f" ({summary})" if summary else "")
            self._retries.pop(base_id, None)
        except LockHeldError as exc:
            # Another sync, or an operator's `etl run` / `analytics run` / `segments push`:
            # tried again later (retry_transient times), so the night's run is not lost to it.
            log.warning("%s: skipped, %s", base_id, exc)
            self._schedule_retry(base_id, func, "the lock was held")
        except RunCancelled as exc:
            log.info("%s: %s (stop requested)", base_id, exc)
        except SugarBridgeError as exc:
            log.error("%s: failed: %s", base_id, exc)
            if exc.transient:
                self._schedule_retry(base_id, func, "transient failure")
        except Exception:
            log.exception("%s: failed with an unexpected error", base_id)
        finally:
            self._idle.set()

    def _schedule_retry(self, job_id: str, func: JobFunc, why: str) -> None:
        attempt = self._retries.get(job_id, 0) + 1
        if attempt > self.schedule.retry_transient or self.stop_event.is_set():
            self._retries.pop(job_id, None)
            return
        self._retries[job_id] = attempt
        when = self.now() + timedelta(minutes=self.schedule.retry_delay_minutes)
        log.info("%s: %s, retry %d at %s", job_id, why, attempt, when.isoformat())
        self.scheduler.add_job(
            self._run,
            "date",
            run_date=when,
            args=(job_id + RETRY_SUFFIX, func),
            id=job_id + RETRY_SUFFIX,
            **self._job_defaults(),
        )

    def _on_event(self, event: JobExecutionEvent) -> None:
        if event.code == EVENT_SCHEDULER_STARTED and self.stop_event.is_set():
            # A stop that came in while the scheduler was starting (it was not running yet).
            self.scheduler.shutdown(wait=False)
        elif event.code == EVENT_JOB_MISSED:
            log.warning(
                "%s: the run due at %s was missed by more than the grace time; skipped",
                event.job_id,
                event.scheduled_run_time,
            )

    # --- heartbeat row -----------------------------------------------------------------------

    def next_runs(self) -> dict[str, datetime]:
        """Next run time of each job as the running scheduler sees it."""
        out: dict[str, datetime] = {}
        for job in self.scheduler.get_jobs():
            if job.id == HEARTBEAT_JOB_ID:
                continue
            # A job added before the scheduler started has no next_run_time yet (unless a
            # catch-up set one): its trigger says when it will first fire.
            when = getattr(job, "next_run_time", None)
            if when is None and not hasattr(job, "next_run_time"):
                when = job.trigger.get_next_fire_time(None, self.now())
            if when is not None:
                out[job.id] = when
        return out

    def _heartbeat(self, stopped: bool = False) -> None:
        if self.engine is None:
            return
        now = datetime.now(UTC).replace(tzinfo=None)
        values: dict[str, Any] = {
            "heartbeat_at": now,
            "next_runs": {k: v.isoformat() for k, v in self.next_runs().items()},
        }
        if stopped:
            values["stopped_at"] = now
        try:
            with self.engine.begin() as conn:
                done = conn.execute(
                    update(scheduler_instance)
                    .where(scheduler_instance.c.instance_id == self.instance_id)
                    .values(**values)
                ).rowcount
                if not done:
                    conn.execute(
                        scheduler_instance.insert().values(
                            instance_id=self.instance_id,
                            host=socket.gethostname(),
                            pid=os.getpid(),
                            started_at=now,
                            **values,
                        )
                    )
        except SQLAlchemyError as exc:
            log.warning("scheduler heartbeat not recorded: %s", type(exc).__name__)

    # --- running and stopping ----------------------------------------------------------------

    def request_stop(self) -> None:
        """Start nothing new; ask the running job to stop after its current step."""
        if not self.stop_event.is_set():
            log.info("stopping: the running job (if any) stops after its current step")
        self.stop_event.set()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self._signals += 1
        if self._signals == 1:
            log.info("received %s", signal.Signals(signum).name)
            self.request_stop()
        else:
            log.warning("second %s: exiting now", signal.Signals(signum).name)
            logging.shutdown()
            os._exit(130)

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT stop the service gracefully (the second one at once)."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no job is running; False on timeout."""
        return self._idle.wait(timeout)

    def run_forever(self) -> None:
        """Add the jobs, run until a stop is requested, then wait for the running job."""
        self.add_jobs()
        for job_id, when in self.next_runs().items():
            if job_id != HEARTBEAT_JOB_ID:
                log.info("%s: next run at %s", job_id, when.isoformat(timespec="minutes"))
        self._heartbeat()
        try:
            self.scheduler.start()  # blocks until shutdown (BlockingScheduler)
        finally:
            # Wake up now and then, so that a second signal is handled while we wait.
            while not self._idle.wait(0.5):
                pass
            self._heartbeat(stopped=True)
            log.info("scheduler stopped")
