"""Keys of just-inserted rows (etl.load.inserted_keys): the range between the first and the last
when they are exactly consecutive (the engines assign them increasing in insertion order), read
back otherwise."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.engine import Engine

from etl.load import inserted_keys
from etl.schema import dim_customer

NOW = datetime(2026, 12, 6, 2, 0)


def _customer(cid: str, key: int | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {"source": "csv", "source_customer_id": cid, "updated_at": NOW,
                           "first_seen_at": NOW}  # fmt: skip
    if key is not None:
        row["customer_key"] = key
    return row


def _stored(engine: Engine, ids: list[str]) -> list[int]:
    with engine.connect() as conn:
        query = select(dim_customer.c.source_customer_id, dim_customer.c.customer_key)
        found = {cid: key for cid, key in conn.execute(query)}
    return [found[i] for i in ids]


def _keys_and_asked(engine: Engine, ids: list[str], **kwargs: Any) -> tuple[list[int], int]:
    seen: list[tuple[str, Any]] = []
    with engine.connect() as conn:
        event.listen(conn, "before_cursor_execute", lambda *a: seen.append((a[2], a[3])))
        keys = inserted_keys(
            conn, dim_customer, "customer_key", "source_customer_id", ids, source="csv", **kwargs
        )
    # the natural keys the SELECTs asked for (an IN list's parameters, or PostgreSQL's array)
    asked = 0
    for sql, params in seen:
        if sql.startswith("SELECT"):
            asked += sum(len(p) if isinstance(p, list) else 1 for p in params) - 1  # - source
    return keys, asked


def test_consecutive_keys_are_the_range_between_the_ends(warehouse: Engine) -> None:
    ids = [f"C{n:04d}" for n in range(1200)]
    with warehouse.begin() as conn:
        conn.execute(dim_customer.insert(), [_customer("OLD")])
        conn.execute(dim_customer.insert(), [_customer(i) for i in ids])
    keys, asked = _keys_and_asked(warehouse, ids)
    assert keys == _stored(warehouse, ids)
    if warehouse.dialect.name in ("sqlite", "mysql"):
        assert asked == 2  # the two ends only
    else:  # PostgreSQL: read back
        assert asked == len(ids)


def test_keys_with_a_gap_or_out_of_order_are_read_back(warehouse: Engine) -> None:
    # another writer's row between ours: the ends are not len - 1 apart
    gap = ["G1", "G2", "G3"]
    # the right distance between the ends, but not in insertion order
    shuffled = ["S1", "S2", "S3"]
    with warehouse.begin() as conn:
        conn.execute(dim_customer.insert(), [_customer("G1", 100), _customer("G2", 101)])
        conn.execute(dim_customer.insert(), [_customer("G3", 103)])
        conn.execute(
            dim_customer.insert(),
            [_customer("S1", 200), _customer("S2", 202), _customer("S3", 201)],
        )
    assert _keys_and_asked(warehouse, gap)[0] == [100, 101, 103]
    # ends 200 and 201 are not 2 apart: read back, S2's key is 202
    assert _keys_and_asked(warehouse, shuffled)[0] == [200, 202, 201]


def test_not_sequential_reads_every_key_back(warehouse: Engine) -> None:
    ids = ["A", "B", "C"]
    with warehouse.begin() as conn:
        conn.execute(dim_customer.insert(), [_customer(i) for i in ids])
    keys, asked = _keys_and_asked(warehouse, ids, sequential=False)
    assert keys == _stored(warehouse, ids)
    assert asked == len(ids)
    assert inserted_keys(warehouse.connect(), dim_customer, "customer_key", "x", []) == []
