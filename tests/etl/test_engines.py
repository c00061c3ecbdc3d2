"""The same order files give the same warehouse and the same statistics on every engine.

Each server (marker ``mysql``: MariaDB, marker ``postgres``: PostgreSQL) is compared with a SQLite
warehouse fed the same files: two nights of loads (new orders, then re-exported ones whose
payment or status changed, which the merge updates, and a rejected row), then an analytics run.
Everything but the surrogate keys and run times must be equal, to the last bit of every float.
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from analytics import run_analytics
from analytics.config import AnalyticsConfig
from etl import load_csv
from etl.db import create_engine_for, ensure_current
from etl.schema import analytics_run, customer_metrics, etl_reject, etl_run, fact_order
from tests.etl.data import fingerprint, order_rows, write_csv
from tests.etl.fixtures import BACKENDS, server_warehouse

SERVERS = [backend for backend in BACKENDS if not isinstance(backend, str)]
AS_OF = date(2024, 12, 31)


def _nights(folder: Path) -> tuple[Path, Path]:
    """Two nights of exports: varied orders, then some re-exported with changes."""
    rows = order_rows(450, seed=11)
    for row in rows:
        n = int(row["order_id"][1:])
        if n % 9 == 0:
            row["status"] = "cancelled"
        elif n % 11 == 0:
            row["status"] = "returned"
        if n % 7 == 0:
            row["paid_at"] = ""  # unpaid (late once past due)
        if n % 5 == 0:
            row["channel"] = "store"
            row["payment_method"] = "transfer"
    rows[3]["quantity"] = "-1"  # one rejected row
    first = write_csv(folder / "orders-night1.csv", rows)
    again = []
    for row in rows:
        n = int(row["order_id"][1:])
        if n % 7 == 0 and n % 2 == 0:
            again.append(row | {"paid_at": row["due_at"]})  # the payment came in
        elif n % 13 == 0:
            again.append(row | {"status": "returned"})
    second = write_csv(folder / "orders-night2.csv", again)
    return first, second


def _diff(a: Any, b: Any, path: str = "", tol: float = 0.0) -> list[str]:
    """Where ``a`` and ``b`` differ, as readable paths (floats within ``tol``, relative)."""
    if isinstance(a, float) and isinstance(b, float):
        same = math.isclose(a, b, rel_tol=tol, abs_tol=tol) or (math.isnan(a) and math.isnan(b))
    elif isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{path}: keys {sorted(a.keys() ^ b.keys())}"]
        return [d for k in a for d in _diff(a[k], b[k], f"{path}/{k}", tol)]
    elif isinstance(a, list | tuple) and isinstance(b, list | tuple) and len(a) == len(b):
        pairs = enumerate(zip(a, b, strict=True))
        return [d for i, (x, y) in pairs for d in _diff(x, y, f"{path}[{i}]", tol)]
    else:
        same = bool(a == b) and type(a) is type(b)
    return [] if same else [f"{path}: {a!r} != {b!r}"]


def _state(engine: Engine) -> dict[str, Any]:
    """What the loads and the analytics left, without surrogate keys and times."""
    skip = {"run_id", "customer_key"}
    with engine.connect() as conn:
        runs = conn.execute(
            select(
                etl_run.c.job,
                etl_run.c.status,
                etl_run.c.rows_read,
                etl_run.c.rows_loaded,
                etl_run.c.rows_rejected,
                etl_run.c.watermark_to,
            ).order_by(etl_run.c.run_id)
        ).all()
        rejects = conn.execute(
            select(etl_reject.c.source_key, etl_reject.c.rule, etl_reject.c.reason).order_by(
                etl_reject.c.source_key
            )
        ).all()
        orders = conn.execute(
            select(
                fact_order.c.source_order_id,
                fact_order.c.status,
                fact_order.c.paid_at,
                fact_order.c.lateness_days,
                fact_order.c.total_amount,
                fact_order.c.content_hash,
            ).order_by(fact_order.c.source_order_id)
        ).all()
        run = conn.execute(select(analytics_run)).mappings().one()
        metrics = {
            row["customer_id"]: {k: v for k, v in row.items() if k not in skip}
            for row in conn.execute(select(customer_metrics)).mappings()
        }
    return {
        "fingerprint": fingerprint(engine),
        "runs": [tuple(r) for r in runs],
        "rejects": [tuple(r) for r in rejects],
        "orders": [tuple(r) for r in orders],
        "analytics_run": {k: run[k] for k in ("as_of", "n_customers", "n_buyers", "time_unit")},
        "portfolio": run["portfolio"],
        "models": run["models"],
        "metrics": metrics,
    }


def _feed(engine: Engine, first: Path, second: Path) -> dict[str, Any]:
    night1 = load_csv(engine, first)
    night2 = load_csv(engine, second)
    info = run_analytics(engine, AnalyticsConfig(), AS_OF)
    # What the inputs are meant to exercise: a reject, merged updates, fitted models.
    assert night1.rejects_by_rule == {"quantity_not_positive": 1}
    assert night2.orders_updated > 20
    assert night2.orders_inserted == 0
    assert info.clv_error is None
    return _state(engine)


@pytest.mark.parametrize("kind", SERVERS)
def test_load_and_statistics_are_identical_to_sqlite(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    first, second = _nights(tmp_path / "exports")
    reference_engine = create_engine_for(f"sqlite:///{tmp_path / 'warehouse.db'}")
    ensure_current(reference_engine)
    try:
        reference = _feed(reference_engine, first, second)
    finally:
        reference_engine.dispose()
    url, _ = server_warehouse(request, kind)
    engine = create_engine_for(url)
    try:
        state = _feed(engine, first, second)
    finally:
        engine.dispose()
        server_warehouse(request, kind)  # emptied for the next test

    assert {o[1] for o in reference["orders"]} == {"completed", "cancelled", "returned"}
    stages = {m["lifecycle_stage"] for m in reference["metrics"].values()}
    assert len(stages) >= 3, stages

    # Bit for bit, but for the portfolio's sums over customers, which pandas adds in the order
    # the engine returned the rows.
    portfolio = state.pop("portfolio"), reference.pop("portfolio")
    assert _diff(state, reference) == []
    assert _diff(*portfolio, path="portfolio", tol=1e-12) == []
