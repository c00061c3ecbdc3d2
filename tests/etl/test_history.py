"""Open rejects (etl/history.py): a rejected row stays listed, whatever run found it, until its file
or its order is loaded clean — not only until the next quiet night."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Column, DateTime, Integer, MetaData, Numeric, String, Table, create_engine
from sqlalchemy.engine import Engine

from connectors.orders.config import SqlSourceConfig
from connectors.orders.csv_source import CsvSource
from connectors.orders.sql_source import SqlSource
from etl.history import get_run, open_reject_run_ids, open_rejects
from etl.run import run_etl
from tests.etl.data import order_rows, write_csv


def _open(engine: Engine) -> list[tuple[int, str | None, str]]:
    found, total = open_rejects(engine)
    assert total == len(found)
    return [(r.run_id, r.source_key, r.rule) for r in found]


def test_a_bad_file_stays_listed_until_it_is_loaded_clean(
    warehouse: Engine, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    rows = order_rows(6, seed=2, prefix="A")
    rows[0]["quantity"] = "-1"
    write_csv(folder / "a.csv", rows)
    source = CsvSource.canonical(folder, name="shop")
    first = run_etl(warehouse, [source])
    assert _open(warehouse) == [(first.run_id, "a.csv:2", "quantity_not_positive")]

    write_csv(folder / "b.csv", order_rows(3, seed=5, prefix="B"))
    quiet = run_etl(warehouse, [source])  # a quiet night: only b.csv, loaded clean
    assert quiet.rows_rejected == 0
    assert _open(warehouse) == [(first.run_id, "a.csv:2", "quantity_not_positive")]
    assert open_reject_run_ids(warehouse) == {first.run_id}

    rows[0]["quantity"] = "1"  # the shop corrects that line and re-exports, with another bad one
    rows[-1]["quantity"] = "0"
    write_csv(folder / "a.csv", rows)
    corrected = run_etl(warehouse, [source])
    last = f"a.csv:{len(rows) + 1}"
    assert _open(warehouse) == [(corrected.run_id, last, "quantity_not_positive")]

    rows[-1]["quantity"] = "2"
    write_csv(folder / "a.csv", rows)
    run_etl(warehouse, [source])
    assert _open(warehouse) == []
    assert open_reject_run_ids(warehouse) == set()


def test_a_row_rejected_again_is_listed_once(warehouse: Engine, tmp_path: Path) -> None:
    rows = order_rows(4, seed=3)
    rows[1]["currency"] = "EUX"
    path = write_csv(tmp_path / "orders.csv", rows)
    run_etl(warehouse, [CsvSource.canonical(path)])
    again = run_etl(warehouse, [CsvSource.canonical(path)], full_refresh=True)
    assert _open(warehouse) == [(again.run_id, "orders.csv:3", "unknown_currency")]


def test_rejects_of_an_interrupted_load_stay_open_when_the_next_run_resumes(
    warehouse: Engine, tmp_path: Path
) -> None:
    rows = order_rows(40, seed=6)
    rows[0]["quantity"] = "-1"  # in the first batch
    path = write_csv(tmp_path / "orders.csv", rows)

    def stop(stage: str, batch: int) -> None:
        if (stage, batch) == ("after_commit", 1):
            raise KeyboardInterrupt  # stopped after the first batch: the file is half loaded

    with pytest.raises(KeyboardInterrupt):
        run_etl(warehouse, [CsvSource.canonical(path)], batch_lines=20, hook=stop)
    resumed = run_etl(warehouse, [CsvSource.canonical(path)], batch_lines=20)
    assert resumed.resumed_files == {"csv": ["orders.csv"]}
    assert [(key, rule) for _, key, rule in _open(warehouse)] == [
        ("orders.csv:2", "quantity_not_positive")
    ]  # the resumed run did not read that row again: still open
    rows[0]["quantity"] = "1"  # corrected: the changed file is read whole
    write_csv(path, rows)
    reread = run_etl(warehouse, [CsvSource.canonical(path)], batch_lines=20)
    assert reread.resumed_files == {}
    assert _open(warehouse) == []


shop = MetaData()
order_lines = Table(
    "order_lines",
    shop,
    Column("id", Integer, primary_key=True),
    Column("order_no", String(20)),
    Column("line", Integer),
    Column("placed", DateTime),
    Column("client", String(20)),
    Column("article", String(20)),
    Column("qty", Integer),
    Column("price", Numeric(10, 2)),
    Column("updated_at", DateTime),
)


def test_an_order_of_a_database_source_closes_its_reject_when_loaded(
    warehouse: Engine, tmp_path: Path
) -> None:
    erp = create_engine(f"sqlite:///{tmp_path / 'erp.db'}")
    shop.create_all(erp)
    placed = datetime(2024, 5, 1, 10, 0)
    line = {"line": 1, "placed": placed, "client": "K1", "article": "A1", "price": Decimal(5)}
    with erp.begin() as conn:
        conn.execute(
            order_lines.insert(),
            [
                {"order_no": "S1", "qty": 2, "updated_at": placed, **line},
                {"order_no": "S2", "qty": -3, "updated_at": placed, **line},
            ],
        )
    config = SqlSourceConfig.model_validate(
        {
            "name": "erp",
            "type": "sql",
            "url": str(erp.url),
            "table": "order_lines",
            "cursor_column": "updated_at",
            "columns": {
                "order_id": "order_no", "line_no": "line", "ordered_at": "placed",
                "customer_id": "client", "sku": "article", "quantity": "qty", "unit_price": "price",
            },
        }
    )  # fmt: skip
    first = run_etl(warehouse, [SqlSource(config)])
    assert _open(warehouse) == [(first.run_id, "erp:order S2 line 1", "quantity_not_positive")]
    # Nothing new; the overlap window re-reads the row, which is rejected again: listed once.
    again = run_etl(warehouse, [SqlSource(config)])
    assert _open(warehouse) == [(again.run_id, "erp:order S2 line 1", "quantity_not_positive")]
    with erp.begin() as conn:  # corrected in the order system
        conn.execute(
            order_lines.update()
            .where(order_lines.c.order_no == "S2")
            .values(qty=3, updated_at=datetime(2024, 5, 2))
        )
    fixed = run_etl(warehouse, [SqlSource(config)])
    assert fixed.orders_inserted == 1
    assert _open(warehouse) == []
    erp.dispose()


def test_get_run(warehouse: Engine, tmp_path: Path) -> None:
    info = run_etl(warehouse, [CsvSource.canonical(write_csv(tmp_path / "o.csv", order_rows(2)))])
    found = get_run(warehouse, info.run_id)
    assert found is not None
    assert (found.job, found.status) == ("etl", "ok")
    assert get_run(warehouse, info.run_id + 1000) is None
