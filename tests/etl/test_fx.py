"""Currencies: rates loaded and rejected by line and field, orders converted at their date, orders
without a rate flagged and never summed, the same figures on SQLite, MariaDB and PostgreSQL."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from analytics import run_analytics
from analytics.config import AnalyticsConfig
from connectors.orders.rates import read_rates_csv
from etl import load_csv
from etl.fx import convert_orders, load_rates, validate_rates
from etl.history import open_rejects
from etl.schema import analytics_run, fact_order, fx_rate
from tests.etl.data import write_csv

AS_OF = date(2026, 3, 31)
EUR = AnalyticsConfig.model_validate({"currency": {"reporting": "EUR"}})


def _orders(folder: Path, name: str = "orders.csv") -> Path:
    """1,000 EUR, 1,000 USD and 100,000 JPY on 2026-01-05, one customer each."""
    rows = []
    for n, (currency, price) in enumerate([("EUR", "1000"), ("USD", "1000"), ("JPY", "100000")]):
        rows.append(
            {
                "order_id": f"O{n}",
                "line_no": "1",
                "ordered_at": "2026-01-05",
                "customer_id": f"C{n}",
                "customer_name": f"Customer {n}",
                "customer_email": f"c{n}@example.com",
                "sku": f"SKU{n}",
                "product_name": "Screen",
                "category": "flat screens",
                "quantity": "1",
                "unit_price": price,
                "discount": "0",
                "currency": currency,
                "payment_method": "card",
                "channel": "web",
                "status": "completed",
                "invoiced_at": "2026-01-05",
                "due_at": "2026-02-04",
                "paid_at": "2026-01-20",
            }
        )
    return write_csv(folder / name, rows)


def _rates(path: Path, lines: list[str]) -> Path:
    path.write_text("date,currency,rate\n" + "".join(f"{line}\n" for line in lines))
    return path


def _run(engine: Engine) -> Any:
    return run_analytics(engine, EUR, AS_OF)


def _portfolio(engine: Engine, run_id: int) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(
            select(analytics_run.c.portfolio, analytics_run.c.currency).where(
                analytics_run.c.run_id == run_id
            )
        ).one()
    return {**row.portfolio, "run_currency": row.currency}


def test_mixed_currencies_are_converted_at_the_order_date(
    warehouse: Engine, tmp_path: Path
) -> None:
    load_csv(warehouse, _orders(tmp_path))
    # Friday's rates serve Monday's orders; a later rate never serves an earlier order.
    rates = _rates(
        tmp_path / "rates.csv",
        ["2026-01-02,USD,1.1", "2026-01-02,JPY,160", "2026-01-06,USD,2", "2025-12-01,JPY,1"],
    )
    loaded = load_rates(warehouse, read_rates_csv(rates), base="EUR")
    assert (loaded.inserted, loaded.rejected) == (4, 0)
    info = _run(warehouse)
    assert info.currency == "EUR"
    assert info.conversion["unconverted_orders"] == 0
    # 1000 + 1000 / 1.1 + 100000 / 160, never 1000 + 1000 + 100000.
    assert info.revenue == pytest.approx(2534.09, abs=0.005)
    totals = _portfolio(warehouse, info.run_id)["totals"]
    assert totals["revenue"] == pytest.approx(2534.09, abs=0.005)
    assert totals["avg_order_amount"] == pytest.approx(2534.09 / 3, abs=0.005)
    assert totals["currency"] == "EUR"
    with warehouse.connect() as conn:
        rows = {
            r.currency: r
            for r in conn.execute(
                select(
                    fact_order.c.currency,
                    fact_order.c.total_amount,
                    fact_order.c.reporting_amount,
                    fact_order.c.fx_rate,
                    fact_order.c.fx_rate_date,
                )
            )
        }
    # The order's own currency and amount are kept exactly; the converted one is beside them.
    assert Decimal(str(rows["JPY"].total_amount)) == Decimal("100000")
    assert Decimal(str(rows["JPY"].reporting_amount)) == Decimal("625")
    assert Decimal(str(rows["USD"].reporting_amount)) == Decimal("909.090909")
    assert rows["USD"].fx_rate_date == date(2026, 1, 2)
    assert Decimal(str(rows["EUR"].reporting_amount)) == Decimal("1000")
    assert rows["EUR"].fx_rate_date is None


def test_an_order_without_a_rate_is_flagged_and_not_summed_then_fixed_by_later_rates(
    warehouse: Engine, tmp_path: Path
) -> None:
    load_csv(warehouse, _orders(tmp_path))
    rates = tmp_path / "rates.csv"
    load_rates(warehouse, read_rates_csv(_rates(rates, ["2026-01-02,USD,1.1"])), base="EUR")
    info = _run(warehouse)
    assert info.conversion["unconverted_orders"] == 1
    assert info.conversion["unconverted"] == [{"currency": "JPY", "orders": 1, "amount": 100000.0}]
    portfolio = _portfolio(warehouse, info.run_id)
    totals = portfolio["totals"]
    assert totals["revenue"] == pytest.approx(1909.09, abs=0.005)  # JPY left out
    assert totals["avg_order_amount"] == pytest.approx(1909.09 / 2, abs=0.005)
    assert totals["unconverted_orders"] == 1
    jpy = next(c for c in portfolio["currencies"] if c["currency"] == "JPY")
    assert (jpy["unconverted_orders"], jpy["unconverted_amount"]) == (1, 100000.0)
    assert jpy["converted"] == 0.0
    # The JPY order is kept (counted as an order of its customer), its amount is not a figure.
    with warehouse.connect() as conn:
        assert conn.scalar(select(fact_order.c.reporting_amount).where(
            fact_order.c.currency == "JPY")) is None  # fmt: skip
    # The rate arrives: the next run converts the order, and a rerun changes nothing.
    _rates(rates, ["2026-01-02,USD,1.1", "2026-01-02,JPY,160"])
    load_rates(warehouse, read_rates_csv(rates), base="EUR")
    fixed = _run(warehouse)
    assert fixed.conversion["unconverted_orders"] == 0
    assert fixed.revenue == pytest.approx(2534.09, abs=0.005)
    with warehouse.begin() as conn:
        again = convert_orders(conn, "EUR")
    assert (again.orders_rewritten, again.groups_rewritten) == (0, 0)


def test_a_rate_older_than_the_allowed_age_is_not_used(warehouse: Engine, tmp_path: Path) -> None:
    load_csv(warehouse, _orders(tmp_path))
    rates = _rates(tmp_path / "rates.csv", ["2025-12-20,USD,1.1", "2025-12-20,JPY,160"])
    load_rates(warehouse, read_rates_csv(rates), base="EUR")
    info = _run(warehouse)  # 16 days > 7 (the default)
    assert info.conversion["unconverted_orders"] == 2
    assert info.revenue == pytest.approx(1000.0)
    older = AnalyticsConfig.model_validate(
        {"currency": {"reporting": "EUR", "max_rate_age_days": 30}}
    )
    assert run_analytics(warehouse, older, AS_OF).conversion["unconverted_orders"] == 0


def test_bad_rates_rows_are_rejected_by_line_and_field_and_the_others_load(
    warehouse: Engine, tmp_path: Path
) -> None:
    rates = _rates(
        tmp_path / "rates.csv",
        [
            "2026-01-02,USD,1.1",
            "2026-13-02,USD,1.2",  # line 3: no such date
            "2026-01-02,XYZ,3",  # line 4: unknown currency
            "2026-01-02,JPY,-160",  # line 5: negative
            "2026-01-02,GBP,abc",  # line 6: not a number
            "2026-01-02,EUR,1.5",  # line 7: the reporting currency at another rate than 1
            "2026-01-02,USD,1.3",  # line 8: USD that day again, another rate
            "2026-01-02,EUR,1",  # the reporting currency at 1: fine, not stored
        ],
    )
    info = load_rates(warehouse, read_rates_csv(rates), base="EUR")
    assert (info.inserted, info.rejected) == (1, 6)
    rejects, total = open_rejects(warehouse)
    assert total == 6
    by_key = {r.source_key: r for r in rejects}
    assert by_key["rates.csv:3"].rule == "bad_date"
    assert "field date" in by_key["rates.csv:3"].reason
    assert by_key["rates.csv:4"].rule == "unknown_currency"
    assert by_key["rates.csv:5"].rule == "rate_not_positive"
    assert by_key["rates.csv:6"].rule == "bad_rate"
    assert by_key["rates.csv:7"].rule == "base_rate_not_one"
    assert by_key["rates.csv:8"].rule == "duplicate_rate"
    assert all(r.reason.startswith(r.source_key + ": field ") for r in rejects)
    # The corrected file closes them.
    _rates(rates, ["2026-01-02,USD,1.1", "2026-01-02,JPY,160"])
    load_rates(warehouse, read_rates_csv(rates), base="EUR")
    assert open_rejects(warehouse)[1] == 0


def test_reloading_rates_is_idempotent_and_a_changed_rate_is_updated(
    warehouse: Engine, tmp_path: Path
) -> None:
    rates = _rates(tmp_path / "rates.csv", ["2026-01-02,USD,1.1", "2026-01-02,JPY,160"])
    first = load_rates(warehouse, read_rates_csv(rates), base="EUR")
    again = load_rates(warehouse, read_rates_csv(rates), base="EUR")
    assert first.inserted == 2
    assert again.skipped
    assert again.inserted == again.updated == 0
    _rates(rates, ["2026-01-02,USD,1.2", "2026-01-02,JPY,160"])
    changed = load_rates(warehouse, read_rates_csv(rates), base="EUR")
    assert (changed.inserted, changed.updated, changed.unchanged) == (0, 1, 1)
    with warehouse.connect() as conn:
        usd = conn.scalar(select(fx_rate.c.rate).where(fx_rate.c.currency == "USD"))
    assert Decimal(str(usd)) == Decimal("1.2")


def test_a_single_currency_shop_needs_no_config(warehouse: Engine, tmp_path: Path) -> None:
    rows = [
        {**r, "currency": "JPY"}
        for r in _rows_of(_orders(tmp_path / "in"))
        if r["currency"] in ("JPY", "EUR")
    ]
    load_csv(warehouse, write_csv(tmp_path / "jpy.csv", rows))
    info = run_analytics(warehouse, AnalyticsConfig(), AS_OF)
    assert info.currency == "JPY"  # the orders' own currency, without any config
    assert info.conversion["unconverted_orders"] == 0
    assert info.revenue == pytest.approx(101000.0)


_CONVERSION = (
    fact_order.c.source_order_id,
    fact_order.c.reporting_currency,
    fact_order.c.fx_rate,
    fact_order.c.fx_rate_date,
    fact_order.c.reporting_amount,
)


def _conversions(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(select(*_CONVERSION).order_by(fact_order.c.source_order_id))
        return [
            (r[0], r[1], None if r[2] is None else Decimal(str(r[2])), r[3],
             None if r[4] is None else Decimal(str(r[4])))
            for r in rows
        ]  # fmt: skip


def _from_scratch(engine: Engine, reporting: str) -> list[tuple[Any, ...]]:
    """What ``convert_orders`` alone makes of the orders (every conversion erased first)."""
    with engine.begin() as conn:
        conn.execute(
            fact_order.update().values(
                reporting_currency=None, fx_rate=None, fx_rate_date=None, reporting_amount=None
            )
        )
        convert_orders(conn, reporting)
    return _conversions(engine)


@pytest.mark.parametrize(
    ("currencies", "reporting", "rewritten"),
    [
        # the usual shop: everything in the reporting currency, converted as it is loaded
        (("EUR", "EUR", "EUR"), "EUR", 0),
        # the other currencies are left to the conversion after the load (the JPY order, without
        # a rate, is marked as converted to EUR without an amount)
        (("EUR", "USD", "JPY"), "EUR", 2),
        # an empty warehouse without config expects the default currency (EUR); the orders say
        # JPY, so the conversion after the load writes every one of them, as before
        (("JPY", "JPY", "JPY"), "JPY", 3),
    ],
)
def test_the_load_converts_what_needs_no_rate_and_the_result_is_the_conversions_own(
    warehouse: Engine,
    tmp_path: Path,
    currencies: tuple[str, ...],
    reporting: str,
    rewritten: int,
) -> None:
    rows = [{**r, "currency": c} for r, c in zip(_rows_of(_orders(tmp_path / "in")), currencies,
                                                   strict=True)]  # fmt: skip
    load_rates(warehouse, read_rates_csv(_rates(tmp_path / "rates.csv", ["2026-01-02,USD,1.1"])),
               base="EUR")  # fmt: skip
    info = load_csv(warehouse, write_csv(tmp_path / "orders.csv", rows))
    assert info.conversion["reporting_currency"] == reporting
    assert info.conversion["orders_rewritten"] == rewritten
    loaded = _conversions(warehouse)
    assert loaded == _from_scratch(warehouse, reporting)
    eur = next(r for r in loaded if r[0] == "O0")
    if currencies[0] == reporting:
        assert eur[1:] == (reporting, Decimal(1), None, Decimal("1000"))
    # Every order corrected (a new price): the merge rewrites them, conversion included.
    corrected = [{**r, "unit_price": str(Decimal(r["unit_price"]) * 2)} for r in rows]
    again = load_csv(warehouse, write_csv(tmp_path / "orders.csv", corrected))
    assert again.orders_updated == 3
    reloaded = _conversions(warehouse)
    assert reloaded == _from_scratch(warehouse, reporting)
    if currencies[0] == reporting:
        assert next(r for r in reloaded if r[0] == "O0")[4] == Decimal("2000")


def test_orders_committed_by_a_killed_load_are_converted_only_where_no_rate_is_needed(
    warehouse: Engine, tmp_path: Path
) -> None:
    """Killed after its first batch (before the conversion): the orders in the reporting
    currency carry it, the others stay unconverted (flagged, out of every money figure)."""
    base = _rows_of(_orders(tmp_path / "in"))
    rows = [{**base[n % 3], "order_id": f"K{n:02d}", "customer_id": f"C{n}"} for n in range(12)]

    def stop(stage: str, batch: int) -> None:
        if stage == "after_commit":
            raise KeyboardInterrupt  # the process dying after batch 1

    with pytest.raises(KeyboardInterrupt):
        load_csv(warehouse, write_csv(tmp_path / "orders.csv", rows), batch_lines=6, hook=stop)
    with warehouse.connect() as conn:
        stored = conn.execute(select(fact_order.c.currency, *_CONVERSION[1:])).all()
    assert 0 < len(stored) < 12
    for currency, reporting, rate, rate_day, amount in stored:
        if currency == "EUR":
            assert (reporting, Decimal(str(rate)), rate_day) == ("EUR", Decimal(1), None)
            assert Decimal(str(amount)) == Decimal("1000")
        else:
            assert (reporting, rate, rate_day, amount) == (None, None, None, None)


def _rows_of(path: Path) -> list[dict[str, str]]:
    import csv

    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_validate_rates_reads_sql_values() -> None:
    good, rejects = validate_rates(
        [("query:1", {"date": date(2026, 1, 2), "currency": "usd", "rate": Decimal("1.1")})],
        "EUR",
    )
    assert not rejects
    assert good == {("USD", date(2026, 1, 2)): (Decimal("1.10000000"), "query:1")}


def test_the_report_says_the_currency_and_lists_the_orders_without_a_rate(
    warehouse: Engine, tmp_path: Path
) -> None:
    from analytics.report import write_report

    load_csv(warehouse, _orders(tmp_path))
    rates = _rates(tmp_path / "rates.csv", ["2026-01-02,USD,1.1"])
    load_rates(warehouse, read_rates_csv(rates), base="EUR")
    _run(warehouse)
    path = tmp_path / "report.html"
    write_report(warehouse, EUR, AS_OF, path, locale="fr_FR")
    page = path.read_text(encoding="utf-8")
    assert 'data-key="revenue">1\u202f909,09\u00a0€<' in page
    assert 'data-key="converted_currencies"' in page  # USD converted, said
    assert "sans taux de change vers EUR" in page
    assert '<li data-currency="JPY">JPY: 1 commande, 100\u202f000\u00a0JPY</li>' in page
    assert "JPY (1)" not in page  # not among the converted ones
    assert "mixed_currencies" not in page  # converted: no "summed as they are" warning
    assert 'data-key="revenue_per_buyer">954,55\u00a0€<' in page  # over the 2 with an amount
