"""Storing analytics runs and reading their history (segment/stage transitions for the push).

Tables (``etl/schema.py``, migration 0002): ``analytics_run`` (one row per run: as_of, fitted
models, portfolio figures), ``customer_metrics`` (one row per customer per run) and the view
``customer_habits`` (the latest run's rows, with the customer's current Sugar account id).
"Previous run" always means the analytics run with the highest ``run_id`` below the given one.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

import pandas as pd
from sqlalchemy import JSON, bindparam, delete, func, insert, select
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.types import TypeDecorator

from analytics.frames import Kind, read_frame
from etl.schema import analytics_run, customer_metrics, dim_customer, etl_run, prospect_score

# current: computed for its own day; backdated: a past day recomputed (never shown to the push).
RunKind = Literal["current", "backdated"]

METRIC_COLUMNS: tuple[str, ...] = tuple(
    c.name for c in customer_metrics.columns if c.name not in ("run_id", "customer_key", "as_of")
)
INSERT_BATCH = 5_000


class SerialisedJSON(TypeDecorator[str]):
    """A JSON column's value bound as the JSON text it already is (no parse and re-dump).

    The statement still types the parameter as JSON, which PostgreSQL needs (it refuses a
    ``VARCHAR`` into a ``json`` column); SQLite and MariaDB store the text as is.
    """

    impl = JSON
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> None:
        return None


@dataclass(frozen=True)
class RunRef:
    """One stored analytics run."""

    run_id: int
    as_of: date


def latest_run(conn: Connection, as_of: date | None = None) -> RunRef | None:
    """The latest *current* analytics run (the one ``customer_habits`` shows and the push
    sends), or, given ``as_of``, the newest run of that date of either kind."""
    query = select(analytics_run.c.run_id, analytics_run.c.as_of)
    if as_of is not None:
        query = query.where(analytics_run.c.as_of == as_of)
    else:
        query = query.where(analytics_run.c.kind == "current")
    row = conn.execute(query.order_by(analytics_run.c.run_id.desc()).limit(1)).first()
    return RunRef(int(row.run_id), row.as_of) if row is not None else None


def previous_run(conn: Connection, run_id: int) -> RunRef | None:
    """The current analytics run just before ``run_id`` (None for the first run): the previous
    state Sugar was shown; backdated recomputations are not part of that timeline."""
    row = conn.execute(
        select(analytics_run.c.run_id, analytics_run.c.as_of)
        .where(analytics_run.c.run_id < run_id, analytics_run.c.kind == "current")
        .order_by(analytics_run.c.run_id.desc())
        .limit(1)
    ).first()
    return RunRef(int(row.run_id), row.as_of) if row is not None else None


def segment_transitions(conn: Connection, run_id: int | None = None) -> pd.DataFrame:
    """Per customer of run ``run_id`` (default: latest), its segment/stage and the previous run's.

    Columns: ``customer_key, customer_id, sugar_account_id, rfm_segment, lifecycle_stage,
    previous_segment, previous_stage`` (previous ones None when the customer was not in the
    previous run, or there is none). ``sugar_account_id`` is the customer's current match.
    """
    run = RunRef(run_id, date.min) if run_id is not None else latest_run(conn)
    columns = [
        "customer_key",
        "customer_id",
        "sugar_account_id",
        "rfm_segment",
        "lifecycle_stage",
        "previous_segment",
        "previous_stage",
    ]
    if run is None:
        return pd.DataFrame(columns=columns).set_index("customer_key")
    cur = customer_metrics.alias("cur")
    query = (
        select(
            cur.c.customer_key,
            cur.c.customer_id,
            func.coalesce(dim_customer.c.sugar_account_id, cur.c.sugar_account_id).label(
                "sugar_account_id"
            ),
            cur.c.rfm_segment,
            cur.c.lifecycle_stage,
        )
        .join(dim_customer, dim_customer.c.customer_key == cur.c.customer_key)
        .where(cur.c.run_id == run.run_id)
    )
    frame = pd.DataFrame(conn.execute(query).all(), columns=columns[:5]).set_index("customer_key")
    previous = previous_run(conn, run.run_id)
    frame["previous_segment"] = None
    frame["previous_stage"] = None
    if previous is not None:
        prev_rows = conn.execute(
            select(
                customer_metrics.c.customer_key,
                customer_metrics.c.rfm_segment,
                customer_metrics.c.lifecycle_stage,
            ).where(customer_metrics.c.run_id == previous.run_id)
        ).all()
        prev = pd.DataFrame(prev_rows, columns=["customer_key", "segment", "stage"])
        prev = prev.set_index("customer_key").reindex(frame.index)
        frame["previous_segment"] = prev["segment"].astype(object).where(prev["segment"].notna())
        frame["previous_stage"] = prev["stage"].astype(object).where(prev["stage"].notna())
    for name in frame.columns:  # missing values as None (the push compares with ==)
        frame[name] = pd.Series(
            [None if pd.isna(v) else v for v in frame[name]], index=frame.index, dtype=object
        )
    return frame


def previous_segments(
    conn: Connection, run_id: int | None = None
) -> dict[int, tuple[str | None, str | None]]:
    """customer_key → (segment, stage) in the run before ``run_id`` (default: the latest run)."""
    frame = segment_transitions(conn, run_id)
    return {
        int(key): (seg, stage)
        for key, seg, stage in zip(
            frame.index, frame["previous_segment"], frame["previous_stage"], strict=True
        )
        if seg is not None or stage is not None
    }


def _plain(value: Any) -> Any:
    """pandas/numpy scalars → what the DB driver takes (NaN/NaT → None)."""
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item"):  # numpy scalar
        value = value.item()
    if isinstance(value, float):
        return None if math.isnan(value) else value
    return value


def insert_run(
    conn: Connection,
    run_id: int,
    as_of: date,
    frame: pd.DataFrame,
    *,
    time_unit: str,
    models: dict[str, Any] | None,
    config: dict[str, Any],
    created_at: datetime,
    kind: RunKind = "current",
    currency: str | None = None,
) -> None:
    """Insert the analytics_run row and the run's customer_metrics rows (batched); ``currency``
    is the reporting currency of the amounts."""
    n_buyers = int((frame["n_orders"] > 0).sum()) if len(frame) else 0
    conn.execute(
        insert(analytics_run).values(
            run_id=run_id,
            as_of=as_of,
            kind=kind,
            n_customers=len(frame),
            n_buyers=n_buyers,
            time_unit=time_unit,
            models=models,
            config=config,
            created_at=created_at,
            currency=currency,
        )
    )
    columns = [c for c in METRIC_COLUMNS if c in frame.columns]
    names = ["run_id", "customer_key", "as_of", *columns]
    # category_share and pipeline_by_stage are JSON text already: bound as such they are stored
    # as is, sparing a parse and re-serialisation per customer (what the JSON type would do).
    statement = insert(customer_metrics).values(
        {
            name: bindparam(name, type_=SerialisedJSON)
            for name in JSON_TEXT_COLUMNS
            if name in columns
        }
    )
    # Converted to driver values one batch at a time: the whole frame as Python objects at
    # once (a list per column) cost more memory than the frame itself.
    for start in range(0, len(frame), INSERT_BATCH):
        part = frame.iloc[start : start + INSERT_BATCH]
        values = [_column(name, part[name]) for name in columns]
        keys = [int(k) for k in part.index]
        batch = [
            dict(zip(names, (run_id, key, as_of, *row), strict=True))
            for key, row in zip(keys, zip(*values, strict=True), strict=True)
        ]
        conn.execute(statement, batch)
        del batch, values


MONEY_COLUMNS = frozenset(
    {"total_amount", "avg_order_amount", "clv_12m", "pipeline_amount", "weighted_pipeline_amount"}
)
INTEGER_COLUMNS = frozenset(
    {
        "n_orders",
        "recency_days",
        "repeat_purchase_days",
        "r_score",
        "f_score",
        "m_score",
        "cases_open",
        "cases_12m",
        "contacts_12m",
        "open_opportunities",
        "campaign_targeted_12m",
        "campaign_responses_12m",
    }
)
#: Columns whose frame values are JSON text already (bound as such, never parsed again).
JSON_TEXT_COLUMNS = ("category_share", "pipeline_by_stage")


def _column(name: str, series: pd.Series) -> list[Any]:
    """One frame column as plain Python values for the driver (missing → None), vectorised."""
    missing = series.isna().to_numpy()
    numbers: list[Any]
    if name in MONEY_COLUMNS:
        numbers = series.astype(float).round(2).tolist()
    elif name in INTEGER_COLUMNS:
        numbers = series.astype(float).fillna(0).astype("int64").tolist()
    elif pd.api.types.is_datetime64_any_dtype(series):
        numbers = [None if m else v.to_pydatetime() for v, m in zip(series, missing, strict=True)]
    elif pd.api.types.is_float_dtype(series):
        numbers = series.astype(float).tolist()
    else:
        numbers = [_plain(v) for v in series.tolist()]
    return [None if m else v for v, m in zip(numbers, missing, strict=True)]


def insert_prospect_scores(conn: Connection, run_id: int, scores: pd.DataFrame) -> None:
    """Store a run's prospect scores (``module, record_id, customer_key, score``), batched."""
    keys = scores["customer_key"].astype(float)
    rows = [
        {
            "run_id": run_id,
            "module": str(module),
            "record_id": str(record),
            "customer_key": None if math.isnan(key) else int(key),
            "score": float(score),
        }
        for module, record, key, score in zip(
            scores["module"], scores["record_id"], keys, scores["score"], strict=True
        )
    ]
    for start in range(0, len(rows), INSERT_BATCH):
        conn.execute(insert(prospect_score), rows[start : start + INSERT_BATCH])


def set_portfolio(conn: Connection, run_id: int, portfolio: dict[str, Any]) -> None:
    """Store the run's portfolio figures (computed from its stored metrics)."""
    conn.execute(
        analytics_run.update().where(analytics_run.c.run_id == run_id).values(portfolio=portfolio)
    )


def prune_runs(conn: Connection, keep_runs: int) -> int:
    """Delete the per-customer rows of all but the newest ``keep_runs`` runs (0 = keep all).

    The analytics_run rows (models, portfolio figures) are kept: they are small.
    """
    if keep_runs <= 0:
        return 0
    keep = select(analytics_run.c.run_id).order_by(analytics_run.c.run_id.desc()).limit(keep_runs)
    kept = [row.run_id for row in conn.execute(keep)]
    if not kept:
        return 0
    # The run customer_habits shows is kept whatever came after it (backdated recomputations).
    shown = latest_run(conn)
    floor = min(kept) if shown is None else min(min(kept), shown.run_id)
    result = conn.execute(delete(customer_metrics).where(customer_metrics.c.run_id < floor))
    conn.execute(delete(prospect_score).where(prospect_score.c.run_id < floor))
    return int(result.rowcount or 0)


def results_digest(
    as_of: date,
    customers: pd.DataFrame,
    *,
    time_unit: str,
    models: dict[str, Any] | None,
    config: dict[str, Any],
) -> str:
    """sha256 of what a run would store: its date, config, models and every customer's row.

    Two runs with the same digest stored the same figures; the second need not store them again.
    The Sugar account a customer was matched to is left out: it is not a figure, and
    ``customer_habits`` takes the current match from ``dim_customer`` (the push matches after
    the analytics step, so a rerun on the same day would otherwise store everything again).
    """
    digest = hashlib.sha256()
    header = {
        "as_of": as_of.isoformat(),
        "time_unit": time_unit,
        "models": models,
        "config": config,
    }
    digest.update(json.dumps(header, sort_keys=True, default=str).encode())
    columns = [c for c in METRIC_COLUMNS if c in customers.columns and c != "sugar_account_id"]
    # In customer order: engines return the statistics' rows in no fixed order.
    rows = pd.util.hash_pandas_object(customers[columns].sort_index(), index=True)
    digest.update(rows.to_numpy().tobytes())
    return digest.hexdigest()


def scores_digest(scores: pd.DataFrame) -> str:
    """sha256 of a run's prospect scores, in record order."""
    ordered = scores.sort_values(["module", "record_id"]).reset_index(drop=True)
    rows = pd.util.hash_pandas_object(ordered, index=False)
    return hashlib.sha256(rows.to_numpy().tobytes()).hexdigest()


def stored_digest(conn: Connection, run_id: int) -> str | None:
    """The results digest an analytics run recorded in its ledger row (None if it has none)."""
    details = conn.scalar(select(etl_run.c.details).where(etl_run.c.run_id == run_id))
    if isinstance(details, str):  # a JSON column read back as text by some drivers
        details = json.loads(details)
    value = details.get("results_digest") if isinstance(details, dict) else None
    return str(value) if value is not None else None


def load_metrics(conn: Connection, run_id: int) -> pd.DataFrame:
    """One run's customer_metrics rows (index customer_key) with the customer's name."""
    query = (
        select(customer_metrics, dim_customer.c.name.label("customer_name"))
        .join(dim_customer, dim_customer.c.customer_key == customer_metrics.c.customer_key)
        .where(customer_metrics.c.run_id == run_id)
    )
    result = conn.execute(query)
    frame = pd.DataFrame(result.all(), columns=list(result.keys()))
    return frame.set_index("customer_key")


#: The customer_metrics columns the portfolio figures use, and how each is read.
PORTFOLIO_COLUMNS: dict[str, Kind] = {
    "customer_key": "int",
    "n_orders": "int",
    "total_amount": "float",
    "avg_order_amount": "float",
    "recency_days": "float",
    "r_score": "float",
    "f_score": "float",
    "m_score": "float",
    "rfm_segment": "label",
    "lifecycle_stage": "label",
    "p_alive": "float",
    "clv_12m": "float",
}


def load_portfolio_metrics(conn: Connection, run_id: int) -> pd.DataFrame:
    """The columns of one run's customer_metrics that the portfolio figures read, streamed.

    Same rows in the same order as ``load_metrics`` (same join and filter), but only
    ``PORTFOLIO_COLUMNS``, as float/int arrays and shared labels: the whole rows read back as
    Python objects (JSON category shares parsed into dicts, a Decimal per amount) were the run's
    largest memory peak.
    """
    query = (
        select(*(customer_metrics.c[name] for name in PORTFOLIO_COLUMNS))
        .join(dim_customer, dim_customer.c.customer_key == customer_metrics.c.customer_key)
        .where(customer_metrics.c.run_id == run_id)
    )
    return read_frame(conn, query, PORTFOLIO_COLUMNS, index="customer_key")


def load_run(conn: Connection, run_id: int) -> dict[str, Any] | None:
    """The analytics_run row as a dict (models, portfolio, config …)."""
    row = conn.execute(select(analytics_run).where(analytics_run.c.run_id == run_id)).first()
    return dict(row._mapping) if row is not None else None
