"""Exchange-rate sources: a CSV file ``date,currency,rate`` or a SQL query returning those columns.

A rate is the number of units of ``currency`` per one unit of the reporting currency (the ECB's
convention: ``2026-12-04,USD,1.0543`` means 1 EUR = 1.0543 USD when EUR is the reporting one).
Reading only: the rows come back raw (text, with their file line or query row), the ETL
(``etl.fx``) validates them, rejects the bad ones by line and field, and loads the others.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from connectors.orders.exceptions import SourceConfigError, SourceUnavailable

#: The columns a rates file or query must have.
RATE_COLUMNS = ("date", "currency", "rate")


@dataclass(frozen=True)
class RatesRead:
    """What a rates source held: its name (the file's, or ``query``), a digest of its content
    (an unchanged source is not loaded again), and its rows keyed ``name:line``."""

    name: str
    sha256: str
    size_bytes: int
    rows: list[tuple[str, dict[str, Any]]]


def read_rates_csv(path: Path, *, delimiter: str = ",", encoding: str = "utf-8") -> RatesRead:
    """The rows of a rates CSV (header ``date,currency,rate``, any order, extra columns ignored),
    each with its key ``file:line`` (the header is line 1)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SourceConfigError(f"rates file {path} not found") from None
    except OSError as exc:
        raise SourceConfigError(f"rates file {path}: cannot read: {exc.strerror}") from None
    try:
        content = data.decode(encoding).lstrip("\ufeff")
    except UnicodeDecodeError as exc:
        raise SourceConfigError(f"rates file {path}: not {encoding}: {exc.reason}") from None
    reader = csv.reader(io.StringIO(content, newline=""), delimiter=delimiter)
    header = next(reader, None)
    names = [h.strip().lower() for h in header or []]
    missing = [c for c in RATE_COLUMNS if c not in names]
    if missing:
        raise SourceConfigError(
            f"{path.name}:1: the rates file needs the columns {', '.join(RATE_COLUMNS)}; "
            f"missing: {', '.join(missing)}"
        )
    rows: list[tuple[str, dict[str, Any]]] = []
    for values in reader:
        if not any(v.strip() for v in values):
            continue  # blank line
        row = dict(zip(names, values, strict=False))
        rows.append((f"{path.name}:{reader.line_num}", {c: row.get(c) for c in RATE_COLUMNS}))
    return RatesRead(path.name, hashlib.sha256(data).hexdigest(), len(data), rows)


def read_rates_sql(url: str, query: str) -> RatesRead:
    """The rows of a rates query (columns ``date``, ``currency``, ``rate``), keyed ``query:row``.

    Never puts ``url`` in an error (it may hold a password)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            result = conn.execute(text(query))
            names = [str(k).lower() for k in result.keys()]  # noqa: SIM118 (a Result's columns)
            missing = [c for c in RATE_COLUMNS if c not in names]
            if missing:
                raise SourceConfigError(
                    f"rates query: needs the columns {', '.join(RATE_COLUMNS)}; "
                    f"missing: {', '.join(missing)}"
                )
            fetched = [dict(zip(names, row, strict=True)) for row in result]
    except OperationalError as exc:
        raise SourceUnavailable(f"rates query: cannot read: {exc.orig}") from None
    except SQLAlchemyError as exc:
        raise SourceConfigError(f"rates query does not work: {getattr(exc, 'orig', exc)}") from None
    finally:
        engine.dispose()
    rows = [
        (f"query:{n}", {c: row.get(c) for c in RATE_COLUMNS})
        for n, row in enumerate(fetched, start=1)
    ]
    digest = hashlib.sha256(repr([r for _, r in rows]).encode()).hexdigest()
    return RatesRead("query", digest, len(rows), rows)
