"""The run ledger (etl/runs.py): start/finish, the context manager, the stale-run sweep, retention.

Runs on SQLite and, with their markers, on MariaDB and PostgreSQL (the ``warehouse`` fixture).
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Engine

from etl.db import create_engine_for
from etl.runs import (
    INTERRUPTED,
    RUN_STATUSES,
    add_counts,
    prune_history,
    run_ledger,
    start_run,
    sweep_stale_runs,
    utcnow,
)
from etl.schema import (
    analytics_run,
    customer_metrics,
    dim_customer,
    etl_loaded_file,
    etl_reject,
    etl_run,
    push_log,
    push_run,
)


def _row(engine: Engine, run_id: int) -> dict[str, Any]:
    with engine.connect() as conn:
        return dict(
            conn.execute(select(etl_run).where(etl_run.c.run_id == run_id)).mappings().one()
        )


def _dead_pid() -> int:
    """The pid of a process that has ended (and was reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _running_row(engine: Engine, job: str, **values: Any) -> int:
    """A ``running`` row as another process would have left it."""
    with engine.begin() as conn:
        key = conn.execute(
            insert(etl_run).values(
                job=job, started_at=utcnow(), status="running", rows_read=0, rows_loaded=0,
                rows_rejected=0, **values,
            )
        ).inserted_primary_key  # fmt: skip
    assert key is not None
    return int(key[0])


def test_a_run_is_opened_with_its_lease_and_closed_with_its_counts(warehouse: Engine) -> None:
    run = start_run(warehouse, "etl", source="shop", details={"note": "x"})
    row = _row(warehouse, run.run_id)
    assert (row["job"], row["source"], row["status"]) == ("etl", "shop", "running")
    assert row["host"] == socket.gethostname()
    assert row["pid"] == os.getpid()
    assert row["lease_until"] > utcnow()
    with warehouse.begin() as conn:  # the ETL adds batch by batch, in the batch's transaction
        add_counts(conn, run.run_id, rows_read=10, rows_loaded=8, rows_rejected=2)
        add_counts(conn, run.run_id, rows_read=5, rows_loaded=5)
    run.details = {"batches": 2}
    run.finish("partial")
    row = _row(warehouse, run.run_id)
    assert (row["status"], row["rows_read"], row["rows_loaded"], row["rows_rejected"]) == (
        "partial",
        15,
        13,
        2,
    )
    assert row["details"] == {"batches": 2}
    assert row["finished_at"] is not None
    assert row["lease_until"] == row["finished_at"]
    assert run._thread is None  # the heartbeat stopped


def test_finish_needs_a_final_status(warehouse: Engine) -> None:
    run = start_run(warehouse, "sync")
    with pytest.raises(ValueError, match="final status"):
        run.finish()
    run.finish("ok")


def test_the_context_manager_records_ok_and_the_counts(warehouse: Engine) -> None:
    with run_ledger(warehouse, "analytics", watermark_to="2026-11-23") as run:
        run.rows_read, run.rows_loaded = 100, 7
    row = _row(warehouse, run.run_id)
    assert (row["status"], row["rows_read"], row["rows_loaded"]) == ("ok", 100, 7)
    assert row["watermark_to"] == "2026-11-23"


def test_an_exception_is_recorded_as_failed_and_re_raised(warehouse: Engine) -> None:
    with pytest.raises(RuntimeError, match="disk full"), run_ledger(warehouse, "push") as run:
        raise RuntimeError("disk full")
    row = _row(warehouse, run.run_id)
    assert row["status"] == "failed"
    assert row["error"] == "RuntimeError: disk full"
    assert row["finished_at"] is not None


def _cancel(engine: Engine, opened: list[int]) -> None:
    with run_ledger(engine, "sync") as run:
        opened.append(run.run_id)
        run.status, run.error = "cancelled", "stopped between steps"
        raise KeyboardInterrupt


def test_a_status_and_error_set_before_raising_are_kept(warehouse: Engine) -> None:
    opened: list[int] = []
    with pytest.raises(KeyboardInterrupt):
        _cancel(warehouse, opened)
    row = _row(warehouse, opened[0])
    assert (row["status"], row["error"]) == ("cancelled", "stopped between steps")


def _store_and_fail(engine: Engine, opened: list[int]) -> None:
    with run_ledger(engine, "analytics") as run, engine.begin() as conn:
        opened.append(run.run_id)
        run.finish("ok", conn=conn)
        raise RuntimeError("the results could not be stored")


def test_a_run_finished_in_a_rolled_back_transaction_ends_failed(warehouse: Engine) -> None:
    """Results and status commit together: a failing commit leaves the run failed, not ok."""
    opened: list[int] = []
    with pytest.raises(RuntimeError):
        _store_and_fail(warehouse, opened)
    assert _row(warehouse, opened[0])["status"] == "failed"


def test_a_killed_run_of_any_job_is_swept_at_the_next_start(warehouse: Engine) -> None:
    host, dead, future = socket.gethostname(), _dead_pid(), utcnow() + timedelta(hours=1)
    killed = {
        job: _running_row(warehouse, job, host=host, pid=dead, lease_until=future)
        for job in ("etl", "analytics", "push", "sync", "provision")
    }
    legacy = _running_row(warehouse, "analytics")  # written before runs had leases
    expired = _running_row(
        warehouse, "push", host="other-host", pid=1, lease_until=utcnow() - timedelta(seconds=5)
    )
    with warehouse.begin() as conn:
        conn.execute(
            insert(push_run).values(
                run_id=killed["push"], as_of=date(2026, 11, 23), dry_run=False, full_push=False,
                started_at=utcnow(), status="running",
            )
        )  # fmt: skip
    run = start_run(warehouse, "etl")  # a run of any job sweeps all of them
    run.finish("ok")
    for run_id in [*killed.values(), legacy, expired]:
        row = _row(warehouse, run_id)
        assert (row["status"], row["error"]) == ("interrupted", INTERRUPTED), row["job"]
    with warehouse.connect() as conn:
        mirrored = conn.scalar(select(push_run.c.status).where(push_run.c.run_id == killed["push"]))
    assert mirrored == "interrupted"


def test_the_sweep_never_touches_a_run_of_a_live_process(warehouse: Engine) -> None:
    future = utcnow() + timedelta(minutes=5)
    here = _running_row(
        warehouse, "analytics", host=socket.gethostname(), pid=os.getpid(), lease_until=future
    )
    # On another host the pid cannot be checked: the lease decides (it is fresh).
    there = _running_row(warehouse, "push", host="bridge-2", pid=_dead_pid(), lease_until=future)
    live = start_run(warehouse, "sync")  # this process's own run, with its heartbeat
    assert sweep_stale_runs(warehouse) == []
    for run_id in (here, there, live.run_id):
        assert _row(warehouse, run_id)["status"] == "running"
    live.finish("ok")


def test_a_run_set_back_to_running_after_it_finished_reads_as_stale(warehouse: Engine) -> None:
    run = start_run(warehouse, "sync")
    run.finish("ok")
    with warehouse.begin() as conn:
        conn.execute(update(etl_run).where(etl_run.c.run_id == run.run_id).values(status="running"))
    assert sweep_stale_runs(warehouse) == [run.run_id]


def test_the_heartbeat_pushes_the_lease_forward(warehouse: Engine) -> None:
    run = start_run(warehouse, "push", lease=timedelta(seconds=4))  # a beat every second
    first = _row(warehouse, run.run_id)["lease_until"]
    deadline = time.monotonic() + 10
    while _row(warehouse, run.run_id)["lease_until"] <= first and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _row(warehouse, run.run_id)["lease_until"] > first
    run.finish("ok")


def test_a_last_beat_renews_the_lease_and_leaves_the_row_to_the_final_write(
    warehouse: Engine,
) -> None:
    run = start_run(warehouse, "analytics", lease=timedelta(seconds=4))  # a beat every second
    with warehouse.begin() as conn:  # as if the lease were nearly over
        conn.execute(
            update(etl_run)
            .where(etl_run.c.run_id == run.run_id)
            .values(lease_until=datetime(2000, 1, 1))
        )
    run.last_beat()
    assert run._thread is None  # no beat will wait on the final write's lock
    renewed = _row(warehouse, run.run_id)["lease_until"]
    assert renewed >= utcnow() + timedelta(seconds=2)
    time.sleep(1.5)  # a beat would have landed by now
    assert _row(warehouse, run.run_id)["lease_until"] == renewed
    run.finish("ok")


def test_a_heartbeat_whose_ledger_is_gone_stops_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A run left unfinished (a crashed caller, a test) whose table then disappears: its beat
    says so and ends, instead of dying on an exception nobody handles."""
    engine = create_engine_for(f"sqlite:///{tmp_path / 'w.db'}")
    etl_run.create(engine)
    run = start_run(engine, "push", lease=timedelta(seconds=4))  # a beat every second
    etl_run.drop(engine)
    assert run._thread is not None
    with caplog.at_level(logging.WARNING, logger="etl.runs"):
        run._thread.join(timeout=15)
    assert not run._thread.is_alive()
    assert f"run {run.run_id}: lease not renewed for 0:00:04, no longer renewed" in caplog.text
    engine.dispose()


def test_one_status_vocabulary() -> None:
    assert RUN_STATUSES == ("running", "ok", "partial", "failed", "cancelled", "interrupted")


# --- retention ---------------------------------------------------------------------------------


def _finished_row(engine: Engine, job: str, started_at: datetime, status: str = "ok") -> int:
    with engine.begin() as conn:
        key = conn.execute(
            insert(etl_run).values(
                job=job, started_at=started_at, finished_at=started_at, status=status,
                rows_read=0, rows_loaded=0, rows_rejected=0,
            )
        ).inserted_primary_key  # fmt: skip
    assert key is not None
    return int(key[0])


def _analytics(engine: Engine, started_at: datetime, customer_key: int) -> int:
    run_id = _finished_row(engine, "analytics", started_at)
    with engine.begin() as conn:
        conn.execute(
            insert(analytics_run).values(
                run_id=run_id, as_of=started_at.date(), n_customers=1, n_buyers=1,
                time_unit="W", created_at=started_at,
            )
        )  # fmt: skip
        conn.execute(
            insert(customer_metrics).values(
                run_id=run_id, customer_key=customer_key, as_of=started_at.date(), source="shop",
                customer_id="C1", n_orders=1, total_amount=10, lifecycle_stage="active",
            )
        )  # fmt: skip
    return run_id


def _push(engine: Engine, started_at: datetime) -> int:
    run_id = _finished_row(engine, "push", started_at)
    with engine.begin() as conn:
        conn.execute(
            insert(push_run).values(
                run_id=run_id, as_of=started_at.date(), dry_run=False, full_push=False,
                started_at=started_at, status="ok",
            )
        )  # fmt: skip
        conn.execute(
            insert(push_log).values(
                run_id=run_id, account_id="a1", operation="update", status="ok",
                created_at=started_at,
            )
        )  # fmt: skip
    return run_id


def _reject(engine: Engine, run_id: int, key: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(etl_reject).values(
                run_id=run_id, source="shop", source_key=key, rule="quantity_not_positive",
                reason="quantity is -1", created_at=utcnow(),
            )
        )  # fmt: skip


def _ids(engine: Engine, column: Any) -> set[int]:
    with engine.connect() as conn:
        return {int(v) for v in conn.scalars(select(column).distinct())}


def test_prune_keeps_what_is_still_needed_and_deletes_the_rest(warehouse: Engine) -> None:
    now = utcnow()
    old, older, recent = now - timedelta(days=40), now - timedelta(days=50), now - timedelta(days=2)
    with warehouse.begin() as conn:
        customer = conn.execute(
            insert(dim_customer).values(
                source="shop", source_customer_id="C1", first_seen_at=now, updated_at=now
            )
        ).inserted_primary_key
    assert customer is not None
    key = int(customer[0])
    etl_old = _finished_row(warehouse, "etl", older)  # its rejects are closed: goes
    _reject(warehouse, etl_old, "a.csv:3")
    etl_open = _finished_row(warehouse, "etl", old)  # its reject is still open: stays
    _reject(warehouse, etl_open, "b.csv:7")
    etl_new = _finished_row(warehouse, "etl", recent)
    with warehouse.begin() as conn:  # a.csv was loaded again after etl_old
        conn.execute(
            insert(etl_loaded_file).values(
                source="shop", file_name="a.csv", sha256="0" * 64, size_bytes=1, rows=1,
                status="loaded", run_id=etl_new, loaded_at=recent,
            )
        )  # fmt: skip
    a_oldest, a_old, a_second, a_last = (
        _analytics(warehouse, older, key),
        _analytics(warehouse, old, key),
        _analytics(warehouse, old + timedelta(hours=1), key),  # old, but customer_habits' previous
        _analytics(warehouse, recent, key),
    )
    push_old, push_last = _push(warehouse, old), _push(warehouse, recent)
    sync_last = _finished_row(warehouse, "sync", older)  # the only sync: the catch-up needs it
    running = _running_row(
        warehouse, "provision", host=socket.gethostname(), pid=os.getpid(),
        lease_until=now + timedelta(minutes=5),
    )  # fmt: skip
    with warehouse.begin() as conn:
        conn.execute(update(etl_run).where(etl_run.c.run_id == running).values(started_at=older))

    info = prune_history(warehouse, 30, now=now)

    kept = _ids(warehouse, etl_run.c.run_id)
    assert kept == {
        etl_open, etl_new, a_second, a_last, push_last, sync_last, running
    }  # fmt: skip
    assert {etl_old, a_oldest, a_old, push_old}.isdisjoint(kept)
    assert _ids(warehouse, analytics_run.c.run_id) == {a_second, a_last}
    assert _ids(warehouse, customer_metrics.c.run_id) == {a_second, a_last}
    assert _ids(warehouse, push_run.c.run_id) == {push_last}
    assert _ids(warehouse, push_log.c.run_id) == {push_last}
    assert _ids(warehouse, etl_reject.c.run_id) == {etl_open}
    assert (info.runs, info.rejects, info.analytics_runs, info.metrics_rows) == (4, 1, 2, 2)
    assert info.push_log_rows == 1
    assert prune_history(warehouse, 30, now=now).total == 0  # nothing left to prune
    assert prune_history(warehouse, 0, now=now + timedelta(days=999)).total == 0  # 0 = keep all
    with warehouse.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(etl_run)) == len(kept)
