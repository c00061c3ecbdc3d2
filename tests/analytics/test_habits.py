"""Per-customer statistics in SQL: exact figures for hand-made customers, on SQLite and MariaDB."""

from __future__ import annotations

import json
from datetime import date, datetime

import pandas as pd
import pytest
from sqlalchemy.engine import Engine

from analytics.config import AnalyticsConfig
from analytics.habits import compute_habits
from tests.analytics import synth
from tests.analytics.synth import Customer, Line, Order, paid

AS_OF = date(2025, 12, 31)
FLAT, CAR, COMM, ACC, SERV = "SKU-0", "SKU-1", "SKU-2", "SKU-3", "SKU-4"  # categories by index


def hand_made() -> tuple[list[Customer], list[Order]]:
    customers = [
        Customer("A", "Alice & Co", sugar_account_id="acc-A"),
        Customer("B", "Bob <b>", sugar_account_id=None),
        Customer("P", "Prospect Ltd", sugar_account_id="acc-P"),
        Customer("C", "Cancelled only"),
        Customer("D", "Future buyer"),
    ]
    orders = [
        # A: late payment (paid 11 days after due).
        Order(
            "A",
            datetime(2025, 1, 10, 10),
            [Line(FLAT, 1, 1000.0), Line(ACC, 2, 50.0)],
            payment_method="card",
            channel="web",
            **paid(date(2025, 1, 10), 41),
        ),
        # A: two orders on one day are one purchase day; paid on time / unpaid and overdue.
        Order(
            "A",
            datetime(2025, 3, 10, 9),
            [Line(SERV, 1, 200.0)],
            payment_method="transfer",
            channel="phone",
            **paid(date(2025, 3, 10), 10),
        ),
        Order(
            "A",
            datetime(2025, 3, 10, 15),
            [Line(ACC, 1, 60.0, discount=10.0)],
            payment_method="transfer",
            channel="web",
            invoiced_at=date(2025, 3, 10),
            due_at=date(2025, 4, 9),
        ),
        # A: cancelled: not a purchase at all.
        Order("A", datetime(2025, 5, 1, 12), [Line(FLAT, 5, 1000.0)], status="cancelled"),
        # A: returned: an order placed, worth nothing.
        Order("A", datetime(2025, 6, 1, 12), [Line(FLAT, 1, 800.0)], status="returned"),
        # A: after as_of: invisible.
        Order("A", datetime(2026, 1, 5, 12), [Line(CAR, 1, 999.0)]),
        # B: paid only after as_of: unpaid then; the first is overdue on as_of, the second not yet.
        Order(
            "B",
            datetime(2025, 11, 1, 12),
            [Line(COMM, 1, 300.0)],
            payment_method="cheque",
            channel="store",
            invoiced_at=date(2025, 11, 1),
            due_at=date(2025, 12, 1),
            paid_at=date(2026, 1, 10),
        ),
        Order(
            "B",
            datetime(2025, 12, 1, 12),
            [Line(COMM, 1, 100.0)],
            payment_method="cheque",
            channel="store",
            invoiced_at=date(2025, 12, 1),
            due_at=date(2025, 12, 31),
            paid_at=date(2026, 1, 15),
        ),
        Order("C", datetime(2025, 2, 1, 12), [Line(CAR, 1, 500.0)], status="cancelled"),
        Order("D", datetime(2026, 2, 1, 12), [Line(CAR, 1, 500.0)]),
    ]
    return customers, orders


@pytest.fixture
def habits(engine: Engine) -> pd.DataFrame:
    customers, orders = hand_made()
    with engine.begin() as conn:
        keys = synth.write(
            conn,
            synth.Warehouse(customers=customers, products=synth.default_products(), orders=orders),
        )
    with engine.connect() as conn:
        frame = compute_habits(conn, AS_OF, AnalyticsConfig()).customers
    by_id = {v: k for k, v in keys.items()}
    return frame.rename(index=by_id)


def test_counts_amounts_and_dates(habits: pd.DataFrame) -> None:
    a = habits.loc["A"]
    assert a["n_orders"] == 4  # 3 completed + 1 returned; the cancelled one and 2026 don't count
    assert a["total_amount"] == pytest.approx(1100 + 200 + 50)  # the returned order adds nothing
    assert a["avg_order_amount"] == pytest.approx(1350 / 4)
    assert a["avg_items_per_order"] == pytest.approx((3 + 1 + 1 + 1) / 4)
    assert a["first_order_at"] == pd.Timestamp("2025-01-10 10:00")
    assert a["last_order_at"] == pd.Timestamp("2025-06-01 12:00")
    assert a["recency_days"] == (AS_OF - date(2025, 6, 1)).days
    assert a["mean_days_between_orders"] == pytest.approx(
        (date(2025, 6, 1) - date(2025, 1, 10)).days / 3
    )
    tenure_months = ((AS_OF - date(2025, 1, 10)).days + 1) / (365.25 / 12)
    assert a["orders_per_month"] == pytest.approx(4 / tenure_months)
    assert a["repeat_purchase_days"] == 2  # 3 distinct purchase days


def test_categories_payment_and_channel(habits: pd.DataFrame) -> None:
    a = habits.loc["A"]
    assert a["top_category"] == "Flat screens"
    shares = json.loads(a["category_share"])
    assert list(shares) == ["Flat screens", "Services", "Accessories"]  # by share, descending
    assert shares == pytest.approx(
        {"Flat screens": 1000 / 1350, "Services": 200 / 1350, "Accessories": 150 / 1350}, abs=1e-4
    )
    # card: 2 orders (one returned), transfer: 2 orders -> tie on count, card has more spend.
    assert a["preferred_payment_method"] == "card"
    assert a["preferred_channel"] == "web"  # 3 of its 4 orders
    assert a["avg_payment_delay_days"] == pytest.approx((41 + 10) / 2)
    # Judged: the late-paid one, the on-time one, the unpaid overdue one.
    assert a["late_payment_share"] == pytest.approx(2 / 3)


def test_payments_are_seen_as_they_stood_on_as_of(habits: pd.DataFrame) -> None:
    b = habits.loc["B"]
    assert pd.isna(b["avg_payment_delay_days"])  # both paid in 2026
    assert b["late_payment_share"] == 1.0  # one overdue on as_of, one due that very day
    assert b["preferred_payment_method"] == "cheque"
    assert b["preferred_channel"] == "store"


def test_population_prospects_and_as_of(habits: pd.DataFrame) -> None:
    assert set(habits.index) == {"A", "B", "P", "C"}  # D buys only after as_of, has no account
    for prospect in ("P", "C"):
        row = habits.loc[prospect]
        assert row["n_orders"] == 0
        assert row["total_amount"] == 0
        assert pd.isna(row["r_score"])
        assert row["rfm_segment"] is None
    assert habits.loc["P", "sugar_account_id"] == "acc-P"


def test_model_inputs_follow_fader_hardie(habits: pd.DataFrame) -> None:
    a = habits.loc["A"]
    assert a["frequency"] == 2
    assert a["recency"] == pytest.approx((date(2025, 6, 1) - date(2025, 1, 10)).days / 7)
    assert a["T"] == pytest.approx((AS_OF - date(2025, 1, 10)).days / 7)
    # Repeat purchase days: 2025-03-10 (250) and 2025-06-01 (0, returned).
    assert a["monetary"] == pytest.approx(250 / 2)
    b = habits.loc["B"]
    assert b["frequency"] == 1
    assert b["monetary"] == pytest.approx(100)


def test_rfm_scores_are_tie_aware_quintiles(engine: Engine) -> None:
    with engine.begin() as conn:
        synth.build(conn)
    with engine.connect() as conn:
        frame = compute_habits(conn, AS_OF, AnalyticsConfig()).customers
    buyers = frame[frame["n_orders"] > 0]
    for score, column in (("f_score", "n_orders"), ("m_score", "total_amount")):
        assert buyers[score].between(1, 5).all()
        # Equal values, equal scores; larger values never score lower.
        assert (buyers.groupby(column)[score].nunique() == 1).all()
        ordered = buyers.sort_values(column)
        assert ordered[score].is_monotonic_increasing
    by_last = buyers.sort_values("last_order_at")
    assert by_last["r_score"].is_monotonic_increasing
    # Distinct amounts: five groups of (nearly) equal size.
    sizes = buyers["m_score"].value_counts().sort_index()
    assert list(sizes.index) == [1, 2, 3, 4, 5]
    assert sizes.max() - sizes.min() <= 1
