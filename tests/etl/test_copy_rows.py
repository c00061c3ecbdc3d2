"""Bulk inserts into PostgreSQL by COPY (etl.copy_rows): the CSV pyarrow writes keeps empty text
apart from NULL, and a real PostgreSQL stores from it exactly what executemany stores."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

import etl.load
from etl import load_csv
from etl.copy_rows import copy_insert, csv_rows
from etl.db import create_engine_for, ensure_current
from etl.literal_rows import NotRendered
from etl.schema import dim_customer, fact_order, fact_order_line
from tests.etl.fixtures import fresh_database

HOSTILE = [
    "plain",
    "",
    "it's",
    'say "hi", then go',
    "line\nfeed\r\nreturn",
    "back\\slash \\N",
    "\\.",
    "ünïcødé ✓ 🚀",
    "%s ? $1",
    "'); DROP TABLE t; --",
]

meta = MetaData()
probe = Table(
    "t_copy_rows",
    meta,
    Column("k", Integer, primary_key=True, autoincrement=False),
    Column("n", BigInteger),
    Column("s", String(64)),
    Column("m", Numeric(18, 6)),
    Column("at", DateTime),
    Column("day", Date),
)
twin = probe.to_metadata(MetaData(), name="t_copy_rows_twin")


def _columns(n: int) -> dict[str, Any]:
    return {
        "k": list(range(n)),
        "n": [None if i % 11 == 0 else (-1) ** i * i * 10**12 for i in range(n)],
        "s": [HOSTILE[i % len(HOSTILE)] if i % 7 else None for i in range(n)],
        "m": [None if i % 13 == 0 else f"{(-1) ** i * i / 7:.6f}" for i in range(n)],
        "at": np.where(
            np.arange(n) % 17 == 0,
            np.datetime64("NaT"),
            np.datetime64("2024-01-01T00:00", "us") + np.arange(n) * np.timedelta64(3_601_000_001),
        ).astype("M8[us]"),
        "day": [None if i % 19 == 0 else date(2020, 1, 1 + i % 28) for i in range(n)],
    }


def test_empty_text_is_quoted_and_null_is_an_empty_field() -> None:
    text = csv_rows(probe, {"k": [1, 2, 3], "s": ["", None, 'a "b"']}).to_pybytes().decode()
    assert text == '1,""\n2,\n3,"a ""b"""\n'


def test_a_column_of_another_kind_is_refused_before_anything_is_sent() -> None:
    with pytest.raises(NotRendered):
        csv_rows(probe, {"k": [1], "m": [Decimal("1.5")]})
    with pytest.raises(NotRendered):
        csv_rows(probe, {"k": [1.5]})


@pytest.fixture(scope="module")
def pg() -> Iterator[Engine]:
    for url in fresh_database("postgres", prefix="sugar_bridge_test_copy"):
        engine = create_engine_for(url)
        yield engine
        engine.dispose()


@pytest.mark.postgres
def test_postgres_stores_what_executemany_stores(pg: Engine) -> None:
    columns = _columns(500)
    with pg.begin() as conn:
        for table in (probe, twin):
            table.drop(conn, checkfirst=True)
            table.create(conn)
        copy_insert(conn, probe, columns)
        plain = {
            c: [None if np.isnat(v) else v.item() for v in given]
            if isinstance(given, np.ndarray)
            else given
            for c, given in columns.items()
        }
        conn.execute(
            twin.insert(),
            [dict(zip(plain, r, strict=True)) for r in zip(*plain.values(), strict=True)],
        )
        ours = conn.execute(select(probe).order_by(probe.c.k)).all()
        theirs = conn.execute(select(twin).order_by(twin.c.k)).all()
    assert ours == theirs
    assert {r.s for r in ours} == {*HOSTILE, None}
    # a failing COPY raises as a failing statement does (the loader reports it as a LoadError)
    with pytest.raises(IntegrityError, match="duplicate key"), pg.begin() as conn:
        copy_insert(conn, probe, {"k": [0]})
    with pg.begin() as conn:
        probe.drop(conn)
        twin.drop(conn)


@pytest.fixture
def pg_warehouse() -> Iterator[Engine]:
    for url in fresh_database("postgres", prefix="sugar_bridge_test_copied"):
        engine = create_engine_for(url)
        ensure_current(engine)
        yield engine
        engine.dispose()


@pytest.mark.postgres
def test_the_load_copies_on_postgres(
    pg_warehouse: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copied: list[str] = []

    def spy(conn: Any, table: Table, columns: dict[str, Any]) -> None:
        copied.append(table.name)
        copy_insert(conn, table, columns)

    monkeypatch.setattr(etl.load, "copy_insert", spy)
    csv = tmp_path / "orders.csv"
    csv.write_text(
        "order_id,ordered_at,customer_id,customer_name,sku,quantity,unit_price\n"
        'A1,2026-01-05T10:00:00,C1,"O\'Brien, ""Sons""",SKU-1,2,12.903333\n'
        'A1,2026-01-05T10:00:00,C1,"O\'Brien, ""Sons""",SKU-2,1,5\n'
        "A2,2026-02-01T09:30:00,C2,\\N,SKU-1,3,1.5\n",
        encoding="utf-8",
    )
    info = load_csv(pg_warehouse, str(csv))
    assert (info.rows_loaded, info.rows_rejected) == (3, 0)
    assert {fact_order.name, fact_order_line.name, dim_customer.name} <= set(copied)
    with pg_warehouse.connect() as conn:
        names = conn.execute(select(dim_customer.c.name).order_by(dim_customer.c.name))
        assert names.scalars().all() == ['O\'Brien, "Sons"', "\\N"]
        prices = conn.execute(
            select(fact_order_line.c.unit_price).order_by(fact_order_line.c.unit_price)
        )
        assert prices.scalars().all() == [Decimal("1.5"), Decimal("5"), Decimal("12.903333")]
