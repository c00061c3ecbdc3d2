"""The orders' optional ``customer_type``: B2B a company, B2C a person (pushed to Contacts)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine

from etl import load_csv
from etl.schema import dim_customer, etl_reject, fact_order
from tests.etl.data import HEADER, order_rows, write_csv

TYPED = [*HEADER, "customer_type"]


def _types(engine: Engine) -> dict[str, str | None]:
    with engine.connect() as conn:
        query = select(dim_customer.c.source_customer_id, dim_customer.c.customer_type)
        return {str(cid): kind for cid, kind in conn.execute(query).all()}


def test_customer_type_is_stored_lower_case_and_a_bad_one_is_rejected(
    warehouse: Engine, tmp_path: Path
) -> None:
    rows = order_rows(12)
    for row in rows:
        row["customer_type"] = "B2C" if row["customer_id"] != "C0" else "b2b"
    bad = next(i for i, r in enumerate(rows) if r["customer_id"] == "C1")
    order = rows[bad]["order_id"]
    for row in rows:
        if row["order_id"] == order:
            row["customer_type"] = "retail"
    path = write_csv(tmp_path / "orders.csv", rows, TYPED)
    info = load_csv(warehouse, path)
    assert info.status == "partial"
    with warehouse.connect() as conn:
        rejects = conn.execute(select(etl_reject.c.rule, etl_reject.c.reason)).all()
    assert rejects
    first = next(r for r in rejects if r.rule == "unknown_customer_type")
    assert f"orders.csv:{bad + 2}" in first.reason
    assert "customer_type 'retail' is not one of b2b, b2c" in first.reason
    assert {r.rule for r in rejects} == {"unknown_customer_type"}
    with warehouse.connect() as conn:
        loaded = set(conn.execute(select(fact_order.c.source_order_id)).scalars())
    assert order not in loaded
    types = _types(warehouse)
    assert types["C0"] == "b2b"
    assert {t for c, t in types.items() if c != "C0"} == {"b2c"}


def test_adding_the_column_empty_changes_no_order(warehouse: Engine, tmp_path: Path) -> None:
    """Orders stored before the column existed keep their digest: a file that now has the column
    empty rewrites nothing; a type given later reaches the customer, not the orders."""
    rows = order_rows(20)
    load_csv(warehouse, write_csv(tmp_path / "a" / "orders.csv", rows))
    for row in rows:
        row["customer_type"] = ""
    again = load_csv(warehouse, write_csv(tmp_path / "b" / "orders.csv", rows, TYPED))
    assert (again.orders_inserted, again.orders_updated, again.orders_unchanged) == (0, 0, 20)
    assert set(_types(warehouse).values()) == {None}
    for row in rows:
        row["customer_type"] = "b2c"
    typed = load_csv(warehouse, write_csv(tmp_path / "c" / "orders.csv", rows, TYPED))
    assert typed.status == "ok"
    assert set(_types(warehouse).values()) == {"b2c"}
