"""CSV order source: one file or a folder of files, canonical layout or mapped by config.

Files are read in name order, each as a stream (memory stays flat in file size): blocks of plain
lines are parsed by pyarrow's CSV reader, and the rows handed to the ETL column by column
(``Rows``), in chunks of whole orders (``_Batcher``). Every file is
identified by its name and sha256: a file already loaded with the same content is skipped, a file
whose content changed is reloaded whole (its corrected orders replace the old ones) and flagged,
and a file whose load was interrupted resumes after the rows already committed.

Nothing is fixed silently: a line whose bytes are not valid in the configured encoding, a line
with the wrong number of fields, a file without its required columns — each becomes a ``Problem``
naming the file, the line and what to change. From the first block that is not plain, the rest of
the file is read line by line by Python's csv module, which finds and names those lines.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from connectors.orders.base import (
    Checkpoint,
    Chunk,
    FileProgress,
    LineKeys,
    ParseOptions,
    Problem,
    Rows,
    SourceState,
)
from connectors.orders.canonical import CANONICAL_COLUMNS, DEFAULT_BATCH_LINES, REQUIRED_COLUMNS
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
        batch_lines: int = DEFAULT_BATCH_LINES,
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
                rows=Rows.empty(),
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
            batcher = _Batcher(self, file_name, header, skip_rows, batch_lines, notes, progress)
            for piece in self._pieces(file_name, handle, lines.line_no, header):
                for chunk in batcher.add(piece):
                    chunk.done_bytes = handle.tell()
                    yield chunk
            yield batcher.finish()

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

    def _pieces(
        self, file_name: str, handle: IO[bytes], header_line: int, header: list[str]
    ) -> Iterator[_Piece]:
        """The data rows after the header, in pieces of at most about ``_BLOCK_BYTES``.

        A block of plain lines (one record per line, valid in the encoding, no blank line) is
        parsed by pyarrow's CSV reader in native code. The first block that is anything else — a
        quoted line break, a blank line, a byte the encoding refuses, a line with the wrong
        number of fields, broken quoting — sends the rest of the file to the careful reader
        (Python's csv module, line by line), which names each such line in a ``Problem``.
        """
        cfg = self.config
        parse = pacsv.ParseOptions(
            delimiter=cfg.delimiter,
            quote_char=cfg.quotechar,
            double_quote=True,
            escape_char=False,
            newlines_in_values=False,
            ignore_empty_lines=False,
        )
        convert = pacsv.ConvertOptions(
            column_types=dict.fromkeys(header, pa.string()),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        )
        utf8 = cfg.encoding.lower().replace("_", "-") in ("utf-8", "utf8", "utf-8-sig")
        line = header_line  # the last line read
        ordinal = 0  # data rows read
        while True:
            start = handle.tell()
            block = handle.read(_BLOCK_BYTES)
            if not block:
                return
            if not block.endswith(b"\n"):
                block += handle.readline()  # complete the last line
            table = _plain_block(block, header, cfg.encoding, utf8, parse, convert)
            if table is None:
                handle.seek(start)
                yield from self._careful_pieces(file_name, handle, line, ordinal, header)
                return
            n = table.num_rows
            yield _Piece(
                table,
                np.arange(line + 1, line + 1 + n, dtype=np.int64),
                np.arange(ordinal + 1, ordinal + 1 + n, dtype=np.int64),
                [],
                ordinal + n,
            )
            line += n
            ordinal += n

    def _careful_pieces(
        self, file_name: str, handle: IO[bytes], line: int, ordinal: int, header: list[str]
    ) -> Iterator[_Piece]:
        """The rest of a file read line by line, every unusual line turned into a ``Problem``."""
        cfg = self.config
        lines = _Lines(handle, cfg.encoding)
        lines.line_no = line
        reader = csv.reader(lines, delimiter=cfg.delimiter, quotechar=cfg.quotechar, strict=True)
        width = len(header)
        records: list[list[str]] = []
        numbers: list[int] = []
        ordinals: list[int] = []
        problems: list[tuple[int, Problem]] = []
        prev_line = lines.line_no

        def piece() -> _Piece:
            columns = list(zip(*records, strict=True)) if records else [()] * width
            table = pa.table([pa.array(values, pa.string()) for values in columns], names=header)
            return _Piece(
                table,
                np.array(numbers, dtype=np.int64),
                np.array(ordinals, dtype=np.int64),
                problems,
                ordinal,
            )

        while True:
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                ordinal += 1
                problems.append(
                    (
                        ordinal,
                        Problem(
                            f"{file_name}:{lines.line_no}",
                            "malformed_csv",
                            f"{file_name} line {lines.line_no}: not valid CSV ({exc}); "
                            "an unclosed quote or a truncated file?",
                        ),
                    )
                )
                prev_line = lines.line_no
                continue
            number = lines.line_no
            bad = (
                [
                    lines.bad_lines[k]
                    for k in range(prev_line + 1, number + 1)
                    if k in lines.bad_lines
                ]
                if lines.bad_lines
                else None
            )
            prev_line = number
            if not record:
                continue  # a blank line carries no data
            ordinal += 1
            key = f"{file_name}:{number}"
            if bad:
                problems.append(
                    (
                        ordinal,
                        Problem(
                            key,
                            "bad_encoding",
                            f"{file_name} line {number}: not valid {cfg.encoding} ({bad[0]}); "
                            "set the source's `encoding` (e.g. cp1252) or re-export as UTF-8",
                            dict(zip(header, record, strict=False)),
                        ),
                    )
                )
            elif len(record) != width:
                problems.append(
                    (
                        ordinal,
                        Problem(
                            key,
                            "wrong_field_count",
                            f"{file_name} line {number}: {len(record)} fields where the header "
                            f"has {width} (truncated line, or a delimiter inside an unquoted "
                            "value?)",
                            {"fields": record},
                        ),
                    )
                )
            else:
                records.append(record)
                numbers.append(number)
                ordinals.append(ordinal)
            if len(records) >= _CAREFUL_ROWS:
                yield piece()
                records, numbers, ordinals, problems = [], [], [], []
        yield piece()


_BLOCK_BYTES = 4 << 20  # bytes parsed at once: memory is bounded by this and the batch
_CAREFUL_ROWS = 20_000  # rows per piece of the careful reader


def _order_hashes(oids: pa.Array) -> Iterator[int]:
    """``hash()`` of the distinct non-empty order ids of ``oids`` (what ``_Batcher.done``
    holds)."""
    ids = pc.unique(oids)
    return map(hash, ids.filter(pc.not_equal(ids, "")).to_pylist())


@dataclass(slots=True)
class _Piece:
    """Consecutive data rows of a file: the fields (source column names, text), the line and
    the data-row ordinal of each, the problems found among them (with their ordinals), and the
    number of data rows read up to its end."""

    table: pa.Table
    lines: npt.NDArray[np.int64]
    ordinals: npt.NDArray[np.int64]
    problems: list[tuple[int, Problem]]
    end_ordinal: int


def _plain_block(
    block: bytes,
    header: list[str],
    encoding: str,
    utf8: bool,
    parse: pacsv.ParseOptions,
    convert: pacsv.ConvertOptions,
) -> pa.Table | None:
    """The block's records when it is plain (one record per line, nothing to report); else None."""
    if not utf8:
        try:
            block = block.decode(encoding).encode("utf-8")
        except UnicodeDecodeError:
            return None
    if (
        block.startswith((b"\n", b"\r\n"))
        or b"\n\n" in block
        or b"\n\r\n" in block
        or (b"\r" in block and block.count(b"\r") != block.count(b"\r\n"))
    ):
        return None  # blank lines or lone carriage returns: the careful reader counts lines
    try:
        table = pacsv.read_csv(
            io.BytesIO(block),
            read_options=pacsv.ReadOptions(
                column_names=header, use_threads=False, block_size=len(block) + 1
            ),
            parse_options=parse,
            convert_options=convert,
        )
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return None  # a bad byte, a wrong number of fields, broken quoting
    quote = parse.quote_char.encode()
    if quote in block:
        n_lines = block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
        if table.num_rows != n_lines:
            return None  # a record over several lines
    return table


class _Batcher:
    """Cuts a file's pieces into chunks of whole orders, as the loader commits them.

    A chunk ends before the first line of a new order once it holds ``batch_lines`` lines. Lines
    of an order already handed out in an earlier chunk become ``order_not_contiguous`` problems;
    the rows committed by an interrupted run (``skip_rows``) are passed over, their orders
    remembered.
    """

    def __init__(
        self,
        source: CsvSource,
        file_name: str,
        header: list[str],
        skip_rows: int,
        batch_lines: int,
        notes: list[str],
        progress: Callable[[int, str], Checkpoint],
    ) -> None:
        cfg = source.config
        self.source = source
        self.file_name = file_name
        self.header = header
        self.skip_rows = skip_rows
        self.batch_lines = batch_lines
        self.notes = notes
        self.progress = progress
        self.mapping = [
            (column, cfg.columns.get(column, column))
            for column in CANONICAL_COLUMNS
            if cfg.columns.get(column, column) in header
        ]
        self.oid_column = cfg.columns.get("order_id", "order_id")
        # Orders of this file already handed out in a chunk, as hash() values: memory grows
        # with the number of orders (small ints), not with the file. A (2^-64) collision can
        # only cause a visible order_not_contiguous reject, never a silent merge.
        self.done: set[int] = set()
        self.committed = skip_rows  # data rows covered by the chunks handed out
        self.read = 0  # data rows read
        self.pending: list[_Piece] = []
        self.pending_oids: list[pa.Array] = []
        self.problems: list[tuple[int, Problem]] = []

    def add(self, piece: _Piece) -> Iterator[Chunk]:
        self.read = piece.end_ordinal
        self.problems.extend(p for p in piece.problems if p[0] > self.skip_rows)
        if len(piece.ordinals) and piece.ordinals[0] <= self.skip_rows:
            # Resuming: these rows were committed by an earlier run; remember their orders.
            n_done = int(np.searchsorted(piece.ordinals, self.skip_rows, side="right"))
            oids = pc.utf8_trim_whitespace(piece.table.column(self.oid_column).slice(0, n_done))
            self.done.update(_order_hashes(oids))
            piece = _slice(piece, n_done, len(piece.ordinals))
        self._append(piece)
        while True:
            cut = self._cut()
            if cut is None:
                return
            yield self._chunk(cut, "loading")

    def finish(self) -> Chunk:
        return self._chunk(None, "loaded")

    def _append(self, piece: _Piece) -> None:
        """Add rows to the pending ones; those of orders already handed out become problems."""
        if not len(piece.ordinals):
            return
        oids = pc.utf8_trim_whitespace(piece.table.column(self.oid_column)).combine_chunks()
        if self.done:
            ids = pc.unique(oids)
            ids = ids.filter(pc.not_equal(ids, "")).to_pylist()
            late = [] if self.done.isdisjoint(map(hash, ids)) else [
                o for o in ids if hash(o) in self.done
            ]  # fmt: skip
            if late:
                mask = pc.is_in(oids, value_set=pa.array(late, pa.string()))
                at = np.flatnonzero(mask.to_numpy(zero_copy_only=False))
                for i in at.tolist():
                    line = int(piece.lines[i])
                    oid = oids[i].as_py()
                    record = {n: piece.table.column(n)[i].as_py() for n in self.header}
                    self.problems.append(
                        (
                            int(piece.ordinals[i]),
                            Problem(
                                f"{self.file_name}:{line}",
                                "order_not_contiguous",
                                f"{self.file_name} line {line}: order {oid} continues here but "
                                "its earlier lines were loaded in an earlier batch (the lines of "
                                "an order must be together); sort the file by order_id (or raise "
                                "sources.batch_lines)",
                                record,
                            ),
                        )
                    )
                keep = np.ones(len(oids), dtype=bool)
                keep[at] = False
                piece = _take(piece, np.flatnonzero(keep))
                oids = oids.filter(pa.array(keep))
        self.pending.append(piece)
        self.pending_oids.append(oids)

    def _cut(self) -> int | None:
        """Where the pending rows must be cut (the first row of a new order after
        ``batch_lines`` rows), or None while they are fewer."""
        total = sum(len(p.ordinals) for p in self.pending)
        if total <= self.batch_lines:
            return None
        oids = pa.chunked_array(self.pending_oids, pa.string()).combine_chunks()
        start = self.batch_lines
        # Candidates: where the order id changes (or is empty: a line without an id is alone);
        # a candidate starts a new order unless its id came earlier (interleaved lines).
        tail, before = oids.slice(start), oids.slice(start - 1, len(oids) - start)
        change = pc.or_(pc.not_equal(tail, before), pc.equal(tail, ""))
        for i in (start + np.flatnonzero(change.to_numpy(zero_copy_only=False))).tolist():
            oid = oids[i]
            if oid.as_py() == "" or pc.index(oids.slice(0, i), oid).as_py() < 0:
                return int(i)
        return None

    def _chunk(self, cut: int | None, status: str) -> Chunk:
        merged = _concat(self.pending, self.header)
        oids = pa.chunked_array(self.pending_oids, pa.string()).combine_chunks()
        total = len(merged.ordinals)
        end = total if cut is None else cut
        rows_to = self.read if cut is None else int(merged.ordinals[cut]) - 1
        head = _slice(merged, 0, end)
        problems = [p for o, p in self.problems if o <= rows_to]
        self.problems = [(o, p) for o, p in self.problems if o > rows_to]
        chunk = Chunk(
            rows=self._rows(head),
            problems=problems,
            checkpoint=self.progress(rows_to, status),
            options=self.source.options,
            rows_read=rows_to - self.committed,
            notes=self.notes,
        )
        self.notes = []
        self.committed = rows_to
        done_oids = oids.slice(0, end)
        self.done.update(_order_hashes(done_oids))
        if cut is None:
            self.pending, self.pending_oids = [], []
        else:
            rest = _slice(merged, end, total)
            self.pending, self.pending_oids = [], []
            # Rows after the cut of orders that were just handed out are late now.
            self._append(rest)
        return chunk

    def _rows(self, piece: _Piece) -> Rows:
        """The canonical columns of a piece: mapped names, value maps and defaults applied."""
        cfg = self.source.config
        n = len(piece.ordinals)
        columns: dict[str, pa.Array] = {}
        for canonical, name in self.mapping:
            column = piece.table.column(name).combine_chunks()
            table = cfg.values.get(canonical)
            if table:
                stripped = pc.utf8_trim_whitespace(column)
                found = pc.index_in(stripped, value_set=pa.array(list(table), pa.string()))
                mapped = pc.take(pa.array(list(table.values()), pa.string()), found)
                column = pc.if_else(pc.is_valid(found), mapped, stripped)
            columns[canonical] = column
        for canonical, value in cfg.defaults.items():
            if canonical not in columns:
                columns[canonical] = pa.array([value] * n, pa.string())
            else:
                column = columns[canonical]
                columns[canonical] = pc.if_else(pc.equal(column, ""), value, column)
        return Rows(columns, LineKeys(self.file_name, piece.lines), piece.table)


def _slice(piece: _Piece, start: int, stop: int) -> _Piece:
    return _Piece(
        piece.table.slice(start, stop - start),
        piece.lines[start:stop],
        piece.ordinals[start:stop],
        [],
        piece.end_ordinal,
    )


def _take(piece: _Piece, at: npt.NDArray[np.intp]) -> _Piece:
    return _Piece(
        piece.table.take(pa.array(at)),
        piece.lines[at],
        piece.ordinals[at],
        [],
        piece.end_ordinal,
    )


def _concat(pieces: list[_Piece], header: list[str]) -> _Piece:
    if not pieces:
        empty = pa.table([pa.array([], pa.string()) for _ in header], names=header)
        return _Piece(empty, np.zeros(0, np.int64), np.zeros(0, np.int64), [], 0)
    if len(pieces) == 1:
        return pieces[0]
    return _Piece(
        pa.concat_tables([p.table for p in pieces]),
        np.concatenate([p.lines for p in pieces]),
        np.concatenate([p.ordinals for p in pieces]),
        [],
        pieces[-1].end_ordinal,
    )
