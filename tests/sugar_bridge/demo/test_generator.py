"""The demo generator: deterministic, valid canonical CSV, customers who follow their story."""

from __future__ import annotations

import csv
import hashlib
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from sugar_bridge.demo.catalog import CATEGORIES
from sugar_bridge.demo.generator import (
    CSV_COLUMNS,
    DEFAULT_KEY_ACCOUNTS,
    DemoOrder,
    GeneratorOptions,
    KeyAccount,
    generate_orders,
    make_customers,
    write_orders_csv,
)

END = date(2026, 11, 23)
OPTS = GeneratorOptions(end=END, seed=7, n_customers=500)

PAYMENT_METHODS = {
    "card",
    "transfer",
    "cheque",
    "cash",
    "direct_debit",
    "financing",
    "paypal",
    "other",
}
CHANNELS = {"web", "store", "phone", "sales_rep", "marketplace", "other"}
STATUSES = {"completed", "cancelled", "returned"}
ORDER_LEVEL = (
    "ordered_at", "customer_id", "customer_name", "customer_email", "currency",
    "payment_method", "channel", "status", "invoiced_at", "due_at", "paid_at",
)  # fmt: skip


@pytest.fixture(scope="module")
def orders() -> list[DemoOrder]:
    return generate_orders(OPTS)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_same_seed_same_bytes_other_seed_other_history(tmp_path: Path) -> None:
    a = write_orders_csv(tmp_path / "a.csv", OPTS)
    b = write_orders_csv(tmp_path / "b.csv", OPTS, chunk_orders=97)  # chunking changes nothing
    write_orders_csv(tmp_path / "c.csv", GeneratorOptions(end=END, seed=8, n_customers=500))
    assert _sha(tmp_path / "a.csv") == _sha(tmp_path / "b.csv")
    assert _sha(tmp_path / "a.csv") != _sha(tmp_path / "c.csv")
    assert (a.n_orders, a.n_lines) == (b.n_orders, b.n_lines)


def test_a_customers_history_does_not_depend_on_the_others() -> None:
    small = {c.customer_id: c for c in make_customers(GeneratorOptions(end=END, n_customers=50))}
    big = {c.customer_id: c for c in make_customers(GeneratorOptions(end=END, n_customers=500))}
    assert all(big[cid] == cust for cid, cust in small.items())


def test_default_size_is_a_few_thousand_customers_over_three_years(tmp_path: Path) -> None:
    info = write_orders_csv(tmp_path / "o.csv", GeneratorOptions(end=END))
    assert 3000 <= info.n_customers <= 3100
    assert 10_000 <= info.n_orders <= 40_000
    assert info.first_date is not None
    assert info.last_date is not None
    assert info.first_date >= END - timedelta(days=3 * 366)
    assert info.last_date <= END


def test_csv_is_valid_canonical_format(tmp_path: Path) -> None:
    write_orders_csv(tmp_path / "o.csv", OPTS)
    with (tmp_path / "o.csv").open(encoding="utf-8", newline="") as fh:
        assert next(csv.reader(fh)) == list(CSV_COLUMNS)
    rows = _read(tmp_path / "o.csv")
    keys = Counter((r["order_id"], r["line_no"]) for r in rows)
    assert max(keys.values()) == 1
    by_order: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in rows:
        by_order[r["order_id"]].append(r)
        assert r["order_id"]
        assert r["customer_id"]
        assert r["sku"]
        ordered = datetime.fromisoformat(r["ordered_at"])
        assert ordered.date() <= END
        assert int(r["quantity"]) > 0
        assert float(r["unit_price"]) >= 0
        assert 0 <= float(r["discount"]) <= int(r["quantity"]) * float(r["unit_price"])
        assert r["currency"] == "EUR"
        assert r["payment_method"] in PAYMENT_METHODS
        assert r["channel"] in CHANNELS
        assert r["status"] in STATUSES
        assert r["category"] in CATEGORIES
        inv, due, paid = (date.fromisoformat(r[k]) if r[k] else None
                          for k in ("invoiced_at", "due_at", "paid_at"))  # fmt: skip
        if r["status"] == "cancelled":
            assert inv is None
            assert paid is None
        if inv is not None:
            assert inv >= ordered.date()
            assert due is not None
            assert due >= inv
            assert inv <= END
        if paid is not None:
            assert inv is not None
            assert paid >= inv
            assert paid <= END
    for lines in by_order.values():
        assert [int(r["line_no"]) for r in lines] == list(range(1, len(lines) + 1))
        for col in ORDER_LEVEL:
            assert len({r[col] for r in lines}) == 1, col


def test_month_split_holds_the_same_rows(tmp_path: Path) -> None:
    write_orders_csv(tmp_path / "one.csv", OPTS)
    info = write_orders_csv(tmp_path / "monthly", OPTS, split="month")
    assert len(info.paths) >= 36
    assert [p.name for p in info.paths] == sorted(p.name for p in info.paths)
    assert info.paths[0].name.startswith("orders-20")
    split_rows = [row for p in info.paths for row in _read(p)]
    assert split_rows == _read(tmp_path / "one.csv")


def test_bad_rows_only_on_request(tmp_path: Path) -> None:
    clean = write_orders_csv(tmp_path / "clean.csv", OPTS)
    dirty = write_orders_csv(tmp_path / "dirty.csv", GeneratorOptions(end=END, seed=7,
                                                                      n_customers=500,
                                                                      bad_rows=True))  # fmt: skip
    assert clean.n_bad_rows == 0
    assert not any(r["order_id"].startswith("BAD-") for r in _read(tmp_path / "clean.csv"))
    bad = [r for r in _read(tmp_path / "dirty.csv") if r["order_id"].startswith("BAD-")]
    assert len(bad) == dirty.n_bad_rows >= 10
    assert len({r["order_id"] for r in bad}) >= 10  # one order id per reason


def _orders_between(orders: list[DemoOrder], ids: set[str], lo: date, hi: date) -> int:
    return sum(
        1 for o in orders if o.customer.customer_id in ids and lo <= o.ordered_at.date() < hi
    )


def test_decliners_order_rate_falls_and_growers_rises(orders: list[DemoOrder]) -> None:
    customers = make_customers(OPTS)
    decliners = [c for c in customers if c.archetype == "declining"]
    growers = {c.customer_id for c in customers if c.archetype == "growing"}
    assert decliners
    assert growers
    before = after = 0
    for c in decliners:
        assert c.decline_from is not None
        ids = {c.customer_id}
        before += _orders_between(orders, ids, c.decline_from - timedelta(days=365), c.decline_from)
        after += _orders_between(orders, ids, END - timedelta(days=365), END + timedelta(days=1))
    assert after < 0.4 * before
    start = OPTS.start
    year1 = _orders_between(
        orders, growers, start + timedelta(days=120), start + timedelta(days=365)
    )
    year3 = _orders_between(orders, growers, END - timedelta(days=245), END + timedelta(days=1))
    assert year3 > 1.5 * year1


def test_leavers_one_offs_and_newcomers(orders: list[DemoOrder]) -> None:
    customers = {c.customer_id: c for c in make_customers(OPTS)}
    per_customer: dict[str, list[DemoOrder]] = defaultdict(list)
    for o in orders:
        per_customer[o.customer.customer_id].append(o)
    for cid, c in customers.items():
        mine = per_customer[cid]
        assert mine, f"{cid} never ordered"
        assert min(o.ordered_at.date() for o in mine) == c.joined
        if c.archetype == "one_off":
            assert len(mine) == 1
        if c.archetype == "churned":
            assert c.left is not None
            assert max(o.ordered_at.date() for o in mine) <= c.left
            assert (END - c.left).days >= 200
        if c.archetype == "new":
            assert (END - c.joined).days <= 150
    loyal = [len(per_customer[cid]) for cid, c in customers.items() if c.archetype == "loyal"]
    assert sum(loyal) / len(loyal) > 4


def test_key_accounts_use_the_given_ids_and_order_big(orders: list[DemoOrder]) -> None:
    ka_ids = {ka.customer_id for ka in DEFAULT_KEY_ACCOUNTS}
    ka_orders = [o for o in orders if o.customer.customer_id in ka_ids]
    assert {o.customer.customer_id for o in ka_orders} == ka_ids
    assert {o.customer.name for o in ka_orders} == {ka.name for ka in DEFAULT_KEY_ACCOUNTS}
    b2c = [o.total for o in orders if not o.customer.is_business]
    assert sum(o.total for o in ka_orders) / len(ka_orders) > 2 * sum(b2c) / len(b2c)
    assert Counter(o.payment_method for o in ka_orders).most_common(1)[0][0] in {
        "transfer", "direct_debit", "cheque"}  # fmt: skip
    custom = GeneratorOptions(
        end=END, n_customers=10, key_accounts=(KeyAccount("ACME-1", "Acme", "a@acme.example"),)
    )
    assert make_customers(custom)[0].customer_id == "ACME-1"


def test_seasonality_weekdays_payments_and_statuses(orders: list[DemoOrder]) -> None:
    months = Counter(o.ordered_at.month for o in orders)
    assert months[11] + months[12] > 1.5 * (months[7] + months[8])
    weekdays = Counter(o.ordered_at.weekday() for o in orders)
    assert weekdays[5] > 2 * weekdays[6]  # Saturday busy, Sunday only the web shop
    assert not any(o.channel == "store" and o.ordered_at.weekday() == 6 for o in orders)
    methods = Counter(o.payment_method for o in orders)
    assert methods.most_common(1)[0][0] == "card"
    assert {"transfer", "cheque", "financing"} <= set(methods)
    assert 0 < methods["paypal"] + methods["direct_debit"] < 0.15 * len(orders)
    late = [o for o in orders if o.paid_at and o.due_at and o.paid_at > o.due_at]
    deferred = [o for o in orders if o.payment_method in ("transfer", "cheque") and o.paid_at]
    assert 0.05 * len(deferred) < len(late) < 0.4 * len(deferred)
    assert any(o.invoiced_at and o.paid_at is None for o in orders)  # open invoices at the end
    statuses = Counter(o.status for o in orders)
    assert 0.01 < statuses["cancelled"] / len(orders) < 0.06
    assert 0.005 < statuses["returned"] / len(orders) < 0.05
    assert {o.lines[0].product.category for o in orders} >= set(CATEGORIES) - {"Accessories"}


def test_default_key_accounts_match_the_example_config() -> None:
    import yaml

    from tests.conftest import REPO

    config = yaml.safe_load((REPO / "config" / "sugar-bridge.yaml").read_text(encoding="utf-8"))
    declared = {a["external_id"]: a["name"] for a in config["sugar"]["accounts"]}
    for ka in DEFAULT_KEY_ACCOUNTS:
        assert declared.get(ka.customer_id) == ka.name


def test_cut_exports_hold_what_was_known_then_and_re_export_late_payments(tmp_path: Path) -> None:
    cut = END - timedelta(days=7)
    info = write_orders_csv(tmp_path / "nightly", OPTS, split="cuts", cuts=[cut])
    first, second = info.paths
    assert first.name == f"orders-1-to-{cut.isoformat()}.csv"
    assert second.name == f"orders-2-to-{END.isoformat()}.csv"
    early, late = _read(first), _read(second)
    for row in early:  # nothing from after the cut leaks into the earlier export
        for col in ("invoiced_at", "due_at", "paid_at"):
            assert not row[col] or (col == "due_at" or date.fromisoformat(row[col]) <= cut)
        assert datetime.fromisoformat(row["ordered_at"]).date() <= cut
    paid_late = {r["order_id"] for r in late} & {r["order_id"] for r in early}
    assert paid_late  # orders placed before the cut whose payment came in after it
    for oid in list(paid_late)[:20]:
        before = next(r for r in early if r["order_id"] == oid)
        after = next(r for r in late if r["order_id"] == oid)
        assert before["paid_at"] == "" or before["invoiced_at"] == ""
        assert after["paid_at"] or after["invoiced_at"]
    # The latest version of every order equals the one-file history.
    write_orders_csv(tmp_path / "one.csv", OPTS)
    latest = {(r["order_id"], r["line_no"]): r for r in early + late}
    assert sorted(latest.values(), key=lambda r: (r["order_id"], r["line_no"])) == sorted(
        _read(tmp_path / "one.csv"), key=lambda r: (r["order_id"], r["line_no"])
    )
