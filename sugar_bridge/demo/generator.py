"""A realistic, seeded order history for the seed company, in the canonical orders CSV format.

Pure and deterministic: the same :class:`GeneratorOptions` (seed, end date, size) always give the
same rows, byte for byte; nothing reads the clock. Each customer draws from their own random
stream (seeded by ``seed`` and their index), so the history of one customer does not change when
another's does.

What is in it, so that the statistics have something true to find:

- **Customers with a story** (:data:`ARCHETYPES`): loyal regulars, growing customers, decliners
  whose order rate falls (the ones to follow up), customers who leave, one-off buyers, recent
  newcomers, small businesses, and a few B2B key accounts (ids and names from the example config,
  one of them declining).
- **Orders as a non-homogeneous Poisson process** per customer (sampled by thinning): the
  archetype's rate over time × month seasonality (November/December peaks, summer dip) × weekday
  effect (Saturday busy, Sunday web only; businesses order on weekdays). Regulars may also leave
  quietly after any purchase, each with their own probability (the story BG/NBD models).
- **Baskets**: a main article chosen from the customer's category taste, with the add-ons that go
  with it (mount, cable, fitting, warranty), business quantities and negotiated discounts.
- **Payment habits**: card, transfer, cheque, financing, rarely direct debit and PayPal; invoice,
  due and paid dates with method-specific delays; a share of occasional and chronic late payers;
  invoices not yet paid at the end date stay open (no ``paid_at``).
- **Channels**, **cancelled** and **returned** orders.
- Optionally a handful of **deliberately bad rows** (``bad_rows=True``) that the ETL must reject,
  each with a distinct ``BAD-`` order id, to show the reject path.
"""

from __future__ import annotations

import csv
import logging
import math
import random
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Literal, TypeVar

from connectors.orders.canonical import CANONICAL_COLUMNS
from sugar_bridge.demo.catalog import (
    ACCESSORIES,
    ADD_ONS,
    BUSINESS_STEMS,
    BUSINESS_SUFFIXES,
    CATALOG,
    CATEGORIES,
    CITIES,
    COMMUNICATION,
    COUNTRY_OF_CITY,
    EMAIL_DOMAINS,
    FIRST_NAMES,
    FLAT_SCREENS,
    IN_CAR_VIDEO,
    LAST_NAMES,
    MAIN_CATEGORIES,
    SERVICES,
    Product,
)

log = logging.getLogger(__name__)
_T = TypeVar("_T")

#: The columns the generator writes: every canonical column but ``line_amount``, which the loader
#: computes (quantity x unit price - discount).
CSV_COLUMNS: tuple[str, ...] = tuple(c for c in CANONICAL_COLUMNS if c != "line_amount")

Archetype = Literal[
    "loyal", "growing", "declining", "churned", "one_off", "new", "business", "key_account"
]
#: Share of each archetype among the ordinary (non key-account) customers.
ARCHETYPES: dict[Archetype, float] = {
    "one_off": 0.28,
    "loyal": 0.18,
    "growing": 0.12,
    "declining": 0.14,
    "churned": 0.14,
    "new": 0.07,
    "business": 0.07,
}

# Relative order intensity per month (1 = average); Nov/Dec peaks (Black Friday, Christmas),
# summer dip (holidays), a January lull after Christmas.
MONTH_WEIGHT: tuple[float, ...] = (
    0.80,
    0.75,
    0.90,
    0.92,
    0.95,
    0.85,
    0.70,
    0.60,
    1.00,
    1.05,
    1.55,
    1.75,
)
# Monday..Sunday: Saturday is the store's busiest day, Sunday only the web shop sells.
WEEKDAY_WEIGHT_B2C: tuple[float, ...] = (0.85, 0.95, 1.00, 1.00, 1.10, 1.45, 0.45)
WEEKDAY_WEIGHT_B2B: tuple[float, ...] = (1.25, 1.30, 1.25, 1.20, 1.00, 0.05, 0.02)
_MAX_SEASON = max(MONTH_WEIGHT) * max(max(WEEKDAY_WEIGHT_B2C), max(WEEKDAY_WEIGHT_B2B))


@dataclass(frozen=True)
class KeyAccount:
    """A B2B key account: its id in the order system (= the account's external id in Sugar)."""

    customer_id: str
    name: str
    email: str
    city: str = ""
    country: str = ""
    declining: bool = False


#: The example config's key accounts that buy (``sugar.accounts``; KA-0004 is declared a prospect
#: there, so it has no orders): same external ids and names, so the push matches them by id.
DEFAULT_KEY_ACCOUNTS: tuple[KeyAccount, ...] = (
    KeyAccount(
        "KA-0001",
        "Autovision Fleet Services",
        "purchasing@autovision.example.com",
        "Lyon",
        "France",
    ),
    KeyAccount("KA-0002", "Hôtel Panorama Group", "it@panorama.example.com", "Nice", "France"),
    # A key account whose orders are drying up: the push should flag it ("Can't lose them").
    KeyAccount("KA-0003", "Medianet Conference Systems", "", "Berlin", "Germany", declining=True),
)


@dataclass(frozen=True)
class GeneratorOptions:
    """What to generate. ``end`` is the last day of the history (the demo's as-of date)."""

    end: date
    seed: int = 42
    n_customers: int = 3000
    years: int = 3
    currency: str = "EUR"
    bad_rows: bool = False
    key_accounts: tuple[KeyAccount, ...] = DEFAULT_KEY_ACCOUNTS

    @property
    def start(self) -> date:
        """First day of the history: ``years`` before ``end``."""
        try:
            return self.end.replace(year=self.end.year - self.years) + timedelta(days=1)
        except ValueError:  # 29 February
            return self.end.replace(year=self.end.year - self.years, day=28) + timedelta(days=1)


@dataclass(frozen=True)
class DemoCustomer:
    """A generated customer and the story they follow (ground truth for tests and the demo)."""

    customer_id: str
    name: str
    email: str
    archetype: Archetype
    is_business: bool
    joined: date
    city: str = ""
    country: str = ""
    left: date | None = None  # churned: no order after this day
    decline_from: date | None = None  # declining: the rate falls from this day on

    @property
    def customer_type(self) -> str:
        """The orders' ``customer_type``: B2B for a company, B2C for a person (pushed to
        Sugar's Contacts)."""
        return "B2B" if self.is_business else "B2C"


@dataclass(frozen=True)
class DemoLine:
    """One order line."""

    product: Product
    quantity: int
    unit_price: float
    discount: float


@dataclass(frozen=True)
class DemoOrder:
    """One order with its lines and its payment story."""

    order_id: str
    customer: DemoCustomer
    ordered_at: datetime
    channel: str
    payment_method: str
    status: str
    invoiced_at: date | None
    due_at: date | None
    paid_at: date | None
    lines: tuple[DemoLine, ...]

    @property
    def total(self) -> float:
        """Sum of the line amounts (after discounts)."""
        return round(sum(ln.quantity * ln.unit_price - ln.discount for ln in self.lines), 2)


@dataclass
class GenerationInfo:
    """What :func:`write_orders_csv` wrote."""

    paths: list[Path]
    n_customers: int
    n_orders: int
    n_lines: int
    n_bad_rows: int
    first_date: date | None
    last_date: date | None
    seconds: float
    archetypes: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)


# --- customers ---------------------------------------------------------------------------------


def _rng(seed: int, index: int) -> random.Random:
    # A string seed is hashed with SHA-512 by random.Random: stable across runs and platforms,
    # independent of PYTHONHASHSEED.
    return random.Random(f"sugar-bridge-demo:{seed}:{index}")


def _ascii(text: str) -> str:
    table = str.maketrans("àâäçéèêëîïôöùûüÿ", "aaaceeeeiioouuuy")
    return "".join(ch for ch in text.lower().translate(table) if ch.isalnum() or ch in ".-")


def _weighted(rng: random.Random, items: Sequence[tuple[_T, float]]) -> _T:
    total = sum(w for _, w in items)
    x = rng.random() * total
    for item, weight in items:
        x -= weight
        if x < 0:
            return item
    return items[-1][0]


def _day(start: date, rng: random.Random, lo: float, hi: float) -> date:
    return start + timedelta(days=int(rng.uniform(lo, hi)))


def make_customers(options: GeneratorOptions) -> list[DemoCustomer]:
    """The customers of the history: the key accounts, then ``n_customers`` ordinary ones."""
    start, end = options.start, options.end
    span = (end - start).days
    customers: list[DemoCustomer] = []
    for ka in options.key_accounts:
        rng = _rng(options.seed, -1 - len(customers))
        customers.append(
            DemoCustomer(
                customer_id=ka.customer_id,
                name=ka.name,
                email=ka.email,
                archetype="key_account",
                is_business=True,
                joined=_day(start, rng, 0, 60),
                city=ka.city,
                country=ka.country,
                decline_from=_day(start, rng, span - 420, span - 300) if ka.declining else None,
            )
        )
    weights = list(ARCHETYPES.items())
    used_emails: set[str] = {ka.email for ka in options.key_accounts if ka.email}
    for i in range(options.n_customers):
        rng = _rng(options.seed, i)
        archetype = _weighted(rng, weights)
        is_business = archetype == "business" or rng.random() < 0.04
        city = rng.choice(CITIES)
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        if is_business:
            stem = rng.choice(BUSINESS_STEMS).format(last=last, city=city)
            name = f"{stem} {rng.choice(BUSINESS_SUFFIXES)}".strip()
            email = f"contact@{_ascii(f'{stem}-{city}'.replace(' ', '-'))[:48]}.example"
        else:
            name = f"{first} {last}"
            email = (
                f"{_ascii(first)}.{_ascii(last)}{rng.randint(1, 99)}@{rng.choice(EMAIL_DOMAINS)}"
            )
        if email in used_emails:  # two customers never share an address (it is a match key)
            email = email.replace("@", f".{i + 1}@", 1)
        used_emails.add(email)
        if rng.random() < 0.04:
            email = ""  # some customers never gave one (matching falls back to the name)
        left = decline_from = None
        if archetype in ("declining", "growing"):
            joined = _day(start, rng, 0, span * 0.3)
            if archetype == "declining":
                decline_from = _day(start, rng, span * 0.45, span * 0.65)
        elif archetype == "churned":
            joined = _day(start, rng, 0, span * 0.5)
            left = min(joined + timedelta(days=int(rng.uniform(180, 700))),
                       start + timedelta(days=span - 200))  # fmt: skip
        elif archetype == "new":
            joined = _day(start, rng, span - 150, span - 5)
        elif archetype == "one_off":
            joined = _day(start, rng, 0, span)
        else:  # loyal, business: a mature base, more of it from the beginning
            joined = _day(start, rng, 0, span * rng.random() * 0.8)
        customers.append(
            DemoCustomer(
                customer_id=f"C{i + 1:06d}",
                name=name,
                email=email,
                archetype=archetype,
                is_business=is_business,
                joined=joined,
                city=city,
                country=COUNTRY_OF_CITY.get(city, "France"),
                left=left,
                decline_from=decline_from,
            )
        )
    return customers


# --- the purchase process ----------------------------------------------------------------------


Lateness = Literal["punctual", "sometimes", "chronic"]


@dataclass
class _Habits:
    """A customer's own tastes, drawn once: rate, categories, payment, channel, punctuality."""

    rate: float  # orders per year at the start of their story
    growth: float
    categories: list[tuple[str, float]]
    payment: list[tuple[str, float]]
    channel: list[tuple[str, float]]
    lateness: Lateness
    terms_days: int
    basket_scale: float
    dropout: float  # chance of quietly leaving after each purchase (the BG/NBD story)


def _habits(c: DemoCustomer, rng: random.Random) -> _Habits:
    rates = {
        "loyal": (2.5, 6.0),
        "growing": (1.0, 2.2),
        "declining": (3.5, 7.0),
        "churned": (2.0, 5.5),
        "one_off": (0.0, 0.0),
        "new": (2.0, 5.0),
        "business": (4.0, 10.0),
        "key_account": (16.0, 30.0),
    }[c.archetype]
    taste = {cat: rng.gammavariate(0.7, 1.0) + 0.02 for cat in MAIN_CATEGORIES}
    if c.is_business:
        taste[COMMUNICATION] *= 2.5
    categories = [*taste.items(), (ACCESSORIES, 0.25), (SERVICES, 0.12)]
    if c.is_business:
        pay_mix = [("transfer", 0.78), ("direct_debit", 0.10), ("cheque", 0.10), ("card", 0.02)]
        chan_mix = [("sales_rep", 0.55), ("phone", 0.25), ("web", 0.20)]
    else:
        pay_mix = [("card", 0.62), ("transfer", 0.08), ("cheque", 0.09), ("paypal", 0.05),
                   ("financing", 0.12), ("direct_debit", 0.02)]  # fmt: skip
        chan_mix = [("web", 0.45), ("store", 0.36), ("phone", 0.07), ("marketplace", 0.12)]
    # A habit: one preferred method / channel carries most of the weight.
    pref_pay = _weighted(rng, pay_mix)
    pref_chan = _weighted(rng, chan_mix)
    payment = [(m, w + (3.0 if m == pref_pay else 0.0)) for m, w in pay_mix]
    channel = [(m, w + (2.0 if m == pref_chan else 0.0)) for m, w in chan_mix]
    lateness: Lateness = _weighted(
        rng, [("punctual", 0.75), ("sometimes", 0.18), ("chronic", 0.07)]
    )
    return _Habits(
        rate=rng.uniform(*rates),
        growth=rng.uniform(0.8, 1.6),
        categories=categories,
        payment=payment,
        channel=channel,
        lateness=lateness,
        terms_days=rng.choice((30, 45, 60)) if c.is_business else rng.choice((8, 14, 15)),
        basket_scale=rng.uniform(0.8, 1.3),
        # Customers differ in how likely they are to drop out after a purchase: most regulars
        # stay for years, some drift away early without a word. Stories with their own shape
        # (growing, churned, declining, one-off) and the key accounts do not drop out on top.
        dropout={
            "loyal": lambda: rng.betavariate(0.5, 12.0),
            "business": lambda: rng.betavariate(0.7, 6.0),
            "new": lambda: rng.betavariate(0.7, 3.0),
        }.get(c.archetype, lambda: 0.0)(),
    )


def _story_rate(c: DemoCustomer, h: _Habits, day: date) -> float:
    """The customer's underlying order rate (orders per year) on ``day``, before seasonality."""
    if day < c.joined or (c.left is not None and day > c.left):
        return 0.0
    years_in = (day - c.joined).days / 365.25
    if c.archetype == "growing":
        return h.rate * (1.0 + h.growth * years_in)
    if c.decline_from is not None and day >= c.decline_from:
        # Exponential fall, half-life ~ 5 months: still alive, clearly slowing down.
        return h.rate * math.exp(-(day - c.decline_from).days / 220.0)
    return h.rate


def _season(day: date, business: bool) -> float:
    weekday = WEEKDAY_WEIGHT_B2B if business else WEEKDAY_WEIGHT_B2C
    return MONTH_WEIGHT[day.month - 1] * weekday[day.weekday()]


def _order_days(c: DemoCustomer, h: _Habits, end: date, rng: random.Random) -> list[date]:
    """Order days: the first at ``joined``, then thinning of a Poisson process at the peak rate."""
    days = [c.joined]
    if c.archetype == "one_off" or rng.random() < h.dropout:
        return days
    peak = h.rate * (1.0 + h.growth * 3.5 if c.archetype == "growing" else 1.0) * _MAX_SEASON
    t = 0.0
    horizon = (end - c.joined).days
    while True:
        t += rng.expovariate(peak / 365.25)
        if t > horizon:
            return days
        day = c.joined + timedelta(days=int(t))
        rate = _story_rate(c, h, day) * _season(day, c.is_business)
        if rng.random() * peak < rate and day != days[-1]:
            days.append(day)
            if rng.random() < h.dropout:
                return days


def _time_of_day(channel: str, rng: random.Random) -> tuple[int, int, int]:
    if channel in ("web", "marketplace"):
        hour = int(
            _weighted(rng, [(h, 1.0 + (2.0 if 19 <= h <= 22 else 0.0)) for h in range(7, 24)])
        )
    elif channel == "store":
        hour = rng.randint(10, 18)
    else:
        hour = rng.randint(8, 17)
    return hour, rng.randint(0, 59), rng.randint(0, 59)


_BY_CATEGORY: dict[str, list[Product]] = {
    cat: [p for p in CATALOG if p.category == cat] for cat in CATEGORIES
}
_BY_SKU: dict[str, Product] = {p.sku: p for p in CATALOG}


def _basket(c: DemoCustomer, h: _Habits, day: date, rng: random.Random) -> list[DemoLine]:
    category = _weighted(rng, h.categories)
    products = _BY_CATEGORY[category]
    if c.is_business:
        main = rng.choice(products)
    else:  # private buyers lean to the cheaper half, except the big spenders
        ranked = sorted(products, key=lambda p: p.price)
        main = ranked[min(len(ranked) - 1, int(rng.random() ** h.basket_scale * len(ranked)))]
    picked: list[tuple[Product, int]] = []
    qty = 1
    if c.is_business and category in (COMMUNICATION, IN_CAR_VIDEO, FLAT_SCREENS):
        qty = max(1, int(rng.lognormvariate(1.2 if c.archetype == "key_account" else 0.6, 0.7)))
    elif category == ACCESSORIES:
        qty = rng.choice((1, 1, 1, 2, 3))
    picked.append((main, qty))
    for sku, prob in ADD_ONS.get(category, ()):
        if rng.random() < prob:
            add_on = _BY_SKU[sku]
            picked.append((add_on, qty if add_on.category != SERVICES else max(1, qty // 4)))
    if rng.random() < 0.08:
        picked.append((_BY_SKU["ACC-CLN-KIT"], 1))
    lines = []
    seen: set[str] = set()
    for product, quantity in picked:
        if product.sku in seen:
            continue
        seen.add(product.sku)
        price = product.price
        discount = 0.0
        if c.archetype == "key_account":
            discount = price * quantity * rng.choice((0.08, 0.10, 0.12, 0.15))
        elif c.is_business and rng.random() < 0.5:
            discount = price * quantity * rng.choice((0.03, 0.05, 0.08))
        elif day.month == 11 and day.day >= 20 and rng.random() < 0.5:  # Black Friday week
            discount = price * quantity * 0.10
        lines.append(DemoLine(product, quantity, price, round(discount, 2)))
    return lines


def _payment_dates(
    c: DemoCustomer, h: _Habits, method: str, day: date, end: date, rng: random.Random
) -> tuple[date | None, date | None, date | None]:
    """Invoice, due and paid dates; an invoice not paid by ``end`` stays open."""
    if method in ("card", "paypal"):
        invoiced = due = paid = day
    else:
        invoiced = day + timedelta(days=rng.choice((0, 0, 1, 2, 3)) if c.is_business else 0)
        if method == "financing":  # the finance company pays the shop after its own checks
            due = invoiced + timedelta(days=30)
            paid = invoiced + timedelta(days=rng.randint(5, 21))
        elif method == "direct_debit":
            due = invoiced + timedelta(days=10)
            paid = due + timedelta(days=rng.choice((0, 0, 0, 0, 0, 0, 0, 0, 0, 12)))  # a bounce
        else:  # transfer, cheque
            due = invoiced + timedelta(days=h.terms_days if method == "transfer" else 15)
            late_p = {"punctual": 0.03, "sometimes": 0.30, "chronic": 0.75}[h.lateness]
            if rng.random() < late_p:
                lo, hi = (3, 25) if h.lateness != "chronic" else (10, 75)
                paid = due + timedelta(days=rng.randint(lo, hi))
            else:
                paid = due - timedelta(days=rng.randint(0, max(1, (due - invoiced).days - 1)))
    if invoiced > end:
        return None, None, None
    return invoiced, due, (paid if paid <= end else None)


# ordered_at, customer, channel, payment method, status, lines, (invoiced, due, paid)
_RawOrder = tuple[
    datetime, DemoCustomer, str, str, str, tuple[DemoLine, ...], tuple[date | None, ...]
]


def _customer_orders(c: DemoCustomer, options: GeneratorOptions, index: int) -> Iterator[_RawOrder]:
    rng = _rng(options.seed, 1_000_000 + index)
    h = _habits(c, rng)
    for day in _order_days(c, h, options.end, rng):
        lines = tuple(_basket(c, h, day, rng))
        subtotal = sum(ln.quantity * ln.unit_price for ln in lines)
        method = _weighted(rng, h.payment)
        if method == "financing" and subtotal < 800:
            method = "card"  # nobody finances a cable
        if not c.is_business and subtotal > 2500 and rng.random() < 0.35:
            method = "financing"
        channel = _weighted(rng, h.channel)
        if channel == "store" and day.weekday() == 6:
            channel = "web"  # the store is closed on Sundays
        hour, minute, second = _time_of_day(channel, rng)
        status = _weighted(rng, [("completed", 0.95), ("cancelled", 0.03), ("returned", 0.02)])
        if status == "cancelled":
            dates: tuple[date | None, ...] = (None, None, None)
        else:
            dates = _payment_dates(c, h, method, day, options.end, rng)
        ordered_at = datetime(day.year, day.month, day.day, hour, minute, second)
        yield ordered_at, c, channel, method, status, lines, dates


def generate_orders(
    options: GeneratorOptions, customers: Sequence[DemoCustomer] | None = None
) -> list[DemoOrder]:
    """Every order of the history, in time order, with ids ``SO-<year>-<n>`` in that order."""
    if customers is None:
        customers = make_customers(options)
    raw: list[_RawOrder] = []
    for index, customer in enumerate(customers):
        raw.extend(_customer_orders(customer, options, index))
    raw.sort(key=lambda r: (r[0], r[1].customer_id))
    orders: list[DemoOrder] = []
    per_year: Counter[int] = Counter()
    for ordered_at, customer, channel, method, status, lines, dates in raw:
        per_year[ordered_at.year] += 1
        orders.append(
            DemoOrder(
                order_id=f"SO-{ordered_at.year}-{per_year[ordered_at.year]:06d}",
                customer=customer,
                ordered_at=ordered_at,
                channel=channel,
                payment_method=method,
                status=status,
                invoiced_at=dates[0],
                due_at=dates[1],
                paid_at=dates[2],
                lines=lines,
            )
        )
    return orders


# --- rows and files ----------------------------------------------------------------------------


def _fmt_date(value: date | None) -> str:
    return value.isoformat() if value is not None else ""


def _fmt_money(value: float) -> str:
    return f"{value:.2f}"


def order_rows(orders: Iterable[DemoOrder], currency: str = "EUR") -> Iterator[list[str]]:
    """The canonical CSV rows (one per order line) of ``orders``, as strings."""
    for o in orders:
        head = [o.order_id]
        for n, ln in enumerate(o.lines, start=1):
            yield [
                *head,
                str(n),
                o.ordered_at.isoformat(),
                o.customer.customer_id,
                o.customer.name,
                o.customer.email,
                o.customer.city,
                o.customer.country,
                o.customer.customer_type,
                ln.product.sku,
                ln.product.name,
                ln.product.category,
                ln.product.brand,
                str(ln.quantity),
                _fmt_money(ln.unit_price),
                _fmt_money(ln.discount),
                currency,
                o.payment_method,
                o.channel,
                o.status,
                _fmt_date(o.invoiced_at),
                _fmt_date(o.due_at),
                _fmt_date(o.paid_at),
            ]


def bad_rows(end: date, currency: str = "EUR") -> list[list[str]]:
    """Rows the ETL must reject, each for one reason a person can act on (order ids ``BAD-*``)."""
    day = (end - timedelta(days=3)).isoformat()
    ok = ["X-BAD-ROWS", "Bad Row Demo", "bad.row@example.invalid", "Lyon", "France", "B2C",
          "TV-LG-C4-55", "LG OLED55C4 55\" OLED evo", FLAT_SCREENS, "LG"]  # fmt: skip
    pay = ["card", "web", "completed", day, day, day]

    def row(oid: str, line: str, when: str, cust: list[str], qty: str, price: str,
            cur: str = currency, payment: list[str] | None = None) -> list[str]:  # fmt: skip
        return [oid, line, when, *cust, qty, price, "0.00", cur, *(payment or pay)]

    return [
        row("BAD-0001", "1", day, ok, "-1", "1399.00"),  # negative quantity
        row("BAD-0002", "1", "2024-13-45", ok, "1", "1399.00"),  # impossible date
        row("BAD-0003", "1", day, ok, "1", "1399.00", cur="XYZ"),  # unknown currency
        row("BAD-0004", "1", day, ["", *ok[1:]], "1", "1399.00"),  # missing customer id
        row("BAD-0005", "1", day, ok, "1", "-5.00"),  # negative price
        row("BAD-0006", "1", day, ok, "one", "1399.00"),  # quantity not a number
        row(
            "BAD-0007",
            "1",
            day,
            ok,
            "1",
            "1399.00",  # paid before invoiced
            payment=["transfer", "web", "completed", day, day, "2001-01-01"],
        ),
        row("BAD-0008", "1", day, ok, "1", "1399.00"),  # duplicate line key (same order, line)
        row("BAD-0008", "1", day, ok, "1", "1399.00"),
        row("BAD-0009", "1", day, ok, "1", "1399.00"),  # lines disagree on the payment method
        row(
            "BAD-0009",
            "2",
            day,
            ok,
            "1",
            "1399.00",
            payment=["cheque", "web", "completed", day, day, day],
        ),
        row(
            "BAD-0010",
            "1",
            day,
            ok,
            "1",
            "1399.00",  # unknown status
            payment=["card", "web", "shipped", day, day, day],
        ),
        # a customer type that is neither B2B nor B2C
        row("BAD-0011", "1", day, [*ok[:5], "retail", *ok[6:]], "1", "1399.00"),
    ]


Split = Literal["none", "year", "month", "cuts"]


def as_known_on(order: DemoOrder, day: date) -> DemoOrder:
    """The order as the shop's system showed it at the end of ``day``: later dates not yet known."""
    if order.invoiced_at is not None and order.invoiced_at > day:
        return replace(order, invoiced_at=None, due_at=None, paid_at=None)
    if order.paid_at is not None and order.paid_at > day:
        return replace(order, paid_at=None)
    return order


def _changed_between(order: DemoOrder, after: date, until: date) -> bool:
    """True when something of the order happened in ``(after, until]`` (placed, invoiced, paid)."""
    days = (order.ordered_at.date(), order.invoiced_at, order.paid_at)
    return any(d is not None and after < d <= until for d in days)


def _export_periods(
    orders: list[DemoOrder], start: date, cuts: Sequence[date], end: date
) -> list[tuple[date, list[DemoOrder]]]:
    """One export per period ending at each cut (and at ``end``): the orders placed or changed
    in the period, as known at its last day — what a shop's nightly "changed since" export holds."""
    bounds = [*sorted(c for c in cuts if start <= c < end), end]
    out: list[tuple[date, list[DemoOrder]]] = []
    previous = start - timedelta(days=1)
    for until in bounds:
        chunk = [
            as_known_on(o, until)
            for o in orders
            if o.ordered_at.date() <= until and _changed_between(o, previous, until)
        ]
        out.append((until, chunk))
        previous = until
    return out


def write_orders_csv(
    path: Path,
    options: GeneratorOptions,
    *,
    split: Split = "none",
    cuts: Sequence[date] = (),
    chunk_orders: int = 2000,
) -> GenerationInfo:
    """Generate the history and write it as canonical CSV (UTF-8, header), chunk by chunk.

    ``split="none"`` writes one file at ``path``; ``"year"``/``"month"`` write ``path`` as a folder
    of ``orders-YYYY[-MM].csv`` files (the CSV source reads a folder in name order, each file once),
    which is what a shop exporting one file per period looks like. ``"cuts"`` writes
    ``orders-<n>-to-<date>.csv`` per period ending at each of ``cuts`` (and at the end): each holds
    the orders placed *or changed* (invoiced, paid) in its period as known on its last day, so a
    later file re-exports an order whose payment came in (the ETL merges it). The bad rows, when
    asked for, go into the last file.
    """
    started = time.perf_counter()
    customers = make_customers(options)
    orders = generate_orders(options, customers)
    paths: list[Path] = []
    if split == "none":
        path.parent.mkdir(parents=True, exist_ok=True)
        groups: list[tuple[Path, list[DemoOrder]]] = [(path, orders)]
    elif split == "cuts":
        path.mkdir(parents=True, exist_ok=True)
        periods = _export_periods(orders, options.start, cuts, options.end)
        groups = [
            (path / f"orders-{n}-to-{until.isoformat()}.csv", chunk)
            for n, (until, chunk) in enumerate(periods, start=1)
        ]
    else:
        path.mkdir(parents=True, exist_ok=True)
        by_key: dict[str, list[DemoOrder]] = {}
        fmt = "%Y" if split == "year" else "%Y-%m"
        for o in orders:
            by_key.setdefault(o.ordered_at.strftime(fmt), []).append(o)
        groups = [(path / f"orders-{key}.csv", chunk) for key, chunk in sorted(by_key.items())]
    n_lines = 0
    extra = bad_rows(options.end, options.currency) if options.bad_rows else []
    for i, (file_path, group) in enumerate(groups):
        with file_path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(CSV_COLUMNS)
            for k in range(0, len(group), chunk_orders):
                rows = list(order_rows(group[k : k + chunk_orders], options.currency))
                writer.writerows(rows)
                n_lines += len(rows)
            if i == len(groups) - 1 and extra:
                writer.writerows(extra)
        paths.append(file_path)
    info = GenerationInfo(
        paths=paths,
        n_customers=len(customers),
        n_orders=len(orders),
        n_lines=n_lines,
        n_bad_rows=len(extra),
        first_date=orders[0].ordered_at.date() if orders else None,
        last_date=orders[-1].ordered_at.date() if orders else None,
        seconds=time.perf_counter() - started,
        archetypes=dict(Counter(c.archetype for c in customers)),
        statuses=dict(Counter(o.status for o in orders)),
    )
    log.info(
        "demo orders: %d customers, %d orders, %d lines (+%d bad rows) in %.1f s -> %s",
        info.n_customers, info.n_orders, info.n_lines, info.n_bad_rows, info.seconds, path,
    )  # fmt: skip
    return info


__all__ = [
    "ARCHETYPES",
    "CSV_COLUMNS",
    "DEFAULT_KEY_ACCOUNTS",
    "IN_CAR_VIDEO",
    "DemoCustomer",
    "DemoLine",
    "DemoOrder",
    "GenerationInfo",
    "GeneratorOptions",
    "KeyAccount",
    "bad_rows",
    "generate_orders",
    "make_customers",
    "order_rows",
    "write_orders_csv",
]
