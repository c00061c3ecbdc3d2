"""On MariaDB the statistics never read order lines through the index of their foreign key to
products (``analytics.habits.lines_not_by_product``): right after a large load MariaDB drove the
join of lines and products through it, product by product (1 M lines: 10-12 s, 7.3-7.5 s
without). The index is InnoDB's own (the key needs one), so it must stay out of the plans."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from analytics.config import AnalyticsConfig
from analytics.habits import LINE_PRODUCT_FK_INDEX, category_spend_query, compute_habits
from analytics.portfolio import _category_mix
from tests.analytics.conftest import make_engine

pytestmark = pytest.mark.mysql
AS_OF = date(2026, 1, 31)


@pytest.fixture
def mariadb(tmp_path: Path) -> Iterator[Engine]:
    yield from make_engine("mysql", tmp_path)


def _line_keys(engine: Engine, sql: str, parameters: Any = None) -> list[str]:
    """The keys EXPLAIN says MariaDB may use to read fact_order_line in ``sql``."""
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(f"EXPLAIN {sql}", parameters).mappings().all()
    keys = [str(r["possible_keys"] or "") for r in rows if r["table"] == "fact_order_line"]
    assert keys, rows
    return ",".join(keys).split(",")


def _joins_of_lines_and_products(
    engine: Engine, work: Callable[[Connection], Any]
) -> list[tuple[str, Any]]:
    """The statements joining lines to products that ``work`` runs on ``engine``."""
    seen: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "fact_order_line" in statement and "dim_product" in statement:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        with engine.connect() as conn:
            work(conn)
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    return seen


def test_the_foreign_key_index_exists_and_the_plain_join_may_use_it(mariadb: Engine) -> None:
    """What the hint guards against is real: the index is there, and without the hint the
    join may read lines through it."""
    with mariadb.connect() as conn:
        names = {r[2] for r in conn.exec_driver_sql("SHOW INDEX FROM fact_order_line")}
    assert LINE_PRODUCT_FK_INDEX in names
    sql = str(category_spend_query(AS_OF).compile(mariadb, compile_kwargs={"literal_binds": True}))
    assert "IGNORE INDEX" not in sql  # the plain shape runs on Spider too, where it is absent
    assert LINE_PRODUCT_FK_INDEX in _line_keys(mariadb, sql)


@pytest.mark.parametrize(
    "work",
    [
        pytest.param(lambda conn: compute_habits(conn, AS_OF, AnalyticsConfig()), id="habits"),
        pytest.param(lambda conn: _category_mix(conn, AS_OF, run_id=1), id="report-mix"),
    ],
)
def test_the_statistics_never_read_lines_by_product(
    mariadb: Engine, work: Callable[[Connection], Any]
) -> None:
    seen = _joins_of_lines_and_products(mariadb, work)
    assert len(seen) == 1
    statement, parameters = seen[0]
    assert re.search(rf"fact_order_line IGNORE INDEX \({LINE_PRODUCT_FK_INDEX}\)", statement)
    keys = _line_keys(mariadb, statement, parameters)
    assert LINE_PRODUCT_FK_INDEX not in keys
    assert "PRIMARY" in keys
