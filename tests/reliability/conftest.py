"""Warehouse fixtures of the reliability tests: the ETL's (SQLite, and MariaDB when
``SUGAR_BRIDGE_TEST_MYSQL_URL`` is set)."""

from tests.etl.fixtures import _mysql_engine, mysql_url, warehouse, warehouse_url

__all__ = ["_mysql_engine", "mysql_url", "warehouse", "warehouse_url"]
