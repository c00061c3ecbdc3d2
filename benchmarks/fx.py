"""Currency conversion (``etl.fx.convert_orders``) on a warehouse of N orders in four currencies.

    python -m benchmarks.fx [ORDERS] [--url URL]

Builds a scratch warehouse (SQLite in a temp dir by default; ``--url`` for a server: its tables
are dropped and recreated) with ORDERS orders over three years, a quarter each in EUR (the
reporting currency), USD, GBP and JPY, and one rate per business day for USD and GBP (none for
JPY: those orders stay flagged). Prints the time of the first conversion, of a rerun with
nothing new (must write nothing), and of a rerun after one USD rate was corrected.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert

from etl.db import create_engine_for, ensure_current
from etl.fx import convert_orders
from etl.schema import dim_customer, dim_date, fact_order, fx_rate, metadata

CURRENCIES = ("EUR", "USD", "GBP", "JPY")
START = date(2023, 1, 1)
DAYS = 3 * 365


def _build(url: str, n_orders: int) -> None:
    engine = create_engine_for(url)
    if not url.startswith("sqlite"):
        metadata.drop_all(engine)
    ensure_current(engine)
    now = datetime(2026, 1, 1)
    with engine.begin() as conn:
        days = [START + timedelta(days=i) for i in range(DAYS)]
        conn.execute(
            insert(dim_date),
            [
                {
                    "date_key": int(d.strftime("%Y%m%d")),
                    "date": d,
                    "year": d.year,
                    "quarter": (d.month - 1) // 3 + 1,
                    "month": d.month,
                    "day": d.day,
                    "weekday": d.weekday(),
                    "iso_week": d.isocalendar()[1],
                    "is_weekend": d.weekday() >= 5,
                }
                for d in days
            ],
        )
        conn.execute(
            insert(dim_customer),
            [
                {
                    "source": "bench",
                    "source_customer_id": f"C{i}",
                    "first_seen_at": now,
                    "updated_at": now,
                }
                for i in range(1000)
            ],
        )
        rows = []
        for i in range(n_orders):
            day = days[(i * 7919) % DAYS]
            rows.append(
                {
                    "source": "bench",
                    "source_order_id": f"O{i}",
                    "customer_key": i % 1000 + 1,
                    "order_date_key": int(day.strftime("%Y%m%d")),
                    "ordered_at": datetime(day.year, day.month, day.day, 12),
                    "currency": CURRENCIES[i % 4],
                    "status": "completed",
                    "n_lines": 1,
                    "n_items": Decimal(1),
                    "total_amount": Decimal(100 + i % 900),
                    "etl_run_id": 1,
                    "content_hash": f"{i:064x}",
                    "updated_at": now,
                }
            )
            if len(rows) == 50_000:
                conn.execute(insert(fact_order), rows)
                rows = []
        if rows:
            conn.execute(insert(fact_order), rows)
        business = [d for d in days if d.weekday() < 5]
        conn.execute(
            insert(fx_rate),
            [
                {
                    "base": "EUR",
                    "currency": c,
                    "rate_date": d,
                    "rate": Decimal(r),
                    "source_key": "bench",
                    "run_id": 1,
                    "updated_at": now,
                }
                for c, r in (("USD", "1.1"), ("GBP", "0.85"))
                for d in business
            ],
        )
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("orders", nargs="?", type=int, default=200_000)
    parser.add_argument("--url", help="warehouse URL (default: SQLite in a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'fx.db'}"
        started = time.perf_counter()
        _build(url, args.orders)
        print(f"warehouse of {args.orders:,} orders built in {time.perf_counter() - started:.1f} s")
        engine = create_engine_for(url)
        for label in ("first conversion", "rerun, nothing new", "one USD rate corrected"):
            if label == "one USD rate corrected":
                with engine.begin() as conn:
                    conn.execute(
                        fx_rate.update()
                        .where(fx_rate.c.currency == "USD", fx_rate.c.rate_date == date(2024, 6, 3))
                        .values(rate=Decimal("1.2"))
                    )
            started = time.perf_counter()
            with engine.begin() as conn:
                info = convert_orders(conn, "EUR")
            seconds = time.perf_counter() - started
            print(
                f"{label:<24} {seconds:7.2f} s  groups rewritten {info.groups_rewritten:,}, "
                f"orders rewritten {info.orders_rewritten:,}, "
                f"without a rate {info.unconverted_orders:,}"
            )
        engine.dispose()


if __name__ == "__main__":
    main()
