"""The sync pipeline's orchestration: steps in order, failures named, the run recorded, resumable.

These tests drive ``sync`` with stages of their own (the real ETL, analytics and push have their
own tests; ``test_sync_real.py`` runs them together).
"""

from __future__ import annotations

import threading
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from etl.schema import etl_run
from sugar_bridge.config import ProjectConfig
from sugar_bridge.exceptions import LockHeldError, PipelineStepFailed, RunCancelled
from sugar_bridge.pipeline import StageSpec, StepContext, StepInfo, sync
from sugar_bridge.runtime import Runtime
from sugar_bridge.scheduler.locks import JobLock
from sugar_bridge.settings import load_settings

AS_OF = date(2026, 11, 23)


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    return Runtime(load_settings(data_dir=tmp_path / "data"), ProjectConfig())


@pytest.fixture
def engine(runtime: Runtime) -> Engine:
    return runtime.connect_warehouse("write")


class Recorder:
    """Fake stages that record calls; ``fail`` makes one step raise once."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.fail: dict[str, Exception] = {}
        self.rejected = 0
        self.push_failed = 0

    def etl(self, ctx: StepContext) -> list[StepInfo]:
        self.calls.append("etl")
        infos = [StepInfo("extract", counts={"rows_read": 120}, seconds=0.1)]
        if "validate" in self.fail:
            raise PipelineStepFailed("validate", self.fail.pop("validate"))
        infos.append(StepInfo("validate", counts={"valid": 120 - self.rejected,
                                                  "rejected": self.rejected}))  # fmt: skip
        infos.append(StepInfo("load", counts={"rows_loaded": 120 - self.rejected}, run_id=7))
        return infos

    def analyse(self, ctx: StepContext) -> list[StepInfo]:
        self.calls.append("analyse")
        if "analyse" in self.fail:
            raise self.fail.pop("analyse")
        return [StepInfo("analyse", counts={"customers": 40})]

    def push(self, ctx: StepContext) -> list[StepInfo]:
        self.calls.append(f"push(dry_run={ctx.dry_run})")
        if "push" in self.fail:
            raise self.fail.pop("push")
        return [StepInfo("push", counts={"updated": 3, "failed": self.push_failed})]

    def stages(self) -> list[StageSpec]:
        return [
            StageSpec(("extract", "validate", "load"), self.etl),
            StageSpec(("analyse",), self.analyse),
            StageSpec(("push",), self.push),
        ]


def _runs(engine: Engine) -> list[dict[str, object]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(etl_run).where(etl_run.c.job == "sync").order_by(etl_run.c.run_id)
        )
        return [dict(r) for r in rows.mappings()]


def test_steps_run_in_order_and_the_run_is_recorded(runtime: Runtime, engine: Engine) -> None:
    rec = Recorder()
    info = sync(runtime, as_of=AS_OF, engine=engine, stages=rec.stages())
    assert [s.name for s in info.steps] == ["extract", "validate", "load", "analyse", "push"]
    assert info.status == "ok"
    assert rec.calls == ["etl", "analyse", "push(dry_run=False)"]
    (run,) = _runs(engine)
    assert run["run_id"] == info.run_id
    assert run["status"] == "ok"
    assert run["rows_read"] == 120
    assert run["rows_loaded"] == 120
    assert run["finished_at"] is not None
    details = run["details"]
    assert isinstance(details, dict)
    assert details["as_of"] == "2026-11-23"
    assert [s["name"] for s in details["steps"]] == [s.name for s in info.steps]
    assert details["steps"][2]["run_id"] == 7
    assert all(s["seconds"] >= 0 for s in details["steps"])


def test_dry_run_reaches_the_push_step_as_dry_run(runtime: Runtime, engine: Engine) -> None:
    rec = Recorder()
    info = sync(runtime, as_of=AS_OF, dry_run=True, engine=engine,
                stages=rec.stages())  # fmt: skip
    assert rec.calls[-1] == "push(dry_run=True)"
    assert info.dry_run
    assert _runs(engine)[0]["details"]["dry_run"] is True  # type: ignore[index]


def test_a_failing_push_is_named_keeps_the_load_and_the_next_run_resumes(
    runtime: Runtime, engine: Engine
) -> None:
    rec = Recorder()
    rec.fail["push"] = ConnectionError("Sugar unreachable")
    with pytest.raises(PipelineStepFailed) as err:
        sync(runtime, as_of=AS_OF, engine=engine, stages=rec.stages())
    assert err.value.step == "push"
    assert "step 'push' failed: Sugar unreachable" in str(err.value)
    failed = _runs(engine)[0]
    assert failed["status"] == "failed"
    assert failed["rows_loaded"] == 120  # the load of the same run is kept
    assert "push" in str(failed["error"])
    assert failed["details"]["failed_step"] == "push"  # type: ignore[index]
    assert [s["name"] for s in failed["details"]["steps"]] == [  # type: ignore[index]
        "extract", "validate", "load", "analyse"]  # fmt: skip
    # The lock was released; the next run goes through every step again.
    again = sync(runtime, as_of=AS_OF, engine=engine, stages=rec.stages())
    assert again.status == "ok"
    assert [r["status"] for r in _runs(engine)] == ["failed", "ok"]


def test_failure_inside_a_stage_names_the_exact_step(runtime: Runtime, engine: Engine) -> None:
    rec = Recorder()
    rec.fail["validate"] = ValueError("bad header")
    with pytest.raises(PipelineStepFailed) as err:
        sync(runtime, as_of=AS_OF, engine=engine, stages=rec.stages())
    assert err.value.step == "validate"
    rec.fail["analyse"] = ZeroDivisionError()
    with pytest.raises(PipelineStepFailed) as err2:
        sync(runtime, as_of=AS_OF, engine=engine, stages=rec.stages())
    assert err2.value.step == "analyse"
    assert "ZeroDivisionError" in str(_runs(engine)[-1]["error"])


def test_transient_cause_makes_the_failure_transient(runtime: Runtime, engine: Engine) -> None:
    class Down(Exception):
        transient = True

    rec = Recorder()
    rec.fail["push"] = Down("timeout")
    with pytest.raises(PipelineStepFailed) as err:
        sync(runtime, as_of=AS_OF, engine=engine, stages=rec.stages())
    assert err.value.transient


@pytest.mark.parametrize(("rejected", "push_failed"), [(3, 0), (0, 2)])
def test_rejects_or_failed_pushes_make_the_run_partial(
    runtime: Runtime, engine: Engine, rejected: int, push_failed: int
) -> None:
    rec = Recorder()
    rec.rejected, rec.push_failed = rejected, push_failed
    info = sync(runtime, as_of=AS_OF, engine=engine, stages=rec.stages())
    assert info.status == "partial"
    assert (info.rows_rejected, info.push_failures) == (rejected, push_failed)
    assert _runs(engine)[0]["rows_rejected"] == rejected


def test_a_stop_request_is_honoured_between_steps(runtime: Runtime, engine: Engine) -> None:
    rec = Recorder()
    cancel = threading.Event()
    real_etl = rec.etl

    def etl_then_stop(ctx: StepContext) -> list[StepInfo]:
        infos = real_etl(ctx)
        cancel.set()  # SIGTERM arrives while the load runs: the load finishes
        return infos

    stages = [StageSpec(("extract", "validate", "load"), etl_then_stop), *rec.stages()[1:]]
    with pytest.raises(RunCancelled, match="before step 'analyse'"):
        sync(runtime, as_of=AS_OF, engine=engine, stages=stages, cancel=cancel)
    assert rec.calls == ["etl"]
    run = _runs(engine)[0]
    assert run["status"] == "cancelled"
    assert run["rows_loaded"] == 120


def test_a_second_sync_is_refused_while_one_runs(runtime: Runtime, engine: Engine) -> None:
    with (
        JobLock(engine, "sync", purpose="scheduler"),
        pytest.raises(LockHeldError, match="held by scheduler"),
    ):
        sync(runtime, as_of=AS_OF, engine=engine, stages=Recorder().stages())
    assert _runs(engine) == []


def test_a_killed_sync_left_running_is_marked_interrupted_by_the_next(
    runtime: Runtime, engine: Engine
) -> None:
    from sqlalchemy import update

    first = sync(runtime, as_of=AS_OF, engine=engine, stages=Recorder().stages())
    with engine.begin() as conn:  # as if the process had been killed mid-run
        conn.execute(
            update(etl_run).where(etl_run.c.run_id == first.run_id).values(status="running")
        )
    sync(runtime, as_of=AS_OF, engine=engine, stages=Recorder().stages())
    assert [r["status"] for r in _runs(engine)] == ["interrupted", "ok"]


def test_a_sync_prunes_the_history_older_than_the_window(tmp_path: Path, engine: Engine) -> None:
    from datetime import timedelta

    from sqlalchemy import insert

    from etl.runs import utcnow

    old = utcnow() - timedelta(days=10)
    with engine.begin() as conn:  # an etl run and a sync of ten days ago
        for job in ("etl", "sync"):
            conn.execute(
                insert(etl_run).values(
                    job=job, started_at=old, finished_at=old, status="ok", rows_read=0,
                    rows_loaded=0, rows_rejected=0,
                )
            )  # fmt: skip
    week = load_settings(data_dir=tmp_path / "data", history_days=7)
    first = sync(
        Runtime(week, ProjectConfig()), as_of=AS_OF, engine=engine, stages=Recorder().stages()
    )
    with engine.connect() as conn:
        left = [(r.job, r.run_id) for r in conn.execute(select(etl_run.c.job, etl_run.c.run_id))]
    # The old sync went (this one is newer); the old etl run stays: still the newest of its job.
    assert sorted(left) == sorted([("etl", 1), ("sync", first.run_id)])


def test_sync_loads_the_rates_and_counts_the_orders_without_one(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from sugar_bridge.pipeline import analytics_stage, etl_stage
    from tests.etl.test_fx import _orders

    rates = tmp_path / "rates.csv"
    rates.write_text("date,currency,rate\n2026-01-02,USD,1.1\n2026-01-02,GBP,zero\n")
    config = ProjectConfig.model_validate(
        {
            "sources": {"inputs": [{"name": "shop", "path": str(_orders(tmp_path / "in"))}]},
            "analytics": {"currency": {"reporting": "EUR", "rates": {"csv": str(rates)}}},
        }
    )
    runtime = Runtime(
        load_settings(data_dir=tmp_path / "data"),
        config,
        clock=lambda: datetime(2026, 3, 31, 12, tzinfo=UTC),
    )
    engine = runtime.connect_warehouse("write")
    stages = [
        StageSpec(("extract", "validate", "load"), etl_stage),
        StageSpec(("analyse",), analytics_stage),
    ]
    info = sync(runtime, as_of=date(2026, 3, 31), engine=engine, stages=stages)
    validate, load, analyse = (info.step(n) for n in ("validate", "load", "analyse"))
    assert validate is not None
    assert load is not None
    assert analyse is not None
    assert validate.counts["rates_rejected"] == 1
    assert info.rows_rejected == 1
    assert info.status == "partial"  # a rejected rate is a rejected row
    assert load.counts["rates_loaded"] == 1
    assert load.counts["orders_without_rate"] == 1  # the JPY order
    assert "1 in JPY" in load.note
    assert analyse.counts["orders_without_rate"] == 1
