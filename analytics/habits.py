"""Per-customer habit statistics, computed as set-based SQL in the warehouse for one ``as_of`` date.

Only orders placed on or before ``as_of`` count. Cancelled orders are not purchases. A returned
order still counts as an order placed (the customer came and bought) but its amount is taken
back: it adds nothing to the spend figures. Payment facts are seen as they stood on ``as_of``: a
payment made later is unpaid then, and an unpaid invoice past its due date is late.

The SQL is SQLAlchemy Core that runs unchanged on SQLite, MariaDB/MySQL and PostgreSQL: joins,
GROUP BY, ``COUNT(DISTINCT)``, ``CASE``, and the window functions ``RANK``/``ROW_NUMBER``/
``COUNT(*) OVER``. Date arithmetic, which every engine spells differently, is done in pandas on the
one row per customer that the SQL returns, and so are averages (the SQL returns sums and counts:
MariaDB's ``AVG`` of integers keeps 4 decimals, the others all of them). Sums of money are
``ROUND(SUM(..), 2)``: SQLite adds them as binary floats, and without rounding equal spends could
rank apart there and a half cent round the other way, while the servers add exact decimals. RFM
scores are tie-aware quintiles computed in SQL from ``RANK()`` with integer comparisons only
(``5 * (rank - 1) >= k * n``), so equal values always get equal scores and no engine-specific
division or rounding is involved.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    Date,
    FromClause,
    Select,
    Subquery,
    and_,
    case,
    func,
    literal,
    null,
    or_,
    select,
)
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from analytics.config import AnalyticsConfig
from analytics.frames import read_frame
from analytics.summary import (
    cutoff,
    first_day_amount,
    money_sum,
    net_amount,
    purchase_day_columns,
    purchase_days_query,
    purchase_filter,
    sharded_day_columns,
)
from etl.schema import dim_customer, dim_product, fact_order, fact_order_line
from etl.spider import facts_on_spider

log = logging.getLogger(__name__)

UNCATEGORISED = "Uncategorised"
DAYS_PER_MONTH = 365.25 / 12

fo = fact_order


def net_line_amount(
    amount: ColumnElement[Any] = fact_order_line.c.amount, orders: FromClause = fo
) -> ColumnElement[Any]:
    """A line's ``amount`` in the reporting currency, net of returns (order-level status); NULL
    when its order (a row of ``orders``) has no usable rate. An order in the reporting currency
    keeps its line amounts exactly; another one's are divided by the order's rate."""
    o = orders.c
    return case(
        (o.reporting_amount.is_(None), null()),
        (o.status == "returned", literal(0)),
        (o.fx_rate_date.is_(None), amount),  # the reporting currency: rate 1, no division
        else_=amount / o.fx_rate,
    )


def line_spend(as_of: date) -> Subquery:
    """``customer_key, product_key, spend``: the net spend (not rounded) of every purchase's
    line, in the reporting currency (NULL without a usable rate): the sharded shape of the join
    of lines and orders (facts on Spider).

    The lines and the orders are each read as a grouped table of their own (grouped by their
    keys: one row per line, per order) and only then joined. On Spider a join of the two sharded
    fact tables runs on the head, which fetched the lines of each order from the nodes one
    order at a time (244 s for 200 k lines at best, 6-8.5 s on one server); a grouped table is
    read from the nodes in one pass and joined on the head as a temporary table. On one server
    the plain join is the faster one (about 2x at 2 M lines on MariaDB and at 200 k on SQLite), so
    both shapes exist; tests/analytics/test_shapes.py holds them equal on every engine.
    """
    line = fact_order_line.c
    lines = (
        select(line.order_key, line.product_key, func.sum(line.amount).label("amount"))
        .group_by(line.order_key, line.line_no, line.product_key)
        .subquery("line_sum")
    )
    needed = (
        fo.c.order_key,
        fo.c.customer_key,
        fo.c.status,
        fo.c.reporting_amount,
        fo.c.fx_rate_date,
        fo.c.fx_rate,
    )
    # GROUP BY the order's key and columns: one row per order as selected, but a grouped table
    # (never merged into the join, so never read from the nodes row by row)
    orders = select(*needed).where(purchase_filter(as_of)).group_by(*needed).subquery("purchase")
    return (
        select(
            orders.c.customer_key,
            lines.c.product_key,
            net_line_amount(lines.c.amount, orders).label("spend"),
        )
        .select_from(lines.join(orders, orders.c.order_key == lines.c.order_key))
        .subquery("line_spend")
    )


def payment_flags(as_of: date) -> tuple[ColumnElement[Any], ColumnElement[Any], ColumnElement[Any]]:
    """(delay if paid by as_of, 1 if late as of as_of, 1 if lateness can be judged as of as_of)."""
    as_of_date = literal(as_of, Date)
    paid = and_(fo.c.paid_at.is_not(None), fo.c.paid_at <= as_of_date)
    unpaid = or_(fo.c.paid_at.is_(None), fo.c.paid_at > as_of_date)
    has_due = fo.c.due_at.is_not(None)
    delay = case((paid, fo.c.payment_delay_days), else_=None)
    late = case(
        (and_(has_due, paid, fo.c.paid_at > fo.c.due_at), literal(1)),
        (and_(has_due, unpaid, fo.c.due_at < as_of_date), literal(1)),
        else_=literal(0),
    )
    judged = case(
        (and_(has_due, or_(paid, fo.c.due_at < as_of_date)), literal(1)), else_=literal(0)
    )
    return delay, late, judged


def _score(rank: ColumnElement[Any], n: ColumnElement[Any]) -> ColumnElement[Any]:
    """Quintile 1-5 of a ``RANK()`` among ``n``: 1 + #{k in 1..4 : 5 (rank - 1) >= k n}."""
    steps = [case((5 * (rank - 1) >= k * n, literal(1)), else_=literal(0)) for k in (1, 2, 3, 4)]
    return literal(1) + steps[0] + steps[1] + steps[2] + steps[3]


def order_stats_query(as_of: date, window_start: datetime, sharded: bool = False) -> Any:
    """One row per buyer: counts, amounts, payment behaviour, purchase days and R/F/M scores.

    ``sharded`` (facts on Spider): aggregated per purchase day first
    (``analytics.summary.purchase_days_query``), then per buyer: every figure here is a sum, a
    count, a minimum or a maximum, which add up across days. The same figures."""
    agg = _sharded_stats(as_of, window_start) if sharded else _stats(as_of, window_start)
    first = (
        []
        if sharded
        else [
            first_day_amount(agg.c.customer_key, agg.c.first_day_key, as_of).label(
                "first_day_amount"
            )
        ]
    )
    scored = select(
        agg,
        *first,
        func.rank().over(order_by=agg.c.last_order_at).label("r_rank"),
        func.rank().over(order_by=agg.c.n_orders).label("f_rank"),
        func.rank().over(order_by=agg.c.total_amount).label("m_rank"),
        func.count().over().label("n_buyers"),
    ).cte("scored")
    return select(
        scored,
        _score(scored.c.r_rank, scored.c.n_buyers).label("r_score"),
        _score(scored.c.f_rank, scored.c.n_buyers).label("f_score"),
        _score(scored.c.m_rank, scored.c.n_buyers).label("m_score"),
    )


def _stats(as_of: date, window_start: datetime) -> Any:
    valid = purchase_filter(as_of)
    delay, late, judged = payment_flags(as_of)
    return (
        select(
            fo.c.customer_key,
            func.count().label("n_orders"),
            func.min(fo.c.ordered_at).label("first_order_at"),
            func.max(fo.c.ordered_at).label("last_order_at"),
            # n_days, first/last_day_key, total_amount, n_priced_days: the models' too
            *purchase_day_columns(),
            # orders with an amount in the reporting currency
            func.count(net_amount()).label("n_priced"),
            func.round(func.sum(fo.c.n_items), 3).label("n_items"),  # NUMERIC(14, 3)
            func.sum(case((fo.c.ordered_at >= window_start, 1), else_=0)).label("n_recent"),
            func.sum(delay).label("payment_delay_sum"),
            func.count(delay).label("n_payment_delays"),
            func.sum(late).label("n_late"),
            func.sum(judged).label("n_judged"),
        )
        .where(valid)
        .group_by(fo.c.customer_key)
        .cte("agg")
    )


def _sharded_stats(as_of: date, window_start: datetime) -> Any:
    delay, late, judged = payment_flags(as_of)
    days = purchase_days_query(
        as_of,
        func.count().label("n_orders"),
        func.min(fo.c.ordered_at).label("first_order_at"),
        func.max(fo.c.ordered_at).label("last_order_at"),
        func.sum(fo.c.n_items).label("n_items"),
        func.sum(case((fo.c.ordered_at >= window_start, 1), else_=0)).label("n_recent"),
        func.sum(delay).label("payment_delay_sum"),
        func.count(delay).label("n_payment_delays"),
        func.sum(late).label("n_late"),
        func.sum(judged).label("n_judged"),
    )
    d = days.c
    return (
        select(
            d.customer_key,
            func.sum(d.n_orders).label("n_orders"),
            func.min(d.first_order_at).label("first_order_at"),
            func.max(d.last_order_at).label("last_order_at"),
            # n_days, first/last_day_key, total_amount, first_day_amount, n_priced_days
            *sharded_day_columns(days),
            func.sum(d.n_priced).label("n_priced"),
            func.round(func.sum(d.n_items), 3).label("n_items"),  # NUMERIC(14, 3)
            func.sum(d.n_recent).label("n_recent"),
            func.sum(d.payment_delay_sum).label("payment_delay_sum"),
            func.sum(d.n_payment_delays).label("n_payment_delays"),
            func.sum(d.n_late).label("n_late"),
            func.sum(d.n_judged).label("n_judged"),
        )
        .group_by(d.customer_key)
        .cte("agg")
    )


def preferred_value_query(as_of: date, column_name: str) -> Any:
    """Per buyer, the most used value of an order column (ties: larger spend, then by name)."""
    column = fo.c[column_name]
    counts = (
        select(
            fo.c.customer_key,
            column.label("value"),
            func.count().label("n"),
            money_sum(net_amount()).label("amount"),
        )
        .where(purchase_filter(as_of), column.is_not(None))
        .group_by(fo.c.customer_key, column)
        .cte(f"pref_{column_name}")
    )
    ranked = select(
        counts.c.customer_key,
        counts.c.value,
        func.row_number()
        .over(
            partition_by=counts.c.customer_key,
            order_by=(counts.c.n.desc(), counts.c.amount.desc(), counts.c.value),
        )
        .label("rn"),
    ).subquery()
    return select(ranked.c.customer_key, ranked.c.value).where(ranked.c.rn == 1)


def category_spend_query(as_of: date, sharded: bool = False) -> Any:
    """Spend per buyer and product category (the article type), net of returns (``sharded``:
    the shape for Spider, :func:`line_spend`; the same figures)."""
    category = func.coalesce(dim_product.c.category, UNCATEGORISED)
    if sharded:
        spend = line_spend(as_of)
        return (
            select(
                spend.c.customer_key,
                category.label("category"),
                money_sum(spend.c.spend).label("spend"),
            )
            .select_from(spend.join(dim_product, dim_product.c.product_key == spend.c.product_key))
            .group_by(spend.c.customer_key, category)
        )
    return (
        select(
            fo.c.customer_key,
            category.label("category"),
            money_sum(net_line_amount()).label("spend"),
        )
        .select_from(
            fact_order_line.join(fo, fo.c.order_key == fact_order_line.c.order_key).join(
                dim_product, dim_product.c.product_key == fact_order_line.c.product_key
            )
        )
        .where(purchase_filter(as_of))
        .group_by(fo.c.customer_key, category)
    )


#: InnoDB's index for the lines' foreign key to products (migration 0017), on MariaDB only.
LINE_PRODUCT_FK_INDEX = "fk_fact_order_line_product_key_dim_product"


def lines_not_by_product(query: Select[Any]) -> Select[Any]:
    """``query`` (joining every line to its product) told not to read the lines through the
    index of their foreign key to products, on MariaDB (not on Spider: its head has no such
    index). Nothing is looked up by product, but right after a large load, on statistics not
    yet refreshed, MariaDB drove the join through it product by product (1 M lines: 10-12 s;
    7.3-7.5 s by the orders' key, the plan it takes otherwise)."""
    hint = f"IGNORE INDEX ({LINE_PRODUCT_FK_INDEX})"
    return query.with_hint(fact_order_line, hint, "mysql").with_hint(
        fact_order_line, hint, "mariadb"
    )


def population_query(as_of: date) -> Any:
    """Every customer known on ``as_of``: with an order (any status) by then, or a Sugar account.

    The customers with an order are one grouped table joined to the customers, not an
    ``EXISTS`` per customer (one remote query per customer on Spider: 12 s for 20 k customers
    where one server took 0.4 s)."""
    ordered = (
        select(fo.c.customer_key)
        .where(fo.c.ordered_at < cutoff(as_of))
        .group_by(fo.c.customer_key)
        .subquery("ordered")
    )
    return (
        select(
            dim_customer.c.customer_key,
            dim_customer.c.source,
            dim_customer.c.source_customer_id.label("customer_id"),
            dim_customer.c.sugar_account_id,
        )
        .select_from(
            dim_customer.outerjoin(ordered, ordered.c.customer_key == dim_customer.c.customer_key)
        )
        .where(
            or_(ordered.c.customer_key.is_not(None), dim_customer.c.sugar_account_id.is_not(None))
        )
    )


def _day(key: pd.Series) -> pd.Series:
    """``yyyymmdd`` date keys → datetime64 days."""
    return pd.to_datetime(key.astype("Int64").astype(str), format="%Y%m%d", errors="coerce")


@dataclass(frozen=True)
class HabitsFrame:
    """The per-customer frame (one row per customer, index ``customer_key``) and run counts."""

    customers: pd.DataFrame
    n_orders_read: int


def compute_habits(conn: Connection, as_of: date, config: AnalyticsConfig) -> HabitsFrame:
    """Per-customer statistics and RFM scores/segments for ``as_of`` (CLV columns added later).

    Columns: see ``etl.schema.customer_metrics``; plus the model inputs ``frequency``,
    ``recency``, ``T`` (in ``config.clv.time_unit``) and ``monetary`` (mean repeat-day spend).
    """
    lifecycle = config.lifecycle
    window_start = cutoff(as_of) - timedelta(days=lifecycle.declining_window_days)
    sharded = facts_on_spider(conn)  # the statements' shape for Spider: the same figures
    # Every read is streamed into typed columns (analytics.frames): the rows as Python tuples
    # of Python objects, then object columns, were most of the run's memory.
    population = read_frame(
        conn,
        population_query(as_of),
        {"customer_key": "int", "source": "label", "customer_id": "text"},
        index="customer_key",
        default="text",
    )
    stats = read_frame(
        conn,
        order_stats_query(as_of, window_start, sharded),
        {"customer_key": "int", "first_order_at": "datetime", "last_order_at": "datetime"},
        index="customer_key",
        default="float",
    )
    frame = population.join(stats, how="left")
    del population, stats
    for name in ("payment_method", "channel"):
        rows = read_frame(
            conn, preferred_value_query(as_of, name), {"customer_key": "int", "value": "label"}
        )
        prefs = pd.Series(rows["value"].to_numpy(), index=rows["customer_key"], dtype=object)
        frame[f"preferred_{name}"] = prefs.reindex(frame.index)
        del rows, prefs
    spend = category_spend_query(as_of, sharded)
    categories = read_frame(
        conn,
        spend if sharded else lines_not_by_product(spend),
        {"customer_key": "int", "category": "label", "spend": "float"},
    )
    frame = _derive(frame, categories, as_of, config)
    del categories
    n_read = int(frame["n_orders"].sum())
    return HabitsFrame(customers=frame, n_orders_read=n_read)


def _category_columns(categories: pd.DataFrame, index: pd.Index) -> tuple[pd.Series, pd.Series]:
    """Top category and the JSON share of spend per category, per customer."""
    if categories.empty:
        empty = pd.Series([None] * len(index), index=index, dtype=object)
        return empty, empty.copy()
    categories = categories.assign(spend=categories["spend"].astype(float))
    ordered = categories.sort_values(
        ["customer_key", "spend", "category"], ascending=[True, False, True]
    )
    top = ordered.groupby("customer_key", sort=False)["category"].first()
    totals = categories.groupby("customer_key")["spend"].transform("sum")
    shares = categories.assign(share=np.where(totals > 0, categories["spend"] / totals, np.nan))
    # Categories bought only in returned orders carry no share; JSON built with vectorised
    # string operations (a Python loop per customer would dominate at a million customers).
    shares = shares[shares["share"] > 0].sort_values(
        ["customer_key", "share", "category"], ascending=[True, False, True]
    )
    # Each category's JSON key is built once. shares is sorted by customer, so a customer's
    # pieces are one contiguous run of rows: joined slice by slice, only one customer's
    # "key: share" strings exist at a time (string Series additions and a groupby join made
    # several strings per row at once: the largest transient of the habits step).
    quoted = {c: json.dumps(str(c), ensure_ascii=False) for c in shares["category"].unique()}
    keys = shares["customer_key"].to_numpy()
    names = [quoted[c] for c in shares["category"]]
    values = shares["share"].round(4).tolist()
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if len(keys) else keys[:0]
    ends = [*starts[1:].tolist(), len(keys)] if len(keys) else []
    bounds = zip(starts.tolist(), ends, strict=True)
    share_json = pd.Series(
        [
            "{"
            + ", ".join([n + ": " + repr(v) for n, v in zip(names[a:b], values[a:b], strict=True)])
            + "}"
            for a, b in bounds
        ],
        index=keys[starts],
        dtype=object,
    )
    return top.reindex(index), share_json.reindex(index)


def _derive(
    frame: pd.DataFrame, categories: pd.DataFrame, as_of: date, config: AnalyticsConfig
) -> pd.DataFrame:
    """Day arithmetic, ratios, RFM segment names and lifecycle inputs, vectorised."""
    unit_days = 7.0 if config.clv.time_unit == "weeks" else 1.0
    as_of_ts = pd.Timestamp(as_of)
    n_orders = frame["n_orders"].fillna(0).astype(int)
    buyer = n_orders > 0
    first_at = pd.to_datetime(frame["first_order_at"])
    last_at = pd.to_datetime(frame["last_order_at"])
    first_day = _day(frame["first_day_key"])
    last_day = _day(frame["last_day_key"])
    total = frame["total_amount"].astype(float).fillna(0.0)
    out = pd.DataFrame(index=frame.index)
    out["source"] = frame["source"]
    out["customer_id"] = frame["customer_id"]
    out["sugar_account_id"] = frame["sugar_account_id"]
    out["n_orders"] = n_orders
    out["first_order_at"] = first_at
    out["last_order_at"] = last_at
    recency_days = (as_of_ts - last_at.dt.normalize()).dt.days
    out["recency_days"] = recency_days.astype("Int64")
    span_days = (last_day - first_day).dt.days
    out["mean_days_between_orders"] = np.where(
        n_orders > 1, span_days / (n_orders - 1).clip(lower=1), np.nan
    )
    tenure_days = (as_of_ts - first_day).dt.days + 1
    out["orders_per_month"] = np.where(
        buyer, n_orders / np.maximum(tenure_days / DAYS_PER_MONTH, 1.0), np.nan
    )
    out["total_amount"] = total
    safe_n = n_orders.where(buyer, 1)
    # Averages over the orders that have an amount in the reporting currency (all of them unless
    # some lack an exchange rate: those are left out of every money figure).
    n_priced = pd.to_numeric(frame["n_priced"], errors="coerce").fillna(0).astype(int)
    out["avg_order_amount"] = np.where(n_priced > 0, total / n_priced.clip(lower=1), np.nan)
    items = frame["n_items"].astype(float)
    out["avg_items_per_order"] = np.where(buyer, items / safe_n, np.nan)
    top, shares = _category_columns(categories, frame.index)
    out["top_category"] = top
    out["category_share"] = shares
    out["preferred_payment_method"] = frame["preferred_payment_method"]
    n_delays = pd.to_numeric(frame["n_payment_delays"], errors="coerce").fillna(0)
    delay_sum = pd.to_numeric(frame["payment_delay_sum"], errors="coerce").astype(float)
    out["avg_payment_delay_days"] = np.where(
        n_delays > 0, delay_sum / n_delays.clip(lower=1), np.nan
    )
    n_judged = pd.to_numeric(frame["n_judged"], errors="coerce").fillna(0)
    n_late = pd.to_numeric(frame["n_late"], errors="coerce").fillna(0)
    out["late_payment_share"] = np.where(n_judged > 0, n_late / n_judged.clip(lower=1), np.nan)
    out["preferred_channel"] = frame["preferred_channel"]
    n_days = pd.to_numeric(frame["n_days"], errors="coerce").fillna(0).astype(int)
    frequency = (n_days - 1).clip(lower=0)
    out["repeat_purchase_days"] = frequency.where(buyer).astype("Int64")
    for name in ("r_score", "f_score", "m_score"):
        out[name] = pd.to_numeric(frame[name], errors="coerce").astype("Int64")
    out["rfm_segment"] = _segments(out, config)
    # Model inputs (Fader-Hardie conventions).
    first_day_amount = pd.to_numeric(frame["first_day_amount"], errors="coerce")
    # Repeat purchase days with an amount: all of them unless some orders lack a rate.
    n_priced_days = pd.to_numeric(frame["n_priced_days"], errors="coerce").fillna(0).astype(int)
    priced_repeat = (n_priced_days - first_day_amount.notna().astype(int)).clip(lower=0)
    first_day_amount = first_day_amount.fillna(0)
    out["frequency"] = frequency.astype(float)
    out["recency"] = span_days.astype(float) / unit_days
    out["T"] = (as_of_ts - first_day).dt.days.astype(float) / unit_days
    out["monetary"] = np.where(
        (frequency > 0) & (priced_repeat > 0),
        (total - first_day_amount.astype(float)) / priced_repeat.clip(lower=1),
        0.0,
    )
    out["n_recent"] = pd.to_numeric(frame["n_recent"], errors="coerce").fillna(0).astype(int)
    out["tenure_days"] = tenure_days
    return out


def _segments(frame: pd.DataFrame, config: AnalyticsConfig) -> pd.Series:
    """Segment name per buyer from the configured R x FM grid (None for non-buyers)."""
    r = frame["r_score"]
    fm = (frame["f_score"] + frame["m_score"] + 1) // 2
    lookup = {(rr, ff): config.segment_for(rr, ff) for rr in range(1, 6) for ff in range(1, 6)}
    keys = list(zip(r.fillna(0).astype(int), fm.fillna(0).astype(int), strict=True))
    names = [lookup.get(k) for k in keys]
    return pd.Series(names, index=frame.index, dtype=object)


def lifecycle_stages(frame: pd.DataFrame, config: AnalyticsConfig) -> pd.Series:
    """prospect / new / active / declining / lost per customer (thresholds from config).

    Needs the habits columns plus ``p_alive`` (may be NaN when no model was fitted). Order of the
    rules: no purchase → prospect (a customer known from the orders or matched to a Sugar
    account; the Sugar accounts tied to no customer and the open leads are prospects too, but
    not customers: :mod:`analytics.crm` counts them and :mod:`analytics.prospects` scores
    them); first order within ``new_days`` → new; an order within ``recent_buyer_days`` →
    active (a customer who just bought is not followed up as declining or
    lost, whatever a model says); no order for ``lost_days`` or (repeat buyer with) P(alive) below
    ``lost_p_alive`` → lost; recent order rate below ``declining_rate_ratio`` of the customer's
    own earlier rate, or no order for ``overdue_factor`` mean gaps → declining; else active.
    """
    lc = config.lifecycle
    n = frame["n_orders"].astype(int)
    tenure = frame["tenure_days"].astype(float)
    recency = frame["recency_days"].astype(float)
    p_alive = pd.to_numeric(frame["p_alive"], errors="coerce").astype(float)
    repeat = frame["frequency"].fillna(0).astype(float) > 0
    gap = frame["mean_days_between_orders"].astype(float)
    n_recent = frame["n_recent"].astype(float)
    history_days = tenure - lc.declining_window_days
    past_rate = (n - n_recent) / history_days.where(history_days > 0)
    recent_rate = n_recent / lc.declining_window_days
    slowing = (
        (history_days >= lc.declining_min_history_days)
        & (n - n_recent >= 2)
        & (recent_rate < lc.declining_rate_ratio * past_rate)
    )
    overdue = (n >= 2) & (recency > lc.overdue_factor * gap)
    conditions = [
        n == 0,
        tenure <= lc.new_days,
        recency <= lc.recent_buyer_days,
        (recency > lc.lost_days) | (repeat & (p_alive < lc.lost_p_alive)),
        slowing | overdue,
    ]
    choices = ["prospect", "new", "active", "lost", "declining"]
    stages = np.select(
        [c.fillna(False).to_numpy(dtype=bool) for c in conditions], choices, "active"
    )
    return pd.Series(stages, index=frame.index, dtype=object)
