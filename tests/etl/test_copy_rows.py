"""Bulk inserts into PostgreSQL by COPY (etl.copy_rows): the CSV pyarrow writes keeps empty text
apart from NULL, and a real PostgreSQL stores from it exactly what executemany stores."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    Table,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

import etl.load
from etl.copy_rows import copy_insert, csv_rows
from etl.literal_rows import NotRendered
from etl.schema import dim_customer, fact_order, fact_order_line
from tests.etl.bulk_data import HOSTILE as BASE_HOSTILE
from tests.etl.bulk_data import load_three_lines, plain_rows, probe_tables, value_columns
from tests.etl.fixtures import server_warehouse

HOSTILE = [*BASE_HOSTILE, "\\N", "\\."]  # COPY's text-format markers, plain in CSV
probe, twin = probe_tables("t_copy_rows")


def test_empty_text_is_quoted_and_null_is_an_empty_field() -> None:
    text = csv_rows(probe, {"k": [1, 2, 3], "s": ["", None, 'a "b"']}).to_pybytes().decode()
    assert text == '1,""\n2,\n3,"a ""b"""\n'


def test_a_column_of_another_kind_is_refused_before_anything_is_sent() -> None:
    with pytest.raises(NotRendered):
        csv_rows(probe, {"k": [1], "m": [Decimal("1.5")]})
    with pytest.raises(NotRendered):
        csv_rows(probe, {"k": [1.5]})


@pytest.fixture
def pg_warehouse(request: pytest.FixtureRequest) -> Engine:
    """The session's migrated warehouse on the postgres test server, emptied."""
    return server_warehouse(request, "postgres")[1]


@pytest.mark.postgres
def test_postgres_stores_what_executemany_stores(pg_warehouse: Engine) -> None:
    columns = value_columns(500, HOSTILE)
    with pg_warehouse.begin() as conn:
        for table in (probe, twin):
            table.drop(conn, checkfirst=True)
            table.create(conn)
        copy_insert(conn, probe, columns)
        conn.execute(twin.insert(), plain_rows(columns))
        ours = conn.execute(select(probe).order_by(probe.c.k)).all()
        theirs = conn.execute(select(twin).order_by(twin.c.k)).all()
    assert ours == theirs
    assert {r.s for r in ours} == {*HOSTILE, None}
    # a failing COPY raises as a failing statement does (the loader reports it as a LoadError)
    with pytest.raises(IntegrityError, match="duplicate key"), pg_warehouse.begin() as conn:
        copy_insert(conn, probe, {"k": [0]})
    with pg_warehouse.begin() as conn:
        probe.drop(conn)
        twin.drop(conn)


@pytest.mark.postgres
def test_the_load_copies_on_postgres(
    pg_warehouse: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copied: list[str] = []

    def spy(conn: Any, table: Table, columns: dict[str, Any]) -> None:
        copied.append(table.name)
        copy_insert(conn, table, columns)

    monkeypatch.setattr(etl.load, "copy_insert", spy)
    load_three_lines(pg_warehouse, tmp_path, ('O\'Brien, "Sons"', "\\N"))
    assert {fact_order.name, fact_order_line.name, dim_customer.name} <= set(copied)
