"""The ETL's library entry: extract → validate → load for a list of order sources.

``run_etl(engine, sources)`` is what the CLI and the nightly sync call. One ``etl_run`` row per
call; each source is read in chunks of whole orders, each chunk validated and written in its own
transaction together with its checkpoint, so the run can be killed at any point and the next run
continues after the last committed chunk. Files are read and validated one chunk ahead, in a
background thread, while the chunk before is written (``_read_ahead``): the commits stay in file
order, one at a time. ``load_csv(engine, path)`` loads one canonical file without any config.
"""

from __future__ import annotations

import gc
import logging
import queue
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from connectors.orders.base import Chunk, FileRecord, OrderSource, SourceState
from connectors.orders.canonical import DEFAULT_BATCH_LINES
from connectors.orders.csv_source import CsvSource
from etl import indexes
from etl.db import ensure_current, load_connection
from etl.exceptions import EtlError, LoadError, WarehouseUnavailable
from etl.fx import DEFAULT_MAX_RATE_AGE_DAYS, convert_orders, resolve_reporting_currency
from etl.load import CustomerMemo, LoadMode, delete_source, write_batch
from etl.runs import Run, RunStatus, start_run
from etl.schema import dim_customer, etl_loaded_file, etl_watermark, fact_order
from etl.spider import facts_on_spider
from etl.validate import Validated, validate_chunk

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EtlProgress:
    """Sent to the ``progress`` callback after each committed batch."""

    source: str
    batch: int
    rows_read: int  # in this run, all sources so far
    rows_loaded: int
    rows_rejected: int
    done_bytes: int  # of the current source, when it knows (files); else 0
    total_bytes: int


@dataclass(slots=True)
class EtlRunInfo:
    """Counts and timings of one ETL run (also stored in ``etl_run``)."""

    run_id: int
    status: RunStatus  # ok | partial (some rows rejected) | failed
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_skipped: int = 0  # orders before --since
    orders_inserted: int = 0
    orders_updated: int = 0
    orders_unchanged: int = 0
    lines_written: int = 0
    batches: int = 0
    duration_s: float = 0.0
    rejects_by_rule: dict[str, int] = field(default_factory=dict)
    # source -> files this run resumed after an interrupted load (not re-read from the start):
    # the rejects of their first part stay open (etl.history).
    resumed_files: dict[str, list[str]] = field(default_factory=dict)
    watermarks: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    # The orders converted to the reporting currency after the load (etl.fx.ConversionInfo).
    conversion: dict[str, Any] = field(default_factory=dict)
    # The orders' indexes this run built: after its first load, or left unbuilt by a killed one
    # (etl.indexes).
    indexes_built: list[str] = field(default_factory=list)

    def details(self) -> dict[str, Any]:
        """The JSON stored in ``etl_run.details``."""
        return {
            "orders_inserted": self.orders_inserted,
            "orders_updated": self.orders_updated,
            "orders_unchanged": self.orders_unchanged,
            "lines_written": self.lines_written,
            "rows_skipped": self.rows_skipped,
            "batches": self.batches,
            "duration_s": round(self.duration_s, 3),
            "rejects_by_rule": self.rejects_by_rule,
            "watermarks": {k: list(v) for k, v in self.watermarks.items()},
            "notes": self.notes,
            "resumed_files": self.resumed_files,
            "currency": self.conversion,
            "indexes_built": self.indexes_built,
        }


# Called with (stage, batch number) around each commit; tests use it to kill the process at
# precise points. stage is "before_commit" or "after_commit".
BatchHook = Callable[[str, int], None]


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def read_state(engine: Engine, source: str) -> SourceState:
    """The watermark and loaded files the warehouse holds for ``source``."""
    with engine.connect() as conn:
        cursor = conn.scalar(
            select(etl_watermark.c.cursor_value).where(etl_watermark.c.source == source)
        )
        files = {
            r.file_name: FileRecord(r.sha256, r.rows, r.status)
            for r in conn.execute(
                select(
                    etl_loaded_file.c.file_name,
                    etl_loaded_file.c.sha256,
                    etl_loaded_file.c.rows,
                    etl_loaded_file.c.status,
                ).where(etl_loaded_file.c.source == source)
            )
        }
    return SourceState(cursor=cursor, files=files)


def _since_datetime(since: date | datetime | None) -> datetime | None:
    if since is None or isinstance(since, datetime):
        return since
    return datetime(since.year, since.month, since.day)


def run_etl(
    engine: Engine,
    sources: Sequence[OrderSource],
    *,
    full_refresh: bool = False,
    since: date | datetime | None = None,
    progress: Callable[[EtlProgress], None] | None = None,
    default_currency: str = "EUR",
    batch_lines: int = DEFAULT_BATCH_LINES,
    mode: LoadMode = "merge",
    auto_upgrade: bool = True,
    hook: BatchHook | None = None,
    reporting_currency: str | None = None,
    max_rate_age_days: int = DEFAULT_MAX_RATE_AGE_DAYS,
) -> EtlRunInfo:
    """Load every source into the warehouse; returns the run's counts (see the module docstring).

    After the load, every order is converted to the reporting currency (``reporting_currency``;
    else the orders' own when they all have one; else ``default_currency``) with the rates in
    the warehouse (``etl.fx``); the orders left without a usable rate are in ``conversion``.

    ``full_refresh`` ignores watermarks and loaded-file lists (everything is re-read and merged);
    ``since`` re-reads from that date on (SQL cursor from that date; files re-read, orders placed
    earlier skipped). Rejected rows make the status ``partial``; an error makes it ``failed``,
    is recorded in ``etl_run`` and raised (the batches committed before it stay).
    """
    ensure_current(engine, auto=auto_upgrade)
    since_dt = _since_datetime(since)
    names = ",".join(s.name for s in sources)[:64] or None
    started = time.perf_counter()
    try:
        run = start_run(engine, "etl", source=names)
    except OperationalError as exc:
        raise WarehouseUnavailable(f"cannot write to the warehouse: {exc.orig}") from None
    info = EtlRunInfo(run_id=run.run_id, status="running")
    try:
        # The currency the warehouse reports in now: the loader writes the orders in it
        # converted already (etl.load._order_columns); the conversion below settles the rest.
        with engine.connect() as conn:
            expected = resolve_reporting_currency(conn, reporting_currency, default_currency)
        # A killed first load left some of the orders' indexes unbuilt; a new first load builds
        # them at its end (etl.indexes).
        info.indexes_built = indexes.restore(engine)
        deferred = indexes.drop_for_first_load(engine)
        try:
            for source in sources:
                _run_source(
                    engine, source, info,
                    full_refresh=full_refresh, since=since_dt, progress=progress,
                    default_currency=default_currency, batch_lines=batch_lines, mode=mode,
                    hook=hook, reporting=expected,
                )  # fmt: skip
        except BaseException:
            if deferred:
                _restore_after_failure(engine)
            raise
        if deferred:
            info.indexes_built += indexes.restore(engine)
        with engine.begin() as conn:
            currency = resolve_reporting_currency(conn, reporting_currency, default_currency)
            converted = convert_orders(conn, currency, max_rate_age_days=max_rate_age_days)
        info.conversion = converted.as_dict()
    except BaseException as exc:
        info.status = "failed"
        info.error = str(exc) or type(exc).__name__
        info.duration_s = time.perf_counter() - started
        _finish(run, info)
        if isinstance(exc, SQLAlchemyError):
            raise LoadError(f"run {run.run_id}: writing to the warehouse failed: {exc}") from exc
        raise
    info.status = "partial" if info.rows_rejected else "ok"
    info.duration_s = time.perf_counter() - started
    _finish(run, info)
    log.info(
        "etl run %d %s: %d read, %d loaded, %d rejected in %.1fs",
        run.run_id, info.status, info.rows_read, info.rows_loaded, info.rows_rejected,
        info.duration_s,
    )  # fmt: skip
    return info


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Automatic cyclic garbage collection off for a load; the caller collects between batches.

    A batch holds some hundred thousand container objects (rows, their values, lines) that all
    live until it is committed. With the collector on, they trigger collection after collection
    and every full one walks them all again: about a fifth of the load's time, for nothing,
    since the rows form no reference cycles. The few cycles a batch may leave (exceptions of
    rejected rows) are young, so ``gc.collect(0)`` after each batch frees them and memory stays
    bounded by the batch.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _run_source(
    engine: Engine,
    source: OrderSource,
    info: EtlRunInfo,
    *,
    full_refresh: bool,
    since: datetime | None,
    progress: Callable[[EtlProgress], None] | None,
    default_currency: str,
    batch_lines: int,
    mode: LoadMode,
    hook: BatchHook | None,
    reporting: str | None = None,
) -> None:
    state = SourceState() if full_refresh else read_state(engine, source.name)
    watermark_from = state.cursor
    watermark_to = state.cursor
    first = True
    customers = CustomerMemo()
    if not _holds_any(engine, dim_customer.c.customer_key, source.name):
        customers.start_empty()
    # A first load: the warehouse holds none of the source's orders as it starts, and the
    # batches of one file never repeat an order (its reader rejects the lines of an order met
    # again: order_not_contiguous), so the batches of the first file need not look their
    # orders up. Should that not hold, the insert fails on the unique key (source, order id).
    new_orders = (
        mode == "merge"
        and _reads_ahead(source)
        and not _holds_any(engine, fact_order.c.order_key, source.name)
    )
    first_file: str | None = None
    # Files left half-loaded by an interrupted run: read again with the same content, the source
    # resumes them after their committed rows (not with --since, which re-reads whole files).
    unfinished = {} if since is not None else {
        name: record.sha256 for name, record in state.files.items() if record.status == "loading"
    }  # fmt: skip
    chunks = source.read(state, since=since, full_refresh=full_refresh, batch_lines=batch_lines)
    checked = ((chunk, validate_chunk(chunk, default_currency, since)) for chunk in chunks)
    if _reads_ahead(source):
        checked = _read_ahead(checked)
    with _gc_paused(), closing(checked):
        for chunk, valid in checked:
            read = chunk.checkpoint.file
            if read is not None and unfinished.get(read.file_name) == read.sha256:
                info.resumed_files.setdefault(source.name, []).append(read.file_name)
                del unfinished[read.file_name]
            if new_orders:  # until another file: its orders may be some of the first's
                first_file = first_file or (read.file_name if read is not None else None)
                new_orders = read is not None and read.file_name == first_file
            _run_chunk(engine, source, info, chunk, valid, first=first, progress=progress,
                       mode=mode, hook=hook, customers=customers, reporting=reporting,
                       new_orders=new_orders)  # fmt: skip
            first = False
            if chunk.checkpoint.cursor is not None:
                watermark_to = chunk.checkpoint.cursor
            gc.collect(0)
    info.watermarks[source.name] = (watermark_from, watermark_to)


def _holds_any(engine: Engine, key: Any, source: str) -> bool:
    """Whether the warehouse holds a row of ``source`` in the table of column ``key`` (its
    customers, its orders)."""
    with engine.connect() as conn:
        query = select(key).where(key.table.c.source == source)
        return conn.execute(query.limit(1)).first() is not None


def _reads_ahead(source: OrderSource) -> bool:
    """Whether ``source`` may be read in a background thread: files can (pyarrow's parser and
    compute kernels release the GIL); a SQL source is read where it was opened (a SQLite
    connection belongs to its thread)."""
    return isinstance(source, CsvSource)


T = TypeVar("T")


def _read_ahead(items: Iterator[T]) -> Generator[T, None, None]:
    """The items of ``items``, each produced in a background thread while the caller works on
    the one before: a chunk is read and validated while the previous one is written (the two
    overlap on a machine with a free core). At most one item is produced ahead, so memory
    stays bounded by two batches; an error of the producer is raised here, in order; the
    items are consumed (and ``items`` closed) in the background thread only."""
    ready: queue.Queue[tuple[bool, Any]] = queue.Queue()
    turn = threading.Semaphore(1)  # released each time the caller takes an item
    stop = threading.Event()

    def produce() -> None:
        try:
            while turn.acquire() and not stop.is_set():
                try:
                    item = next(items)
                except StopIteration:
                    ready.put((False, None))
                    return
                ready.put((True, item))
        except BaseException as exc:  # handed to the caller, which raises it
            ready.put((False, exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="etl-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            more, value = ready.get()
            if not more:
                if value is not None:
                    raise value
                return
            turn.release()
            yield value
    finally:
        stop.set()
        turn.release()
        worker.join()


def _run_chunk(
    engine: Engine,
    source: OrderSource,
    info: EtlRunInfo,
    chunk: Chunk,
    checked: Validated,
    *,
    first: bool,
    progress: Callable[[EtlProgress], None] | None,
    mode: LoadMode,
    hook: BatchHook | None,
    customers: CustomerMemo,
    reporting: str | None = None,
    new_orders: bool = False,
) -> None:
    """Write one validated chunk in its own transaction, and count it (and remember its
    customers once it committed); ``new_orders``: none of its orders is in the warehouse."""
    info.batches += 1
    try:
        # One transaction, committed at the end; on Spider three, in order (see write_batch).
        with load_connection(engine) as conn:
            staged = facts_on_spider(conn)
            if mode == "replace" and first:
                delete_source(conn, source.name)
            result = write_batch(
                conn,
                source=source.name,
                run_id=info.run_id,
                orders=checked.orders,
                rejects=checked.rejects,
                checkpoint=chunk.checkpoint,
                rows_read=chunk.rows_read,
                mode=mode,
                now=_now(),
                staged=staged,
                customers=customers,
                reporting=reporting,
                new_orders=new_orders,
            )
            if hook is not None:
                hook("before_commit", info.batches)
            conn.commit()
    except OperationalError as exc:
        raise WarehouseUnavailable(
            f"source {source.name}, batch {info.batches}: the warehouse failed: {exc.orig}"
        ) from exc
    if result.customers is not None:
        customers.learn(result.customers)
    if hook is not None:
        hook("after_commit", info.batches)
    info.rows_read += chunk.rows_read
    info.rows_loaded += result.lines_loaded
    info.rows_rejected += result.rejects
    info.rows_skipped += checked.skipped_before_since
    info.orders_inserted += result.orders_inserted
    info.orders_updated += result.orders_updated
    info.orders_unchanged += result.orders_unchanged
    info.lines_written += result.lines_written
    for reject in checked.rejects:
        info.rejects_by_rule[reject.rule] = info.rejects_by_rule.get(reject.rule, 0) + 1
    info.notes.extend(chunk.notes)
    if progress is not None:
        progress(
            EtlProgress(
                source=source.name,
                batch=info.batches,
                rows_read=info.rows_read,
                rows_loaded=info.rows_loaded,
                rows_rejected=info.rows_rejected,
                done_bytes=chunk.done_bytes,
                total_bytes=chunk.total_bytes,
            )
        )


def _restore_after_failure(engine: Engine) -> None:
    """Build the indexes a failed first load deferred; the load's own error is what the caller
    raises (a warehouse gone away fails this too: the next run builds them)."""
    try:
        indexes.restore(engine)
    except SQLAlchemyError:
        log.warning("could not build the orders' indexes after a failed load", exc_info=True)


def _finish(run: Run, info: EtlRunInfo) -> None:
    """Close the run's ledger row; the counters were added batch by batch, in each batch."""
    single = next(iter(info.watermarks.values())) if len(info.watermarks) == 1 else (None, None)
    run.status = info.status
    run.error = info.error
    run.watermark_from, run.watermark_to = single
    run.details = info.details()
    try:
        run.finish()
    except SQLAlchemyError:
        log.exception("could not record the end of etl run %d", info.run_id)


def load_csv(
    engine: Engine,
    path: Path | str,
    *,
    source: str = "csv",
    **kwargs: Any,
) -> EtlRunInfo:
    """Load one canonical orders file (or folder of them) without any config."""
    return run_etl(engine, [CsvSource.canonical(path, name=source)], **kwargs)


__all__ = [
    "BatchHook",
    "EtlError",
    "EtlProgress",
    "EtlRunInfo",
    "load_csv",
    "read_state",
    "run_etl",
]
