"""Bulk inserts into SQLite as multi-row statements (etl.load.bulk_insert): what they store is what
executemany stores, value for value, and the rows keep their order (their keys follow it)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.engine import Connection, Engine

from etl.db import create_engine_for, ensure_current
from etl.load import SQLITE_VALUES_PER_STATEMENT, bulk_insert, inserted_keys
from etl.schema import dim_customer
from tests.etl.bulk_data import HOSTILE, plain_rows, probe_tables, value_columns

probe, twin = probe_tables("t_sqlite_rows")
NOW = datetime(2026, 12, 6, 2, 0)


def _statements(conn: Connection) -> list[tuple[int, int]]:
    """(values per statement, statements run) of each execution on ``conn`` from now on."""
    seen: list[tuple[int, int]] = []

    def record(*args: Any) -> None:
        statement, parameters, many = args[2], args[3], args[5]
        seen.append((statement.count("?"), len(parameters) if many else 1))

    event.listen(conn, "before_cursor_execute", record)
    return seen


def _engine(folder: Path) -> Engine:
    return create_engine_for(f"sqlite:///{folder / 'w.db'}")


def test_sqlite_stores_what_executemany_stores(tmp_path: Path) -> None:
    per = SQLITE_VALUES_PER_STATEMENT // len(probe.c)  # 166 rows of 6 values
    columns = value_columns(2 * per + 7, HOSTILE)
    with _engine(tmp_path).begin() as conn:
        for table in (probe, twin):
            table.create(conn)
        seen = _statements(conn)
        bulk_insert(conn, probe, columns)
        assert seen == [(per * len(probe.c), 2), (len(probe.c), 7)]  # two of 166 rows, 7 alone
        conn.execute(twin.insert(), plain_rows(columns))
        ours = conn.execute(select(probe).order_by(probe.c.k)).all()
        theirs = conn.execute(select(twin).order_by(twin.c.k)).all()
    assert ours == theirs
    assert len(ours) == 2 * per + 7
    assert {r.s for r in ours} == {*HOSTILE, None}


def test_few_rows_go_one_at_a_time(tmp_path: Path) -> None:
    per = SQLITE_VALUES_PER_STATEMENT // len(probe.c)
    columns = value_columns(2 * per - 1, HOSTILE)  # fewer than two statements' worth
    with _engine(tmp_path).begin() as conn:
        probe.create(conn)
        seen = _statements(conn)
        bulk_insert(conn, probe, columns)
        assert seen == [(len(probe.c), 2 * per - 1)]
        assert conn.execute(select(probe.c.k).order_by(probe.c.k)).scalars().all() == list(
            range(2 * per - 1)
        )


def test_rows_keep_their_order_and_their_keys_follow_it(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    ensure_current(engine)
    ids = [f"C{n:05d}" for n in range(5000, 0, -1)]  # not in the order of their ids
    with engine.begin() as conn:
        bulk_insert(
            conn,
            dim_customer,
            {
                "source": ["csv"] * len(ids),
                "source_customer_id": ids,
                "first_seen_at": [NOW] * len(ids),
                "updated_at": [NOW] * len(ids),
            },
        )
        keys = inserted_keys(conn, dim_customer, "customer_key", "source_customer_id", ids,
                             source="csv")  # fmt: skip
        stored = dict(conn.execute(select(dim_customer.c.source_customer_id,
                                          dim_customer.c.customer_key)).all())  # fmt: skip
    assert keys == [stored[i] for i in ids]
    assert keys == list(range(keys[0], keys[0] + len(ids)))
