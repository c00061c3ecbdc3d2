"""Rendered multi-row INSERTs (etl.literal_rows): the literals are PyMySQL's own, value for value,
and a real MariaDB stores from them exactly what PyMySQL's executemany stores."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pymysql.converters
import pytest
from sqlalchemy import (
    Date,
    DateTime,
    Integer,
    Numeric,
    String,
    event,
    select,
)
from sqlalchemy.engine import Engine

from etl.db import create_engine_for
from etl.literal_rows import (
    NotRendered,
    insert_statements,
    literals,
    rendered_insert,
    statements,
    update_statements,
)
from etl.schema import dim_customer, fact_order, fact_order_line
from tests.etl.bulk_data import HOSTILE as BASE_HOSTILE
from tests.etl.bulk_data import load_three_lines, plain_rows, probe_tables, value_columns
from tests.etl.fixtures import server_warehouse

HOSTILE = [*BASE_HOSTILE, "nul\x00byte", "ctrl-z\x1a"]
probe, twin = probe_tables("t_literal_rows")


def _texts(column_type: Any, values: Any, backslashes: bool = True) -> list[str]:
    return literals(column_type, values, backslashes).to_pylist()  # type: ignore[no-any-return]


def test_text_literals_are_pymysqls_escapes() -> None:
    expected = ["'" + pymysql.converters.escape_string(s) + "'" for s in HOSTILE]
    assert _texts(String(), HOSTILE) == expected


def test_without_backslash_escapes_only_quotes_are_doubled() -> None:
    # PyMySQL's rule when the server status says NO_BACKSLASH_ESCAPES (Connection.escape_string)
    expected = ["'" + s.replace("'", "''") + "'" for s in HOSTILE]
    assert _texts(String(), HOSTILE, backslashes=False) == expected


def test_missing_values_are_null_and_numbers_dates_as_pymysql_sends_them() -> None:
    assert _texts(Integer(), [1, None, -42, 2**62]) == ["1", "NULL", "-42", str(2**62)]
    assert _texts(Numeric(18, 6), ["12.903333", None, "-0.000001"]) == [
        "'12.903333'",
        "NULL",
        "'-0.000001'",
    ]
    moments = np.array(["2024-01-31T10:00:00", "NaT", "2024-02-01T00:00:00.123456"], "M8[us]")
    assert _texts(DateTime(), moments) == [
        "'2024-01-31 10:00:00.000000'",
        "NULL",
        "'2024-02-01 00:00:00.123456'",
    ]
    assert _texts(DateTime(), [datetime(2026, 12, 6, 2, 0, 5), None]) == [
        "'2026-12-06 02:00:05.000000'",
        "NULL",
    ]
    days = np.array(["2024-02-29", "NaT"], "M8[D]")
    assert _texts(Date(), days) == ["'2024-02-29'", "NULL"]
    assert _texts(Date(), [date(1999, 12, 31), None]) == ["'1999-12-31'", "NULL"]


@pytest.mark.parametrize(
    ("column_type", "values"),
    [
        (Numeric(18, 6), [Decimal("1.5")]),  # etl.load gives decimal text on this dialect
        (Numeric(18, 6), [1.5]),
        (String(), [12]),
        (Integer(), [1.5]),
        (Integer(), ["1"]),
        (DateTime(), [datetime(2026, 1, 1, tzinfo=UTC)]),
        (Date(), [datetime(2026, 1, 1)]),
        (Date(), ["2026-01-01"]),
    ],
)
def test_values_of_another_kind_are_refused_not_guessed(column_type: Any, values: Any) -> None:
    with pytest.raises(NotRendered):
        literals(column_type, values, True)


def test_statements_respect_the_limit_and_keep_every_row_once() -> None:
    rows = pc.binary_join_element_wise(
        literals(Integer(), list(range(1000)), True),
        literals(String(), [f"v{i}" * (i % 7) for i in range(1000)], True),
        ",",
    )
    head = "INSERT INTO t (a, b) VALUES "
    whole = statements(head, rows, limit=10**9)
    assert len(whole) == 1
    parts = statements(head, rows, limit=500)
    assert len(parts) > 10
    assert all(len(p.encode()) <= 500 for p in parts)
    assert ",".join(p.removeprefix(head) for p in parts) == whole[0].removeprefix(head)
    # a row longer than the limit goes alone, whole
    big = pc.binary_join_element_wise(literals(String(), ["x" * 900, "y"], True), ",")
    assert statements(head, big, limit=500) == [head + "('" + "x" * 900 + "')", head + "('y')"]


# --- on a real MariaDB --------------------------------------------------------------------------


@pytest.fixture
def maria_warehouse(request: pytest.FixtureRequest) -> Engine:
    """The session's migrated warehouse on the mysql test server, emptied."""
    return server_warehouse(request, "mysql")[1]


@pytest.mark.mysql
@pytest.mark.parametrize("sql_mode", ["default", "NO_BACKSLASH_ESCAPES"])
def test_mariadb_stores_what_executemany_stores(maria_warehouse: Engine, sql_mode: str) -> None:
    columns = value_columns(400, HOSTILE)
    with maria_warehouse.begin() as conn:
        probe.metadata.drop_all(conn)
        twin.metadata.drop_all(conn)
        probe.metadata.create_all(conn)
        twin.metadata.create_all(conn)
    with maria_warehouse.begin() as conn:
        if sql_mode != "default":
            conn.exec_driver_sql(f"SET SESSION sql_mode = CONCAT(@@sql_mode, ',{sql_mode}')")
        sent: list[str] = []
        event.listen(conn, "before_cursor_execute", lambda *a: sent.append(a[2]))
        # a small statement size: the rows go in many statements
        plain = conn.execution_options(no_parameters=True)
        for sql in insert_statements(conn, probe, columns, limit=4096):
            plain.exec_driver_sql(sql)
        assert len(sent) > 5
        rows = plain_rows(columns)
        conn.execute(twin.insert(), rows)
        ours = conn.execute(select(probe).order_by(probe.c.k)).all()
        theirs = conn.execute(select(twin).order_by(twin.c.k)).all()
    assert ours == theirs
    assert {r.s for r in ours} == {*HOSTILE, None}
    with maria_warehouse.begin() as conn:
        probe.metadata.drop_all(conn)
        twin.metadata.drop_all(conn)


@pytest.mark.mysql
@pytest.mark.parametrize("sql_mode", ["default", "NO_BACKSLASH_ESCAPES"])
def test_mariadb_updates_as_executemany_updates(maria_warehouse: Engine, sql_mode: str) -> None:
    """The rendered UPDATE (rows joined to a table of literal rows) leaves the table as one
    UPDATE per row does, the rows not given untouched."""
    start = value_columns(300, HOSTILE)
    new = value_columns(300, HOSTILE)
    given = list(range(0, 300, 3))  # every third row gets the values of another row
    changes = {
        "k": given,
        **{c: [new[c][(i * 7 + 1) % 300] for i in given] for c in ("n", "s", "m", "day")},
        "at": new["at"][[(i * 7 + 1) % 300 for i in given]],
    }
    with maria_warehouse.begin() as conn:
        for table in (probe, twin):
            table.drop(conn, checkfirst=True)
            table.create(conn)
            conn.execute(table.insert(), plain_rows(start))
    with maria_warehouse.begin() as conn:
        if sql_mode != "default":
            conn.exec_driver_sql(f"SET SESSION sql_mode = CONCAT(@@sql_mode, ',{sql_mode}')")
        plain = conn.execution_options(no_parameters=True)
        sql = update_statements(conn, probe, "k", changes, limit=2048)
        assert len(sql) > 3
        for statement in sql:
            plain.exec_driver_sql(statement)
        rows = plain_rows(changes)
        for row in rows:
            conn.execute(twin.update().where(twin.c.k == row.pop("k")).values(row))
        ours = conn.execute(select(probe).order_by(probe.c.k)).all()
        theirs = conn.execute(select(twin).order_by(twin.c.k)).all()
    assert ours == theirs
    assert ours != [tuple(r.values()) for r in plain_rows(start)]
    with maria_warehouse.begin() as conn:
        probe.drop(conn)
        twin.drop(conn)


def test_update_statements_join_a_values_table_on_mariadb_only() -> None:
    class Conn:
        def __init__(self, mariadb: bool) -> None:
            self.dialect: Any = create_engine_for("mysql+pymysql://u@localhost/x").dialect
            setattr(self.dialect, "is_mariadb", mariadb)  # noqa: B010 (a read-only property)

        class connection:  # noqa: N801 (the attribute SQLAlchemy's Connection has)
            class dbapi_connection:  # noqa: N801
                server_status = 0

    columns = {"k": [1, 2], "s": ["it's", None]}
    assert update_statements(Conn(True), probe, "k", columns) == [  # type: ignore[arg-type]
        "UPDATE t_literal_rows AS t JOIN (WITH given (k, v0) AS (VALUES (1,'it\\'s'),(2,NULL)) "
        "SELECT * FROM given) AS g ON t.k = g.k SET t.s = g.v0"
    ]
    with pytest.raises(NotRendered):  # MySQL's VALUES needs ROW(...): not rendered
        update_statements(Conn(False), probe, "k", columns)  # type: ignore[arg-type]


@pytest.mark.mysql
def test_the_load_sends_rendered_inserts_on_mariadb(
    maria_warehouse: Engine, tmp_path: Path
) -> None:
    """The loader's facts and customers go through the rendered path (not a silent fallback to
    executemany), and what it stores is what the CSV says."""
    rendered: list[str] = []
    many: list[str] = []

    def seen(_c: Any, _cur: Any, statement: str, _p: Any, _ctx: Any, executemany: bool) -> None:
        (many if executemany else rendered).append(statement.split("(", 1)[0])

    event.listen(maria_warehouse, "before_cursor_execute", seen)
    load_three_lines(maria_warehouse, tmp_path, ("O'Brien \\ Sons", '50% "off"'))
    for table in (fact_order, fact_order_line, dim_customer):
        head = f"INSERT INTO {table.name} "
        assert head in rendered
        assert head not in many


def test_rendered_insert_is_refused_whole_before_anything_is_sent() -> None:
    """A column that cannot be rendered stops it before the first statement (bulk_insert then
    uses executemany for the whole batch: no row is sent twice)."""

    class Conn:
        dialect = create_engine_for("mysql+pymysql://u@localhost/x").dialect

        def __init__(self) -> None:
            self.sent: list[str] = []

        class connection:  # noqa: N801 (the attribute SQLAlchemy's Connection has)
            class dbapi_connection:  # noqa: N801
                server_status = 0

        def execution_options(self, **_: Any) -> Conn:
            return self

        def exec_driver_sql(self, sql: str) -> None:
            self.sent.append(sql)

    conn: Any = Conn()
    with pytest.raises(NotRendered):
        rendered_insert(conn, probe, {"k": [1, 2], "s": ["a", "b"], "m": [Decimal("1"), None]})
    assert conn.sent == []
    rendered_insert(conn, probe, {"k": [1, 2], "s": ["a", None]})
    assert conn.sent == ["INSERT INTO t_literal_rows (k, s) VALUES (1,'a'),(2,NULL)"]
