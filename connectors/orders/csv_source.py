"""CSV order source: one file or a folder of files, canonical layout or mapped by config.

Files are read in name order, each as a stream (memory stays flat in file size). Every file is
identified by its name and sha256: a file already loaded with the same content is skipped, a file
whose content changed is reloaded whole (its corrected orders replace the old ones) and flagged,
and a file whose load was interrupted resumes after the rows already committed.

Nothing is fixed silently: a line whose bytes are not valid in the configured encoding, a line
with the wrong number of fields, a file without its required columns — each becomes a ``Problem``
naming the file, the line and what to change.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import operator
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from connectors.orders.base import (
    CANONICAL_COLUMNS,
    REQUIRED_COLUMNS,
    Checkpoint,
    Chunk,
    FileProgress,
    ParseOptions,
    Problem,
    RawRow,
    SourceState,
)
from connectors.orders.config import CsvSourceConfig
from connectors.orders.exceptions import SourceConfigError

log = logging.getLogger(__name__)

_HASH_BLOCK = 1 << 20
# Field size limit: long enough for any sane cell, small enough that a stray quote cannot make the
# reader swallow a whole file into memory.
_FIELD_LIMIT = 1 << 20


def file_sha256(path: Path) -> str:
    """sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


class _Lines:
    """Decodes a binary file line by line, remembering which lines had undecodable bytes."""

    def __init__(self, handle: IO[bytes], encoding: str) -> None:
        self._handle = handle
        self._encoding = encoding
        self._strip_bom = encoding.lower().replace("_", "-") in ("utf-8", "utf8", "utf-8-sig")
        self.bad_lines: dict[int, str] = {}
        self.line_no = 0

    def __iter__(self) -> Iterator[str]:
        for raw in self._handle:
            self.line_no += 1
            if self.line_no == 1 and self._strip_bom and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                yield raw.decode(self._encoding)
            except UnicodeDecodeError as exc:
                self.bad_lines[self.line_no] = (
                    f"byte {raw[exc.start : exc.start + 1]!r} at position {exc.start + 1}"
                )
                yield raw.decode(self._encoding, errors="replace")


class CsvSource:
    """Reads order lines from CSV files (see the module docstring)."""

    def __init__(self, config: CsvSourceConfig) -> None:
        self.config = config
        self.name = config.name
        self.options = ParseOptions(
            decimal=config.decimal,
            thousands=config.thousands,
            date_format=config.date_format,
            datetime_format=config.datetime_format,
            timezone=config.timezone,
        )

    @classmethod
    def canonical(cls, path: Path | str, name: str = "csv") -> CsvSource:
        """A source for canonical-format file(s) at ``path``, without any config."""
        return cls(CsvSourceConfig(name=name, path=Path(path)))

    def files(self) -> list[tuple[str, Path]]:
        """(name, path) of the files to read, in name order."""
        root = self.config.path
        if root.is_file():
            return [(root.name, root)]
        if root.is_dir():
            found = sorted(p for p in root.glob(self.config.pattern) if p.is_file())
            return [(p.relative_to(root).as_posix(), p) for p in found]
        raise SourceConfigError(f"source {self.name}: {root} is neither a file nor a folder")

    def read(
        self,
        state: SourceState,
        *,
        since: datetime | None = None,
        full_refresh: bool = False,
        batch_lines: int = 50_000,
    ) -> Iterator[Chunk]:
        """Chunks of whole orders from every file not yet (completely) loaded."""
        files = self.files()
        total = sum(p.stat().st_size for _, p in files)
        before = 0
        for file_name, path in files:
            offset = before
            before += path.stat().st_size
            sha = file_sha256(path)
            size = path.stat().st_size
            known = state.files.get(file_name)
            skip_rows = 0
            notes: list[str] = []
            if known is not None and not full_refresh and since is None:
                if known.sha256 == sha and known.status != "loading":
                    log.debug("%s: %s already loaded, skipped", self.name, file_name)
                    continue
                if known.sha256 == sha:
                    skip_rows = known.rows
                    log.info("%s: %s resumes after %d rows", self.name, file_name, skip_rows)
                else:
                    note = (
                        f"{file_name} changed since it was loaded (sha256 {known.sha256[:12]}… → "
                        f"{sha[:12]}…): reloaded whole, its orders replace the earlier ones"
                    )
                    log.warning("%s: %s", self.name, note)
                    notes.append(note)
            for chunk in self._read_file(file_name, path, sha, size, skip_rows, batch_lines, notes):
                chunk.done_bytes = offset + (chunk.done_bytes if chunk.done_bytes else size)
                chunk.total_bytes = total
                yield chunk

    def _read_file(
        self,
        file_name: str,
        path: Path,
        sha: str,
        size: int,
        skip_rows: int,
        batch_lines: int,
        notes: list[str],
    ) -> Iterator[Chunk]:
        cfg = self.config

        def progress(rows: int, status: str) -> Checkpoint:
            return Checkpoint(
                cursor=file_name,
                file=FileProgress(file_name, sha, size, rows, status),  # type: ignore[arg-type]
            )

        def whole_file_problem(rule: str, reason: str) -> Chunk:
            return Chunk(
                rows=[],
                problems=[Problem(file_name, rule, f"{file_name}: {reason}")],
                checkpoint=progress(0, "rejected"),
                options=self.options,
                notes=notes,
            )

        if size == 0:
            yield whole_file_problem("empty_file", "the file is empty (not even a header line)")
            return
        csv.field_size_limit(_FIELD_LIMIT)
        with path.open("rb") as handle:
            lines = _Lines(handle, cfg.encoding)
            reader = csv.reader(
                lines, delimiter=cfg.delimiter, quotechar=cfg.quotechar, strict=True
            )
            try:
                header = next(reader, None)
            except csv.Error as exc:
                yield whole_file_problem("bad_header", f"the header line is not valid CSV ({exc})")
                return
            if header is None or not any(h.strip() for h in header):
                yield whole_file_problem("empty_file", "no header line (the file is blank)")
                return
            if lines.bad_lines:
                yield whole_file_problem(
                    "bad_encoding",
                    f"the header has bytes that are not valid {cfg.encoding} "
                    f"({lines.bad_lines[1]}): set the source's encoding",
                )
                return
            header = [h.strip() for h in header]
            problem = self._check_header(header)
            if problem is not None:
                yield whole_file_problem(*problem)
                return
            index = {name: i for i, name in enumerate(header)}
            mapping = [
                (column, index[cfg.columns.get(column, column)])
                for column in CANONICAL_COLUMNS
                if cfg.columns.get(column, column) in index
            ]
            oid_index = index[cfg.columns.get("order_id", "order_id")]
            for chunk in self._rows(
                file_name,
                reader,
                lines,
                header,
                mapping,
                oid_index,
                skip_rows,
                batch_lines,
                notes,
                progress,
            ):
                if chunk.checkpoint.file is not None and chunk.checkpoint.file.status == "loading":
                    chunk.done_bytes = handle.tell()
                yield chunk

    def _check_header(self, header: list[str]) -> tuple[str, str] | None:
        cfg = self.config
        duplicates = sorted({h for h in header if header.count(h) > 1})
        if duplicates:
            return "duplicate_columns", f"the header repeats column(s) {', '.join(duplicates)}"
        missing = [
            column
            for column in REQUIRED_COLUMNS
            if cfg.columns.get(column, column) not in header and column not in cfg.defaults
        ]
        if missing:
            wanted = ", ".join(cfg.columns.get(c, c) for c in missing)
            return (
                "missing_columns",
                f"missing required column(s) {wanted} (the header has: {', '.join(header)}); "
                "rename them or map them in the source's `columns`",
            )
        return None

    def _rows(
        self,
        file_name: str,
        reader: Any,
        lines: _Lines,
        header: list[str],
        mapping: list[tuple[str, int]],
        oid_index: int,
        skip_rows: int,
        batch_lines: int,
        notes: list[str],
        progress: Any,
    ) -> Iterator[Chunk]:
        cfg = self.config
        value_maps = cfg.values
        defaults = cfg.defaults
        width = len(header)
        columns = [column for column, _ in mapping]
        pick = operator.itemgetter(*[i for _, i in mapping])
        pending: dict[str, list[RawRow]] = {}
        problems: list[Problem] = []
        n_pending = 0
        # Orders of this file already handed out in a chunk, as hash() values: memory grows with
        # the number of orders (small ints), not with the file. A (2^-64) collision can only
        # cause a visible order_not_contiguous reject, never a silent merge.
        done_orders: set[int] = set()
        data_rows = 0
        chunk_rows = 0
        prev_line = lines.line_no
        while True:
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                data_rows += 1
                chunk_rows += 1
                if data_rows > skip_rows:
                    problems.append(
                        Problem(
                            f"{file_name}:{lines.line_no}",
                            "malformed_csv",
                            f"{file_name} line {lines.line_no}: not valid CSV ({exc}); "
                            "an unclosed quote or a truncated file?",
                        )
                    )
                prev_line = lines.line_no
                continue
            line = lines.line_no
            bad = (
                [lines.bad_lines[n] for n in range(prev_line + 1, line + 1) if n in lines.bad_lines]
                if lines.bad_lines
                else None
            )
            prev_line = line
            if not record:
                continue  # a blank line carries no data
            data_rows += 1
            oid = record[oid_index].strip() if len(record) == width else ""
            if data_rows <= skip_rows:
                # Resuming: these rows were committed by an earlier run; remember their orders.
                if oid:
                    done_orders.add(hash(oid))
                continue
            chunk_rows += 1
            key = f"{file_name}:{line}"
            if bad:
                raw = dict(zip(header, record, strict=False))
                problems.append(
                    Problem(
                        key,
                        "bad_encoding",
                        f"{file_name} line {line}: not valid {cfg.encoding} ({bad[0]}); "
                        "set the source's `encoding` (e.g. cp1252) or re-export as UTF-8",
                        raw,
                    )
                )
                continue
            if len(record) != width:
                problems.append(
                    Problem(
                        key,
                        "wrong_field_count",
                        f"{file_name} line {line}: {len(record)} fields where the header has "
                        f"{width} (truncated line, or a delimiter inside an unquoted value?)",
                        {"fields": record},
                    )
                )
                continue
            # Values stay as read (the validator strips them); mapped ones are matched stripped.
            values: dict[str, Any] = dict(zip(columns, pick(record), strict=True))
            if value_maps:
                for column, table in value_maps.items():
                    if column in values:
                        value = values[column].strip()
                        values[column] = table.get(value, value)
            if defaults:
                for column, value in defaults.items():
                    if not values.get(column):
                        values[column] = value
            if oid and hash(oid) in done_orders:
                problems.append(
                    Problem(
                        key,
                        "order_not_contiguous",
                        f"{file_name} line {line}: order {oid} continues here but its earlier "
                        "lines were loaded in an earlier batch (the lines of an order must be "
                        "together); sort "
                        "the file by order_id (or raise sources.batch_lines)",
                        dict(zip(header, record, strict=False)),
                    )
                )
                continue
            group = oid or f"\x00{line}"  # lines without an id stay alone (the validator rejects)
            rows = pending.get(group)
            if rows is None:
                if n_pending >= batch_lines:
                    yield Chunk(
                        rows=[r for rs in pending.values() for r in rs],
                        problems=problems,
                        checkpoint=progress(data_rows - 1, "loading"),
                        options=self.options,
                        rows_read=chunk_rows - 1,
                        notes=notes,
                    )
                    done_orders.update(map(hash, pending))
                    notes = []
                    pending, problems, n_pending, chunk_rows = {}, [], 0, 1
                rows = pending[group] = []
            rows.append(RawRow(key, values, None, header, record))
            n_pending += 1
        yield Chunk(
            rows=[r for rs in pending.values() for r in rs],
            problems=problems,
            checkpoint=progress(data_rows, "loaded"),
            options=self.options,
            rows_read=chunk_rows,
            notes=notes,
        )
