"""Warehouse fixtures over SQLite and MariaDB (see tests/etl/fixtures.py): the job locks must hold
on both engines."""

from tests.etl.fixtures import _mysql_engine, mysql_url, warehouse, warehouse_url

__all__ = ["_mysql_engine", "mysql_url", "warehouse", "warehouse_url"]
