"""Crash safety: the loader is SIGKILLed at chosen and random points, then rerun.

Each batch commits its rows with its checkpoint, so after any kill a rerun must give exactly the
warehouse of an uninterrupted load (row counts and sums), and every input row is counted as read
exactly once over the runs.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from etl import load_csv
from etl.db import create_engine_for
from etl.schema import etl_run
from tests.etl.data import empty_warehouse, fingerprint, order_rows, write_csv

BATCH = 60
CHILD = r"""
import os, signal, sys, time
from etl.db import create_engine_for
from etl import load_csv

url, path, stage, batch, batch_lines = sys.argv[1:6]

def hook(current_stage, current_batch):
    if current_stage == "after_commit":
        print(current_batch, flush=True)  # the parent knows the load is under way
        time.sleep(0.01)
    if current_stage == stage and current_batch == int(batch):
        os.kill(os.getpid(), signal.SIGKILL)

load_csv(create_engine_for(url), path, batch_lines=int(batch_lines), hook=hook)
print("done", flush=True)
"""


@pytest.fixture(scope="module")
def orders_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    """A file of ~1,500 lines and the fingerprint of its uninterrupted load."""
    folder = tmp_path_factory.mktemp("crash")
    path = write_csv(folder / "orders.csv", order_rows(600, seed=11))
    reference = create_engine_for(f"sqlite:///{folder / 'reference.db'}")
    load_csv(reference, path, batch_lines=BATCH)
    expected = fingerprint(reference)
    reference.dispose()
    return path, expected


def _child(url: str, path: Path, stage: str, batch: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, url, str(path), stage, str(batch), str(BATCH)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _check_rerun(engine: Engine, path: Path, expected: dict[str, object]) -> None:
    info = load_csv(engine, path, batch_lines=BATCH)
    assert fingerprint(engine) == expected
    n_rows = sum(1 for _ in path.open(encoding="utf-8")) - 1
    with engine.connect() as conn:
        read = conn.scalar(select(func.sum(etl_run.c.rows_read)))
        statuses = list(conn.scalars(select(etl_run.c.status).order_by(etl_run.c.run_id)))
    assert read == n_rows  # every row read once over the committed batches of all runs
    assert statuses[-1] == "ok"
    assert info.rows_rejected == 0
    assert set(statuses[:-1]) <= {"interrupted"}


@pytest.mark.parametrize(
    ("stage", "batch"),
    [("before_commit", 1), ("after_commit", 1), ("before_commit", 9)],
)
def test_kill_at_a_batch_boundary(
    warehouse_url: str, orders_file: tuple[Path, dict[str, object]], stage: str, batch: int
) -> None:
    path, expected = orders_file
    child = _child(warehouse_url, path, stage, batch)
    child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL
    engine = create_engine_for(warehouse_url)
    try:
        _check_rerun(engine, path, expected)
    finally:
        empty_warehouse(engine)
        engine.dispose()


def test_kill_at_random_times(
    warehouse_url: str, orders_file: tuple[Path, dict[str, object]]
) -> None:
    path, expected = orders_file
    rng = random.Random()
    engine = create_engine_for(warehouse_url)
    try:
        for _ in range(2):
            child = _child(warehouse_url, path, "never", 0)
            assert child.stdout is not None
            child.stdout.readline()  # first batch committed: the load is under way
            time.sleep(rng.uniform(0.0, 0.25))
            child.send_signal(signal.SIGKILL)
            child.communicate(timeout=60)
            # Another kill may hit the resumed load: the reruns converge all the same.
        _check_rerun(engine, path, expected)
    finally:
        empty_warehouse(engine)
        engine.dispose()
