"""What every order source hands to the ETL: chunks of raw order lines, whole orders only.

A source reads the outside world (files, a shop database) and yields ``Chunk`` objects: raw rows
column by column (``Rows``: pyarrow arrays keyed by the canonical column names of ``design.md``,
so the validator works on whole columns), problems found while reading (an unreadable file, a
truncated line), and the ``Checkpoint`` that the loader writes in the same transaction as the
chunk's rows — so a crash leaves the chunk either loaded with its checkpoint or not at all.
Sources never touch the warehouse: the ETL gives them the ``SourceState`` it read from it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from connectors.orders.canonical import CANONICAL_COLUMNS, DEFAULT_BATCH_LINES


@dataclass(frozen=True, slots=True)
class ParseOptions:
    """How the text values of a source are written (CSV sources; SQL values are typed)."""

    decimal: Literal[".", ","] = "."
    thousands: str | None = None
    date_format: str | None = None  # strptime format; None = ISO 8601
    datetime_format: str | None = None  # strptime format; None = ISO 8601 (or date_format)
    timezone: str = "UTC"  # aware datetimes are converted to this zone, then stored naive


class LineKeys:
    """Where each row of a file chunk is: ``file.csv:57`` (built only for rows that need it)."""

    __slots__ = ("file_name", "lines")

    def __init__(self, file_name: str, lines: npt.NDArray[np.int64]) -> None:
        self.file_name = file_name
        self.lines = lines

    def __len__(self) -> int:
        return len(self.lines)

    def __getitem__(self, i: int) -> str:
        return f"{self.file_name}:{self.lines[i]}"


@dataclass(slots=True)
class Rows:
    """Order lines column by column: canonical column -> pyarrow array (text as read from files,
    typed values from databases); a missing column is simply absent. ``keys[i]`` says where row
    ``i`` comes from ("orders-2024.csv:57", "erp:order 1234 line 2"); ``raw`` holds the rows
    exactly as read (source column names), for ``etl_reject.raw``."""

    columns: dict[str, pa.Array]
    keys: LineKeys | Sequence[str]
    raw: pa.Table | Sequence[dict[str, Any]]

    def __len__(self) -> int:
        return len(self.keys)

    def raw_row(self, i: int) -> dict[str, Any]:
        """Row ``i`` exactly as read (built only for a rejected row)."""
        if isinstance(self.raw, pa.Table):
            return {name: column[i].as_py() for name, column in zip(
                self.raw.column_names, self.raw.columns, strict=True
            )}  # fmt: skip
        return self.raw[i]

    def values(self, i: int) -> dict[str, Any]:
        """Row ``i`` as canonical column -> value (for the messages of a rejected row)."""
        return {name: column[i].as_py() for name, column in self.columns.items()}

    @classmethod
    def empty(cls) -> Rows:
        return cls({}, [], [])

    @classmethod
    def from_records(
        cls,
        keys: Sequence[str],
        records: Sequence[dict[str, Any]],
        raw: Sequence[dict[str, Any]] | None = None,
    ) -> Rows:
        """Columns from row dicts (canonical names; a missing value is None). A column whose
        values pyarrow cannot type as one (text beside numbers) is kept as text."""
        names = [c for c in CANONICAL_COLUMNS if any(c in r for r in records)]
        columns: dict[str, pa.Array] = {}
        for name in names:
            values = [r.get(name) for r in records]
            try:
                columns[name] = pa.array(values)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
                columns[name] = pa.array(
                    [None if v is None else str(v) for v in values], pa.string()
                )
        return cls(columns, list(keys), list(records) if raw is None else list(raw))


@dataclass(frozen=True, slots=True)
class Problem:
    """Something a source could not turn into rows (a whole file, a broken line)."""

    key: str
    rule: str
    reason: str
    raw: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class FileProgress:
    """How far a file is loaded; stored in ``etl_loaded_file`` with the chunk it covers."""

    file_name: str
    sha256: str
    size_bytes: int
    rows: int  # data rows committed up to and including this chunk
    status: Literal["loading", "loaded", "rejected"]


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """State to commit together with a chunk: a cursor value and/or a file's progress."""

    cursor: str | None = None
    file: FileProgress | None = None


@dataclass(slots=True)
class Chunk:
    """Rows of whole orders (never an order split across chunks), problems, and the checkpoint."""

    rows: Rows
    problems: list[Problem]
    checkpoint: Checkpoint
    options: ParseOptions = field(default_factory=ParseOptions)
    rows_read: int = 0  # data rows read for this chunk (rows + those turned into problems)
    notes: list[str] = field(default_factory=list)  # e.g. "file changed since its last load"
    done_bytes: int = 0  # progress through the source, when it can tell (files)
    total_bytes: int = 0


@dataclass(frozen=True, slots=True)
class FileRecord:
    """A file the warehouse already knows (from ``etl_loaded_file``)."""

    sha256: str
    rows: int
    status: str


@dataclass(slots=True)
class SourceState:
    """What the warehouse remembers about a source: its cursor and the files it loaded."""

    cursor: str | None = None
    files: dict[str, FileRecord] = field(default_factory=dict)


class OrderSource(Protocol):
    """An order source: yields chunks of whole orders after the state the warehouse holds."""

    name: str

    def read(
        self,
        state: SourceState,
        *,
        since: datetime | None = None,
        full_refresh: bool = False,
        batch_lines: int = DEFAULT_BATCH_LINES,
    ) -> Iterator[Chunk]:
        """Chunks of at most about ``batch_lines`` lines (more only to keep an order whole)."""
        ...
