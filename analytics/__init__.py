"""Client-habit statistics, RFM, lifecycle, CLV models and the report (pure computation).

Entry point for the sync pipeline: ``analytics.run_analytics(engine, config, as_of)``. The heavy
modules (pandas, scipy) load on first use, so importing ``analytics.config`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import date

    from sqlalchemy.engine import Engine

    from analytics.config import AnalyticsConfig
    from analytics.run import AnalyticsRunInfo, Progress


def run_analytics(
    engine: Engine,
    config: AnalyticsConfig,
    as_of: date,
    *,
    progress: Progress | None = None,
    backdated: bool = False,
    default_currency: str = "EUR",
) -> AnalyticsRunInfo:
    """Compute and store the statistics, segments, CLV and portfolio figures for ``as_of``.

    See ``analytics.run.run_analytics`` (``progress`` is told each phase as it finishes; a
    ``backdated`` run is stored but not shown by ``customer_habits`` nor sent by the push;
    ``default_currency`` is the reporting currency when none is configured and the orders have
    several).
    """
    from analytics.run import run_analytics as _run

    return _run(
        engine,
        config,
        as_of,
        progress=progress,
        backdated=backdated,
        default_currency=default_currency,
    )


__all__ = ["run_analytics"]
