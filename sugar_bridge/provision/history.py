"""Recording provisioning applies in the run ledger (:mod:`etl.runs`, job ``provision``).

So that ``sugar-bridge status`` lists them beside the ETL, analytics and push runs, and so that an
apply killed halfway shows as ``interrupted`` instead of vanishing: the run is opened before the
first write and closed after the last. The record is a courtesy: a warehouse that cannot be
reached never stops an apply (a warning is logged and the apply goes on unrecorded).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from etl.db import create_engine_for, ensure_current
from etl.exceptions import EtlError
from etl.runs import Run, describe_error, start_run
from sugar_bridge.provision.exceptions import ApplyFailed

log = logging.getLogger(__name__)

__all__ = ["ApplyRecord", "recorded_apply"]


@dataclass
class ApplyRecord:
    """The ledger run of one apply (``run`` is None when the warehouse could not be written).

    The caller sets ``summary`` (actions per kind) and ``changes`` once the apply succeeded.
    """

    run: Run | None
    summary: dict[str, dict[str, int]] = field(default_factory=dict)
    changes: int = 0

    @property
    def run_id(self) -> int | None:
        """The ledger id of the apply, if it is recorded."""
        return self.run.run_id if self.run is not None else None


def _open(warehouse_url: str) -> tuple[Engine | None, Run | None]:
    engine: Engine | None = None
    try:
        engine = create_engine_for(warehouse_url)
        ensure_current(engine)
        return engine, start_run(engine, "provision", source="sugar")
    except (SQLAlchemyError, EtlError, OSError) as exc:
        log.warning("could not record the provisioning run in the warehouse: %s", exc)
        if engine is not None:
            engine.dispose()
        return None, None


def _close(record: ApplyRecord) -> None:
    run = record.run
    if run is None:
        return
    run.rows_loaded = record.changes
    run.details = {"applied": record.summary}
    try:
        run.finish()
    except SQLAlchemyError as exc:
        log.warning("could not record the end of provisioning run %d: %s", run.run_id, exc)


@contextmanager
def recorded_apply(warehouse_url: str) -> Iterator[ApplyRecord]:
    """``with recorded_apply(url) as record:`` — an apply recorded in the ledger, start to end.

    An exception marks the run ``failed`` with its message (for :class:`ApplyFailed`, the writes
    it made before stopping count as the run's changes) and is re-raised.
    """
    engine, run = _open(warehouse_url)
    record = ApplyRecord(run)
    try:
        yield record
    except BaseException as exc:
        if run is not None:
            run.status = "failed"
            if isinstance(exc, ApplyFailed):
                run.error, record.summary, record.changes = str(exc), {}, exc.applied
            else:
                run.error = describe_error(exc)
            _close(record)
        raise
    else:
        if run is not None:
            run.status = "ok"
            _close(record)
    finally:
        if engine is not None:
            engine.dispose()
