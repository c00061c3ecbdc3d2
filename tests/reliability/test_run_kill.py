"""Reliability: an analytics run, a push and a provisioning apply, each SIGKILLed mid-run in a real
process, are ended as ``interrupted`` by the next run of any job — and a run of a process that is
still alive is left alone.

Each child is the real CLI (``sugar-bridge analytics run``, ``segments push``, ``provision apply``)
with one function wrapped so that it prints ``mid-run`` and waits at a known point: after the
run was opened in the ledger (and, for the apply, after its first write to Sugar). The parent
then SIGKILLs it, which leaves no chance to clean up, as in real life (see also
``tests/etl/test_crash.py`` for the loader).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.engine import Engine

from etl import load_csv
from etl.db import create_engine_for
from etl.runs import INTERRUPTED
from etl.schema import etl_run, push_run
from sugar_bridge.sandbox import Sandbox
from tests.analytics import synth
from tests.etl.data import order_rows, write_csv
from tests.sugar_bridge.push.conftest import Warehouse, provision

CHILD = r"""
import sys, time

job = sys.argv[1]


def pause():
    print("mid-run", flush=True)
    time.sleep(300)


def pausing(real):
    def wrapper(*args, **kwargs):
        pause()
        return real(*args, **kwargs)
    return wrapper


if job == "analytics":
    import analytics.run as target
    target.fit_models = pausing(target.fit_models)
    args = ["analytics", "run", "--as-of", "2026-01-31"]
elif job == "push":
    import sugar_bridge.push.push as target
    target.read_for_push = pausing(target.read_for_push)
    args = ["segments", "push"]
else:
    import sugar_bridge.provision.apply as target
    real = target.apply

    def apply(*args, progress=None, **kwargs):
        def step(item):
            if progress is not None:
                progress(item)
            pause()  # after the first write to Sugar
        return real(*args, progress=step, **kwargs)

    target.apply = apply
    args = ["provision", "apply", "--yes"]
sys.argv = ["sugar-bridge", *args]
from sugar_bridge.cli.app import main

main()
"""

SPEC: dict[str, Any] = {
    "custom_fields": {
        "Contacts": [
            {"name": "kill_test_a_c", "type": "varchar", "len": 32, "label": "A"},
            {"name": "kill_test_b_c", "type": "varchar", "len": 32, "label": "B"},
        ]
    }
}


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    sb = Sandbox()
    sb.start()
    provision(sb)  # the segment fields the push writes
    yield sb
    sb.stop()


def _env(tmp_path: Path, warehouse_url: str, sandbox: Sandbox) -> dict[str, str]:
    config = tmp_path / "sugar-bridge.yaml"
    config.write_text(yaml.safe_dump({"sugar": SPEC, "analytics": {}}), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUGAR_BRIDGE_")}
    env |= {
        "SUGAR_BRIDGE_CONFIG": str(config),
        "SUGAR_BRIDGE_WAREHOUSE_URL": warehouse_url,
        "SUGAR_BRIDGE_DATA_DIR": str(tmp_path / "data"),
        "SUGAR_BRIDGE_SUGAR_URL": sandbox.base_url,
        "SUGAR_BRIDGE_SUGAR_PASSWORD": sandbox.admin_password,
    }
    return env


def _start(job: str, env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    """The CLI running ``job``, once it says it is mid-run."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, job],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    for line in child.stdout:  # the CLI prints other things first (a progress bar, notes)
        if line.strip() == "mid-run":
            return child
    _, err = child.communicate(timeout=60)
    pytest.fail(f"{job} ended (exit {child.returncode}) before it was mid-run: {err[-2000:]}")


def _kill(child: subprocess.Popen[str]) -> None:
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=60)  # reaped: its pid is gone
    assert child.returncode == -signal.SIGKILL


def _runs(engine: Engine) -> dict[str, tuple[str, str | None]]:
    """job → (status, error) of each job's latest run."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(etl_run.c.job, etl_run.c.status, etl_run.c.error).order_by(etl_run.c.run_id)
        ).all()
    return {job: (status, error) for job, status, error in rows}


def test_killed_analytics_push_and_provision_runs_end_as_interrupted(
    warehouse_url: str, sandbox: Sandbox, tmp_path: Path
) -> None:
    engine = create_engine_for(warehouse_url)
    try:
        with engine.begin() as conn:
            synth.build(conn)  # orders for the analytics run
        habits = Warehouse(engine)  # statistics for the push
        habits.add_customer("C-KILL", "Kill Test GmbH", "kill@example.com")
        habits.analyse()
        env = _env(tmp_path, warehouse_url, sandbox)
        for job in ("analytics", "push", "provision"):
            _kill(_start(job, env, tmp_path))
            # Killed: nothing could record its end. The next job's start (the next child, then
            # the ETL below) finds the row's process gone.
            assert _runs(engine)[job] == ("running", None), job

        orders = write_csv(tmp_path / "orders.csv", order_rows(5, seed=3))
        load_csv(engine, orders)

        after = _runs(engine)
        for job in ("analytics", "push", "provision"):
            assert after[job] == ("interrupted", INTERRUPTED), job
        assert after["etl"][0] == "ok"
        with engine.connect() as conn:
            assert set(conn.scalars(select(push_run.c.status))) == {"interrupted"}
    finally:
        engine.dispose()


def test_a_run_of_a_live_process_is_left_running(
    warehouse_url: str, sandbox: Sandbox, tmp_path: Path
) -> None:
    engine = create_engine_for(warehouse_url)
    child = _start("provision", _env(tmp_path, warehouse_url, sandbox), tmp_path)
    try:
        orders = write_csv(tmp_path / "orders.csv", order_rows(5, seed=4))
        load_csv(engine, orders)  # sweeps at its start
        assert _runs(engine)["provision"] == ("running", None)
    finally:
        _kill(child)
        engine.dispose()
