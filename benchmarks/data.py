"""Deterministic order files for the benchmarks, written as a stream (memory flat in size).

Every order is derived from ``(seed, order number)`` alone, so a later file can hold *changed*
versions of orders of an earlier one (the nightly delta) and two runs of a benchmark read the very
same bytes. Customers buy at different rates (a skewed draw), so the CLV models have something to
fit; a few orders are cancelled or returned, as in real data.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from sugar_bridge.demo.generator import CSV_COLUMNS

#: The demo generator's columns (every canonical one but line_amount, which the loader computes).
HEADER: tuple[str, ...] = CSV_COLUMNS

CATEGORIES = ("flat screens", "in-car video", "communication tools", "accessories", "services")
METHODS = ("card", "card", "card", "transfer", "cheque", "financing")
CHANNELS = ("web", "web", "store", "phone", "sales_rep")
CITIES = (("Lyon", "FR"), ("Paris", "FR"), ("Brussels", "BE"), ("Geneva", "CH"), ("Lille", "FR"))
N_SKUS = 400
START = date(2023, 1, 1)
SPAN_DAYS = 1400  # orders until mid-November 2026
AS_OF = date(2026, 11, 24)
LINES_PER_ORDER = 2.5  # mean of 1..4


@dataclass(frozen=True)
class Shape:
    """Size of a generated history: lines wanted and how many customers share them."""

    lines: int
    customers: int

    @property
    def orders(self) -> int:
        return max(1, round(self.lines / LINES_PER_ORDER))


def _customer(rng: random.Random, n_customers: int) -> int:
    # Skewed: a few customers buy a lot, most a few times (like any shop).
    return int(n_customers * rng.random() ** 2.2)


def _spend_level(seed: int, cust: int) -> float:
    # Each customer has their own typical basket value (gamma-distributed across customers,
    # mean 1): what the Gamma-Gamma spend model assumes.
    return random.Random(seed * 7_919 + cust).gammavariate(4.0, 0.25)


def order_lines(seed: int, number: int, n_customers: int, variant: int = 0) -> list[list[str]]:
    """The canonical rows of order ``number`` (``variant`` > 0: a corrected version of it)."""
    rng = random.Random(seed * 1_000_003 + number)
    cust = _customer(rng, n_customers)
    level = _spend_level(seed, cust)
    day = START + timedelta(days=rng.randrange(SPAN_DAYS))
    ordered_at = f"{day.isoformat()}T{rng.randrange(8, 20):02d}:15:00"
    invoiced = day + timedelta(days=rng.randrange(3))
    due = invoiced + timedelta(days=30)
    paid = invoiced + timedelta(days=rng.randrange(70))
    method = rng.choice(METHODS)
    channel = rng.choice(CHANNELS)
    roll = rng.random()
    status = "cancelled" if roll < 0.02 else "returned" if roll < 0.04 else "completed"
    city, country = CITIES[cust % len(CITIES)]
    cid = f"C{cust:07d}"
    rows = []
    for line in range(1, rng.randrange(1, 5) + 1):
        sku = rng.randrange(N_SKUS)
        quantity = rng.randrange(1, 4) + (variant if line == 1 else 0)
        price = f"{level * rng.randrange(500, 150000) / 100:.2f}"
        # A discount never exceeds the line (a negative amount is rightly rejected by the ETL).
        discount = "5.00" if rng.random() >= 0.85 and float(price) * quantity > 50 else "0"
        # By name, in the header's order: a column added to the format cannot shift the others
        # (customer_type came after this file was written; it stays empty here).
        fields = {
            "order_id": f"O{number:09d}", "line_no": str(line), "ordered_at": ordered_at,
            "customer_id": cid, "customer_name": f"Customer {cust}",
            "customer_email": f"c{cust}@example.com", "customer_city": city,
            "customer_country": country, "customer_type": "",
            "sku": f"SKU{sku:04d}", "product_name": f"Product {sku}",
            "category": CATEGORIES[sku % len(CATEGORIES)], "brand": f"Brand{sku % 17}",
            "quantity": str(quantity), "unit_price": price, "discount": discount,
            "currency": "EUR", "payment_method": method, "channel": channel, "status": status,
            "invoiced_at": invoiced.isoformat(), "due_at": due.isoformat(),
            "paid_at": paid.isoformat() if paid <= AS_OF else "",
        }  # fmt: skip
        rows.append([fields[column] for column in HEADER])
    return rows


def rows_of(
    seed: int, numbers: Iterable[int], n_customers: int, variant: int = 0
) -> Iterator[list[str]]:
    """Rows of the given orders, in order."""
    for number in numbers:
        yield from order_lines(seed, number, n_customers, variant)


def write_rows(path: Path, rows: Iterable[list[str]]) -> int:
    """Write canonical rows (UTF-8, comma) with the header; returns the number of lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HEADER)
        for row in rows:
            writer.writerow(row)
            n += 1
    return n


def write_history(path: Path, shape: Shape, seed: int = 7) -> int:
    """A history of ``shape.orders`` orders (about ``shape.lines`` lines); returns lines."""
    return write_rows(path, rows_of(seed, range(shape.orders), shape.customers))


def write_delta(path: Path, shape: Shape, share: float = 0.01, seed: int = 7) -> int:
    """The nightly delta of a history: ``share`` of its orders, half new, half corrected."""
    n = max(2, round(shape.orders * share))
    step = max(1, shape.orders // (n // 2))
    changed = range(0, shape.orders, step)[: n // 2]
    new = range(shape.orders, shape.orders + n - len(changed))

    def rows() -> Iterator[list[str]]:
        yield from rows_of(seed, changed, shape.customers, variant=1)
        yield from rows_of(seed, new, shape.customers)

    return write_rows(path, rows())
