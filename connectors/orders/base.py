"""What every order source hands to the ETL: chunks of raw order lines, whole orders only.

A source reads the outside world (files, a shop database) and yields ``Chunk`` objects: raw rows
keyed by the canonical column names of ``design.md``, problems found while reading (an unreadable
file, a truncated line), and the ``Checkpoint`` that the loader writes in the same transaction as
the chunk's rows — so a crash leaves the chunk either loaded with its checkpoint or not at all.
Sources never touch the warehouse: the ETL gives them the ``SourceState`` it read from it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

# The canonical orders file (design.md), plus optional extras the dimensions can use.
REQUIRED_COLUMNS: tuple[str, ...] = (
    "order_id",
    "ordered_at",
    "customer_id",
    "sku",
    "quantity",
    "unit_price",
)
OPTIONAL_COLUMNS: tuple[str, ...] = (
    "line_no",
    "customer_name",
    "customer_email",
    "customer_city",
    "customer_country",
    "product_name",
    "category",
    "brand",
    "discount",
    "currency",
    "payment_method",
    "channel",
    "status",
    "invoiced_at",
    "due_at",
    "paid_at",
)
CANONICAL_COLUMNS: tuple[str, ...] = REQUIRED_COLUMNS + OPTIONAL_COLUMNS


@dataclass(frozen=True, slots=True)
class ParseOptions:
    """How the text values of a source are written (CSV sources; SQL values are typed)."""

    decimal: Literal[".", ","] = "."
    thousands: str | None = None
    date_format: str | None = None  # strptime format; None = ISO 8601
    datetime_format: str | None = None  # strptime format; None = ISO 8601 (or date_format)
    timezone: str = "UTC"  # aware datetimes are converted to this zone, then stored naive


@dataclass(slots=True)
class RawRow:
    """One order line as read: canonical field -> value (text or typed), and where it came from."""

    key: str  # where a person finds it: "orders-2024.csv:57" or "erp:order 1234 line 2"
    values: dict[str, Any]
    raw_values: dict[str, Any] | None = None  # the row exactly as read, for etl_reject.raw ...
    header: list[str] | None = None  # ... or, cheaper for files, the header and the fields
    fields: list[str] | None = None

    @property
    def raw(self) -> dict[str, Any]:
        """The row exactly as read (source column names), built only when a row is rejected."""
        if self.raw_values is not None:
            return self.raw_values
        if self.header is not None and self.fields is not None:
            return dict(zip(self.header, self.fields, strict=False))
        return dict(self.values)


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

    rows: list[RawRow]
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
        batch_lines: int = 50_000,
    ) -> Iterator[Chunk]:
        """Chunks of at most about ``batch_lines`` lines (more only to keep an order whole)."""
        ...
