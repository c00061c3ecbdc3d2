"""Multi-row INSERTs for MariaDB/MySQL whose text is rendered column by column in native code.

PyMySQL's ``executemany`` already sends multi-row INSERTs, but it builds them in Python, one
value at a time (``escape`` and ``%`` formatting per value): measured, that is the larger part
of a MariaDB load's client time. Here each column becomes an array of SQL literals with pyarrow's
compute functions (numbers and dates formatted, text escaped and quoted, ``NULL`` for missing
values), the columns are joined into rows and the rows into statements of at most
``MAX_STATEMENT_BYTES``, without a Python object per value.

The literals are exactly PyMySQL's: text escaped with its table (``\\0``, ``\\\\``, ``\\n``,
``\\r``, ``\\Z``, ``\\"``, ``\\'``), or only quotes doubled when the session runs with
``NO_BACKSLASH_ESCAPES`` (PyMySQL's rule too); integers as decimal digits; decimal text quoted;
dates and datetimes as quoted ISO text. A column whose values are of another kind is refused
(``NotRendered``) and the caller falls back to ``executemany``: nothing is rendered by guess.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Date, DateTime, Integer, Numeric, String, Table
from sqlalchemy.engine import Connection

#: Upper bound of one statement's text; a batch is split into as many statements as it needs.
#: PyMySQL's own bound for the multi-row INSERTs of its ``executemany`` (``max_stmt_length``):
#: under every server's ``max_allowed_packet`` (1 MiB before MariaDB 10.2.4, 16 MiB since).
MAX_STATEMENT_BYTES = 1_024_000
#: PyMySQL's escape table (``pymysql.converters._escape_table``), backslash first.
_BACKSLASH_ESCAPES = (
    ("\\", "\\\\"),
    ("\x00", "\\0"),
    ("\n", "\\n"),
    ("\r", "\\r"),
    ("\x1a", "\\Z"),
    ('"', '\\"'),
    ("'", "\\'"),
)
_NO_BACKSLASH_ESCAPES = 512  # pymysql.constants.SERVER_STATUS.SERVER_STATUS_NO_BACKSLASH_ESCAPES


class NotRendered(Exception):
    """A column this module does not render (the caller uses ``executemany``)."""


def backslash_escapes(conn: Connection) -> bool:
    """Whether the session escapes with backslashes (PyMySQL reads it from the server status)."""
    raw: Any = conn.connection.dbapi_connection
    return not raw.server_status & _NO_BACKSLASH_ESCAPES


def _quoted(text: pa.Array, backslashes: bool) -> pa.Array:
    if backslashes:
        for find, put in _BACKSLASH_ESCAPES:
            text = pc.replace_substring(text, find, put)
    else:
        text = pc.replace_substring(text, "'", "''")
    return pc.binary_join_element_wise("'", text, "'", "")


def _typed(values: Any, kind: pa.DataType) -> pa.Array:
    """``values`` as an arrow array of ``kind``: their own type inferred, never coerced (a float
    is not truncated into an integer column, a number is not made text); missing values null."""
    if isinstance(values, np.ndarray) and values.dtype.kind == "M":
        units, target = _NUMPY_UNITS.get(kind, ((), ""))
        if np.datetime_data(values.dtype)[0] not in units:
            raise NotRendered(f"{values.dtype} values in a {kind} column")
        return pa.array(values.astype(target), mask=np.isnat(values))
    try:
        array = pa.array(values, from_pandas=False)
    except (pa.ArrowException, TypeError, ValueError, OverflowError) as exc:
        raise NotRendered(str(exc)) from exc
    if pa.types.is_null(array.type) or (
        pa.types.is_integer(array.type) and pa.types.is_integer(kind)
    ):
        return array.cast(kind)
    if array.type != kind:
        raise NotRendered(f"{array.type} values in a {kind} column")
    return array


#: per arrow type, the numpy datetime units it takes without loss, and the one converted to
_NUMPY_UNITS = {
    pa.timestamp("us"): (("D", "s", "ms", "us"), "datetime64[us]"),
    pa.date32(): (("D",), "datetime64[D]"),
}


def column_array(column_type: Any, values: Any) -> pa.Array:
    """A column's values as an arrow array of the kind its SQL type takes: int64 for Integer,
    text for String and for Numeric (decimal text, as ``etl.load`` gives it where the driver
    takes it so), timestamp[us] for DateTime, date32 for Date; ``NotRendered`` otherwise."""
    if isinstance(column_type, Integer):
        return _typed(values, pa.int64())
    if isinstance(column_type, Numeric | String):
        return _typed(values, pa.string())
    if isinstance(column_type, DateTime):
        return _typed(values, pa.timestamp("us"))
    if isinstance(column_type, Date):
        return _typed(values, pa.date32())
    raise NotRendered(f"type {column_type!r}")


def literals(column_type: Any, values: Any, backslashes: bool) -> pa.Array:
    """The SQL literals of a column's values (``NULL`` where a value is missing).

    Integers: digits. Text: escaped and quoted. Numeric: decimal text, quoted. Date/DateTime: ISO
    text, quoted (datetimes with microseconds, as PyMySQL sends them when there are any; the
    server keeps what the column's precision holds).
    """
    array = column_array(column_type, values)
    if pa.types.is_integer(array.type):
        text = array.cast(pa.string())
    elif pa.types.is_string(array.type):
        text = _quoted(array, backslashes)
    else:
        text = _quoted(array.cast(pa.string()), False)
    return pc.fill_null(text, "NULL")


def statements(
    head: str, rows: pa.Array, limit: int = MAX_STATEMENT_BYTES, tail: str = ""
) -> list[str]:
    """``head`` + rows as ``(...),(...)`` + ``tail``, as few statements as ``limit`` allows
    (each row alone may exceed it: it then goes in a statement of its own)."""
    if not len(rows):
        return []
    sized = pc.binary_join_element_wise("(", rows, "),", "")
    # One buffer holds every row's text back to back: a statement is a slice of it.
    width = np.int64 if pa.types.is_large_string(sized.type) else np.int32
    offsets = np.frombuffer(sized.buffers()[1], dtype=width)[sized.offset :][: len(sized) + 1]
    data = sized.buffers()[2]
    out: list[str] = []
    start = 0
    budget = max(1, limit - len(head.encode()) - len(tail.encode()))
    while start < len(sized):
        end = int(np.searchsorted(offsets, offsets[start] + budget + 1, side="right")) - 1
        end = min(max(end, start + 1), len(sized))
        body = data[int(offsets[start]) : int(offsets[end])].to_pybytes()
        out.append(head + body[:-1].decode("utf-8") + tail)  # the last row's comma dropped
        start = end
    return out


def _rows(conn: Connection, columns: list[tuple[Any, Any]]) -> pa.Array:
    """Each row's literals joined by commas, from (SQL type, values) per column."""
    backslashes = backslash_escapes(conn)
    parts = [literals(column_type, values, backslashes) for column_type, values in columns]
    return pc.binary_join_element_wise(*parts, ",") if len(parts) > 1 else parts[0]


def insert_statements(
    conn: Connection,
    table: Table,
    columns: dict[str, Any],
    limit: int = MAX_STATEMENT_BYTES,
) -> list[str]:
    """The multi-row INSERTs of ``columns`` (name -> values, equal lengths) into ``table``."""
    quote = conn.dialect.identifier_preparer.quote
    names: Sequence[str] = list(columns)
    rows = _rows(conn, [(table.c[name].type, columns[name]) for name in names])
    head = f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in names)}) VALUES "
    return statements(head, rows, limit)


def update_statements(
    conn: Connection,
    table: Table,
    key: str,
    columns: dict[str, Any],
    limit: int = MAX_STATEMENT_BYTES,
) -> list[str]:
    """UPDATEs setting, on each row of ``table`` whose ``key`` is one of ``columns["k"]``, the
    other columns to the values given beside it: the rows joined to a table of literal rows
    (MariaDB's ``VALUES`` in a CTE with column names), as few statements as ``limit`` allows,
    instead of one statement per row."""
    if not getattr(conn.dialect, "is_mariadb", False):
        raise NotRendered("VALUES as a table is MariaDB's syntax")
    quote = conn.dialect.identifier_preparer.quote
    names = [name for name in columns if name != "k"]
    given = [(table.c[key].type, columns["k"])]
    rows = _rows(conn, given + [(table.c[name].type, columns[name]) for name in names])
    aliases = ", ".join(["k", *(f"v{j}" for j in range(len(names)))])
    head = f"UPDATE {quote(table.name)} AS t JOIN (WITH given ({aliases}) AS (VALUES "
    sets = ", ".join(f"t.{quote(name)} = g.v{j}" for j, name in enumerate(names))
    tail = f") SELECT * FROM given) AS g ON t.{quote(key)} = g.k SET {sets}"
    return statements(head, rows, limit, tail)


def _run(conn: Connection, sql: list[str]) -> None:
    plain = conn.execution_options(no_parameters=True)  # no "%" formatting of the text
    for statement in sql:
        plain.exec_driver_sql(statement)


def rendered_update(conn: Connection, table: Table, key: str, columns: dict[str, Any]) -> None:
    """Run ``update_statements`` (raises ``NotRendered`` before anything is sent if a column
    cannot be rendered)."""
    _run(conn, update_statements(conn, table, key, columns))


def rendered_insert(conn: Connection, table: Table, columns: dict[str, Any]) -> None:
    """Insert ``columns`` into ``table`` by rendered multi-row INSERTs (raises ``NotRendered``
    before anything is sent if a column cannot be rendered)."""
    _run(conn, insert_statements(conn, table, columns))
