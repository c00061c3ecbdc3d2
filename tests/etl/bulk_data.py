"""Shared by the tests of the text-rendered bulk paths (etl.literal_rows on MariaDB, etl.copy_rows
on PostgreSQL): a probe table of every column kind they render, value columns with hostile text,
and the same values as row dicts for Core's executemany (the reference they are compared with)."""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
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

from etl import load_csv
from etl.schema import dim_customer, fact_order_line

#: Text no bulk path may mangle (each test adds what its engine can store: NUL only on MariaDB).
HOSTILE = [
    "plain",
    "",
    "it's",
    'say "hi", then go',
    "back\\slash",
    "trailing\\",
    "\\'",
    "line\nfeed\r\nreturn",
    "ünïcødé ✓ 🚀",
    "%s %(x)s %% ? $1",
    "'); DROP TABLE t; --",
]


def probe_tables(name: str) -> tuple[Table, Table]:
    """A table with a column of each kind, and its twin (filled by executemany to compare)."""
    probe = Table(
        name,
        MetaData(),
        Column("k", Integer, primary_key=True, autoincrement=False),
        Column("n", BigInteger),
        Column("s", String(64)),
        Column("m", Numeric(18, 6)),
        Column("at", DateTime),
        Column("day", Date),
        mysql_charset="utf8mb4",
    )
    return probe, probe.to_metadata(MetaData(), name=f"{name}_twin")


def value_columns(n: int, texts: list[str]) -> dict[str, Any]:
    """``n`` rows of the probe table as value columns, with missing values in every column."""
    return {
        "k": list(range(n)),
        "n": [None if i % 11 == 0 else (-1) ** i * i * 10**12 for i in range(n)],
        "s": [texts[i % len(texts)] if i % 5 else None for i in range(n)],
        "m": [None if i % 13 == 0 else f"{(-1) ** i * i / 7:.6f}" for i in range(n)],
        "at": np.where(
            np.arange(n) % 17 == 0,
            np.datetime64("NaT"),
            np.datetime64("2024-01-01T00:00", "us") + np.arange(n) * np.timedelta64(3_601_000_001),
        ).astype("M8[us]"),
        "day": [None if i % 19 == 0 else date(2020, 1, 1 + i % 28) for i in range(n)],
    }


def plain_rows(columns: dict[str, Any]) -> list[dict[str, Any]]:
    """Row dicts of value columns (numpy datetimes as Python ones), for Core's executemany."""
    plain = {
        c: [None if np.isnat(v) else v.item() for v in given]
        if isinstance(given, np.ndarray)
        else list(given)
        for c, given in columns.items()
    }
    return [dict(zip(plain, r, strict=True)) for r in zip(*plain.values(), strict=True)]


def load_three_lines(engine: Engine, folder: Path, names: tuple[str, str]) -> None:
    """Load two orders (three lines, a price with 6 decimals) of two customers named ``names``
    through the loader, and check what it stored: both names as given, the prices exactly."""
    path = folder / "orders.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["order_id", "ordered_at", "customer_id", "customer_name", "sku", "quantity",
                      "unit_price"])  # fmt: skip
        out.writerow(["A1", "2026-01-05T10:00:00", "C1", names[0], "SKU-1", "2", "12.903333"])
        out.writerow(["A1", "2026-01-05T10:00:00", "C1", names[0], "SKU-2", "1", "5"])
        out.writerow(["A2", "2026-02-01T09:30:00", "C2", names[1], "SKU-1", "3", "1.5"])
    info = load_csv(engine, str(path))
    assert (info.rows_loaded, info.rows_rejected) == (3, 0)
    with engine.connect() as conn:
        stored = conn.execute(select(dim_customer.c.name).order_by(dim_customer.c.name))
        assert stored.scalars().all() == sorted(names)
        prices = conn.execute(
            select(fact_order_line.c.unit_price).order_by(fact_order_line.c.unit_price)
        )
        assert prices.scalars().all() == [Decimal("1.5"), Decimal("5"), Decimal("12.903333")]
