"""The run ledger: one ``etl_run`` row per run of every job, written the same way by all of them.

Every job (the ETL, analytics, the push and its account matching, the sync pipeline around them,
provisioning applies) opens its run with :func:`start_run` or :func:`run_ledger` and closes it
with :meth:`Run.finish`; ``status``, the scheduler's catch-up and ``etl rejects`` read the same
rows. A run's status is one of :data:`RunStatus`.

**Stale runs.** A process killed mid-run (SIGKILL, OOM, power loss) leaves its row ``running``
forever. So every start first sweeps the ledger: a ``running`` row whose process is gone becomes
``interrupted``. "Gone" is decided the way :mod:`sugar_bridge.scheduler.locks` decides it for job
locks, because the row *is* a lease: it carries its owner's host and pid and a ``lease_until`` that
a heartbeat thread pushes forward while the run lives. A row is stale when its lease has expired,
or when its owner ran on this host and that pid no longer exists (found at once, without waiting
for the lease). A run of another live process — on this host or another one sharing the warehouse —
keeps a fresh lease and is never touched. The sweep is a compare-and-set on the lease value it
read, so a heartbeat landing in between wins. Finishing sets ``lease_until`` to the finish time, so
a finished row that someone sets back to ``running`` reads as stale.

**Retention.** :func:`prune_history` deletes runs older than a window (``history_days``) with
what hangs off them (rejects that are no longer open, analytics results, push logs), and keeps
whatever is still needed: the newest run of every job (the scheduler's catch-up reads the latest
sync), every run still running, runs with open rejects, and the two newest analytics runs (the
``customer_habits`` view and the previous run its segment transitions compare with).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, get_args

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection, Engine, RowMapping
from sqlalchemy.exc import SQLAlchemyError

from etl.schema import (
    analytics_run,
    customer_metrics,
    etl_reject,
    etl_run,
    push_log,
    push_run,
)

log = logging.getLogger(__name__)

RunStatus = Literal["running", "ok", "partial", "failed", "cancelled", "interrupted"]
RUN_STATUSES: tuple[RunStatus, ...] = get_args(RunStatus)
JobName = Literal["etl", "analytics", "push", "sync", "provision"]

INTERRUPTED = "the process ended before the run finished"
#: How long a run's lease lasts without a heartbeat (renewed every quarter of it).
LEASE = timedelta(minutes=5)


def utcnow() -> datetime:
    """Naive UTC now, to the second (the warehouse stores naive UTC datetimes)."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def process_alive(pid: int) -> bool:
    """True when a process ``pid`` exists on this host (another user's counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def describe_error(exc: BaseException) -> str:
    """``Type: message`` of an exception, as the ledger records it."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@dataclass
class Run:
    """A run in progress: its ``etl_run`` row, what it will record, and its lease's heartbeat.

    Set ``status``, ``error``, ``details``, the counts or the watermarks while the run goes;
    :meth:`finish` writes them. Counts left ``None`` keep what the row holds (the ETL adds to them
    batch by batch with :func:`add_counts`).
    """

    engine: Engine
    run_id: int
    job: str
    started_at: datetime
    status: RunStatus = "running"
    error: str | None = None
    details: dict[str, Any] | None = None
    rows_read: int | None = None
    rows_loaded: int | None = None
    rows_rejected: int | None = None
    watermark_from: str | None = None
    watermark_to: str | None = None
    lease: timedelta = LEASE
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    finished: bool = False

    def start_heartbeat(self) -> None:
        """Renew the lease every quarter of it until :meth:`finish` (a daemon thread)."""
        self._thread = threading.Thread(
            target=self._beat, name=f"run-heartbeat-{self.run_id}", daemon=True
        )
        self._thread.start()

    def _beat(self) -> None:
        interval = max(1.0, self.lease.total_seconds() / 4)
        renewed = time.monotonic()
        while not self._stop.wait(interval):
            try:
                with self.engine.begin() as conn:
                    conn.execute(
                        update(etl_run)
                        .where(etl_run.c.run_id == self.run_id, etl_run.c.status == "running")
                        .values(lease_until=utcnow() + self.lease)
                    )
                renewed = time.monotonic()
            except SQLAlchemyError as exc:
                # A busy SQLite file, a lock wait or a DB blip: the lease still has three
                # quarters to go. Failing for a whole lease (the ledger gone, a dropped
                # database), the run counts as stale for everyone else: the beating stops.
                if time.monotonic() - renewed >= self.lease.total_seconds():
                    log.warning(
                        "run %d: lease not renewed for %s, no longer renewed: %s",
                        self.run_id,
                        self.lease,
                        describe_error(exc),
                    )
                    return
                log.warning(
                    "could not renew the lease of run %d: %s", self.run_id, describe_error(exc)
                )

    def last_beat(self) -> None:
        """Renew the lease one last time and stop the heartbeat: before a final transaction that
        holds the run's row while it writes for long (the analytics results). On MariaDB that
        transaction's first insert into a table whose rows name the run locks the run's row
        (InnoDB's foreign-key check), so a heartbeat waited on it and failed with a lock wait
        timeout, every quarter of a lease, as long as the write lasted; on SQLite it waits on
        the write lock. The write now has a whole lease of its own to finish in; one that
        outlasts it (the portfolio figures of a large warehouse on one busy server: 6 min
        measured) may be shown as stale meanwhile, but nobody can sweep it: the sweep's
        compare-and-set waits on the same row and then finds the run finished."""
        self.stop_heartbeat()
        with self.engine.begin() as conn:
            conn.execute(
                update(etl_run)
                .where(etl_run.c.run_id == self.run_id, etl_run.c.status == "running")
                .values(lease_until=utcnow() + self.lease)
            )

    def stop_heartbeat(self) -> None:
        """Stop renewing the lease (before the final write, so no beat lands after it)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def finish(
        self,
        status: RunStatus | None = None,
        *,
        conn: Connection | None = None,
        finished_at: datetime | None = None,
    ) -> None:
        """Record the run's end (``status`` or the one set on the run) and end its lease.

        With ``conn`` the row is written in the caller's transaction (a run whose results and
        final status must commit together); otherwise in a transaction of its own.
        """
        if status is not None:
            self.status = status
        if self.status == "running":
            raise ValueError(f"run {self.run_id}: finish needs a final status")
        self.stop_heartbeat()
        now = finished_at or utcnow()
        values: dict[str, Any] = {
            "status": self.status,
            "finished_at": now,
            "lease_until": now,
            "error": self.error,
        }
        for name in ("rows_read", "rows_loaded", "rows_rejected", "details"):
            value = getattr(self, name)
            if value is not None:
                values[name] = value
        if self.watermark_from is not None or self.watermark_to is not None:
            values["watermark_from"] = self.watermark_from
            values["watermark_to"] = self.watermark_to
        statement = update(etl_run).where(etl_run.c.run_id == self.run_id).values(values)
        if conn is not None:
            conn.execute(statement)
        else:
            with self.engine.begin() as own:
                own.execute(statement)
        self.finished = True


def start_run(
    engine: Engine,
    job: JobName,
    *,
    source: str | None = None,
    details: Mapping[str, Any] | None = None,
    watermark_from: str | None = None,
    watermark_to: str | None = None,
    started_at: datetime | None = None,
    lease: timedelta = LEASE,
) -> Run:
    """Sweep stale runs, open a ``running`` row for ``job`` and start its lease's heartbeat.

    Returns the :class:`Run`; its ``run_id`` is the row's id. Raises SQLAlchemy's errors when the
    warehouse cannot be written (callers turn them into their own).
    """
    sweep_stale_runs(engine)
    now = utcnow()
    with engine.begin() as conn:
        key = conn.execute(
            insert(etl_run).values(
                job=job,
                source=source,
                started_at=started_at or now,
                status="running",
                watermark_from=watermark_from,
                watermark_to=watermark_to,
                rows_read=0,
                rows_loaded=0,
                rows_rejected=0,
                details=dict(details) if details is not None else None,
                host=socket.gethostname()[:255],
                pid=os.getpid(),
                lease_until=now + lease,
            )
        ).inserted_primary_key
    assert key is not None
    run = Run(
        engine=engine,
        run_id=int(key[0]),
        job=job,
        started_at=started_at or now,
        watermark_from=watermark_from,
        watermark_to=watermark_to,
        lease=lease,
    )
    run.start_heartbeat()
    return run


@contextmanager
def run_ledger(
    engine: Engine,
    job: JobName,
    **start: Any,
) -> Iterator[Run]:
    """``with run_ledger(engine, "push") as run:`` — a run recorded from start to end.

    The body sets ``run.status`` (default ``ok``), counts and details; they are written when it
    ends, unless the body finished the run itself (:meth:`Run.finish` in its own transaction).
    An exception records the run as ``failed`` (or the status the body set before raising,
    e.g. ``cancelled``) with the error (``run.error`` if the body set it) and is re-raised; a
    failure to write that record is logged and never hides the original exception.
    ``start`` takes :func:`start_run`'s keyword arguments.
    """
    run = start_run(engine, job, **start)
    try:
        yield run
    except BaseException as exc:
        # Also when the body had finished the run in a transaction that was then rolled back.
        if run.status in ("running", "ok", "partial"):
            run.status = "failed"
        if run.error is None:
            run.error = describe_error(exc)
        try:
            run.finish()
        except SQLAlchemyError:
            log.exception("could not record the end of %s run %d", job, run.run_id)
        raise
    if not run.finished:
        if run.status == "running":
            run.status = "ok"
        run.finish()


def add_counts(
    conn: Connection,
    run_id: int,
    *,
    rows_read: int = 0,
    rows_loaded: int = 0,
    rows_rejected: int = 0,
) -> None:
    """Add to a run's counters in the caller's transaction (the ETL's, batch by batch)."""
    conn.execute(
        update(etl_run)
        .where(etl_run.c.run_id == run_id)
        .values(
            rows_read=etl_run.c.rows_read + rows_read,
            rows_loaded=etl_run.c.rows_loaded + rows_loaded,
            rows_rejected=etl_run.c.rows_rejected + rows_rejected,
        )
    )


# --- stale runs --------------------------------------------------------------------------------


def _stale(row: RowMapping, now: datetime, host: str) -> bool:
    lease_until = row["lease_until"]
    if lease_until is None or lease_until <= now:
        return True  # no heartbeat for a whole lease (or a row written before leases existed)
    return bool(row["host"] == host and row["pid"] is not None and not process_alive(row["pid"]))


def sweep_stale_runs(engine: Engine, *, now: datetime | None = None) -> list[int]:
    """Mark the ``running`` runs whose process is gone as ``interrupted``; returns their ids.

    See the module docstring for what "gone" means. A push run's ``push_run`` row, which
    mirrors the status, is marked too.
    """
    now = now or utcnow()
    host = socket.gethostname()[:255]
    r = etl_run.c
    with engine.connect() as conn:
        rows = list(
            conn.execute(
                select(r.run_id, r.job, r.host, r.pid, r.lease_until).where(r.status == "running")
            ).mappings()
        )
    swept: list[int] = []
    for row in rows:
        if not _stale(row, now, host):
            continue
        lease = r.lease_until.is_(None) if row["lease_until"] is None else (
            r.lease_until == row["lease_until"]
        )  # fmt: skip
        with engine.begin() as conn:
            done = conn.execute(
                update(etl_run)
                .where(r.run_id == row["run_id"], r.status == "running", lease)
                .values(status="interrupted", error=INTERRUPTED)
            ).rowcount
            if done and row["job"] == "push":
                conn.execute(
                    update(push_run)
                    .where(push_run.c.run_id == row["run_id"], push_run.c.status == "running")
                    .values(status="interrupted", error=INTERRUPTED)
                )
        if done:
            swept.append(int(row["run_id"]))
            log.warning(
                "%s run %d (pid %s on %s) ended without finishing: marked interrupted",
                row["job"],
                row["run_id"],
                row["pid"],
                row["host"],
            )
    return swept


# --- retention ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PruneInfo:
    """What :func:`prune_history` deleted."""

    runs: int = 0
    rejects: int = 0
    analytics_runs: int = 0
    metrics_rows: int = 0
    push_log_rows: int = 0

    @property
    def total(self) -> int:
        """Rows deleted in all."""
        return (
            self.runs + self.rejects + self.analytics_runs + self.metrics_rows + self.push_log_rows
        )


def _ids(conn: Connection, query: Any) -> set[int]:
    return {int(v) for v in conn.scalars(query) if v is not None}


def prune_history(
    engine: Engine,
    days: int,
    *,
    now: datetime | None = None,
    open_reject_runs: set[int] | None = None,
) -> PruneInfo:
    """Delete the history older than ``days`` (0 = keep everything); returns what went.

    What is kept whatever its age is listed in the module docstring. ``open_reject_runs`` are
    the runs whose rejects are still open (default: computed by :func:`etl.history.open_rejects`).
    """
    if days <= 0:
        return PruneInfo()
    cutoff = (now or utcnow()) - timedelta(days=days)
    r = etl_run.c
    with engine.connect() as conn:
        old = _ids(conn, select(r.run_id).where(r.started_at < cutoff, r.status != "running"))
        if not old:
            return PruneInfo()
        newest = _ids(conn, select(func.max(r.run_id)).group_by(r.job))
        # The two newest current analytics runs (what customer_habits and the push's segment
        # transitions read), and the newest run whatever its kind.
        current = analytics_run.c.kind == "current"
        latest_analytics = _ids(
            conn,
            select(analytics_run.c.run_id)
            .where(current)
            .order_by(analytics_run.c.run_id.desc())
            .limit(2),
        ) | _ids(conn, select(func.max(analytics_run.c.run_id)))
    if open_reject_runs is None:
        from etl.history import open_reject_run_ids

        open_reject_runs = open_reject_run_ids(engine)
    kept_runs = newest | latest_analytics | open_reject_runs
    # A run kept for its rejects still loses its analytics results and push log when it is old.
    gone = sorted(old - kept_runs)
    results = sorted(old - newest - latest_analytics)
    counts = {"runs": 0, "rejects": 0, "analytics_runs": 0, "metrics_rows": 0, "push_log_rows": 0}
    with engine.begin() as conn:
        for part in _chunks(results):
            counts["metrics_rows"] += _delete(
                conn, delete(customer_metrics).where(customer_metrics.c.run_id.in_(part))
            )
            counts["analytics_runs"] += _delete(
                conn, delete(analytics_run).where(analytics_run.c.run_id.in_(part))
            )
            counts["push_log_rows"] += _delete(
                conn, delete(push_log).where(push_log.c.run_id.in_(part))
            )
        for part in _chunks(gone):
            conn.execute(delete(push_run).where(push_run.c.run_id.in_(part)))
            counts["rejects"] += _delete(
                conn, delete(etl_reject).where(etl_reject.c.run_id.in_(part))
            )
            counts["runs"] += _delete(conn, delete(etl_run).where(r.run_id.in_(part)))
    info = PruneInfo(**counts)
    if info.total:
        log.info(
            "history older than %d days pruned: %d runs, %d rejects, %d analytics runs "
            "(%d customer rows), %d push log rows",
            days,
            info.runs,
            info.rejects,
            info.analytics_runs,
            info.metrics_rows,
            info.push_log_rows,
        )
    return info


def _chunks(ids: list[int], size: int = 500) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _delete(conn: Connection, statement: Any) -> int:
    return int(conn.execute(statement).rowcount or 0)


__all__ = [
    "INTERRUPTED",
    "LEASE",
    "RUN_STATUSES",
    "JobName",
    "PruneInfo",
    "Run",
    "RunStatus",
    "add_counts",
    "describe_error",
    "process_alive",
    "prune_history",
    "run_ledger",
    "start_run",
    "sweep_stale_runs",
    "utcnow",
]
