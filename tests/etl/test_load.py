"""Loading: counts, derived columns, idempotent merge, corrections, batches, watermarks, modes.

Every test runs on SQLite, (marker ``mysql``) on MariaDB and (marker ``postgres``) on PostgreSQL
through the ``warehouse`` fixture.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from connectors.orders.csv_source import CsvSource
from etl import load as etl_load_module
from etl import load_csv, run_etl
from etl import run as etl_run_module
from etl.db import create_engine_for, load_connection, upgrade
from etl.exceptions import LoadError
from etl.load import CustomerMemo, MetCustomers
from etl.schema import (
    dim_customer,
    dim_date,
    dim_product,
    etl_loaded_file,
    etl_reject,
    etl_run,
    etl_watermark,
    fact_order,
    fact_order_line,
)
from etl.spider import facts_on_spider
from tests.etl.data import HEADER, fingerprint, order_rows, write_csv


def test_load_counts_and_derived_columns(warehouse: Engine, tmp_path: Path) -> None:
    rows = order_rows(40)
    path = write_csv(tmp_path / "orders.csv", rows)
    info = load_csv(warehouse, path)
    assert (info.status, info.rows_read, info.rows_loaded, info.rows_rejected) == (
        "ok", len(rows), len(rows), 0,
    )  # fmt: skip
    fp = fingerprint(warehouse)
    assert fp["orders"] == 40
    assert fp["lines"] == len(rows)
    expected = sum(
        (Decimal(r["quantity"]) * Decimal(r["unit_price"]) - Decimal(r["discount"])) for r in rows
    )
    assert fp["amount"] == fp["total"] == expected
    with warehouse.connect() as conn:
        order = conn.execute(select(fact_order).where(fact_order.c.source_order_id == "O0")).one()
        first = next(r for r in rows if r["order_id"] == "O0")
        invoiced = date.fromisoformat(first["invoiced_at"])
        paid = date.fromisoformat(first["paid_at"])
        due = date.fromisoformat(first["due_at"])
        assert order.payment_delay_days == (paid - invoiced).days
        assert order.lateness_days == (paid - due).days
        assert order.n_lines == sum(1 for r in rows if r["order_id"] == "O0")
        assert order.order_date_key == int(first["ordered_at"].replace("-", ""))
        day = conn.execute(
            select(dim_date).where(dim_date.c.date_key == order.order_date_key)
        ).one()
        assert day.date.isoformat() == first["ordered_at"]
        assert day.weekday == date.fromisoformat(first["ordered_at"]).weekday()
        customers = {r["customer_id"] for r in rows}
        assert conn.scalar(select(func.count()).select_from(dim_customer)) == len(customers)
        assert conn.scalar(select(func.count()).select_from(dim_product)) == len(
            {r["sku"] for r in rows}
        )
        cust = conn.execute(
            select(dim_customer).where(dim_customer.c.source_customer_id == first["customer_id"])
        ).one()
        firsts = [r["ordered_at"] for r in rows if r["customer_id"] == first["customer_id"]]
        assert cust.first_seen_at == datetime.fromisoformat(min(firsts))
        loaded = conn.execute(select(etl_loaded_file)).one()
        assert (loaded.file_name, loaded.rows, loaded.status) == ("orders.csv", len(rows), "loaded")
        assert conn.scalar(select(etl_watermark.c.cursor_value)) == "orders.csv"
        run = conn.execute(select(etl_run)).one()
        assert (run.status, run.rows_read, run.rows_loaded) == ("ok", len(rows), len(rows))
        assert run.details["orders_inserted"] == 40


def test_rerun_changes_nothing(warehouse: Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "orders.csv", order_rows(30))
    load_csv(warehouse, path)
    with warehouse.connect() as conn:
        before = conn.execute(select(fact_order).order_by(fact_order.c.order_key)).all()
    again = load_csv(warehouse, path)
    assert again.rows_read == 0  # the file is known: skipped
    forced = load_csv(warehouse, path, full_refresh=True)
    assert forced.orders_unchanged == 30
    assert (forced.orders_inserted, forced.orders_updated, forced.lines_written) == (0, 0, 0)
    with warehouse.connect() as conn:
        after = conn.execute(select(fact_order).order_by(fact_order.c.order_key)).all()
    assert after == before


def test_corrected_file_replaces_lines_and_status(warehouse: Engine, tmp_path: Path) -> None:
    rows = order_rows(10)
    path = write_csv(tmp_path / "orders.csv", rows)
    load_csv(warehouse, path)
    target = next(r["order_id"] for r in rows if r["line_no"] == "2")
    n_before = sum(1 for r in rows if r["order_id"] == target)
    corrected = [r for r in rows if not (r["order_id"] == target and r["line_no"] != "1")]
    cancelled = next(r["order_id"] for r in rows if r["order_id"] != target)
    for r in corrected:
        if r["order_id"] == cancelled:
            r["status"] = "cancelled"
    write_csv(path, corrected)
    info = load_csv(warehouse, path)
    assert info.orders_updated == 2
    assert any("changed since it was loaded" in note for note in info.notes)
    with warehouse.connect() as conn:
        order = conn.execute(select(fact_order).where(fact_order.c.source_order_id == target)).one()
        lines = conn.scalars(
            select(fact_order_line.c.line_no).where(fact_order_line.c.order_key == order.order_key)
        ).all()
        status = conn.scalar(
            select(fact_order.c.status).where(fact_order.c.source_order_id == cancelled)
        )
    assert n_before > 1
    assert (order.n_lines, list(lines)) == (1, [1])
    assert status == "cancelled"
    assert fingerprint(warehouse)["lines"] == len(corrected)


def test_batches_never_split_orders_and_give_the_same_warehouse(
    warehouse: Engine, tmp_path: Path
) -> None:
    rows = order_rows(60, seed=3)
    path = write_csv(tmp_path / "orders.csv", rows)
    info = load_csv(warehouse, path, batch_lines=7)
    assert info.batches > 10
    assert info.rows_loaded == len(rows)
    small = fingerprint(warehouse)
    again = load_csv(warehouse, path, full_refresh=True, batch_lines=100_000)
    assert again.orders_unchanged == 60
    assert fingerprint(warehouse) == small


def test_folder_in_name_order_each_file_once(warehouse: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    write_csv(folder / "2024-01.csv", order_rows(5, seed=1, prefix="A"))
    write_csv(folder / "2024-02.csv", order_rows(5, seed=2, prefix="B"))
    first = load_csv(warehouse, folder)
    assert first.watermarks["csv"] == (None, "2024-02.csv")
    write_csv(folder / "2024-03.csv", order_rows(5, seed=3, prefix="C"))
    second = load_csv(warehouse, folder)
    assert second.orders_inserted == 5
    assert second.watermarks["csv"] == ("2024-02.csv", "2024-03.csv")
    assert fingerprint(warehouse)["orders"] == 15


def test_resume_after_committed_rows(warehouse: Engine, tmp_path: Path) -> None:
    """A file left 'loading' by a killed run resumes after its committed rows."""
    rows = order_rows(20, seed=5)
    path = write_csv(tmp_path / "orders.csv", rows)
    calls: list[int] = []

    def stop_after_first(stage: str, batch: int) -> None:
        if stage == "after_commit":
            calls.append(batch)
            raise KeyboardInterrupt  # stands in for the process dying after batch 1

    with pytest.raises(KeyboardInterrupt):
        load_csv(warehouse, path, batch_lines=10, hook=stop_after_first)
    with warehouse.connect() as conn:
        progress = conn.execute(select(etl_loaded_file)).one()
    assert progress.status == "loading"
    assert 10 <= progress.rows < len(rows)
    rest = load_csv(warehouse, path, batch_lines=10)
    assert rest.rows_read == len(rows) - progress.rows
    reference = load_csv(warehouse, path, full_refresh=True)
    assert reference.orders_unchanged == 20
    assert fingerprint(warehouse)["lines"] == len(rows)


def test_since_skips_older_orders(warehouse: Engine, tmp_path: Path) -> None:
    rows = order_rows(30, seed=7)
    path = write_csv(tmp_path / "orders.csv", rows)
    cut = "2024-01-01"
    info = load_csv(warehouse, path, since=date.fromisoformat(cut))
    newer = [r for r in rows if r["ordered_at"] >= cut]
    assert info.rows_loaded == len(newer)
    assert info.rows_skipped == len(rows) - len(newer)
    assert fingerprint(warehouse)["lines"] == len(newer)


def test_replace_and_append_modes(warehouse: Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "orders.csv", order_rows(12, seed=9))
    load_csv(warehouse, path, mode="append")
    reference = fingerprint(warehouse)
    with pytest.raises(LoadError):
        load_csv(warehouse, path, mode="append", full_refresh=True)
    smaller = write_csv(tmp_path / "small.csv", order_rows(4, seed=9))
    load_csv(warehouse, smaller, mode="replace")
    assert fingerprint(warehouse)["orders"] == 4
    load_csv(warehouse, path, mode="replace", full_refresh=True)
    assert fingerprint(warehouse) == reference


def test_rejects_are_stored_with_the_run(warehouse: Engine, tmp_path: Path) -> None:
    rows = order_rows(5)
    rows[0]["quantity"] = "-3"
    path = write_csv(tmp_path / "orders.csv", rows)
    info = load_csv(warehouse, path)
    assert (info.status, info.rows_rejected, info.rows_loaded) == ("partial", 1, len(rows) - 1)
    with warehouse.connect() as conn:
        reject = conn.execute(select(etl_reject)).one()
    assert reject.run_id == info.run_id
    assert reject.rule == "quantity_not_positive"
    assert reject.source_key == "orders.csv:2"
    assert "quantity -3 must be > 0" in reject.reason
    assert '"quantity": "-3"' in reject.raw


def test_a_nul_character_rejects_its_row_on_every_engine(warehouse: Engine, tmp_path: Path) -> None:
    # PostgreSQL cannot store a NUL in text: without this rule the whole batch failed there,
    # while SQLite and MariaDB stored it.
    rows = order_rows(20)
    single = [r["order_id"] for r in rows if sum(x["order_id"] == r["order_id"] for x in rows) == 1]
    assert len(single) >= 2
    bad_name = next(i for i, r in enumerate(rows) if r["order_id"] == single[0])
    bad_product = next(i for i, r in enumerate(rows) if r["order_id"] == single[1])
    rows[bad_name]["customer_name"] = "Acme\x00Corp"
    rows[bad_product]["product_name"] = "TV\x0055"
    path = write_csv(tmp_path / "orders.csv", rows)
    info = load_csv(warehouse, path)
    assert (info.status, info.rows_rejected, info.rows_loaded) == ("partial", 2, len(rows) - 2)
    assert info.rejects_by_rule == {"nul_character": 2}
    with warehouse.connect() as conn:
        reasons = sorted(conn.scalars(select(etl_reject.c.reason)))
        names = list(conn.scalars(select(dim_customer.c.name)))
        orders = set(conn.scalars(select(fact_order.c.source_order_id)))
    assert [r.split(": ", 1)[1] for r in reasons] == [
        "customer_name contains a NUL character (0x00)",
        "product_name contains a NUL character (0x00)",
    ]
    assert not any("\x00" in (n or "") for n in names)
    assert orders == {r["order_id"] for r in rows} - {single[0], single[1]}


def test_two_sources_keep_their_orders_apart(warehouse: Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "orders.csv", order_rows(5))
    info = run_etl(
        warehouse, [CsvSource.canonical(path, name="shop"), CsvSource.canonical(path, name="b2b")]
    )
    assert info.orders_inserted == 10
    assert fingerprint(warehouse)["customers"] == 2 * len({r["customer_id"] for r in order_rows(5)})


def test_interleaved_lines_group_within_a_batch_and_late_ones_are_rejected(
    warehouse: Engine, tmp_path: Path
) -> None:
    rows = order_rows(12, seed=4)
    first = [r for r in rows if r["order_id"] == "O0"]
    rest = [r for r in rows if r["order_id"] != "O0"]
    assert len(first) >= 2
    # O0's first line, then a few other lines, then O0's other lines: within one batch they
    # are grouped; once O0 was committed in an earlier batch, its late lines are rejected.
    near = write_csv(tmp_path / "near.csv", [first[0], *rest[:3], *first[1:], *rest[3:]])
    info = load_csv(warehouse, near, batch_lines=1000)
    assert (info.rows_rejected, info.rows_loaded) == (0, len(rows))
    far = write_csv(tmp_path / "far.csv", [first[0], *rest, *first[1:]])
    info = load_csv(warehouse, far, batch_lines=4, source="other")
    assert info.rows_rejected == len(first) - 1
    assert info.rejects_by_rule == {"order_not_contiguous": len(first) - 1}
    with warehouse.connect() as conn:
        reason = conn.scalar(select(etl_reject.c.reason).where(etl_reject.c.run_id == info.run_id))
    assert reason is not None
    assert "sort the file by order_id" in reason


def test_a_known_customer_takes_new_values_keeps_stored_ones_and_its_first_purchase(
    warehouse: Engine, tmp_path: Path
) -> None:
    rows = order_rows(6, seed=3)
    for row in rows:
        row["customer_id"] = "C1" if row["order_id"] in ("O0", "O1") else "C2"
    load_csv(warehouse, write_csv(tmp_path / "a.csv", rows))
    with warehouse.connect() as conn:
        before = {r.source_customer_id: r for r in conn.execute(select(dim_customer))}
    later = [
        {**rows[0], "order_id": "N1", "ordered_at": "2022-06-01", "customer_name": "New Name",
         "customer_email": ""},  # an earlier purchase, a new name, no email given
        {**rows[0], "order_id": "N2", "customer_id": "C2",
         "ordered_at": before["C2"].first_seen_at.isoformat()},  # nothing new about C2
    ]  # fmt: skip
    for row in later:
        row["customer_name"] = (
            row["customer_name"] if row["customer_id"] == "C1" else (before["C2"].name)
        )
        row["customer_email"] = (
            row["customer_email"] if row["customer_id"] == "C1" else (before["C2"].email)
        )
    info = load_csv(warehouse, write_csv(tmp_path / "b.csv", later))
    assert (info.rows_loaded, info.rows_rejected) == (2, 0)
    with warehouse.connect() as conn:
        after = {r.source_customer_id: r for r in conn.execute(select(dim_customer))}
    assert after["C1"].customer_key == before["C1"].customer_key
    assert after["C1"].name == "New Name"
    assert after["C1"].email == before["C1"].email  # an empty value keeps the stored one
    assert after["C1"].first_seen_at == datetime(2022, 6, 1)
    assert after["C2"].first_seen_at == before["C2"].first_seen_at
    assert after["C2"].updated_at == before["C2"].updated_at  # unchanged: not rewritten


def test_a_fact_key_naming_no_row_is_found(tmp_path: Path) -> None:
    # The loader writes SQLite's facts without row-by-row key checks: the tests' fingerprint
    # checks every key instead, and must see one that names nothing.
    engine = create_engine_for(f"sqlite:///{tmp_path / 'w.db'}")
    upgrade(engine)
    load_csv(engine, write_csv(tmp_path / "orders.csv", order_rows(3)))
    fingerprint(engine)
    with load_connection(engine) as conn:
        conn.execute(fact_order.delete().where(fact_order.c.order_key == 1))
        conn.commit()
    with pytest.raises(AssertionError, match=r"fact_order_line\.order_key"):
        fingerprint(engine)
    engine.dispose()


def _customer_rows(engine: Engine) -> list[tuple[object, ...]]:
    c = dim_customer.c
    columns = (c.source_customer_id, c.name, c.email, c.city, c.country, c.customer_type,
               c.first_seen_at)  # fmt: skip
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(*columns).order_by(c.source_customer_id))]


@pytest.mark.parametrize("capacity", [0, 2])
def test_customers_met_again_in_later_batches_end_as_without_the_memo(
    warehouse: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capacity: int
) -> None:
    # Batches of one order: each customer is met again and again, its values changing (a new
    # name, an empty e-mail that keeps the stored one, an earlier first purchase, a city given
    # late). The memo (and one too small for the load, emptied as it fills) must leave exactly
    # what reading every customer back from the warehouse at every batch leaves.
    rows = order_rows(12, seed=5)
    for row in rows:
        order = int(row["order_id"][1:])
        row["customer_id"] = f"C{order % 3}"
        row["customer_name"] = f"Name {order % 3}" if order < 6 else f"Renamed {order % 3}"
        row["customer_email"] = "" if order % 4 == 1 else f"c{order % 3}@example.com"
        row["customer_city"] = "" if order < 6 else "Lyon"  # the last visit repeats the one before
        row["ordered_at"] = f"2024-{12 - order:02d}-{1 + order % 5:02d}"  # each one earlier
    path = write_csv(tmp_path / "orders.csv", rows, [*HEADER, "customer_city"])
    info = load_csv(warehouse, path, batch_lines=1)
    assert (info.batches, info.rows_rejected) == (12, 0)
    with_memo = _customer_rows(warehouse)
    monkeypatch.setattr(etl_run_module, "CustomerMemo", lambda: CustomerMemo(capacity))
    reference = create_engine_for(f"sqlite:///{tmp_path / 'reference.db'}")
    upgrade(reference)
    load_csv(reference, path, batch_lines=1)
    assert _customer_rows(reference) == with_memo
    assert {r[1] for r in with_memo} == {"Renamed 0", "Renamed 1", "Renamed 2"}
    assert {r[3] for r in with_memo} == {"Lyon"}
    reference.dispose()


def _lookups(monkeypatch: pytest.MonkeyPatch, table: Any, column: str) -> list[str]:
    """The natural keys the loader looks up in ``table`` to merge them (a look-up that reads
    ``column``; not the keys of rows it just inserted), recorded from now on."""
    asked: list[str] = []
    select_in = etl_load_module._select_in

    def recording(conn: Any, read: Any, columns: Any, natural: str, ids: Any, **eq: Any) -> Any:
        if read is table and column in columns:
            asked.extend(ids)
        return select_in(conn, read, columns, natural, ids, **eq)

    monkeypatch.setattr(etl_load_module, "_select_in", recording)
    return asked


def _customer_lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The customer ids the loader reads back from dim_customer to merge them."""
    return _lookups(monkeypatch, dim_customer, "first_seen_at")


def _order_lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The order ids the loader looks up in fact_order to merge them."""
    return _lookups(monkeypatch, fact_order, "content_hash")


def test_a_first_load_looks_up_only_the_customers_it_changes(
    warehouse: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Three customers met again and again (batches of one order): a first load knows that one
    # its memo has not met is new, and reads back only those whose values it changes.
    rows = order_rows(12, seed=5)
    for row in rows:
        order = int(row["order_id"][1:])
        row["customer_id"] = f"C{order % 3}"
        row["customer_name"] = f"Name {order % 3}" if order < 9 else "Renamed"
        row["customer_email"] = f"c{order % 3}@example.com"
        row["ordered_at"] = f"2024-01-{1 + order:02d}"  # in file order: first purchases stay
    asked = _customer_lookups(monkeypatch)
    info = load_csv(warehouse, write_csv(tmp_path / "orders.csv", rows), batch_lines=1)
    assert (info.batches, info.rows_rejected) == (12, 0)
    assert sorted(asked) == ["C0", "C1", "C2"]  # renamed at orders 9, 10, 11: read to merge
    # A load into a warehouse that has the source's customers reads each one it meets.
    asked.clear()
    more = order_rows(3, seed=6)
    for row in more:
        row["customer_id"] = f"C{int(row['order_id'][1:])}"
        row["order_id"] = "B" + row["order_id"]
    load_csv(warehouse, write_csv(tmp_path / "more.csv", more), batch_lines=1)
    assert sorted(asked) == ["C0", "C1", "C2"]
    with warehouse.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(dim_customer)).scalar_one()
    assert stored == 3  # no customer twice


def test_the_customer_memo_knows_what_a_batch_would_not_change() -> None:
    memo = CustomerMemo(capacity=3)
    met = MetCustomers()
    seen = np.array(["2024-03-01T10:00", "2024-05-01T00:00"], dtype="datetime64[s]")
    met.add(["C1", "C2"], [11, 12], [["Ann", "Bob"], ["a@x", None], ["Paris", "Lyon"],
            ["FR", "FR"], [None, "b2b"]], seen)  # fmt: skip

    def given(*values: tuple[object, ...]) -> list[np.ndarray]:
        columns = list(zip(*values, strict=True))
        out = []
        for column in columns:
            array = np.empty(len(column), dtype=object)
            array[:] = column
            out.append(array)
        return out

    memo.learn(met)
    ids = ["C1", "C1", "C1", "C2", "C2", "C9"]
    values = given(
        ("Ann", "a@x", "Paris", "FR", None),  # the same
        (None, None, None, None, None),  # nothing given: keeps all
        ("Ann", "a@y", "Paris", "FR", None),  # a new e-mail
        ("Bob", "b@x", "Lyon", "FR", "b2b"),  # an e-mail where none was stored
        ("Bob", None, "Lyon", "FR", "b2b"),  # the same, bought earlier
        ("Cy", None, None, None, None),  # never met
    )
    first = np.array(["2024-03-01T10:00", "2024-04-01", "2024-03-02", "2024-05-01",
                      "2024-04-30", "2024-01-01"], dtype="datetime64[s]")  # fmt: skip
    seen_now = memo.compare(ids, values, first)
    assert seen_now.same.tolist() == [True, True, False, False, True, False]
    assert seen_now.earlier.tolist() == [False, False, False, False, True, False]
    assert seen_now.keys.tolist() == [11, 11, 11, 12, 12, 0]
    # What it stored of Bob, whom the batch moves earlier without changing him.
    assert (
        seen_now.digests[4].tolist()
        == CustomerMemo.digests([["Bob"], [None], ["Lyon"], ["FR"], ["b2b"]], 1)[0].tolist()
    )
    # Full: it starts again, empty, rather than grow.
    more = MetCustomers()
    more.add(["C3", "C4"], [13, 14], [["x", "y"]] * 5, seen)
    memo.learn(more)
    assert len(memo) == 1  # C1, C2, C3 filled it; C4 found it full
    assert memo.compare(["C4"], given(("y",) * 5), seen[1:]).same.tolist() == [True]


def test_an_earlier_purchase_moves_first_seen_without_reading_the_customer(
    warehouse: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each batch's order is earlier than the one before and changes nothing else: the memo
    # knows the rest of the stored row, so only first_seen_at is written, nothing is read back.
    rows = order_rows(6, seed=7)
    for row in rows:
        order = int(row["order_id"][1:])
        row["customer_id"] = f"C{order % 2}"
        row["customer_name"] = f"Name {order % 2}"
        row["customer_email"] = "" if order >= 2 else f"c{order % 2}@example.com"  # kept
        row["ordered_at"] = f"2024-06-{20 - order:02d}T10:30:00"
    asked = _customer_lookups(monkeypatch)
    info = load_csv(warehouse, write_csv(tmp_path / "orders.csv", rows), batch_lines=1)
    assert (info.batches, info.rows_rejected) == (6, 0)
    assert asked == []
    assert [(r[0], r[1], r[2], r[6]) for r in _customer_rows(warehouse)] == [
        ("C0", "Name 0", "c0@example.com", datetime(2024, 6, 16, 10, 30)),
        ("C1", "Name 1", "c1@example.com", datetime(2024, 6, 15, 10, 30)),
    ]


def test_a_first_load_looks_up_the_orders_of_its_later_files_only(
    warehouse: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A folder's first file, loaded into a warehouse without the source's orders, cannot hold
    # an order already stored; the second file can (here it corrects one of the first's).
    first = order_rows(6, seed=3)
    fix = [dict(row) for row in first if row["order_id"] == "O2"]
    for row in fix:
        row["quantity"] = "7"
    write_csv(tmp_path / "in" / "a.csv", first)
    write_csv(tmp_path / "in" / "b.csv", fix + order_rows(2, seed=4, prefix="N"))
    asked = _order_lookups(monkeypatch)
    info = load_csv(warehouse, tmp_path / "in", batch_lines=2)
    assert info.rows_rejected == 0
    assert (info.orders_inserted, info.orders_updated) == (8, 1)
    with warehouse.connect() as conn:
        sharded = facts_on_spider(conn)  # no unique key to fall back on: all looked up
    first_file = [f"O{i}" for i in range(6)] if sharded else []
    assert sorted(asked) == sorted(["N0", "N1", "O2", *first_file])
    with warehouse.connect() as conn:
        stored = conn.execute(
            select(fact_order_line.c.quantity)
            .join(fact_order, fact_order.c.order_key == fact_order_line.c.order_key)
            .where(fact_order.c.source_order_id == "O2")
        ).scalars()
        assert {float(q) for q in stored} == {7.0}
    # The next load of the source looks up every order it reads, the first file's too.
    asked.clear()
    write_csv(tmp_path / "more.csv", order_rows(2, seed=5, prefix="M"))
    load_csv(warehouse, tmp_path / "more.csv")
    assert sorted(asked) == ["M0", "M1"]


def test_an_order_stored_meanwhile_fails_a_first_load_on_its_key(
    warehouse: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Should the first load's assumption break (another writer storing the source's orders
    # while it runs), the unique key refuses the order twice: an error, never a duplicate.
    # Spider's facts have no such key: there the orders are looked up all the same.
    path = write_csv(tmp_path / "orders.csv", order_rows(4, seed=3))
    real = etl_run_module._holds_any

    def no_orders(engine: Engine, key: Any, source: str) -> bool:  # the customers are there
        return key.table is not fact_order and real(engine, key, source)

    monkeypatch.setattr(etl_run_module, "_holds_any", no_orders)
    load_csv(warehouse, path)
    with warehouse.connect() as conn:
        sharded = facts_on_spider(conn)
    if sharded:
        assert load_csv(warehouse, path, full_refresh=True).orders_unchanged == 4
    else:
        with pytest.raises(LoadError, match=r"(?i)unique|duplicate"):
            load_csv(warehouse, path, full_refresh=True)
    monkeypatch.setattr(etl_run_module, "_holds_any", real)
    info = load_csv(warehouse, path, full_refresh=True)
    assert (info.orders_inserted, info.orders_unchanged) == (0, 4)
    with warehouse.connect() as conn:
        assert conn.execute(select(func.count()).select_from(fact_order)).scalar_one() == 4
