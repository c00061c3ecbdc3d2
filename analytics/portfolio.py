"""Portfolio figures of one analytics run: what the analyst and the sales manager read first.

Revenue concentration, segment sizes and value, lifecycle stages, the RFM grid, payment
behaviour by method, category mix by segment, seasonality (month, weekday), channel mix and
cohort retention by first-order month. Order-level figures are portable SQL over the warehouse
(same ``as_of`` rules and exact money sums as ``analytics.habits``); customer-level ones read
the run's stored ``customer_metrics``. The result is a JSON-ready dict stored with the run and
rendered by the report.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Date, and_, case, func, literal, or_, select, true
from sqlalchemy.engine import Connection

from analytics.config import LIFECYCLE_STAGES, AnalyticsConfig
from analytics.habits import (
    UNCATEGORISED,
    fo,
    line_spend,
    lines_not_by_product,
    net_line_amount,
    payment_flags,
)
from analytics.store import previous_run, segment_transitions
from analytics.summary import cutoff, money_sum, net_amount, purchase_filter
from etl.schema import customer_metrics, dim_date, dim_product, fact_order_line
from etl.spider import facts_on_spider

CONCENTRATION_SHARES = (0.10, 0.20, 0.30)
UNKNOWN = "unknown"


def _f(value: Any) -> float | None:
    """A JSON-safe float (None for missing)."""
    if value is None:
        return None
    number = float(value)
    return None if np.isnan(number) else number


def concentration(amounts: pd.Series) -> dict[str, Any]:
    """Share of revenue from the top 10/20/30 % of buyers, and the curve for the chart.

    The top k % are the ceil(k * n) buyers with the largest net spend.
    """
    values = np.sort(amounts.astype(float).to_numpy())[::-1]
    total = float(values.sum())
    n = len(values)
    out: dict[str, Any] = {"n_buyers": n, "revenue": total}
    for share in CONCENTRATION_SHARES:
        k = int(np.ceil(share * n))
        out[f"top_{round(share * 100)}_pct"] = float(values[:k].sum()) / total if total else None
    if n and total:
        cumulative = np.concatenate([[0.0], np.cumsum(values) / total])
        points = np.linspace(0, n, num=min(n, 100) + 1).round().astype(int)
        out["curve"] = [[float(i / n), float(cumulative[i])] for i in points]
    else:
        out["curve"] = []
    return out


def _segments(metrics: pd.DataFrame, config: AnalyticsConfig) -> list[dict[str, Any]]:
    buyers = metrics[metrics["n_orders"] > 0]
    revenue = float(buyers["total_amount"].astype(float).sum())
    rows = []
    for name in config.segment_names():
        part = buyers[buyers["rfm_segment"] == name]
        seg_revenue = float(part["total_amount"].astype(float).sum())
        clv = part["clv_12m"].astype(float)
        rows.append(
            {
                "segment": name,
                "customers": len(part),
                "customer_share": len(part) / len(buyers) if len(buyers) else None,
                "revenue": seg_revenue,
                "revenue_share": seg_revenue / revenue if revenue else None,
                "avg_order_amount": _f(part["avg_order_amount"].astype(float).mean()),
                "avg_orders": _f(part["n_orders"].astype(float).mean()),
                "avg_recency_days": _f(part["recency_days"].astype(float).mean()),
                "clv_12m": _f(clv.sum()) if clv.notna().any() else None,
                "avg_p_alive": _f(part["p_alive"].astype(float).mean()),
                "action": config.actions.get(name, ""),
            }
        )
    return rows


def _rfm_grid(metrics: pd.DataFrame) -> list[dict[str, Any]]:
    buyers = metrics[metrics["n_orders"] > 0].copy()
    buyers["fm_score"] = (buyers["f_score"].astype(int) + buyers["m_score"].astype(int) + 1) // 2
    grouped = buyers.groupby(["r_score", "fm_score"]).agg(
        customers=("n_orders", "size"),
        revenue=("total_amount", lambda s: float(s.astype(float).sum())),
    )
    return [
        {"r": int(r), "fm": int(fm), "customers": int(n), "revenue": float(v)}
        for (r, fm), n, v in zip(
            grouped.index.to_list(), grouped["customers"], grouped["revenue"], strict=True
        )
    ]


def _payment(conn: Connection, as_of: date) -> list[dict[str, Any]]:
    delay, late, judged = payment_flags(as_of)
    method = func.coalesce(fo.c.payment_method, UNKNOWN)
    query = (
        select(
            method.label("method"),
            func.count().label("orders"),
            money_sum(net_amount()).label("revenue"),
            # Averages are divided here: MariaDB's AVG of integers keeps only 4 decimals.
            func.sum(delay).label("delay_sum"),
            func.count(delay).label("n_delays"),
            func.sum(late).label("late"),
            func.sum(judged).label("judged"),
        )
        .where(purchase_filter(as_of))
        .group_by(method)
        .order_by(method)
    )
    return [
        {
            "method": row.method,
            "orders": int(row.orders),
            "revenue": float(row.revenue or 0),
            "avg_delay_days": float(row.delay_sum) / row.n_delays if row.n_delays else None,
            "late_share": float(row.late) / float(row.judged) if row.judged else None,
        }
        for row in conn.execute(query)
    ]


def _channels(conn: Connection, as_of: date) -> list[dict[str, Any]]:
    channel = func.coalesce(fo.c.channel, UNKNOWN)
    query = (
        select(
            channel.label("channel"),
            func.count().label("orders"),
            money_sum(net_amount()).label("revenue"),
            func.count(fo.c.customer_key.distinct()).label("customers"),
        )
        .where(purchase_filter(as_of))
        .group_by(channel)
        .order_by(channel)
    )
    return [
        {
            "channel": row.channel,
            "orders": int(row.orders),
            "revenue": float(row.revenue or 0),
            "customers": int(row.customers),
        }
        for row in conn.execute(query)
    ]


def _seasonality(conn: Connection, as_of: date) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for part in ("month", "weekday"):
        column = dim_date.c[part]
        query = (
            select(
                column.label("key"),
                func.count().label("orders"),
                money_sum(net_amount()).label("revenue"),
            )
            .select_from(fo.join(dim_date, dim_date.c.date_key == fo.c.order_date_key))
            .where(purchase_filter(as_of))
            .group_by(column)
            .order_by(column)
        )
        found = {int(r.key): (int(r.orders), float(r.revenue or 0)) for r in conn.execute(query)}
        keys = range(1, 13) if part == "month" else range(7)
        out[part] = [
            {part: k, "orders": found.get(k, (0, 0.0))[0], "revenue": found.get(k, (0, 0.0))[1]}
            for k in keys
        ]
    return out


def _category_mix(conn: Connection, as_of: date, run_id: int) -> dict[str, Any]:
    category = func.coalesce(dim_product.c.category, UNCATEGORISED)
    sharded = facts_on_spider(conn)
    if sharded:  # lines and orders grouped apart first: see line_spend
        spend = line_spend(as_of)
        customer: Any = spend.c.customer_key
        amount: Any = spend.c.spend
        lines: Any = spend.join(dim_product, dim_product.c.product_key == spend.c.product_key)
        where: Any = true()
    else:
        customer, amount = fo.c.customer_key, net_line_amount()
        lines = fact_order_line.join(fo, fo.c.order_key == fact_order_line.c.order_key).join(
            dim_product, dim_product.c.product_key == fact_order_line.c.product_key
        )
        where = purchase_filter(as_of)
    query = (
        select(
            customer_metrics.c.rfm_segment.label("segment"),
            category.label("category"),
            money_sum(amount).label("spend"),
        )
        .select_from(
            lines.join(
                customer_metrics,
                and_(
                    customer_metrics.c.customer_key == customer,
                    customer_metrics.c.run_id == run_id,
                ),
            )
        )
        .where(where)
        .group_by(customer_metrics.c.rfm_segment, category)
    )
    if not sharded:
        query = lines_not_by_product(query)
    frame = pd.DataFrame(conn.execute(query).all(), columns=["segment", "category", "spend"])
    if frame.empty:
        return {"categories": [], "overall": {}, "by_segment": {}}
    frame["spend"] = frame["spend"].astype(float)
    overall = frame.groupby("category")["spend"].sum().sort_values(ascending=False)
    total = float(overall.sum())
    by_segment: dict[str, dict[str, float]] = {}
    for segment, part in frame.groupby("segment"):
        seg_total = float(part["spend"].sum())
        by_segment[str(segment)] = {
            str(c): (float(s) / seg_total if seg_total else 0.0)
            for c, s in zip(part["category"], part["spend"], strict=True)
        }
    return {
        "categories": [str(c) for c in overall.index],
        "overall": {str(c): (float(s) / total if total else 0.0) for c, s in overall.items()},
        "revenue": {str(c): float(s) for c, s in overall.items()},
        "by_segment": by_segment,
    }


def _cohorts(conn: Connection, as_of: date, n_cohorts: int = 12) -> dict[str, Any]:
    """Share of each first-order-month cohort buying again in month k after its first month."""
    month_index = (dim_date.c.year * 12 + dim_date.c.month - 1).label("m")
    orders = (
        select(fo.c.customer_key, month_index)
        .select_from(fo.join(dim_date, dim_date.c.date_key == fo.c.order_date_key))
        .where(purchase_filter(as_of))
        .distinct()
        .cte("order_months")
    )
    firsts = (
        select(orders.c.customer_key, func.min(orders.c.m).label("cohort"))
        .group_by(orders.c.customer_key)
        .cte("cohorts")
    )
    offset = (orders.c.m - firsts.c.cohort).label("k")
    query = (
        select(firsts.c.cohort, offset, func.count().label("customers"))
        .select_from(orders.join(firsts, firsts.c.customer_key == orders.c.customer_key))
        .group_by(firsts.c.cohort, offset)
    )
    frame = pd.DataFrame(conn.execute(query).all(), columns=["cohort", "k", "customers"])
    last = as_of.year * 12 + as_of.month - 1
    cohorts = []
    for cohort in range(last - n_cohorts + 1, last + 1):
        part = frame[frame["cohort"] == cohort].set_index("k")["customers"]
        size = int(part.get(0, 0))
        if size == 0:
            continue
        months = last - cohort
        retention = [float(part.get(k, 0)) / size for k in range(1, months + 1)]
        cohorts.append(
            {
                "cohort": f"{cohort // 12:04d}-{cohort % 12 + 1:02d}",
                "size": size,
                "retention": retention,
            }
        )
    return {"cohorts": cohorts}


# Payment delay (invoice -> payment) and overdue ageing buckets, in days: (label, low, high).
DELAY_BUCKETS = (
    ("on invoice", None, 0),
    ("1-15", 1, 15),
    ("16-30", 16, 30),
    ("31-45", 31, 45),
    ("46-60", 46, 60),
    ("61-90", 61, 90),
    ("over 90", 91, None),
)
OVERDUE_BUCKETS = (("1-30", 1, 30), ("31-60", 31, 60), ("61-90", 61, 90), ("over 90", 91, None))
TREND_MONTHS = 24


def _bucket_of(days: Any, buckets: tuple[tuple[str, int | None, int | None], ...]) -> Any:
    """A SQL ``CASE`` naming the bucket of an integer day count (portable: comparisons only)."""
    whens = []
    for label, low, high in buckets:
        conditions = []
        if low is not None:
            conditions.append(days >= low)
        if high is not None:
            conditions.append(days <= high)
        whens.append((and_(*conditions), literal(label)))
    return case(*whens, else_=literal(None))


def _trend(conn: Connection, as_of: date) -> dict[str, Any]:
    """Monthly orders, revenue and buyers of the last 24 months, and the last 12 months against
    the 12 before (day windows ending on ``as_of``)."""
    month_index = dim_date.c.year * 12 + dim_date.c.month - 1
    last = as_of.year * 12 + as_of.month - 1
    query = (
        select(
            month_index.label("m"),
            func.count().label("orders"),
            money_sum(net_amount()).label("revenue"),
            func.count(fo.c.customer_key.distinct()).label("customers"),
        )
        .select_from(fo.join(dim_date, dim_date.c.date_key == fo.c.order_date_key))
        .where(purchase_filter(as_of), month_index > last - TREND_MONTHS)
        .group_by(month_index)
    )
    found = {int(r.m): r for r in conn.execute(query)}
    months = []
    for m in range(last - TREND_MONTHS + 1, last + 1):
        row = found.get(m)
        months.append(
            {
                "month": f"{m // 12:04d}-{m % 12 + 1:02d}",
                "orders": int(row.orders) if row else 0,
                "revenue": float(row.revenue or 0) if row else 0.0,
                "customers": int(row.customers) if row else 0,
                # the month of as_of is counted to that day only
                "partial": m == last and (as_of + timedelta(days=1)).month == as_of.month,
            }
        )

    def window(end: date) -> dict[str, Any]:
        start = end - timedelta(days=365)
        row = conn.execute(
            select(
                func.count().label("orders"),
                money_sum(net_amount()).label("revenue"),
                func.count(fo.c.customer_key.distinct()).label("customers"),
            ).where(purchase_filter(end), fo.c.ordered_at >= cutoff(start))
        ).one()
        return {
            "from": (start + timedelta(days=1)).isoformat(),
            "to": end.isoformat(),
            "orders": int(row.orders),
            "revenue": float(row.revenue or 0),
            "customers": int(row.customers),
        }

    current, previous = window(as_of), window(as_of - timedelta(days=365))
    change = {
        key: (current[key] / previous[key] - 1.0) if previous[key] else None
        for key in ("orders", "revenue", "customers")
    }
    return {"months": months, "last_12": current, "previous_12": previous, "change": change}


def _payment_delays(conn: Connection, as_of: date) -> dict[str, Any]:
    """Orders paid by ``as_of`` by days from invoice to payment, and the invoices still unpaid
    on ``as_of`` past their due date by days overdue (count, amount, customers)."""
    delay, _, _ = payment_flags(as_of)
    bucket = _bucket_of(delay, DELAY_BUCKETS)
    rows = conn.execute(
        select(bucket.label("bucket"), func.count().label("orders"))
        .where(purchase_filter(as_of), delay.is_not(None))
        .group_by(bucket)
    ).all()
    found = {r.bucket: int(r.orders) for r in rows}
    delays = [{"bucket": label, "orders": found.get(label, 0)} for label, _, _ in DELAY_BUCKETS]
    as_of_date = literal(as_of, Date)
    open_rows = conn.execute(
        select(fo.c.customer_key, fo.c.due_at, net_amount().label("amount")).where(
            purchase_filter(as_of),
            fo.c.due_at.is_not(None),
            fo.c.due_at < as_of_date,
            or_(fo.c.paid_at.is_(None), fo.c.paid_at > as_of_date),
        )
    ).all()
    frame = pd.DataFrame(open_rows, columns=["customer_key", "due_at", "amount"])
    overdue = []
    if not frame.empty:
        frame["days"] = (pd.Timestamp(as_of) - pd.to_datetime(frame["due_at"])).dt.days
    for label, low, high in OVERDUE_BUCKETS:
        part = frame
        if not frame.empty:
            part = frame[(frame["days"] >= (low or 0)) & (frame["days"] <= (high or 10**9))]
        overdue.append(
            {
                "bucket": label,
                "invoices": len(part),
                "amount": float(part["amount"].astype(float).sum()) if len(part) else 0.0,
                "customers": int(part["customer_key"].nunique()) if len(part) else 0,
            }
        )
    return {"delays": delays, "overdue": overdue}


def _currencies(conn: Connection, as_of: date) -> list[dict[str, Any]]:
    """Purchases per order currency: orders and amount in that currency, the amount converted to
    the reporting currency, and the orders without a usable rate (flagged: left out of every
    money figure) with their amount in their own currency."""
    own = case((fo.c.status == "returned", literal(0)), else_=fo.c.total_amount)
    missing = fo.c.reporting_amount.is_(None)
    query = (
        select(
            fo.c.currency.label("currency"),
            func.count().label("orders"),
            money_sum(own).label("amount"),
            money_sum(net_amount()).label("converted"),
            func.sum(case((missing, 1), else_=0)).label("unconverted_orders"),
            money_sum(case((missing, own), else_=literal(0))).label("unconverted_amount"),
        )
        .where(purchase_filter(as_of))
        .group_by(fo.c.currency)
        .order_by(func.count().desc(), fo.c.currency)
    )
    return [
        {
            "currency": r.currency,
            "orders": int(r.orders),
            "amount": float(r.amount or 0),
            "converted": float(r.converted or 0),
            "unconverted_orders": int(r.unconverted_orders or 0),
            "unconverted_amount": float(r.unconverted_amount or 0),
        }
        for r in conn.execute(query)
    ]


NEW_ROW = "(none)"  # customers without a segment in the previous run


def _migration(conn: Connection, run_id: int, names: list[str]) -> dict[str, Any]:
    """Customers by segment in the previous current run (rows) and in this one (columns)."""
    previous = previous_run(conn, run_id)
    if previous is None:
        return {}
    frame = segment_transitions(conn, run_id)
    frame = frame[frame["rfm_segment"].notna()]
    rows = [*names, NEW_ROW]
    before = frame["previous_segment"].where(frame["previous_segment"].notna(), NEW_ROW)
    counts = pd.crosstab(before, frame["rfm_segment"]).reindex(
        index=rows, columns=names, fill_value=0
    )
    return {
        "from_as_of": previous.as_of.isoformat(),
        "from_run": previous.run_id,
        "rows": rows,
        "columns": names,
        "counts": [[int(v) for v in row] for row in counts.to_numpy()],
        "moved": int(sum(1 for b, a in zip(before, frame["rfm_segment"], strict=True) if b != a)),
    }


def compute_portfolio(
    conn: Connection,
    run_id: int,
    as_of: date,
    metrics: pd.DataFrame,
    config: AnalyticsConfig,
    currency: str | None = None,
) -> dict[str, Any]:
    """All portfolio figures of run ``run_id`` (``metrics`` = that run's customer_metrics), the
    amounts in ``currency`` (the reporting one)."""
    buyers = metrics[metrics["n_orders"] > 0]
    revenue = float(buyers["total_amount"].astype(float).sum())
    n_orders = int(buyers["n_orders"].sum())
    currencies = _currencies(conn, as_of)
    unconverted = sum(c["unconverted_orders"] for c in currencies)
    priced = n_orders - unconverted  # the orders the revenue adds up
    priced_buyers = int(buyers["avg_order_amount"].notna().sum())
    clv = metrics["clv_12m"].astype(float) if "clv_12m" in metrics else pd.Series(dtype=float)
    stages = metrics["lifecycle_stage"].value_counts()
    return {
        "as_of": as_of.isoformat(),
        "totals": {
            "customers": len(metrics),
            "buyers": len(buyers),
            "prospects": int((metrics["n_orders"] == 0).sum()),
            "orders": n_orders,
            "revenue": revenue,
            "avg_order_amount": revenue / priced if priced > 0 else None,
            "currency": currency,
            "unconverted_orders": unconverted,
            # Over the buyers with an amount (one whose orders all lack a rate has none).
            "revenue_per_buyer": revenue / priced_buyers if priced_buyers else None,
            "clv_12m": _f(clv.sum()) if clv.notna().any() else None,
            "avg_p_alive": _f(buyers["p_alive"].astype(float).mean()) if len(buyers) else None,
        },
        "concentration": concentration(buyers["total_amount"]),
        "segments": _segments(metrics, config),
        "stages": [{"stage": s, "customers": int(stages.get(s, 0))} for s in LIFECYCLE_STAGES],
        "rfm_grid": _rfm_grid(metrics),
        "payment": _payment(conn, as_of),
        "channels": _channels(conn, as_of),
        "seasonality": _seasonality(conn, as_of),
        "category_mix": _category_mix(conn, as_of, run_id),
        "cohorts": _cohorts(conn, as_of),
        "trend": _trend(conn, as_of),
        "currencies": currencies,
        "migration": _migration(conn, run_id, config.segment_names()),
        "payment_delays": _payment_delays(conn, as_of),
    }
