"""Read-only views of the run history and the rejects (for ``status`` and ``etl rejects``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import desc, func, select
from sqlalchemy.engine import Engine

from etl.schema import etl_reject, etl_run


@dataclass(frozen=True, slots=True)
class RunRow:
    """One row of ``etl_run``."""

    run_id: int
    job: str
    source: str | None
    started_at: datetime
    finished_at: datetime | None
    status: str
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    error: str | None
    details: dict[str, Any] | None

    @property
    def duration_s(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


@dataclass(frozen=True, slots=True)
class RejectRow:
    """One row of ``etl_reject``."""

    reject_id: int
    run_id: int
    source: str
    source_key: str | None
    rule: str
    reason: str
    raw: str | None


def last_runs(engine: Engine, limit_per_job: int = 5) -> list[RunRow]:
    """The latest runs of every job (``etl``, ``analytics``, ``push``, ...), newest first."""
    r = etl_run.c
    with engine.connect() as conn:
        jobs = list(conn.scalars(select(r.job).distinct().order_by(r.job)))
        out: list[RunRow] = []
        for job in jobs:
            query = (
                select(
                    r.run_id,
                    r.job,
                    r.source,
                    r.started_at,
                    r.finished_at,
                    r.status,
                    r.rows_read,
                    r.rows_loaded,
                    r.rows_rejected,
                    r.error,
                    r.details,
                )
                .where(r.job == job)
                .order_by(desc(r.started_at), desc(r.run_id))
                .limit(limit_per_job)
            )
            out += [RunRow(**row._asdict()) for row in conn.execute(query)]
    return out


def latest_run_id(engine: Engine, job: str = "etl") -> int | None:
    """The id of the newest run of ``job``."""
    with engine.connect() as conn:
        value = conn.scalar(select(func.max(etl_run.c.run_id)).where(etl_run.c.job == job))
    return int(value) if value is not None else None


def reject_counts(engine: Engine, run_id: int | None = None) -> list[tuple[str, int]]:
    """Reject counts by rule (of one run, or of all runs), largest first."""
    c = etl_reject.c
    query = select(c.rule, func.count().label("n")).group_by(c.rule).order_by(desc("n"), c.rule)
    if run_id is not None:
        query = query.where(c.run_id == run_id)
    with engine.connect() as conn:
        return [(row.rule, int(row.n)) for row in conn.execute(query)]


def rejects(engine: Engine, run_id: int, limit: int = 1000) -> list[RejectRow]:
    """The rejects of one run, in the order they were found."""
    query = (
        select(etl_reject)
        .where(etl_reject.c.run_id == run_id)
        .order_by(etl_reject.c.reject_id)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [
            RejectRow(
                reject_id=row.reject_id,
                run_id=row.run_id,
                source=row.source,
                source_key=row.source_key,
                rule=row.rule,
                reason=row.reason,
                raw=row.raw,
            )
            for row in conn.execute(query)
        ]
