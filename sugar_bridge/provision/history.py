"""Recording provisioning applies in the warehouse's run history (``etl_run``, job ``provision``).

So that ``sugar-bridge status`` lists them beside the ETL, analytics and push runs. The record is
a courtesy: a warehouse that cannot be reached never fails an apply that Sugar accepted (a
warning is logged instead).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.exc import SQLAlchemyError

from etl.db import create_engine_for, ensure_current
from etl.exceptions import EtlError
from etl.schema import etl_run

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    """Now in UTC, naive (the warehouse stores naive UTC datetimes)."""
    return datetime.now(UTC).replace(tzinfo=None)


def record_apply(
    warehouse_url: str,
    *,
    started_at: datetime,
    status: str,
    summary: dict[str, dict[str, int]],
    changes: int,
    error: str | None = None,
) -> int | None:
    """Insert one ``etl_run`` row for an apply; returns its id, or None when it could not."""
    try:
        engine = create_engine_for(warehouse_url)
        try:
            ensure_current(engine)
            details: dict[str, Any] = {"applied": summary}
            with engine.begin() as conn:
                result = conn.execute(
                    insert(etl_run).values(
                        job="provision",
                        source="sugar",
                        started_at=started_at,
                        finished_at=utcnow(),
                        status=status,
                        rows_read=0,
                        rows_loaded=changes,
                        rows_rejected=0,
                        error=error,
                        details=details,
                    )
                )
                key = result.inserted_primary_key
                return int(key[0]) if key else None
        finally:
            engine.dispose()
    except (SQLAlchemyError, EtlError, OSError) as exc:
        log.warning("could not record the provisioning run in the warehouse: %s", exc)
        return None
