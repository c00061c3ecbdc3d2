"""SQL order source: a table or query in the company's shop/ERP database, read in chunks.

One row per order line, columns named as in the canonical format or mapped by config. With a
``cursor_column`` (an ``updated_at``-like column) only orders changed since the watermark are read:
first the ids of changed orders, ordered by their newest cursor value, streamed from the server;
then, per group of ids, all their lines — so an order always arrives whole even when only one of
its lines changed. The watermark is read back ``overlap_minutes`` earlier to catch rows committed
late with an older timestamp; the loader's content hashes make the re-read orders cost nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from connectors.orders.base import (
    Checkpoint,
    Chunk,
    ParseOptions,
    Rows,
    SourceState,
)
from connectors.orders.canonical import CANONICAL_COLUMNS, DEFAULT_BATCH_LINES
from connectors.orders.config import SqlSourceConfig
from connectors.orders.exceptions import SourceConfigError, SourceUnavailable

log = logging.getLogger(__name__)

# One order line as read: where it is, its canonical values, the row as the database gave it.
_Row = tuple[str, dict[str, Any], dict[str, Any]]


def cursor_text(value: Any) -> str | None:
    """How a cursor value is stored in the watermark (text, comparable on the source)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


class SqlSource:
    """Reads order lines from a database table or query (see the module docstring)."""

    def __init__(self, config: SqlSourceConfig, engine: Engine | None = None) -> None:
        self.config = config
        self.name = config.name
        self._engine = engine
        self.options = ParseOptions(timezone=config.timezone)

    def _col(self, canonical: str) -> str:
        return self.config.columns.get(canonical, canonical)

    def _from(self, engine: Engine) -> str:
        quote = engine.dialect.identifier_preparer.quote
        if self.config.table is not None:
            return ".".join(quote(part) for part in self.config.table.split("."))
        assert self.config.query is not None
        return f"({self.config.query.strip().rstrip(';')}) src"

    def _since_value(self, state: SourceState, since: datetime | None) -> str | None:
        if self.config.cursor_column is None or state.cursor is None:
            return None
        try:
            start = datetime.fromisoformat(state.cursor)
        except ValueError:
            return state.cursor  # a version number or similar: no time overlap applies
        return cursor_text(start - timedelta(minutes=self.config.overlap_minutes))

    def read(
        self,
        state: SourceState,
        *,
        since: datetime | None = None,
        full_refresh: bool = False,
        batch_lines: int = DEFAULT_BATCH_LINES,
    ) -> Iterator[Chunk]:
        """Chunks of whole orders changed since the watermark (all of them on a full refresh)."""
        engine = self._engine or create_engine(self.config.url.get_secret_value())
        try:
            yield from self._read(engine, state, since, full_refresh, batch_lines)
        except OperationalError as exc:
            raise SourceUnavailable(f"source {self.name}: cannot read: {exc.orig}") from None
        except SQLAlchemyError as exc:
            raise SourceConfigError(
                f"source {self.name}: the table/query does not work: {getattr(exc, 'orig', exc)}"
            ) from None
        finally:
            if self._engine is None:
                engine.dispose()

    def _read(
        self,
        engine: Engine,
        state: SourceState,
        since: datetime | None,
        full_refresh: bool,
        batch_lines: int,
    ) -> Iterator[Chunk]:
        quote = engine.dialect.identifier_preparer.quote
        src = self._from(engine)
        oid = quote(self._col("order_id"))
        cursor_col = self.config.cursor_column
        where: list[str] = []
        params: dict[str, Any] = {}
        start = None if full_refresh or since is not None else self._since_value(state, None)
        if start is not None and cursor_col is not None:
            where.append(f"{quote(cursor_col)} >= :start")
            params["start"] = start
        if since is not None:
            where.append(f"{quote(self._col('ordered_at'))} >= :since")
            params["since"] = cursor_text(since)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        if cursor_col is not None:
            ids_sql = (
                f"SELECT {oid} AS oid, MAX({quote(cursor_col)}) AS cur FROM {src}{clause} "
                f"GROUP BY {oid} ORDER BY cur, oid"
            )
        else:
            ids_sql = f"SELECT DISTINCT {oid} AS oid, NULL AS cur FROM {src}{clause} ORDER BY oid"
        lines_sql = text(f"SELECT * FROM {src} WHERE {oid} IN :ids").bindparams(
            bindparam("ids", expanding=True)
        )
        log.info("%s: reading orders changed since %s", self.name, start or "the beginning")
        rows: list[_Row] = []
        high = state.cursor
        with engine.connect() as ids_conn, engine.connect() as lines_conn:
            ids_result = ids_conn.execution_options(
                stream_results=True, yield_per=self.config.chunk_orders
            ).execute(text(ids_sql), params)
            for part in ids_result.partitions(self.config.chunk_orders):
                ids = [r.oid for r in part]
                part_high = cursor_text(part[-1].cur)
                rows.extend(self._lines(lines_conn, lines_sql, ids))
                if part_high is not None:
                    high = part_high if high is None else max(high, part_high)
                if len(rows) >= batch_lines:
                    yield self._chunk(rows, high)
                    rows = []
        if rows or high != state.cursor:
            yield self._chunk(rows, high)

    def _lines(self, conn: Any, query: Any, ids: list[Any]) -> list[_Row]:
        result = conn.execute(query, {"ids": ids})
        keys = list(result.keys())
        mapping = [
            (canonical, self._col(canonical))
            for canonical in CANONICAL_COLUMNS
            if self._col(canonical) in keys
        ]
        value_maps = self.config.values
        defaults = self.config.defaults
        out: list[_Row] = []
        seen: dict[Any, int] = {}
        for row in result.mappings():
            values: dict[str, Any] = {}
            for canonical, column in mapping:
                value = row[column]
                if isinstance(value, str):
                    value = value.strip()
                    if canonical in value_maps:
                        value = value_maps[canonical].get(value, value)
                values[canonical] = value
            for column, value in defaults.items():
                if values.get(column) in (None, ""):
                    values[column] = value
            oid = row[self._col("order_id")]
            seen[oid] = n = seen.get(oid, 0) + 1
            line = values.get("line_no") or n
            out.append((f"{self.name}:order {oid} line {line}", values, dict(row)))
        return out

    def _chunk(self, rows: list[_Row], high: str | None) -> Chunk:
        keys, records, raw = zip(*rows, strict=True) if rows else ((), (), ())
        return Chunk(
            rows=Rows.from_records(keys, records, raw),
            problems=[],
            checkpoint=Checkpoint(cursor=high),
            options=self.options,
            rows_read=len(rows),
        )
