"""The warehouse: star schema, migrations, validation and loading of orders.

Entry points: ``etl.run_etl(engine, sources)`` (the pipeline's load step), ``etl.load_csv``,
``etl.db.create_engine_for`` / ``etl.db.ensure_current``.

The loader (pyarrow and the validation code) is imported on first use of ``run_etl`` and
friends, not with the package: commands that only read the warehouse (``etl.db``,
``etl.schema``) do not pay for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from etl.run import EtlProgress, EtlRunInfo, load_csv, run_etl

__all__ = ["EtlProgress", "EtlRunInfo", "load_csv", "run_etl"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from etl import run

        return getattr(run, name)
    raise AttributeError(f"module 'etl' has no attribute {name!r}")
