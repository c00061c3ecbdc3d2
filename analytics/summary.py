"""The models' input, computed in the warehouse: one row per buyer, read into numpy arrays.

The repeat-purchase models and Gamma-Gamma need four numbers per buyer (Fader-Hardie
conventions, see ``analytics.btyd``): ``frequency`` (purchase days - 1), ``recency`` and ``T``
(days from the first purchase day to the last one and to ``as_of``) and ``monetary`` (mean
amount of the repeat purchase days). The warehouse computes what they are made of in one
``GROUP BY customer_key``: the number of distinct purchase days, the first and last day keys,
the net amount and the first purchase day's amount (on Spider in another shape, see
:func:`purchase_days_query`). Day keys become day numbers and the four
figures are derived in numpy; no pandas, so ``sugar-bridge analytics clv`` loads what it needs and
nothing more.

The SQL of those aggregates is here and only here: the habit statistics
(``analytics.habits.order_stats_query``) select the same expressions, so the models see the same
figures whichever path computed them, and a change of the amount the models are fitted on (for
example an amount converted to a reporting currency) is one edit of :func:`net_amount`.

Only orders placed on or before ``as_of`` and not cancelled are purchases; a returned order is a
purchase worth nothing (see ``analytics.habits``).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np
from sqlalchemy import (
    Column,
    Float,
    FromClause,
    Integer,
    MetaData,
    Subquery,
    Table,
    and_,
    case,
    func,
    insert,
    literal,
    null,
    select,
)
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from analytics.model_input import ModelInput, TimeUnit, day_numbers, derive
from etl.schema import fact_order
from etl.spider import facts_on_spider

fo = fact_order

#: Rows fetched from the driver at a time (one chunk of Python tuples alive at once).
CHUNK_ROWS = 50_000


def money_sum(amount: ColumnElement[Any]) -> ColumnElement[Any]:
    """``SUM`` of a money expression, exact to the cent on every engine (see analytics.habits)."""
    return func.round(func.sum(amount), 2)


def cutoff(as_of: date) -> datetime:
    """First instant after ``as_of`` (orders strictly before it count)."""
    return datetime.combine(as_of + timedelta(days=1), time())


def purchase_filter(as_of: date, orders: FromClause = fo) -> ColumnElement[bool]:
    """Orders that are purchases as of ``as_of``: placed on or before it and not cancelled."""
    return and_(orders.c.ordered_at < cutoff(as_of), orders.c.status != "cancelled")


def net_amount(orders: FromClause = fo) -> ColumnElement[Any]:
    """The order's amount in the reporting currency, net of returns (a returned order is worth
    nothing): the amount every spend figure and the Gamma-Gamma model are computed from. NULL for
    an order without a usable exchange rate (``etl.fx``), which ``SUM`` and ``COUNT`` then leave
    out: it is never added as if it were in the reporting currency."""
    return case(
        (orders.c.reporting_amount.is_(None), null()),
        (orders.c.status == "returned", literal(0)),
        else_=orders.c.reporting_amount,
    )


def purchase_day_columns() -> list[ColumnElement[Any]]:
    """Per-customer aggregates of its purchases (``GROUP BY customer_key`` under
    :func:`purchase_filter`): ``n_days``, ``first_day_key``, ``last_day_key`` (``yyyymmdd``),
    ``total_amount`` (net of returns) and ``n_priced_days``."""
    return [
        func.count(fo.c.order_date_key.distinct()).label("n_days"),
        func.min(fo.c.order_date_key).label("first_day_key"),
        func.max(fo.c.order_date_key).label("last_day_key"),
        money_sum(net_amount()).label("total_amount"),
        # purchase days with an amount in the reporting currency: all of them unless some
        # orders lack an exchange rate (etl.fx); the mean repeat-day spend divides by these
        func.count(
            case((fo.c.reporting_amount.is_not(None), fo.c.order_date_key), else_=null()).distinct()
        ).label("n_priced_days"),
    ]


def first_day_amount(
    customer_key: ColumnElement[Any], first_day_key: ColumnElement[Any], as_of: date
) -> ColumnElement[Any]:
    """The net amount of a customer's first purchase day (Gamma-Gamma's mean leaves it out).

    A correlated lookup on the ``(customer_key, ordered_at)`` index: joining two derived tables
    instead made SQLite scan one per row of the other (quadratic: 42 s for 20k customers).
    """
    first = fo.alias("first_day")
    return (
        select(money_sum(net_amount(first)))
        .where(
            first.c.customer_key == customer_key,
            first.c.order_date_key == first_day_key,
            purchase_filter(as_of, first),
        )
        .scalar_subquery()
    )


def purchase_days_query(as_of: date, *per_day: ColumnElement[Any]) -> Subquery:
    """The sharded shape (facts on Spider, ``etl.spider.facts_on_spider``): one row per buyer
    and purchase day (``GROUP BY customer_key, order_date_key`` under :func:`purchase_filter`):
    ``amount`` (net of returns, not rounded: NULL when no order of the day has an amount in the
    reporting currency), ``n_priced`` (orders of the day with one), ``day_no`` (1 for the
    buyer's first purchase day) and the ``per_day`` aggregates asked.

    On Spider every per-customer figure is an aggregate of these rows, never a lookup per
    customer: the correlated :func:`first_day_amount` was a query to the data nodes per buyer,
    planned as a scan of every order by ``ordered_at`` (Spider's row estimates are flat): more
    than 60 s for 20 k buyers where one server took 1.7 s. One grouped fact table is read once
    (the nodes do the scan) and the rest runs on the head. On one server the correlated lookup
    on the index is the faster one (1.4x at 2 M lines on MariaDB, 1.15x on SQLite), so both
    shapes exist; tests/analytics/test_shapes.py holds them equal on every engine.
    """
    days = (
        select(
            fo.c.customer_key,
            fo.c.order_date_key,
            func.sum(net_amount()).label("amount"),
            func.count(net_amount()).label("n_priced"),
            *per_day,
        )
        .where(purchase_filter(as_of))
        .group_by(fo.c.customer_key, fo.c.order_date_key)
        .subquery("purchase_day")
    )
    day_no = func.row_number().over(
        partition_by=days.c.customer_key, order_by=days.c.order_date_key
    )
    return select(days, day_no.label("day_no")).subquery("purchase_days")


def sharded_day_columns(days: FromClause) -> list[ColumnElement[Any]]:
    """:func:`purchase_day_columns` and ``first_day_amount`` (:func:`first_day_amount`) as
    aggregates of :func:`purchase_days_query`'s rows (``GROUP BY customer_key``)."""
    d = days.c
    return [
        func.count().label("n_days"),
        func.min(d.order_date_key).label("first_day_key"),
        func.max(d.order_date_key).label("last_day_key"),
        money_sum(d.amount).label("total_amount"),
        money_sum(case((d.day_no == 1, d.amount), else_=null())).label("first_day_amount"),
        func.sum(case((d.n_priced > 0, 1), else_=0)).label("n_priced_days"),
    ]


def model_summary_query(as_of: date, sharded: bool = False) -> Any:
    """One row per buyer: ``customer_key, n_days, first_day_key, last_day_key, total_amount,
    first_day_amount, n_priced_days`` (``sharded``: the shape for Spider, the same figures)."""
    if sharded:
        days = purchase_days_query(as_of)
        return select(days.c.customer_key, *sharded_day_columns(days)).group_by(days.c.customer_key)
    agg = (
        select(fo.c.customer_key, *purchase_day_columns())
        .where(purchase_filter(as_of))
        .group_by(fo.c.customer_key)
        .subquery("agg")
    )
    return select(
        agg.c.customer_key,
        agg.c.n_days,
        agg.c.first_day_key,
        agg.c.last_day_key,
        agg.c.total_amount,
        first_day_amount(agg.c.customer_key, agg.c.first_day_key, as_of).label("first_day_amount"),
        agg.c.n_priced_days,
    )


#: The summary's columns, in the order of :func:`model_summary_query`.
SUMMARY_COLUMNS = (
    "customer_key", "n_days", "first_day_key", "last_day_key", "total_amount",
    "first_day_amount", "n_priced_days",
)  # fmt: skip


def sqlite_summary_table() -> Table:
    """The temporary table a SQLite warehouse computes the summary into (see
    :func:`read_model_input`): the connection's own, gone with its transaction."""
    integer = ("customer_key", "n_days", "first_day_key", "last_day_key", "n_priced_days")
    return Table(
        "model_input",
        MetaData(),
        *(Column(name, Integer if name in integer else Float) for name in SUMMARY_COLUMNS),
        prefixes=["TEMPORARY"],
    )


def read_model_input(conn: Connection, as_of: date, time_unit: TimeUnit = "weeks") -> ModelInput:
    """The buyers' model input as of ``as_of``, computed by the warehouse and read by chunks of
    rows straight into one float array per chunk (the driver's cursor, no per-value processing by
    SQLAlchemy: ``Decimal`` amounts become floats, ``None`` becomes NaN, in one ``np.array``
    call). Keys, day keys and counts are integers far below 2**53: exact as floats.

    SQLite computes in this process, a row per step, and its driver takes Python's lock (the GIL)
    back between steps: a thread doing Python work beside it (``analytics clv`` loading scipy)
    would stall it to a crawl. So on SQLite the summary is first computed into a temporary table
    by one ``INSERT ... SELECT``, which runs without the lock from start to end, then read back.
    """
    query = model_summary_query(as_of, facts_on_spider(conn))
    temporary = sqlite_summary_table() if conn.dialect.name == "sqlite" else None
    if temporary is not None:
        temporary.drop(conn, checkfirst=True)
        temporary.create(conn)
        conn.execute(insert(temporary).from_select(SUMMARY_COLUMNS, query))
        query = select(temporary)
    result = conn.execute(query)
    cursor = result.cursor  # the DBAPI cursor: its rows are plain tuples
    chunks: list[np.ndarray[Any, np.dtype[np.float64]]] = []
    try:
        while rows := cursor.fetchmany(CHUNK_ROWS):
            chunks.append(np.array(rows, dtype=np.float64).reshape(len(rows), len(SUMMARY_COLUMNS)))
            del rows
    finally:
        result.close()
        if temporary is not None:
            temporary.drop(conn)
    table = np.concatenate(chunks) if chunks else np.zeros((0, len(SUMMARY_COLUMNS)))
    key, n_days, first_key, last_key = (table[:, i].astype(np.int64) for i in range(4))
    as_of_day = int(np.datetime64(as_of, "D").astype(np.int64))
    return derive(
        key,
        n_days,
        day_numbers(first_key),
        day_numbers(last_key),
        table[:, 4],
        table[:, 5],
        table[:, 6],
        as_of_day,
        time_unit,
    )
