"""The benchmarks' order files: shaped like the canonical format, loaded without a reject."""

from __future__ import annotations

import csv
from pathlib import Path

from benchmarks.data import HEADER, Shape, order_lines, write_delta, write_history
from etl import load_csv
from etl.db import create_engine_for


def test_every_row_has_the_header_s_fields(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    write_history(path, Shape(500, 50))
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == HEADER
    assert {len(row) for row in rows[1:]} == {len(HEADER)}
    first = dict(zip(HEADER, rows[1], strict=True))
    assert first["order_id"] == order_lines(7, 0, 50)[0][HEADER.index("order_id")]
    assert first["sku"].startswith("SKU")
    assert first["customer_id"].startswith("C")


def test_history_and_delta_load_without_rejects(tmp_path: Path) -> None:
    shape = Shape(2_000, 100)
    history, delta = tmp_path / "orders-1.csv", tmp_path / "orders-2.csv"
    lines = write_history(history, shape)
    changed = write_delta(delta, shape)
    engine = create_engine_for(f"sqlite:///{tmp_path / 'w.db'}")
    first = load_csv(engine, history)
    assert (first.rows_loaded, first.rows_rejected) == (lines, 0)
    second = load_csv(engine, delta)
    assert (second.rows_loaded, second.rows_rejected) == (changed, 0)
    assert second.orders_updated > 0
    assert second.orders_inserted > 0
    engine.dispose()
