"""Warehouse fixtures over SQLite, MariaDB and PostgreSQL (see tests/etl/fixtures.py)."""

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
