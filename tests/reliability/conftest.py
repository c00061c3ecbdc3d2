"""Warehouse fixtures of the reliability tests: the ETL's (SQLite, MariaDB when
``SUGAR_BRIDGE_TEST_MYSQL_URL`` is set, PostgreSQL when ``SUGAR_BRIDGE_TEST_POSTGRES_URL`` is)."""

from tests.etl.fixtures import (
    _mysql_engine,
    _postgres_engine,
    mysql_url,
    postgres_url,
    warehouse,
    warehouse_url,
)

__all__ = [
    "_mysql_engine",
    "_postgres_engine",
    "mysql_url",
    "postgres_url",
    "warehouse",
    "warehouse_url",
]
