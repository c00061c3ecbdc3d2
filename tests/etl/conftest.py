"""Warehouse fixtures over SQLite and MariaDB (see tests/etl/fixtures.py)."""

from tests.etl.fixtures import _mysql_engine, mysql_url, warehouse, warehouse_url

__all__ = ["_mysql_engine", "mysql_url", "warehouse", "warehouse_url"]
