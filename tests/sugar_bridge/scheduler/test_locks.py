"""Job locks in the warehouse: one winner across processes, stale leases taken over."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine

from etl.schema import job_lock
from sugar_bridge.exceptions import LockHeldError
from sugar_bridge.scheduler.locks import JobLock, current_holder, utcnow
from tests.conftest import REPO


@pytest.fixture
def engine(warehouse: Engine) -> Engine:
    """A migrated, empty warehouse: SQLite, and MariaDB when SUGAR_BRIDGE_TEST_MYSQL_URL is set."""
    return warehouse


def test_second_taker_gets_a_clear_message_until_release(engine: Engine) -> None:
    first = JobLock(engine, "sync", purpose="scheduler").acquire()
    with pytest.raises(LockHeldError) as err:
        JobLock(engine, "sync", purpose="cli").acquire()
    message = str(err.value)
    assert "another run is in progress" in message
    assert "scheduler" in message
    assert f"pid {first.pid}" in message
    assert err.value.transient
    assert JobLock(engine, "drift-check").acquire().held  # other jobs are independent
    first.release()
    with JobLock(engine, "sync") as again:
        assert again.held
    assert current_holder(engine, "sync") is None


def test_expired_lease_of_another_host_is_taken_over(engine: Engine) -> None:
    past = utcnow() - timedelta(minutes=10)
    with engine.begin() as conn:
        conn.execute(
            insert(job_lock).values(
                name="sync", owner="x" * 32, host="other-host", pid=1, purpose="scheduler",
                acquired_at=past, heartbeat_at=past, expires_at=past + timedelta(minutes=5),
            )
        )  # fmt: skip
    assert current_holder(engine, "sync") is None
    lock = JobLock(engine, "sync", heartbeat=False).acquire()
    holder = current_holder(engine, "sync")
    assert holder is not None
    assert holder.pid == lock.pid


def test_live_lease_of_another_host_is_respected(engine: Engine) -> None:
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(
            insert(job_lock).values(
                name="sync", owner="y" * 32, host="other-host", pid=1, purpose="scheduler",
                acquired_at=now, heartbeat_at=now, expires_at=now + timedelta(minutes=5),
            )
        )  # fmt: skip
    with pytest.raises(LockHeldError, match="other-host"):
        JobLock(engine, "sync").acquire()


def test_lease_of_a_dead_process_on_this_host_is_taken_over_at_once(engine: Engine) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    lock = JobLock(engine, "sync", heartbeat=False)
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(
            insert(job_lock).values(
                name="sync", owner="z" * 32, host=lock.host, pid=int(dead.stdout),
                purpose="cli", acquired_at=now, heartbeat_at=now,
                expires_at=now + timedelta(hours=1),
            )
        )  # fmt: skip
    assert lock.acquire().held


def test_renewal_notices_a_lost_lease(engine: Engine) -> None:
    lock = JobLock(engine, "sync", heartbeat=False).acquire()
    assert lock.renew()
    with engine.begin() as conn:
        conn.execute(update(job_lock).values(owner="someone-else"))
    assert not lock.renew()
    assert lock.lost
    lock.release()  # does not delete the other owner's row
    with engine.connect() as conn:
        assert conn.execute(select(job_lock.c.owner)).scalar() == "someone-else"


def test_heartbeat_thread_extends_the_lease(engine: Engine) -> None:
    lock = JobLock(engine, "sync", ttl=timedelta(seconds=4)).acquire()
    first = current_holder(engine, "sync")
    assert first is not None
    time.sleep(1.6)
    later = current_holder(engine, "sync")
    assert later is not None
    assert later.expires_at > first.expires_at
    lock.release()


_RACER = textwrap.dedent(
    """
    import os, sys, time
    from etl.db import create_engine_for
    from sugar_bridge.exceptions import LockHeldError
    from sugar_bridge.scheduler.locks import JobLock
    engine = create_engine_for(sys.argv[1])
    go = sys.argv[2]
    print("READY", flush=True)
    while not os.path.exists(go):  # everyone imported: start at the same instant
        time.sleep(0.005)
    try:
        lock = JobLock(engine, "sync", purpose="racer").acquire()
    except LockHeldError as exc:
        print("HELD", exc, flush=True)
        sys.exit(0)
    print("WON", flush=True)
    sys.stdin.read()  # hold the lock until the test closes our stdin
    lock.release()
    print("RELEASED", flush=True)
    """
)


def test_processes_racing_for_the_lock_have_exactly_one_winner(
    engine: Engine, tmp_path: Path
) -> None:
    url = engine.url.render_as_string(hide_password=False)
    go = tmp_path / "go"
    procs = [
        subprocess.Popen([sys.executable, "-c", _RACER, url, str(go)], cwd=REPO,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]  # fmt: skip
    try:
        for p in procs:
            assert p.stdout is not None
            assert p.stdout.readline().strip() == "READY"
        go.touch()
        outputs: list[str] = []
        winners = []
        for p in procs:
            assert p.stdout is not None
            line = p.stdout.readline().strip()
            outputs.append(line)
            if line == "WON":
                winners.append(p)
        assert len(winners) == 1, outputs
        assert all("another run is in progress" in o for o in outputs if o != "WON")
        # While the winner holds it, this process (a manual `sync`) is refused too.
        with pytest.raises(LockHeldError, match="racer"):
            JobLock(engine, "sync").acquire()
        out, _ = winners[0].communicate("", timeout=20)
        assert "RELEASED" in out
        assert JobLock(engine, "sync", heartbeat=False).acquire().held
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait(timeout=10)
