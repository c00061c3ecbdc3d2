"""The models' input computed by the warehouse (``analytics.summary``) is the one computed in
Python from the same orders (``analytics.clv.rfm_summary``) and the one of the habit statistics,
on SQLite, MariaDB and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import event, select, update
from sqlalchemy.engine import Engine

from analytics.btyd import group_patterns
from analytics.clv import rfm_summary
from analytics.config import AnalyticsConfig
from analytics.habits import compute_habits
from analytics.model_input import ModelInput, day_numbers
from analytics.run import model_summary
from analytics.summary import read_model_input
from etl.schema import dim_customer, fact_order
from tests.analytics import synth
from tests.analytics.conftest import make_engine
from tests.analytics.synth import Customer, Line, Order

AS_OF = date(2025, 6, 30)  # inside the synthetic history: later orders must not count


def edge_cases() -> tuple[list[Customer], list[Order]]:
    """Two orders on one day (one purchase day), a returned and a cancelled order, a customer
    whose first purchase is on as_of and one who only buys after it."""
    customers = [Customer(c, f"Edge {c}") for c in ("E1", "E2", "E3", "E4")]
    orders = [
        Order("E1", datetime(2024, 3, 1, 9), [Line("SKU-0", 1, 100.0)]),
        Order("E1", datetime(2024, 3, 1, 17), [Line("SKU-1", 2, 30.5)]),  # same day
        Order("E1", datetime(2024, 5, 2, 10), [Line("SKU-2", 1, 80.0)], status="returned"),
        Order("E1", datetime(2024, 7, 9, 10), [Line("SKU-3", 3, 19.99)]),
        Order("E1", datetime(2024, 8, 1, 10), [Line("SKU-3", 1, 500.0)], status="cancelled"),
        Order("E2", datetime(2025, 6, 30, 23, 59), [Line("SKU-0", 1, 10.0)]),  # on as_of
        Order("E3", datetime(2025, 7, 1, 0, 0), [Line("SKU-0", 1, 10.0)]),  # after as_of
        Order("E4", datetime(2023, 2, 1, 12), [Line("SKU-4", 1, 0.0)]),  # a free one
        Order("E4", datetime(2024, 2, 1, 12), [Line("SKU-4", 1, 12.345)]),
    ]
    return customers, orders


@pytest.fixture
def warehouse(engine: Engine) -> tuple[Engine, list[Order]]:
    extra, orders = edge_cases()
    with engine.begin() as conn:
        synth.build(conn, extra, orders)
    _, random_ = synth.random_orders(300, date(2023, 1, 1), date(2025, 12, 31))
    return engine, [*orders, *random_]


def transactions(orders: list[Order]) -> pd.DataFrame:
    """One row per purchase as the warehouse holds it: cancelled orders left out, returned ones
    worth nothing, amounts to the cent."""

    def amount(order: Order) -> float:
        lines = (round(li.quantity * li.unit_price - li.discount, 2) for li in order.lines)
        return 0.0 if order.status == "returned" else round(sum(lines), 2)

    rows = [
        {"customer": o.customer, "ordered_at": o.ordered_at, "amount": amount(o)}
        for o in orders
        if o.status != "cancelled"
    ]
    return pd.DataFrame(rows)


def by_customer(engine: Engine, summary: ModelInput) -> pd.DataFrame:
    with engine.connect() as conn:
        rows = conn.execute(select(dim_customer.c.customer_key, dim_customer.c.source_customer_id))
        ids = {key: source_id for key, source_id in rows}
    return pd.DataFrame(
        {
            "frequency": summary.frequency,
            "recency": summary.recency,
            "T": summary.age,
            "monetary": summary.monetary,
        },
        index=pd.Index([ids[k] for k in summary.customer_key], name="customer"),
    ).sort_index()


@pytest.mark.parametrize("time_unit", ["weeks", "days"])
def test_sql_summary_equals_the_python_summary(
    warehouse: tuple[Engine, list[Order]], time_unit: str
) -> None:
    engine, orders = warehouse
    with engine.connect() as conn:
        sql = by_customer(engine, read_model_input(conn, AS_OF, time_unit))
    python = rfm_summary(
        transactions(orders),
        customer_col="customer",
        date_col="ordered_at",
        amount_col="amount",
        as_of=AS_OF,
        time_unit=time_unit,
    ).sort_index()
    assert list(sql.index) == list(python.index)  # the same buyers: not E3 (after as_of)
    assert "E3" not in sql.index
    assert "E2" in sql.index
    for column in ("frequency", "recency", "T"):
        np.testing.assert_array_equal(sql[column].to_numpy(), python[column].to_numpy())
    # The warehouse adds cents exactly (ROUND(SUM(..), 2)), Python as binary floats.
    np.testing.assert_allclose(sql["monetary"], python["monetary"], rtol=0, atol=1e-9)
    e1 = sql.loc["E1"]
    unit = 7.0 if time_unit == "weeks" else 1.0
    assert e1["frequency"] == 2  # 1 March (two orders), 2 May (returned), 9 July; not cancelled
    assert e1["recency"] == (date(2024, 7, 9) - date(2024, 3, 1)).days / unit
    assert e1["T"] == (AS_OF - date(2024, 3, 1)).days / unit
    assert e1["monetary"] == pytest.approx((0.0 + 59.97) / 2)  # the returned order is worth 0
    assert sql.loc["E2", "T"] == 0.0  # first bought on as_of: the fit leaves it out


def test_sql_summary_equals_the_habits_model_inputs(warehouse: tuple[Engine, list[Order]]) -> None:
    engine, _ = warehouse
    with engine.connect() as conn:
        sql = read_model_input(conn, AS_OF, "weeks")
        customers = compute_habits(conn, AS_OF, AnalyticsConfig()).customers
    habits = model_summary(customers)
    order = np.argsort(sql.customer_key)
    other = np.argsort(habits.customer_key)
    np.testing.assert_array_equal(sql.customer_key[order], habits.customer_key[other])
    for name in ("frequency", "recency", "age", "monetary"):
        np.testing.assert_array_equal(getattr(sql, name)[order], getattr(habits, name)[other])


def test_a_day_without_an_exchange_rate_is_a_purchase_but_not_a_spend(
    warehouse: tuple[Engine, list[Order]],
) -> None:
    """E1's 2 May order lacks a rate (reporting_amount NULL, etl.fx): it is still a purchase day,
    but its spend is unknown, so the mean repeat-day spend is that of 9 July alone, by the fast
    path of `analytics clv` and by the analytics run alike (was 59.97 / 2 by the fast path)."""
    engine, _ = warehouse
    with engine.begin() as conn:
        conn.execute(
            update(fact_order)
            .where(fact_order.c.ordered_at == datetime(2024, 5, 2, 10))
            .values(reporting_amount=None)
        )
    with engine.connect() as conn:
        sql = read_model_input(conn, AS_OF, "weeks")
        customers = compute_habits(conn, AS_OF, AnalyticsConfig()).customers
    e1 = by_customer(engine, sql).loc["E1"]
    assert e1["frequency"] == 2
    assert e1["monetary"] == pytest.approx(59.97)
    habits = model_summary(customers)
    order, other = np.argsort(sql.customer_key), np.argsort(habits.customer_key)
    np.testing.assert_array_equal(sql.monetary[order], habits.monetary[other])


def test_no_buyer_gives_an_empty_summary(engine: Engine) -> None:
    with engine.connect() as conn:
        summary = read_model_input(conn, AS_OF)
    assert len(summary) == 0
    assert summary.frequency.dtype == np.float64


def test_day_numbers_are_calendar_days() -> None:
    days = [date(1970, 1, 1), date(1997, 1, 1), date(2000, 2, 29), date(2024, 12, 31)]
    keys = [int(d.strftime("%Y%m%d")) for d in days]
    expected = [d.toordinal() - date(1970, 1, 1).toordinal() for d in days]
    assert day_numbers(keys).tolist() == expected


def _pandas_group_patterns(
    *columns: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The hash group-by group_patterns replaced (pandas), as the reference."""
    frame = pd.DataFrame({str(i): col for i, col in enumerate(columns)})
    inverse = frame.groupby(list(frame.columns), sort=False, dropna=False).ngroup().to_numpy()
    n_groups = int(inverse.max()) + 1
    first = np.full(n_groups, -1)
    first[inverse[::-1]] = np.arange(inverse.size - 1, -1, -1)
    unique = np.column_stack(columns)[first]
    counts = np.bincount(inverse, minlength=n_groups).astype(float)
    order = np.lexsort(unique.T[::-1])
    rank = np.empty(n_groups, dtype=np.intp)
    rank[order] = np.arange(n_groups)
    return unique[order], counts[order], rank[inverse]


@pytest.mark.parametrize("n", [1, 2, 7, 5000])
def test_group_patterns_matches_a_hash_group_by(n: int) -> None:
    rng = np.random.default_rng(n)
    x = rng.integers(0, 4, n).astype(float)
    tx = rng.integers(0, 30, n) / 7
    age = rng.integers(0, 12, n) / 7
    tx[rng.random(n) < 0.1] = np.nan  # NaNs are one value
    age[rng.random(n) < 0.1] = -0.0  # and -0.0 is 0.0
    got = group_patterns(x, tx, age)
    want = _pandas_group_patterns(x, tx, age)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_array_equal(got[2], want[2])
    np.testing.assert_array_equal(got[0][got[2]], np.column_stack([x, tx, age]))


def test_on_sqlite_the_summary_is_computed_in_one_statement_into_a_table_then_dropped(
    tmp_path: Path,
) -> None:
    # One INSERT ... SELECT: SQLite runs it without the GIL, beside `analytics clv`'s imports.
    # (The servers compute it in their own process: nothing of the kind there.)
    engine = next(make_engine("sqlite", tmp_path))
    with engine.begin() as conn:
        synth.build(conn, *edge_cases())
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with engine.connect() as conn:
        first = read_model_input(conn, AS_OF)
        again = read_model_input(conn, AS_OF)  # the same connection: the table was dropped
        left = conn.exec_driver_sql("SELECT name FROM sqlite_temp_master").all()
    assert left == []
    assert sum(s.startswith("INSERT INTO model_input") for s in statements) == 2
    assert len(first) == len(again) > 0
    for name in ("customer_key", "frequency", "recency", "age", "monetary"):
        np.testing.assert_array_equal(getattr(first, name), getattr(again, name))
    engine.dispose()
