"""Read-only views of the run history and the rejects (for ``status`` and ``etl rejects``).

**Open rejects.** A rejected row stays on the operator's list, whatever run found it, until it is
dealt with: a reject is *closed* when a later run loaded its file again (a corrected export, a
changed file, a ``--full-refresh``; the rows still bad there are that run's rejects; a run that
only resumed the file after an interrupted load does not count), when a later run loaded its order
(database sources, whose keys name the order), or when a later run rejected the same row again
(only the newest reject of a row is listed).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import desc, func, select
from sqlalchemy.engine import Engine

from etl.schema import etl_loaded_file, etl_reject, etl_run, fact_order


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

    def as_dict(self) -> dict[str, Any]:
        """The row as plain JSON-able values (``--json``)."""
        return asdict(self)


def _run_columns() -> list[Any]:
    """The ``etl_run`` columns a :class:`RunRow` holds, in its order."""
    return [etl_run.c[f.name] for f in fields(RunRow)]


def last_runs(engine: Engine, limit_per_job: int = 5) -> list[RunRow]:
    """The latest runs of every job (``etl``, ``analytics``, ``push``, ...), newest first."""
    r = etl_run.c
    with engine.connect() as conn:
        jobs = list(conn.scalars(select(r.job).distinct().order_by(r.job)))
        out: list[RunRow] = []
        for job in jobs:
            query = (
                select(*_run_columns())
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
        return [_reject(row) for row in conn.execute(query)]


def get_run(engine: Engine, run_id: int) -> RunRow | None:
    """The ledger row of run ``run_id`` (None when there is no such run)."""
    query = select(*_run_columns()).where(etl_run.c.run_id == run_id)
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return RunRow(**row._asdict()) if row is not None else None


# A database source's row key: "<source>:order <order id> line <n>" (connectors/orders/sql_source).
_ORDER_KEY = re.compile(r"^.*:order (?P<order>.+) line \S+$")
_IN_CHUNK = 500


def _open_reject_ids(engine: Engine) -> list[tuple[int, int]]:
    """(reject_id, run_id) of every open reject (module docstring), in the order they were found."""
    c, f = etl_reject.c, etl_loaded_file.c
    with engine.connect() as conn:
        loaded = {
            (row.source, row.file_name): int(row.run_id)
            for row in conn.execute(
                select(f.source, f.file_name, f.run_id).where(f.status == "loaded")
            )
        }
        # A run that only resumed a file (after an interrupted load) did not read its first part
        # again: that part's rejects stay open.
        resumed = _resumed_files(conn, set(loaded.values()))
        loaded = {key: run for key, run in loaded.items() if key not in resumed.get(run, set())}
        newest: dict[tuple[str, str], int] = {}
        rows: list[tuple[int, int, str, str | None]] = []
        query = select(c.reject_id, c.run_id, c.source, c.source_key).order_by(c.reject_id)
        for reject_id, run_id, source, key in conn.execute(query):
            rows.append((int(reject_id), int(run_id), source, key))
            if key is not None:
                newest[(source, key)] = max(newest.get((source, key), 0), int(run_id))
        candidates: list[tuple[int, int, str, str | None]] = []
        for reject_id, run_id, source, key in rows:
            if key is not None:
                if newest[(source, key)] > run_id:
                    continue  # rejected again later: that one is listed
                file_name = key if (source, key) in loaded else key.rpartition(":")[0]
                if loaded.get((source, file_name), 0) > run_id:
                    continue  # its file was loaded again since
            candidates.append((reject_id, run_id, source, key))
        orders: dict[str, set[str]] = {}
        for _, _, source, key in candidates:
            match = _ORDER_KEY.match(key or "")
            if match:
                orders.setdefault(source, set()).add(match["order"])
        written = _orders_written(conn, orders)
    out = []
    for reject_id, run_id, source, key in candidates:
        match = _ORDER_KEY.match(key or "")
        if match and written.get((source, match["order"]), 0) > run_id:
            continue  # its order was loaded since
        out.append((reject_id, run_id))
    return out


def _resumed_files(conn: Any, run_ids: set[int]) -> dict[int, set[tuple[str, str]]]:
    """run id → the (source, file) pairs that run resumed instead of reading them whole."""
    out: dict[int, set[tuple[str, str]]] = {}
    wanted = sorted(run_ids)
    for start in range(0, len(wanted), _IN_CHUNK):
        query = select(etl_run.c.run_id, etl_run.c.details).where(
            etl_run.c.run_id.in_(wanted[start : start + _IN_CHUNK])
        )
        for run_id, details in conn.execute(query):
            if isinstance(details, str):  # a JSON column read back as text by some drivers
                details = json.loads(details)
            files = details.get("resumed_files") if isinstance(details, dict) else None
            for source, names in (files or {}).items():
                out.setdefault(int(run_id), set()).update((source, name) for name in names)
    return out


def _orders_written(conn: Any, orders: dict[str, set[str]]) -> dict[tuple[str, str], int]:
    """(source, order id) → the run that last wrote the order, for the orders asked about."""
    o = fact_order.c
    out: dict[tuple[str, str], int] = {}
    for source, ids in orders.items():
        wanted = sorted(ids)
        for start in range(0, len(wanted), _IN_CHUNK):
            part = wanted[start : start + _IN_CHUNK]
            query = select(o.source_order_id, o.etl_run_id).where(
                o.source == source, o.source_order_id.in_(part)
            )
            for order_id, run_id in conn.execute(query):
                out[(source, order_id)] = int(run_id)
    return out


def open_reject_run_ids(engine: Engine) -> set[int]:
    """The runs that still have open rejects (kept by the history's retention)."""
    return {run_id for _, run_id in _open_reject_ids(engine)}


def open_rejects(engine: Engine, limit: int | None = None) -> tuple[list[RejectRow], int]:
    """The open rejects of every run, oldest first, at most ``limit``; and how many are open."""
    ids = [reject_id for reject_id, _ in _open_reject_ids(engine)]
    return _reject_rows(engine, ids[:limit] if limit is not None else ids), len(ids)


def _reject_rows(engine: Engine, ids: Iterable[int]) -> list[RejectRow]:
    wanted = list(ids)
    out: list[RejectRow] = []
    with engine.connect() as conn:
        for start in range(0, len(wanted), _IN_CHUNK):
            part = wanted[start : start + _IN_CHUNK]
            query = (
                select(etl_reject)
                .where(etl_reject.c.reject_id.in_(part))
                .order_by(etl_reject.c.reject_id)
            )
            out += [_reject(row) for row in conn.execute(query)]
    return out


def _reject(row: Any) -> RejectRow:
    return RejectRow(
        reject_id=row.reject_id,
        run_id=row.run_id,
        source=row.source,
        source_key=row.source_key,
        rule=row.rule,
        reason=row.reason,
        raw=row.raw,
    )
