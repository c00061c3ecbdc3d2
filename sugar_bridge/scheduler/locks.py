"""Job locks in the warehouse, so that two runs of one job never overlap.

Why a table in the warehouse and not a file lock: the thing to protect is the warehouse (and the
Sugar it pushes to), and the warehouse is the one thing every runner shares. With the embedded
SQLite warehouse all runners are on one host anyway; with MariaDB the scheduler usually runs in a
container and an operator starts ``sugar-bridge sync`` from another container or host, each with its
own data directory, where an ``fcntl`` lock in the data dir would let both run (and ``flock`` over
NFS is unreliable). MariaDB's ``GET_LOCK`` and PostgreSQL's advisory locks have no SQLite
counterpart and die silently with their connection (a ``pool_pre_ping`` reconnect). A lease row
works the same on every engine (on PostgreSQL, a second ``INSERT`` of the same name waits for the
first transaction and then fails on the key; the ``UPDATE`` re-checks its ``WHERE`` on the row
another transaction just changed, so the compare-and-set holds under READ COMMITTED):

- **take**: ``INSERT`` a row whose primary key is the lock's name (the database guarantees one
  winner), or, when a row is there, ``UPDATE ... WHERE name = ? AND expires_at < now`` — a
  compare-and-set that again only one process can win;
- **hold**: a heartbeat thread pushes ``expires_at`` forward every quarter of the lease;
- **release**: ``DELETE ... WHERE owner = <our token>``;
- a holder that was killed leaves a lease that expires after ``ttl``; on the same host a lease
  whose process is gone is taken over at once.

Clocks of the hosts sharing a server warehouse must be NTP-synchronised (the lease is in UTC and
measured against the taker's clock); the default lease of 5 minutes leaves a wide margin.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from etl.runs import process_alive
from etl.schema import job_lock
from sugar_bridge.exceptions import LockHeldError

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    """Naive UTC now (the warehouse stores naive UTC datetimes)."""
    return datetime.now(UTC).replace(tzinfo=None)


#: The lock a sync holds, and with it every command that writes what a sync writes.
SYNC_LOCK = "sync"

#: A lock's lease when none is configured (``schedule.lock_ttl_seconds``' default).
DEFAULT_TTL = timedelta(minutes=5)


@dataclass(frozen=True)
class LockHolder:
    """Who holds a lock, for messages and ``status``."""

    name: str
    host: str
    pid: int
    purpose: str
    acquired_at: datetime
    heartbeat_at: datetime
    expires_at: datetime

    def describe(self) -> str:
        """``sync is running since 02:00:03 UTC (scheduler, pid 812 on bridge-1)``."""
        return (
            f"'{self.name}' is held by {self.purpose} (pid {self.pid} on {self.host}) since "
            f"{self.acquired_at:%Y-%m-%d %H:%M:%S} UTC, last heartbeat "
            f"{self.heartbeat_at:%H:%M:%S} UTC"
        )


def current_holder(engine: Engine, name: str) -> LockHolder | None:
    """The live holder of lock ``name``, or ``None`` (no row, or an expired lease)."""
    with engine.connect() as conn:
        row = conn.execute(select(job_lock).where(job_lock.c.name == name)).mappings().first()
    if row is None or row["expires_at"] < utcnow():
        return None
    return LockHolder(
        name=row["name"],
        host=row["host"],
        pid=row["pid"],
        purpose=row["purpose"],
        acquired_at=row["acquired_at"],
        heartbeat_at=row["heartbeat_at"],
        expires_at=row["expires_at"],
    )


class JobLock:
    """A lease on job ``name`` in the warehouse; use as a context manager.

    ``acquire()`` raises :class:`LockHeldError` (with who holds it) when another live process
    has it. While held, a daemon thread renews the lease; if renewal finds the lease lost (the
    process stalled longer than ``ttl`` and someone took over), ``lost`` becomes true and the
    pipeline stops before its next step.
    """

    def __init__(
        self,
        engine: Engine,
        name: str,
        *,
        purpose: str = "cli",
        ttl: timedelta = DEFAULT_TTL,
        heartbeat: bool = True,
    ) -> None:
        self.engine = engine
        self.name = name
        self.purpose = purpose
        self.ttl = ttl
        self.owner = uuid.uuid4().hex
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self._heartbeat_enabled = heartbeat
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lost = threading.Event()
        self.held = False

    @property
    def lost(self) -> bool:
        """True when the lease was renewed too late and another process may have taken it."""
        return self._lost.is_set()

    def _values(self, now: datetime) -> dict[str, object]:
        return {
            "owner": self.owner,
            "host": self.host,
            "pid": self.pid,
            "purpose": self.purpose,
            "acquired_at": now,
            "heartbeat_at": now,
            "expires_at": now + self.ttl,
        }

    def _try_take(self) -> bool:
        now = utcnow()
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(job_lock).values(name=self.name, **self._values(now)))
            return True
        except IntegrityError:
            pass  # someone has (or had) it: take it over only if the lease is stale
        with self.engine.begin() as conn:
            row = conn.execute(select(job_lock).where(job_lock.c.name == self.name)).mappings()
            current = row.first()
            if current is None:  # released in between: try again from the top
                return self._try_take_once_more()
            stale = current["expires_at"] < now
            dead = current["host"] == self.host and not process_alive(int(current["pid"]))
            if not (stale or dead):
                return False
            taken = conn.execute(
                update(job_lock)
                .where(job_lock.c.name == self.name, job_lock.c.owner == current["owner"])
                .values(**self._values(now))
            ).rowcount
        if taken == 1:
            log.warning(
                "took over the lock '%s' left by pid %s on %s (%s)",
                self.name,
                current["pid"],
                current["host"],
                "process gone" if dead else "lease expired",
            )
        return taken == 1

    def _try_take_once_more(self) -> bool:
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(job_lock).values(name=self.name, **self._values(utcnow())))
            return True
        except IntegrityError:
            return False

    def acquire(self) -> JobLock:
        """Take the lock or raise :class:`LockHeldError` naming its holder."""
        if not self._try_take():
            holder = current_holder(self.engine, self.name)
            detail = holder.describe() if holder else f"'{self.name}' is held by another run"
            raise LockHeldError(f"another run is in progress: {detail}; not starting a second one")
        self.held = True
        log.debug("lock '%s' taken (%s)", self.name, self.purpose)
        if self._heartbeat_enabled:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._beat, name=f"lock-heartbeat-{self.name}", daemon=True
            )
            self._thread.start()
        return self

    def renew(self) -> bool:
        """Push the lease forward; False (and ``lost``) when the lease is no longer ours."""
        now = utcnow()
        with self.engine.begin() as conn:
            renewed = conn.execute(
                update(job_lock)
                .where(job_lock.c.name == self.name, job_lock.c.owner == self.owner)
                .values(heartbeat_at=now, expires_at=now + self.ttl)
            ).rowcount
        if renewed != 1:
            self._lost.set()
            log.error("the lock '%s' was lost (taken over after a stall)", self.name)
        return renewed == 1

    def _beat(self) -> None:
        interval = max(1.0, self.ttl.total_seconds() / 4)
        while not self._stop.wait(interval):
            try:
                if not self.renew():
                    return
            except OperationalError as exc:
                # A busy SQLite file or a DB blip: the lease still has three quarters to go.
                log.warning("could not renew the lock '%s': %s", self.name, type(exc).__name__)

    def release(self) -> None:
        """Give the lock back (only if it is still ours)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self.held:
            with self.engine.begin() as conn:
                conn.execute(
                    delete(job_lock).where(
                        job_lock.c.name == self.name, job_lock.c.owner == self.owner
                    )
                )
            self.held = False
            log.debug("lock '%s' released", self.name)

    def __enter__(self) -> JobLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
