"""The warehouse: star schema, migrations, validation and loading of orders.

Entry points: ``etl.run_etl(engine, sources)`` (the pipeline's load step), ``etl.load_csv``,
``etl.db.create_engine_for`` / ``etl.db.ensure_current``.
"""

from etl.run import EtlProgress, EtlRunInfo, load_csv, run_etl

__all__ = ["EtlProgress", "EtlRunInfo", "load_csv", "run_etl"]
