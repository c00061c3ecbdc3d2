"""A small synthetic warehouse for the analytics tests: rows written straight into the star schema.

Hand-written customers (``hand_orders``) pin exact figures; ``random_orders`` adds a few hundred
customers with habits that grow, decline and stop, so the models have something to fit.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from etl.schema import (
    dim_customer,
    dim_date,
    dim_product,
    etl_run,
    fact_order,
    fact_order_line,
)

CATEGORIES = ["Flat screens", "In-car video", "Communication tools", "Accessories", "Services"]
METHODS = ["card", "transfer", "cheque", "financing"]
CHANNELS = ["web", "store", "phone", "sales_rep"]


@dataclass
class Line:
    sku: str
    quantity: int
    unit_price: float
    discount: float = 0.0


@dataclass
class Order:
    customer: str
    ordered_at: datetime
    lines: list[Line]
    status: str = "completed"
    payment_method: str | None = "card"
    channel: str | None = "web"
    invoiced_at: date | None = None
    due_at: date | None = None
    paid_at: date | None = None
    order_id: str = ""


@dataclass
class Customer:
    source_id: str
    name: str
    email: str | None = None
    sugar_account_id: str | None = None


@dataclass
class Warehouse:
    customers: list[Customer] = field(default_factory=list)
    products: dict[str, str] = field(default_factory=dict)  # sku -> category
    orders: list[Order] = field(default_factory=list)


def default_products() -> dict[str, str]:
    return {f"SKU-{i}": CATEGORIES[i % len(CATEGORIES)] for i in range(10)}


def write(conn: Connection, wh: Warehouse) -> dict[str, int]:
    """Insert the warehouse rows; returns source customer id -> customer_key."""
    now = datetime(2026, 1, 1)
    run_id = conn.execute(
        insert(etl_run).values(job="etl", started_at=now, status="ok")
    ).inserted_primary_key[0]
    keys: dict[str, int] = {}
    for c in wh.customers:
        keys[c.source_id] = conn.execute(
            insert(dim_customer).values(
                source="test",
                source_customer_id=c.source_id,
                name=c.name,
                email=c.email,
                sugar_account_id=c.sugar_account_id,
                first_seen_at=now,
                updated_at=now,
            )
        ).inserted_primary_key[0]
    pkeys: dict[str, int] = {}
    for sku, category in wh.products.items():
        pkeys[sku] = conn.execute(
            insert(dim_product).values(
                sku=sku, name=f"Product {sku}", category=category, updated_at=now
            )
        ).inserted_primary_key[0]
    known = {row[0] for row in conn.execute(select(dim_date.c.date_key))}
    days = sorted(
        d
        for d in {o.ordered_at.date() for o in wh.orders}
        if int(d.strftime("%Y%m%d")) not in known
    )
    if days:
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
    for i, o in enumerate(wh.orders):
        amounts = [ln.quantity * ln.unit_price - ln.discount for ln in o.lines]
        delay = (o.paid_at - o.invoiced_at).days if o.paid_at and o.invoiced_at else None
        late = (o.paid_at - o.due_at).days if o.paid_at and o.due_at else None
        order_key = conn.execute(
            insert(fact_order).values(
                source="test",
                source_order_id=o.order_id or f"O{i}",
                customer_key=keys[o.customer],
                order_date_key=int(o.ordered_at.strftime("%Y%m%d")),
                ordered_at=o.ordered_at,
                channel=o.channel,
                payment_method=o.payment_method,
                currency="EUR",
                status=o.status,
                n_lines=len(o.lines),
                n_items=Decimal(sum(ln.quantity for ln in o.lines)),
                total_amount=Decimal(str(round(sum(amounts), 2))),
                # Converted as etl.fx.convert_orders converts an order in the reporting currency.
                reporting_currency="EUR",
                fx_rate=Decimal(1),
                reporting_amount=Decimal(str(round(sum(amounts), 2))),
                invoiced_at=o.invoiced_at,
                due_at=o.due_at,
                paid_at=o.paid_at,
                payment_delay_days=delay,
                lateness_days=late,
                etl_run_id=run_id,
                updated_at=now,
                **_extra_order_columns(i),
            )
        ).inserted_primary_key[0]
        conn.execute(
            insert(fact_order_line),
            [
                {
                    "order_key": order_key,
                    "customer_key": keys[o.customer],
                    "line_no": n + 1,
                    "product_key": pkeys[ln.sku],
                    "quantity": Decimal(ln.quantity),
                    "unit_price": Decimal(str(ln.unit_price)),
                    "discount": Decimal(str(ln.discount)),
                    "amount": Decimal(str(round(amount, 2))),
                }
                for n, (ln, amount) in enumerate(zip(o.lines, amounts, strict=True))
            ],
        )
    return keys


def _extra_order_columns(i: int) -> dict[str, object]:
    # Bookkeeping columns of the ETL that the statistics never read.
    extra: dict[str, object] = {}
    if "content_hash" in fact_order.c:
        extra["content_hash"] = f"{i:064x}"
    return extra


def paid(invoiced: date, delay: int, terms: int = 30) -> dict[str, date]:
    return {
        "invoiced_at": invoiced,
        "due_at": invoiced + timedelta(days=terms),
        "paid_at": invoiced + timedelta(days=delay),
    }


def random_orders(
    n_customers: int, start: date, end: date, seed: int = 1, prefix: str = "R"
) -> tuple[list[Customer], list[Order]]:
    """Customers with individual rates, some of whom stop buying (a BG/NBD-like world)."""
    rng = random.Random(seed)
    customers: list[Customer] = []
    orders: list[Order] = []
    span = (end - start).days
    skus = list(default_products())
    for i in range(n_customers):
        cid = f"{prefix}{i:04d}"
        customers.append(
            Customer(cid, f"Customer {i}", sugar_account_id=f"acc-{cid}" if i % 3 else None)
        )
        first = start + timedelta(days=rng.randrange(span))
        rate = rng.gammavariate(0.8, 1 / 40)  # purchases per day
        dropout = rng.uniform(0.05, 0.4)  # chance to stop after each purchase
        method = rng.choice(METHODS)
        channel = rng.choice(CHANNELS)
        basket_scale = rng.uniform(80, 1500)
        day = first
        while day <= end:
            lines = [
                Line(
                    rng.choice(skus),
                    rng.randint(1, 3),
                    round(basket_scale * rng.uniform(0.5, 1.5), 2),
                )
                for _ in range(rng.randint(1, 3))
            ]
            invoiced = day
            delay = max(0, int(rng.gauss(25 if method != "card" else 0, 10)))
            status = "completed"
            roll = rng.random()
            if roll < 0.03:
                status = "cancelled"
            elif roll < 0.06:
                status = "returned"
            orders.append(
                Order(
                    cid,
                    datetime.combine(day, datetime.min.time())
                    + timedelta(hours=rng.randint(8, 19)),
                    lines,
                    status=status,
                    payment_method=method if rng.random() < 0.85 else rng.choice(METHODS),
                    channel=channel if rng.random() < 0.8 else rng.choice(CHANNELS),
                    **paid(invoiced, delay),
                )
            )
            if rng.random() < dropout:
                break
            day = day + timedelta(days=max(1, int(rng.expovariate(rate))))
    return customers, orders


def build(
    conn: Connection, extra: Iterable[Customer] = (), orders: Iterable[Order] = ()
) -> dict[str, int]:
    """A warehouse with the given customers/orders plus 300 random customers (2023-2025)."""
    customers, random_ = random_orders(300, date(2023, 1, 1), date(2025, 12, 31))
    wh = Warehouse(
        customers=[*extra, *customers], products=default_products(), orders=[*orders, *random_]
    )
    return write(conn, wh)
