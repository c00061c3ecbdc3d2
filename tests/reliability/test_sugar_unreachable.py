"""Reliability: Sugar unreachable for a whole run of ``sugar-bridge sync``.

The run fails its push step with a clear message naming the step (exit code 1), the warehouse
load and the analytics of the same run are kept, and the next run — Sugar back — pushes what was
missed, without loading the orders again. (The pipeline's own tests cover the library side, with
stand-in steps and with the real ones; this one goes through the CLI and its exit code.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from connectors.sugar.client import SugarClient
from etl.db import create_engine_for
from etl.schema import etl_run, fact_order
from sugar_bridge.cli.app import app
from tests.etl.data import order_rows, write_csv
from tests.sugar_bridge.push.conftest import make_sandbox

CONFIG = """\
sources:
  inputs:
    - {name: shop, type: csv, path: orders}
push:
  target_lists: {enabled: false}
"""


def test_unreachable_sugar_fails_the_push_keeps_the_load_and_the_next_run_catches_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_csv(tmp_path / "orders" / "orders-1.csv", order_rows(120, seed=3))
    (tmp_path / "sugar-bridge.yaml").write_text(CONFIG, encoding="utf-8")
    sb = make_sandbox()  # the segment fields provisioned
    sb.stop()  # Sugar down: connections to its port are refused
    monkeypatch.setenv("SUGAR_BRIDGE_CONFIG", str(tmp_path / "sugar-bridge.yaml"))
    monkeypatch.setenv("SUGAR_BRIDGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SUGAR_BRIDGE_SUGAR_URL", sb.base_url)
    monkeypatch.setenv("SUGAR_BRIDGE_SUGAR_PASSWORD", sb.admin_password)
    monkeypatch.setenv("SUGAR_BRIDGE_SUGAR_MAX_RETRIES", "1")
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()
    try:
        down = runner.invoke(app, ["sync", "--as-of", "2024-12-31", "--push-past"])
        assert down.exit_code == 1, down.output
        text = " ".join(down.output.split())
        assert "push" in text
        assert "failed" in text
        assert "127.0.0.1" in text or "connect" in text.lower(), text  # says what went wrong
        assert "Traceback" not in text
        assert sb.admin_password not in text

        engine = create_engine_for(f"sqlite:///{tmp_path / 'data' / 'warehouse.db'}")
        with engine.connect() as conn:
            runs = {
                (r.job, r.status) for r in conn.execute(select(etl_run.c.job, etl_run.c.status))
            }
            orders = conn.scalar(select(func.count()).select_from(fact_order))
            sync_error = conn.scalar(select(etl_run.c.error).where(etl_run.c.job == "sync"))
        assert ("etl", "ok") in runs, "the load of the failed run is kept"
        assert ("analytics", "ok") in runs
        assert ("sync", "failed") in runs
        assert orders == 120
        assert sync_error is not None
        assert "push" in sync_error

        sb.start()  # Sugar is back, same port and state
        up = runner.invoke(app, ["sync", "--as-of", "2024-12-31", "--push-past"])
        assert up.exit_code in (0, 3), up.output
        with engine.connect() as conn:
            etl_runs = list(
                conn.execute(
                    select(etl_run.c.status, etl_run.c.rows_loaded)
                    .where(etl_run.c.job == "etl")
                    .order_by(etl_run.c.run_id)
                )
            )
            customers = conn.scalar(
                select(func.count()).select_from(
                    select(fact_order.c.customer_key).distinct().subquery()
                )
            )
        assert etl_runs[-1].rows_loaded == 0, "the second run did not load the orders again"
        with SugarClient(sb.base_url, "admin", sb.admin_password) as client:
            pushed = client.module("Accounts").count()
        assert pushed == customers, "the next run pushed what the failed one missed"
        engine.dispose()
    finally:
        sb.close()
