"""The statistics' sharded shapes (what a Spider warehouse runs: each fact table grouped on its
own, then joined; ``analytics.summary.purchase_days_query``, ``analytics.habits.line_spend``)
give the figures of the single-server shapes, on every engine.

A Spider warehouse takes them by itself (``etl.spider.facts_on_spider``); here both shapes run
on the same warehouse, with the cases that change a figure: two orders on one day, a returned
and a cancelled order, an order without a usable exchange rate, orders converted from another
currency (the line amounts divided by the rate) and an order with two lines of one product.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine

from analytics.habits import category_spend_query, order_stats_query
from analytics.summary import cutoff, model_summary_query
from etl.schema import fact_order
from tests.analytics import synth
from tests.analytics.synth import Customer, Line, Order
from tests.analytics.test_summary import AS_OF, edge_cases

RATE = Decimal("1.083700")


@pytest.fixture
def warehouse(engine: Engine) -> Engine:
    extra, orders = edge_cases()
    extra.append(Customer("F1", "Foreign"))
    orders += [
        Order(
            "F1",
            datetime(2024, 4, 2, 9),
            [Line("SKU-0", 3, 19.99), Line("SKU-0", 1, 7.01)],
            order_id="F1-a",
        ),
        Order("F1", datetime(2024, 4, 2, 15), [Line("SKU-1", 1, 1234.56)], order_id="F1-b"),
        Order(
            "F1",
            datetime(2025, 1, 5, 9),
            [Line("SKU-2", 2, 0.35), Line("SKU-3", 7, 3.33)],
            order_id="F1-c",
        ),
    ]
    with engine.begin() as conn:
        synth.build(conn, extra, orders)
        # F1's orders are in another currency, converted at RATE as etl.fx converts them
        conn.execute(
            update(fact_order)
            .where(fact_order.c.source_order_id.in_(("F1-a", "F1-b", "F1-c")))
            .values(
                fx_rate=RATE,
                fx_rate_date=date(2024, 4, 1),
                reporting_amount=fact_order.c.total_amount / RATE,
            )
        )
        # E1's 2 May order lacks a rate: a purchase day without a spend
        conn.execute(
            update(fact_order)
            .where(fact_order.c.ordered_at == datetime(2024, 5, 2, 10))
            .values(reporting_amount=None)
        )
    return engine


def _rows(engine: Engine, query: Any) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(query).mappings()]
    out = []
    for row in rows:
        # The engines' types differ between the shapes (SUM of counts is a DECIMAL on
        # MariaDB): figures compared as numbers, money to the cent as computed.
        out.append({k: float(v) if isinstance(v, Decimal | int) else v for k, v in row.items()})
    return sorted(out, key=lambda r: (r["customer_key"], str(r.get("category"))))


def test_the_models_input_is_the_same_in_both_shapes(warehouse: Engine) -> None:
    plain = _rows(warehouse, model_summary_query(AS_OF))
    sharded = _rows(warehouse, model_summary_query(AS_OF, sharded=True))
    assert len(plain) > 200
    assert sharded == plain


def test_the_order_statistics_are_the_same_in_both_shapes(warehouse: Engine) -> None:
    window_start = cutoff(AS_OF) - timedelta(days=180)
    plain = _rows(warehouse, order_stats_query(AS_OF, window_start))
    sharded = _rows(warehouse, order_stats_query(AS_OF, window_start, sharded=True))
    assert {r["n_priced_days"] < r["n_days"] for r in plain} == {False, True}
    assert sharded == plain


def test_the_category_spend_is_the_same_in_both_shapes(warehouse: Engine) -> None:
    plain = _rows(warehouse, category_spend_query(AS_OF))
    sharded = _rows(warehouse, category_spend_query(AS_OF, sharded=True))
    assert len(plain) > 300
    assert sharded == plain
