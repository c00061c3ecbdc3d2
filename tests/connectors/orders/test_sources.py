"""Sources: a mapped CSV layout from config, the SQL source (chunks, cursor, overlap), config."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    create_engine,
    select,
    update,
)
from sqlalchemy.engine import Engine

from connectors.orders.config import CsvSourceConfig, SourcesConfig, SqlSourceConfig
from connectors.orders.csv_source import CsvSource
from connectors.orders.sources import make_sources
from connectors.orders.sql_source import SqlSource
from etl import run_etl
from etl.schema import etl_reject, etl_watermark, fact_order, fact_order_line
from tests.etl.data import fingerprint


def test_mapped_layout_with_french_conventions(warehouse: Engine, tmp_path: Path) -> None:
    text = (
        "N° commande;Date;Client;Nom;Réf;Qté;Prix unitaire;Règlement;Devise\n"
        "F-1;05/03/2024;C1;Société Générale;TV55;2;1 299,90;CB;EUR\n"
        "F-1;05/03/2024;C1;Société Générale;CAB;1;9,99;CB;EUR\n"
        "F-2;06/03/2024;C2;Müller;CAB;3;9,99;VIR;\n"
    )
    path = tmp_path / "export.csv"
    path.write_bytes(text.encode("cp1252"))
    config = SourcesConfig.model_validate(
        {
            "inputs": [
                {
                    "name": "shop",
                    "type": "csv",
                    "path": str(path),
                    "encoding": "cp1252",
                    "delimiter": ";",
                    "decimal": ",",
                    "thousands": " ",
                    "date_format": "%d/%m/%Y",
                    "columns": {
                        "order_id": "N° commande",
                        "ordered_at": "Date",
                        "customer_id": "Client",
                        "customer_name": "Nom",
                        "sku": "Réf",
                        "quantity": "Qté",
                        "unit_price": "Prix unitaire",
                        "payment_method": "Règlement",
                        "currency": "Devise",
                    },
                    "values": {"payment_method": {"CB": "card", "VIR": "transfer"}},
                }
            ]
        }
    )
    info = run_etl(warehouse, make_sources(config), default_currency="CHF")
    assert (info.rows_read, info.rows_loaded, info.rows_rejected) == (3, 3, 0)
    with warehouse.connect() as conn:
        orders = {
            r.source_order_id: r
            for r in conn.execute(select(fact_order).order_by(fact_order.c.source_order_id))
        }
    assert Decimal(str(orders["F-1"].total_amount)) == Decimal("2609.79")
    assert orders["F-1"].payment_method == "card"
    assert orders["F-2"].payment_method == "transfer"
    assert orders["F-2"].currency == "CHF"  # empty currency: the default
    assert orders["F-1"].ordered_at == datetime(2024, 3, 5)


def test_config_errors_name_the_problem(tmp_path: Path) -> None:
    assert SourcesConfig().inputs == []  # empty section is valid
    with pytest.raises(ValidationError, match="unknown canonical column"):
        CsvSourceConfig(name="a", path=tmp_path, columns={"order_number": "x"})
    with pytest.raises(ValidationError, match="same character"):
        CsvSourceConfig(name="a", path=tmp_path, delimiter=",", decimal=",")
    with pytest.raises(ValidationError, match="exactly one of table or query"):
        SqlSourceConfig(name="a", url="sqlite://")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="two sources"):
        SourcesConfig.model_validate(
            {"inputs": [{"name": "a", "path": "x"}, {"name": "a", "path": "y"}]}
        )
    with pytest.raises(ValidationError, match="unknown encoding"):
        CsvSourceConfig(name="a", path=tmp_path, encoding="klingon")


# --- SQL source ------------------------------------------------------------------------------

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
    Column("state", String(20)),
    Column("updated_at", DateTime),
)


@pytest.fixture
def shop_db(tmp_path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{tmp_path / 'shop.db'}")
    shop.create_all(engine)
    base = datetime(2024, 5, 1, 12, 0)
    rows = []
    for n in range(50):
        for line in range(1, n % 3 + 2):
            rows.append(
                {
                    "order_no": f"S{n}", "line": line, "placed": base - timedelta(days=n),
                    "client": f"K{n % 7}", "article": f"A{line}", "qty": line,
                    "price": Decimal("10.50"), "state": "completed",
                    "updated_at": base + timedelta(minutes=n),
                }
            )  # fmt: skip
    with engine.begin() as conn:
        conn.execute(order_lines.insert(), rows)
    return engine


def _sql_source(shop_db: Engine, **extra: object) -> SqlSource:
    config = SqlSourceConfig.model_validate(
        {
            "name": "erp",
            "type": "sql",
            "url": str(shop_db.url),
            "table": "order_lines",
            "cursor_column": "updated_at",
            "chunk_orders": 7,
            "columns": {
                "order_id": "order_no",
                "line_no": "line",
                "ordered_at": "placed",
                "customer_id": "client",
                "sku": "article",
                "quantity": "qty",
                "unit_price": "price",
                "status": "state",
            },
            **extra,
        }
    )
    return SqlSource(config)


def test_sql_source_incremental_with_overlap(warehouse: Engine, shop_db: Engine) -> None:
    source = _sql_source(shop_db, overlap_minutes=5)
    first = run_etl(warehouse, [source], batch_lines=10)
    assert first.orders_inserted == 50
    assert first.batches > 3
    with warehouse.connect() as conn:
        mark = conn.scalar(select(etl_watermark.c.cursor_value))
    assert mark == "2024-05-01 12:49:00.000000"
    nothing = run_etl(warehouse, [source])
    # Only the overlap window (the last 5 minutes' orders) is re-read, and nothing changes.
    assert nothing.orders_unchanged == 6
    assert nothing.orders_inserted + nothing.orders_updated == 0
    with shop_db.begin() as conn:
        conn.execute(
            update(order_lines)
            .where(order_lines.c.order_no == "S4", order_lines.c.line == 1)
            .values(state="cancelled", updated_at=datetime(2024, 5, 2))
        )
        conn.execute(
            update(order_lines)
            .where(order_lines.c.order_no == "S4", order_lines.c.line == 2)
            .values(state="cancelled")
        )
    changed = run_etl(warehouse, [source])
    assert changed.orders_updated == 1
    # S4 whole (2 lines, though only one line's cursor moved) + the overlap window (6 orders,
    # 12 lines) unchanged; nothing older is read.
    assert (changed.orders_unchanged, changed.rows_read) == (6, 14)
    with warehouse.connect() as conn:
        status = conn.scalar(
            select(fact_order.c.status).where(fact_order.c.source_order_id == "S4")
        )
    assert status == "cancelled"


def test_sql_source_query_and_full_refresh(warehouse: Engine, shop_db: Engine) -> None:
    query = "SELECT * FROM order_lines WHERE client <> 'K0'"
    source = _sql_source(shop_db, table=None, query=query, cursor_column=None)
    info = run_etl(warehouse, [source])
    with shop_db.connect() as conn:
        expected = conn.execute(select(order_lines.c.id).where(order_lines.c.client != "K0")).all()
    assert info.rows_loaded == len(expected)
    before = fingerprint(warehouse)
    again = run_etl(warehouse, [source], full_refresh=True)
    assert again.orders_unchanged == before["orders"]
    assert fingerprint(warehouse) == before


def test_make_sources_unknown_name() -> None:
    from connectors.orders.exceptions import SourceConfigError

    with pytest.raises(SourceConfigError, match="no source named 'nope'"):
        make_sources(SourcesConfig(), ["nope"])
    assert isinstance(
        make_sources(SourcesConfig(inputs=[CsvSourceConfig(name="a", path=Path("x"))]))[0],
        CsvSource,
    )


def test_sql_source_six_decimal_prices_and_bad_rows(warehouse: Engine, shop_db: Engine) -> None:
    """Typed values from a database go through the same columnar checks: 6-decimal prices are
    kept exactly, a negative one is rejected with its key and reason."""
    with shop_db.begin() as conn:
        conn.execute(
            update(order_lines).where(order_lines.c.order_no == "S1").values(price="12.903333")
        )
        conn.execute(
            update(order_lines)
            .where(order_lines.c.order_no == "S2", order_lines.c.line == 1)
            .values(price="-1")
        )
    info = run_etl(warehouse, [_sql_source(shop_db)])
    assert info.rows_rejected == 1
    with warehouse.connect() as conn:
        reject = conn.execute(select(etl_reject.c.source_key, etl_reject.c.reason)).one()
        prices = conn.scalars(
            select(fact_order_line.c.unit_price)
            .join(fact_order, fact_order.c.order_key == fact_order_line.c.order_key)
            .where(fact_order.c.source_order_id == "S1")
        ).all()
    assert reject.source_key == "erp:order S2 line 1"
    assert "unit_price -1" in reject.reason
    assert "must be ≥ 0" in reject.reason
    assert prices
    assert all(p == Decimal("12.903333") for p in prices)
