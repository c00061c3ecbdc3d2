"""The scheduler: cron in a time zone, misfire → one run on return, locks, retries, SIGTERM."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from pydantic import ValidationError
from sqlalchemy import insert
from sqlalchemy.engine import Engine

from etl.db import create_engine_for
from etl.schema import etl_run, scheduler_instance
from sugar_bridge.config import load_config
from sugar_bridge.exceptions import ConfigError, LockHeldError, PipelineStepFailed
from sugar_bridge.scheduler.config import ScheduleConfig
from sugar_bridge.scheduler.service import (
    DRIFT_JOB_ID,
    RETRY_SUFFIX,
    SYNC_JOB_ID,
    SchedulerService,
    cron_trigger,
    missed_fire_time,
    next_run_times,
    schedule_status,
)
from tests.conftest import REPO

GRACE = timedelta(hours=6)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    eng = create_engine_for(f"sqlite:///{tmp_path / 'warehouse.db'}")
    etl_run.create(eng)
    scheduler_instance.create(eng)
    return eng


def _record_sync(engine: Engine, started: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(etl_run).values(job="sync", started_at=started.replace(tzinfo=None), status="ok")
        )


# --- config ------------------------------------------------------------------------------------


def test_defaults_nightly_at_two_with_hours_of_grace() -> None:
    cfg = ScheduleConfig()
    assert cfg.sync_cron == "0 2 * * *"
    assert cfg.misfire_grace_hours >= 1
    assert cfg.drift_check_cron is None
    runs = next_run_times(cfg, "Europe/Paris", utc(2026, 1, 10, 12, 0))
    assert runs == {SYNC_JOB_ID: datetime(2026, 1, 11, 2, 0, tzinfo=runs[SYNC_JOB_ID].tzinfo)}
    assert runs[SYNC_JOB_ID].astimezone(UTC) == utc(2026, 1, 11, 1, 0)  # Paris is UTC+1 in winter


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"sync_cron": "every night"}, "5-field"),
        ({"sync_cron": "0 25 * * *"}, r"invalid cron expression '0 25 \* \* \*'.*maximum"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"misfire_grace_hours": 0}, "greater than 0"),
        ({"nightly": True}, "Extra inputs"),
    ],
)
def test_bad_schedule_is_rejected(values: dict[str, object], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        ScheduleConfig.model_validate(values)


def test_bad_cron_in_the_config_file_names_file_line_and_path(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("schedule:\n  sync_cron: '61 2 * * *'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"c\.yaml:2: schedule\.sync_cron"):
        load_config(path)


def test_example_config_schedule_is_valid() -> None:
    cfg = load_config(REPO / "config" / "sugar-bridge.yaml").schedule
    assert next_run_times(cfg, "UTC", utc(2026, 6, 1))


# --- misfire: computed with a fake clock ------------------------------------------------------


def test_machine_off_at_two_runs_once_when_back_within_grace() -> None:
    trigger = cron_trigger("0 2 * * *", "UTC")
    yesterday = utc(2026, 3, 9, 2, 0, 4)
    assert missed_fire_time(trigger, utc(2026, 3, 10, 5, 0), GRACE, yesterday) == utc(
        2026, 3, 10, 2
    )
    # It ran at 02:00:03: nothing to catch up.
    ran = utc(2026, 3, 10, 2, 0, 3)
    assert missed_fire_time(trigger, utc(2026, 3, 10, 5, 0), GRACE, ran) is None
    # Back after the grace: no catch-up, the next night's run will do.
    assert missed_fire_time(trigger, utc(2026, 3, 10, 9, 0), GRACE, yesterday) is None
    # Never ran at all (fresh install) and back at 03:00: one run.
    assert missed_fire_time(trigger, utc(2026, 3, 10, 3, 0), GRACE, None) == utc(2026, 3, 10, 2)


def test_several_missed_fires_make_one_catch_up() -> None:
    trigger = cron_trigger("0 */2 * * *", "UTC")  # every two hours
    last = utc(2026, 3, 10, 0, 0, 5)
    assert missed_fire_time(trigger, utc(2026, 3, 10, 5, 30), GRACE, last) == utc(2026, 3, 10, 4)


def test_catch_up_respects_the_time_zone() -> None:
    trigger = cron_trigger("0 2 * * *", "America/New_York")
    now = utc(2026, 7, 1, 8, 0)  # 04:00 in New York (EDT, UTC-4)
    assert missed_fire_time(trigger, now, GRACE, None) == utc(2026, 7, 1, 6, 0)


# --- misfire: the real APScheduler ------------------------------------------------------------


def _background(service_tz: str = "UTC") -> BackgroundScheduler:
    return BackgroundScheduler(timezone=service_tz)


def test_service_started_after_a_missed_fire_runs_the_sync_once_now(engine: Engine) -> None:
    now = datetime.now(UTC)
    fired = now - timedelta(hours=1)
    _record_sync(engine, now - timedelta(days=1, hours=1))  # yesterday's run happened
    calls: list[datetime] = []
    done = threading.Event()

    def run_sync(stop: threading.Event) -> str:
        calls.append(datetime.now(UTC))
        done.set()
        return "ok"

    cfg = ScheduleConfig(sync_cron=f"{fired.minute} {fired.hour} * * *")
    service = SchedulerService(cfg, "UTC", run_sync, engine=engine, scheduler=_background())
    service.add_jobs()
    service.scheduler.start()
    try:
        assert done.wait(10)
        time.sleep(0.5)
        assert len(calls) == 1
        nxt = service.next_runs()[SYNC_JOB_ID]
        assert timedelta(hours=22) < nxt - now < timedelta(hours=24)  # then back on the cron
    finally:
        service.scheduler.shutdown(wait=True)


def test_no_catch_up_when_the_run_already_happened(engine: Engine) -> None:
    now = datetime.now(UTC)
    fired = now - timedelta(hours=1)
    _record_sync(engine, fired + timedelta(seconds=2))
    cfg = ScheduleConfig(sync_cron=f"{fired.minute} {fired.hour} * * *")
    service = SchedulerService(
        cfg, "UTC", lambda stop: None, engine=engine, scheduler=_background()
    )
    service.add_jobs()
    service.scheduler.start(paused=True)
    try:
        assert service.next_runs()[SYNC_JOB_ID] > now + timedelta(hours=22)
    finally:
        service.scheduler.shutdown(wait=False)


def test_apscheduler_coalesces_missed_fires_into_one_run() -> None:
    """A suspended process wakes up with many missed fires: one run (coalesce + grace)."""
    calls: list[int] = []
    service = SchedulerService(ScheduleConfig(), "UTC", lambda stop: None, scheduler=_background())
    # Hourly, last due 30 minutes ago: 31 fires missed, and none due during the test.
    first = datetime.now(UTC) - timedelta(hours=30, minutes=30)
    service.scheduler.add_job(
        lambda: calls.append(1),
        IntervalTrigger(hours=1, start_date=first, timezone=UTC),
        id="probe",
        next_run_time=first,
        **service._job_defaults(),
    )
    service.scheduler.start()
    try:
        time.sleep(1.0)
        assert calls == [1]
    finally:
        service.scheduler.shutdown(wait=True)


def test_apscheduler_skips_a_fire_missed_beyond_the_grace(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []
    cfg = ScheduleConfig(misfire_grace_hours=0.001)  # 3.6 s
    service = SchedulerService(cfg, "UTC", lambda stop: None, scheduler=_background())
    service.scheduler.add_job(
        lambda: calls.append(1),
        cron_trigger("0 2 * * *", "UTC"),
        id=SYNC_JOB_ID,
        next_run_time=datetime.now(UTC) - timedelta(hours=3),
        **service._job_defaults(),
    )
    with caplog.at_level(logging.WARNING):
        service.scheduler.start()
        time.sleep(1.0)
        service.scheduler.shutdown(wait=True)
    assert calls == []
    assert "missed by more than the grace time" in caplog.text


# --- job runs ---------------------------------------------------------------------------------


def _retried_once_then_given_up(
    service: SchedulerService, func: Callable[[threading.Event], None]
) -> None:
    """After a first failed run (``retry_transient=1``): one retry is due after the delay (15
    minutes by default); when it fails too, no further retry is scheduled."""
    retry = service.scheduler.get_job(SYNC_JOB_ID + RETRY_SUFFIX)
    assert retry is not None
    assert retry.next_run_time > datetime.now(UTC) + timedelta(minutes=10)
    service.scheduler.remove_job(SYNC_JOB_ID + RETRY_SUFFIX)
    service._run(SYNC_JOB_ID + RETRY_SUFFIX, func)  # fails again: the retries are used up
    assert service.scheduler.get_job(SYNC_JOB_ID + RETRY_SUFFIX) is None


def test_a_held_lock_skips_the_run_with_a_message_and_tries_again_later(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An operator's `etl run` at 02:00 (or a sync still running) does not cost the night's
    sync: it is tried again after retry_delay_minutes, retry_transient times."""

    def run_sync(stop: threading.Event) -> None:
        raise LockHeldError("another run is in progress: 'sync' is held by etl run (pid 42 on h)")

    service = SchedulerService(
        ScheduleConfig(retry_transient=1), "UTC", run_sync, scheduler=_background()
    )
    service.scheduler.start(paused=True)
    try:
        with caplog.at_level(logging.INFO):
            service._run(SYNC_JOB_ID, run_sync)
        assert "skipped, another run is in progress" in caplog.text
        assert "the lock was held, retry 1 at" in caplog.text
        assert service.wait_idle(0)
        _retried_once_then_given_up(service, run_sync)
    finally:
        service.scheduler.shutdown(wait=False)


class _Down(Exception):
    transient = True


def test_transient_failure_is_retried_later_and_terminal_is_not() -> None:
    service = SchedulerService(
        ScheduleConfig(retry_transient=1), "UTC", lambda s: None, scheduler=_background()
    )
    service.scheduler.start(paused=True)
    try:

        def transient(stop: threading.Event) -> None:
            raise PipelineStepFailed("push", _Down("Sugar unreachable"))

        service._run(SYNC_JOB_ID, transient)
        _retried_once_then_given_up(service, transient)

        def terminal(stop: threading.Event) -> None:
            raise PipelineStepFailed("load", ValueError("bad"))

        service._run(SYNC_JOB_ID, terminal)
        assert service.scheduler.get_job(SYNC_JOB_ID + RETRY_SUFFIX) is None
    finally:
        service.scheduler.shutdown(wait=False)


def test_drift_check_job_only_when_configured() -> None:
    plain = SchedulerService(ScheduleConfig(), "UTC", lambda s: None, run_drift=lambda s: None,
                             scheduler=_background())  # fmt: skip
    plain.add_jobs()
    assert [j.id for j in plain.scheduler.get_jobs()] == [SYNC_JOB_ID]
    cfg = ScheduleConfig(drift_check_cron="30 6 * * 1-5")
    both = SchedulerService(cfg, "UTC", lambda s: None, run_drift=lambda s: None,
                            scheduler=_background())  # fmt: skip
    both.add_jobs()
    jobs = {j.id: j for j in both.scheduler.get_jobs()}
    assert set(jobs) == {SYNC_JOB_ID, DRIFT_JOB_ID}
    for job in jobs.values():
        assert job.coalesce is True
        assert job.max_instances == 1
        assert job.misfire_grace_time == 6 * 3600


def test_status_shows_next_run_and_live_schedulers(engine: Engine) -> None:
    service = SchedulerService(ScheduleConfig(), "UTC", lambda s: None, engine=engine,
                               scheduler=_background())  # fmt: skip
    service.add_jobs()
    service.scheduler.start(paused=True)
    try:
        service._heartbeat()
        status = schedule_status(engine, ScheduleConfig(), "UTC", datetime.now(UTC))
        assert SYNC_JOB_ID in status.next_runs
        assert len(status.instances) == 1
        assert status.instances[0]["pid"] == os.getpid()
        service._heartbeat(stopped=True)
        assert schedule_status(engine, ScheduleConfig(), "UTC", datetime.now(UTC)).instances == []
    finally:
        service.scheduler.shutdown(wait=False)


# --- SIGTERM ----------------------------------------------------------------------------------

_SERVICE = textwrap.dedent(
    """
    import logging, sys, threading
    from pathlib import Path
    from etl.db import create_engine_for
    from etl.schema import etl_run, scheduler_instance
    from sugar_bridge.scheduler.config import ScheduleConfig
    from sugar_bridge.scheduler.service import SchedulerService

    logging.basicConfig(level=logging.INFO, stream=sys.stdout)
    out = Path(sys.argv[1])
    engine = create_engine_for(f"sqlite:///{out / 'w.db'}")
    etl_run.create(engine)
    scheduler_instance.create(engine)

    def run_sync(stop: threading.Event) -> str:
        (out / "started").write_text("1")
        # up to 300 steps of 0.2 s (a minute: far beyond any signal sent, even on a loaded
        # machine); stop is honoured between steps
        for step in range(1, 301):
            threading.Event().wait(0.2)
            if stop.is_set():
                (out / "result").write_text(f"aborted cleanly after step {step}")
                return "cancelled"
        (out / "result").write_text("finished")
        return "ok"

    # every minute with an hour of grace and no run yet: the catch-up starts a run at once
    cfg = ScheduleConfig(sync_cron="* * * * *", misfire_grace_hours=1)
    service = SchedulerService(cfg, "UTC", run_sync, engine=engine)
    service.install_signal_handlers()
    service.run_forever()
    """
)


def _wait_for(path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def _start_service(tmp_path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _SERVICE, str(tmp_path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_sigterm_finishes_the_current_step_and_exits_cleanly(tmp_path: Path) -> None:
    proc = _start_service(tmp_path)
    try:
        _wait_for(tmp_path / "started")
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert (tmp_path / "result").read_text().startswith("aborted cleanly after step")
    assert "received SIGTERM" in out
    assert "scheduler stopped" in out


def test_second_signal_exits_at_once(tmp_path: Path) -> None:
    proc = _start_service(tmp_path)
    try:
        _wait_for(tmp_path / "started")
        proc.send_signal(signal.SIGINT)
        time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, out
    assert "exiting now" in out
