"""Alembic environment of the warehouse, configured programmatically by ``etl.db``.

There is no ``alembic.ini``: ``etl.db.alembic_config`` points ``script_location`` at this package
and hands over an open connection in ``config.attributes["connection"]``. Nothing here is specific
to one revision, so later migrations (analytics, push, scheduler) only add files to ``versions/``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import event
from sqlalchemy.engine import Connection

from etl import spider
from etl.schema import metadata


def _run(connection: Connection) -> None:
    # On Spider, DDL on a fact table must reach the data nodes first (etl/spider.py).
    if connection.dialect.name == "mysql":
        event.listen(connection, "before_cursor_execute", spider.forward_fact_ddl)
    try:
        _migrate(connection)
    finally:
        if event.contains(connection, "before_cursor_execute", spider.forward_fact_ddl):
            event.remove(connection, "before_cursor_execute", spider.forward_fact_ddl)


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things in place; batch mode rebuilds tables when needed.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError(
            "etl/migrations is run through etl.db.upgrade(engine) or `sugar-bridge db upgrade`"
        )
    _run(connection)


_main()
