"""The real pipeline end to end: generated orders → SQLite warehouse → analytics → sandbox Sugar.

Also the reliability case of issue 9: Sugar unreachable for a whole run fails the push step with a
clear message, keeps the load of that run, and the next run pushes what was missed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from connectors.orders.config import CsvSourceConfig, SourcesConfig
from etl.schema import etl_run, fact_order
from sugar_bridge.config import ProjectConfig, load_config
from sugar_bridge.demo.generator import GeneratorOptions, write_orders_csv
from sugar_bridge.exceptions import ConfigError, PipelineStepFailed
from sugar_bridge.pipeline import sync
from sugar_bridge.provision.apply import apply
from sugar_bridge.runtime import Runtime
from sugar_bridge.sandbox import Sandbox
from sugar_bridge.settings import Settings, load_settings
from sugar_bridge.sugar import make_client
from tests.conftest import REPO

AS_OF = date(2026, 11, 23)
# The nightly sync of AS_OF (a sync for a past day would push nothing).
NIGHT = lambda: datetime.combine(AS_OF, time(22, 0), tzinfo=UTC)  # noqa: E731


def _settings(tmp_path: Path, sandbox: Sandbox) -> Settings:
    return load_settings(
        data_dir=tmp_path / "data",
        sugar_url=sandbox.base_url,
        sugar_password=sandbox.admin_password,
        sugar_max_retries=0,
        sugar_connect_timeout=2,
    )


@pytest.fixture
def config(tmp_path: Path) -> ProjectConfig:
    orders = tmp_path / "orders"
    write_orders_csv(orders / "orders-2026.csv",
                     GeneratorOptions(end=AS_OF, n_customers=150, bad_rows=True))  # fmt: skip
    example = load_config(REPO / "config" / "sugar-bridge.yaml")
    sources = SourcesConfig(inputs=[CsvSourceConfig(name="shop", path=orders)])
    return example.model_copy(update={"sources": sources})


def test_sync_runs_every_real_step_and_resumes_after_sugar_was_down(
    tmp_path: Path, config: ProjectConfig
) -> None:
    db = tmp_path / "sandbox.db"
    with Sandbox(db_path=db) as sandbox:
        settings = _settings(tmp_path, sandbox)
        with make_client(settings) as client:
            apply(client, config.sugar, passwords_file=tmp_path / "pw.tsv")
        first = sync(Runtime(settings, config, clock=NIGHT), as_of=AS_OF)
    # the example config extracts Sugar's CRM too (sugar_source.enabled): the crm step
    steps = ["extract", "validate", "load", "crm", "analyse", "push"]
    assert [s.name for s in first.steps] == steps
    crm = first.step("crm")
    assert crm is not None
    assert crm.counts["records_read"] >= 1
    assert first.rows_rejected == 13  # the deliberately bad rows, each with its reason
    assert first.status == "partial"
    load = first.step("load")
    push = first.step("push")
    assert load is not None
    assert push is not None
    assert load.counts["rows_loaded"] > 500
    assert push.counts["created"] > 100
    assert push.counts["matched"] == 3  # the example config's key accounts, by external id

    # A new order arrives; Sugar is down for the whole next run.
    extra = tmp_path / "orders" / "orders-2026-late.csv"
    lines = (tmp_path / "orders" / "orders-2026.csv").read_text(encoding="utf-8").splitlines()
    header, row = lines[0], lines[1].split(",")
    row[0], row[2] = "SO-LATE-1", "2026-11-23T10:00:00"
    extra.write_text(header + "\n" + ",".join(row) + "\n", encoding="utf-8")
    with pytest.raises(PipelineStepFailed) as err:
        sync(
            Runtime(settings, config, clock=NIGHT), as_of=AS_OF
        )  # the sandbox is stopped: nothing listens
    assert err.value.step == "push"  # the crm step before it was partial, not the end of the night
    assert err.value.transient
    engine = Runtime(settings, config, clock=NIGHT).connect_warehouse("write")
    with engine.connect() as conn:
        late = conn.execute(
            select(func.count()).where(fact_order.c.source_order_id == "SO-LATE-1")
        ).scalar()
        statuses = conn.execute(
            select(etl_run.c.status).where(etl_run.c.job == "sync").order_by(etl_run.c.run_id)
        ).scalars()
        assert list(statuses) == ["partial", "failed"]
    assert late == 1  # the load of the failed run is kept

    # Sugar is back: the next run loads nothing new and pushes what was missed.
    with Sandbox(db_path=db) as sandbox:
        third = sync(Runtime(_settings(tmp_path, sandbox), config, clock=NIGHT), as_of=AS_OF)
    third_load, third_push = third.step("load"), third.step("push")
    assert third_load is not None
    assert third_push is not None
    assert third_load.counts["rows_loaded"] == 0
    assert third_push.counts["updated"] >= 1
    assert third_push.counts["created"] == 0
    with engine.connect() as conn:
        crm_steps = [
            step["status"]
            for (details,) in conn.execute(
                select(etl_run.c.details).where(etl_run.c.job == "sync").order_by(etl_run.c.run_id)
            )
            for step in details["steps"]
            if step["name"] == "crm"
        ]
    assert crm_steps == ["ok", "partial", "ok"]  # Sugar down: partial, resumed the next night


def test_a_past_day_is_recomputed_but_pushed_only_when_asked(
    tmp_path: Path, config: ProjectConfig
) -> None:
    from etl.schema import analytics_run

    with Sandbox(db_path=tmp_path / "sandbox.db") as sandbox:
        settings = _settings(tmp_path, sandbox)
        with make_client(settings) as client:
            apply(client, config.sugar, passwords_file=tmp_path / "pw.tsv")
        sandbox.stats.reset()
        later = lambda: datetime.combine(AS_OF, time(22, 0), tzinfo=UTC) + timedelta(days=12)  # noqa: E731
        # Twelve days later, someone recomputes AS_OF: the figures are made and kept ...
        past = sync(Runtime(settings, config, clock=later), as_of=AS_OF)
        push = past.step("push")
        assert push is not None
        assert push.status == "skipped"
        assert "--push-past" in push.note
        assert sandbox.stats.total_writes == 0  # ... and Sugar is not touched
        engine = Runtime(settings, config).connect_warehouse("write")
        with engine.connect() as conn:
            kinds = conn.execute(select(analytics_run.c.kind)).scalars().all()
            shown = conn.execute(text("SELECT COUNT(*) FROM customer_habits")).scalar()
        assert kinds == ["backdated"]
        assert shown == 0  # no current run yet: nothing for the push to send
        # Asked explicitly, the past day is sent.
        pushed = sync(Runtime(settings, config, clock=later), as_of=AS_OF, push_past=True)
        push = pushed.step("push")
        assert push is not None
        assert push.status != "skipped"
        assert push.counts["created"] > 100
        # A day after today is refused before anything runs.
        with pytest.raises(ConfigError, match="is after today"):
            sync(Runtime(settings, config, clock=NIGHT), as_of=AS_OF + timedelta(days=1))
