"""The HTML report: key numbers equal the warehouse's, data is escaped, nothing external."""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest
from markupsafe import escape
from sqlalchemy import text, update
from sqlalchemy.engine import Engine

from analytics.config import AnalyticsConfig
from analytics.report import write_report
from etl.schema import dim_customer
from tests.analytics import synth
from tests.analytics.conftest import BACKENDS, make_engine
from tests.analytics.synth import Customer, Line, Order

AS_OF = date(2025, 12, 31)
HOSTILE = "<script>alert('x')</script> & \"Co\" '; DROP TABLE dim_customer; --"
HOSTILE_CATEGORY = "<img src=x onerror=alert(1)>"


def _value(page: str, key: str) -> str:
    match = re.search(rf'data-key="{key}">([^<]*)<', page)
    assert match is not None, key
    return html.unescape(match.group(1)).strip()


def _number(text_value: str) -> float:
    # English formats: thousands commas, a currency symbol or a percent sign around the figure
    return float(re.sub(r"[^0-9.+-]", "", text_value))


@pytest.fixture(scope="module", params=BACKENDS)
def report(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Engine]]:
    tmp_path = tmp_path_factory.mktemp("report")
    for engine in make_engine(request.param, tmp_path, request):
        yield _build(engine, tmp_path), engine


def _build(engine: Engine, tmp_path: Path) -> str:
    hostile = Customer("H1", HOSTILE, sugar_account_id="acc-h")
    # A big, frequent buyer who stopped three months ago: on the follow-up list under every
    # model, so the name is on the page.
    orders = [
        Order("H1", datetime(2024, 3, 1), [Line("SKU-X", 3, 5000.0)], order_id="h1"),
        Order("H1", datetime(2024, 6, 1), [Line("SKU-0", 3, 5000.0)], order_id="h2"),
        *(
            Order("H1", datetime(2024, month, 15), [Line("SKU-0", 3, 5000.0)], order_id=f"h{month}")
            for month in range(7, 13)
        ),
        *(
            Order(
                "H1", datetime(2025, month, 15), [Line("SKU-0", 3, 5000.0)], order_id=f"hh{month}"
            )
            for month in range(1, 10)
        ),
    ]
    with engine.begin() as conn:
        customers, random_orders = synth.random_orders(120, date(2023, 1, 1), AS_OF)
        synth.write(
            conn,
            synth.Warehouse(
                customers=[hostile, *customers],
                products={**synth.default_products(), "SKU-X": HOSTILE_CATEGORY},
                orders=[*orders, *random_orders],
            ),
        )
    with engine.begin() as conn:  # the push recorded who owns H1's account in Sugar
        conn.execute(
            update(dim_customer)
            .where(dim_customer.c.source_customer_id == "H1")
            .values(owner_name="t.bernard")
        )
    result = write_report(engine, AnalyticsConfig(), AS_OF, tmp_path / "out" / "report.html")
    assert result.computed
    again = write_report(engine, AnalyticsConfig(), AS_OF, tmp_path / "again.html")
    assert not again.computed  # the stored run of that date is reused
    assert again.run_id == result.run_id
    return result.path.read_text(encoding="utf-8")


def test_key_numbers_equal_the_warehouse(report: tuple[str, Engine]) -> None:
    page, engine = report
    with engine.connect() as conn:
        result = conn.execute(text("SELECT * FROM customer_habits"))
        habits = pd.DataFrame(result.all(), columns=list(result.keys()))
        orders = conn.execute(
            text("SELECT COUNT(*) FROM fact_order WHERE status <> 'cancelled' AND ordered_at < :c"),
            {"c": datetime(2026, 1, 1)},
        ).scalar()
    buyers = habits[habits["n_orders"] > 0]
    revenue = float(buyers["total_amount"].astype(float).sum())
    assert '<time datetime="2025-12-31" data-key="as_of">' in page
    assert _value(page, "as_of") == "Dec 31, 2025"  # English by default, Babel's medium date
    assert _number(_value(page, "customers")) == len(habits)
    assert _number(_value(page, "buyers")) == len(buyers)
    assert _number(_value(page, "orders")) == orders == buyers["n_orders"].sum()
    assert _number(_value(page, "revenue")) == pytest.approx(revenue, abs=0.005)
    assert _number(_value(page, "clv_12m")) == pytest.approx(
        float(habits["clv_12m"].astype(float).sum()), abs=0.01
    )
    spend = buyers["total_amount"].astype(float).sort_values(ascending=False).to_numpy()
    top20 = spend[: -(-len(spend) * 2 // 10)].sum() / spend.sum()
    assert _number(_value(page, "top_20_pct")) == pytest.approx(top20 * 100, abs=0.05)
    for stage in ("prospect", "new", "active", "declining", "lost"):
        expected = int((habits["lifecycle_stage"] == stage).sum())
        assert _number(_value(page, f"stage_{stage}")) == expected
    counts = buyers["rfm_segment"].value_counts()
    for segment in AnalyticsConfig().segment_names():
        row = re.search(
            rf'data-segment="{re.escape(str(escape(segment)))}">.*?data-key="segment_customers">'
            r"([^<]*)<",
            page,
            re.DOTALL,
        )
        assert row is not None, segment
        assert _number(row.group(1)) == counts.get(segment, 0), segment


def test_data_is_escaped_and_the_page_is_self_contained(report: tuple[str, Engine]) -> None:
    page, _ = report
    assert "<script" not in page.lower()
    assert "onerror=alert" not in page.replace("onerror=alert(1)&gt;", "")
    assert str(escape(HOSTILE)) in page  # shown literally, escaped
    assert "&lt;img src=x onerror=alert(1)&gt;" in page  # category in the chart text, escaped
    assert page.count("<svg") == 13  # ten portfolio charts, three of the holdout check
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # no external resource
    assert "Personal follow-up call" in page  # suggested action texts from the config


def test_the_follow_up_list_shows_each_accounts_owner(report: tuple[str, Engine]) -> None:
    page, _ = report
    section = page[page.index("<th>Owner</th>") :]
    row = section[section.index(str(escape(HOSTILE))) :]
    assert row[: row.index("</tr>")].endswith("<td>t.bernard</td>")
    assert "<td>—</td></tr>" in section  # an account the push never saw: no owner known


def test_charts_log_nothing_for_labels_that_look_like_dates_or_numbers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Month and weekday names parse as dates, a segment or channel may be named "2024":
    # matplotlib's categorical axis logs an INFO line for each such chart.
    from analytics.report import charts

    numeric = ["2024", "2025"]
    with caplog.at_level(logging.DEBUG, logger="matplotlib"):
        svgs = [
            charts.segment_chart(
                [{"segment": s, "customers": 3, "revenue": 10.0} for s in numeric]
            ),
            charts.category_mix_chart(
                {"categories": ["1", "2"], "overall": {"1": 0.5, "2": 0.5}, "by_segment": {}},
                [],
            ),
            charts.payment_chart(
                [{"method": m, "avg_delay_days": 3.0, "late_share": 0.1} for m in numeric]
            ),
            charts.seasonality_chart(
                {
                    "month": [{"revenue": 1.0 + i} for i in range(12)],
                    "weekday": [{"orders": 1 + i} for i in range(7)],
                }
            ),
            charts.channel_chart([{"channel": c, "revenue": 5.0} for c in numeric]),
        ]
    assert not [r.getMessage() for r in caplog.records if "categorical units" in r.getMessage()]
    assert all(">2024<" in svg for svg in (svgs[0], svgs[2], svgs[4]))  # labels still shown
    assert ">Jan<" in svgs[3]
    assert ">Sun<" in svgs[3]


def test_the_model_used_and_its_holdout_check_are_shown(report: tuple[str, Engine]) -> None:
    page, engine = report
    with engine.connect() as conn:
        models = conn.execute(
            text("SELECT models FROM analytics_run ORDER BY run_id DESC")
        ).scalar()
    stored = json.loads(models) if isinstance(models, str) else models
    used = stored["model"]
    label = {"bgnbd": "BG/NBD", "mbgnbd": "MBG/NBD", "pareto_nbd": "Pareto/NBD"}[used]
    assert _value(page, "model").startswith(label)
    selection = stored["selection"]
    assert selection["evaluations"], selection["reason"]
    for name, ev in selection["evaluations"].items():
        row = re.search(rf'<tr data-model="{name}">(.*?)</tr>', page, re.DOTALL)
        assert row is not None, name
        cells = re.findall(r"<td[^>]*>([^<]*)</td>", row.group(1))
        assert _number(cells[1]) == round(ev["predicted_total"])
        assert _number(cells[2]) == ev["actual_total"]
        assert _number(cells[3]) == pytest.approx(ev["mae"], abs=0.0005)
    assert "Holdout check" in page


def test_last_12_months_and_overdue_equal_the_warehouse(report: tuple[str, Engine]) -> None:
    page, engine = report
    purchases = (
        "SELECT customer_key, ordered_at, due_at, paid_at,"
        " CASE WHEN status = 'returned' THEN 0 ELSE total_amount END AS amount"
        " FROM fact_order WHERE status <> 'cancelled'"
    )
    with engine.connect() as conn:
        orders = pd.DataFrame(conn.execute(text(purchases)).all())
    orders["ordered_at"] = pd.to_datetime(orders["ordered_at"])
    orders["amount"] = orders["amount"].astype(float)
    end = pd.Timestamp(AS_OF) + pd.Timedelta(days=1)
    last = orders[
        (orders["ordered_at"] >= end - pd.Timedelta(days=365)) & (orders["ordered_at"] < end)
    ]
    before = orders[
        (orders["ordered_at"] >= end - pd.Timedelta(days=730))
        & (orders["ordered_at"] < end - pd.Timedelta(days=365))
    ]
    assert _number(_value(page, "l12m_revenue")) == pytest.approx(last["amount"].sum(), abs=0.01)
    assert _number(_value(page, "p12m_revenue")) == pytest.approx(before["amount"].sum(), abs=0.01)
    assert _number(_value(page, "l12m_orders")) == len(last)
    assert _number(_value(page, "l12m_customers")) == last["customer_key"].nunique()
    change = last["amount"].sum() / before["amount"].sum() - 1
    assert _number(_value(page, "l12m_revenue_change")) == pytest.approx(change * 100, abs=0.05)
    # unpaid on AS_OF and past due, 1-30 days
    placed = orders[orders["ordered_at"] < end]
    due = pd.to_datetime(placed["due_at"])
    paid = pd.to_datetime(placed["paid_at"])
    unpaid = placed[(due < pd.Timestamp(AS_OF)) & (paid.isna() | (paid > pd.Timestamp(AS_OF)))]
    days = (pd.Timestamp(AS_OF) - pd.to_datetime(unpaid["due_at"])).dt.days
    row = re.search(r'<tr data-overdue="1-30">(.*?)</tr>', page, re.DOTALL)
    assert row is not None
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", row.group(1))
    first = unpaid[(days >= 1) & (days <= 30)]
    assert _number(cells[1]) == len(first)
    assert _number(cells[2]) == pytest.approx(first["amount"].sum(), abs=0.01)


def test_the_report_in_french_with_a_currency_and_links_to_sugar(
    report: tuple[str, Engine],
) -> None:
    from analytics.report import render_report

    _, engine = report
    with engine.connect() as conn:
        run_id = conn.execute(text("SELECT MAX(run_id) FROM analytics_run")).scalar()
        revenue = _number(_value(report[0], "revenue"))
        page = render_report(
            conn,
            run_id,
            AnalyticsConfig(),
            locale="fr_FR",
            currency="EUR",
            sugar_url="https://crm.example.com/",
        )
    assert '<html lang="fr-FR">' in page
    assert "Habitudes clients et segments" in page
    assert "Comportement de paiement" in page
    assert "Payment behaviour" not in page
    assert "montants en EUR" in page
    assert '<time datetime="2025-12-31" data-key="as_of">31 déc. 2025</time>' in page
    # French separators and the euro sign, the same figure as the English page's
    shown = _value(page, "revenue")
    assert shown.endswith("\u00a0€")
    assert float(shown[:-2].replace("\u202f", "").replace(",", ".")) == revenue
    assert "janv." in page  # month names from CLDR, not the English "Jan"
    assert (
        'href="https://crm.example.com/index.php?module=Accounts&amp;action=DetailView&amp;record=acc-h"'
        in page
    )


def test_segment_migration_since_the_previous_run(tmp_path: Path) -> None:
    from analytics import run_analytics
    from analytics.store import segment_transitions

    for engine in make_engine("sqlite", tmp_path):
        with engine.begin() as conn:
            synth.build(conn)
        run_analytics(engine, AnalyticsConfig(), date(2025, 6, 30))
        result = write_report(engine, AnalyticsConfig(), AS_OF, tmp_path / "r.html")
        page = result.path.read_text(encoding="utf-8")
        with engine.connect() as conn:
            frame = segment_transitions(conn, result.run_id)
    frame = frame[frame["rfm_segment"].notna()]
    assert "Segment migration since Jun 30, 2025" in page
    names = AnalyticsConfig().segment_names()
    for before in [*names, "(none)"]:
        row = re.search(rf'<tr data-from="{re.escape(str(escape(before)))}">(.*?)</tr>', page, re.S)
        assert row is not None, before
        cells = re.findall(r"<td[^>]*>([^<]*)</td>", row.group(1))[1:]
        was = frame["previous_segment"].fillna("(none)") == before
        for name, cell in zip(names, cells, strict=True):
            expected = int((was & (frame["rfm_segment"] == name)).sum())
            assert (int(cell.replace(",", "")) if cell else 0) == expected, (before, name)
    moved = int((frame["previous_segment"].fillna("(none)") != frame["rfm_segment"]).sum())
    assert f"{moved:,} changed segment" in page
