"""A small pool of Sugar sessions for parallel batches.

Sugar serialises the requests of one session (PHP locks the session file for the whole request),
so parallel work needs several sessions: the lab measured ~1.9x more writes/s with 4 sessions than
with one (recording 08_concurrency_same_session, 04_throughput_summary) — but not for saves on a
SuiteCRM with AOD search indexing on, where writers queue on one index lock and more sessions are
slower (benchmarks/README.md, "Sessions and AOD"; ``connectors.sugar.aod``). Each pooled client has
its own ``requests.Session`` *and* its own Sugar session: a shared cookie jar would make Sugar
hand back the same session id to every login.

    with SessionPool(lambda: make_client(settings), size=4) as pool:
        ids = pool.save_many("Accounts", rows, batch_size=50)
        counts = pool.map(lambda client, q: client.module("Accounts").count(q), queries)
        for outcome in pool.outcomes(write_batch, batches):  # as each batch ends, errors as values
            log_batch(outcome.item, outcome.value, outcome.error)
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    FIRST_EXCEPTION,
    Future,
    ThreadPoolExecutor,
    as_completed,
    wait,
)
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from connectors.sugar.adaptive import AdaptiveConcurrency
from connectors.sugar.client import SugarClient
from connectors.sugar.exceptions import InvalidCall, SugarError

__all__ = ["Outcome", "SessionPool", "sum_stats"]

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

_COUNTERS = ("writes", "retries", "relogins")


def sum_stats(snapshots: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Client counters added up: calls per method, writes, retries, re-logins.

    Takes ``CallStats.snapshot()`` dicts or earlier sums (missing keys count as zero).
    """
    total: dict[str, Any] = {"calls": {}, **dict.fromkeys(_COUNTERS, 0)}
    for snap in snapshots:
        for method, count in dict(snap.get("calls", {})).items():
            total["calls"][method] = total["calls"].get(method, 0) + int(count)
        for key in _COUNTERS:
            total[key] += int(snap.get(key, 0))
    return total


@dataclass(frozen=True)
class Outcome(Generic[T, R]):
    """What became of one item of :meth:`SessionPool.outcomes`: its ``value`` or Sugar ``error``."""

    item: T
    value: R | None = None
    error: SugarError | None = None


class SessionPool:
    """Runs work over up to ``size`` clients, each used by one thread at a time.

    Clients are built lazily by ``factory`` (which must return a *new* client each call) and
    logged out by :meth:`close`. :meth:`map` returns results in input order; its first error
    stops the remaining work and is raised as is (already-running tasks finish first).
    :meth:`outcomes` keeps going past failed items and yields each outcome as it completes.
    """

    def __init__(self, factory: Callable[[], SugarClient], size: int = 2) -> None:
        if size < 1:
            raise InvalidCall("pool size must be >= 1")
        self._factory = factory
        self.size = size
        self._idle: queue.LifoQueue[SugarClient] = queue.LifoQueue()
        self._clients: list[SugarClient] = []
        self._lock = threading.Lock()
        self._closed = False
        self._closed_stats: list[dict[str, Any]] = []  # counters of the clients already closed

    def __enter__(self) -> SessionPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def clients(self) -> list[SugarClient]:
        """The clients built so far."""
        with self._lock:
            return list(self._clients)

    def _acquire(self) -> SugarClient:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if self._closed:
                raise InvalidCall("the session pool is closed")
            if len(self._clients) < self.size:
                client = self._factory()
                if any(client is other for other in self._clients):
                    raise InvalidCall("the pool factory must return a new client on each call")
                self._clients.append(client)
                return client
        return self._idle.get()  # every client is busy: wait for one

    def _release(self, client: SugarClient) -> None:
        self._idle.put(client)

    def _run(self, fn: Callable[[SugarClient, T], R], item: T) -> R:
        client = self._acquire()
        try:
            return fn(client, item)
        finally:
            self._release(client)

    def map(self, fn: Callable[[SugarClient, T], R], items: Iterable[T]) -> list[R]:
        """``fn(client, item)`` for every item, on up to ``size`` threads; results in order."""
        work = list(items)
        if not work:
            return []
        if self.size == 1 or len(work) == 1:
            return [self._run(fn, item) for item in work]
        with ThreadPoolExecutor(
            max_workers=min(self.size, len(work)), thread_name_prefix="sugar-pool"
        ) as executor:
            futures: list[Future[R]] = [executor.submit(self._run, fn, item) for item in work]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            failed = [f for f in futures if f in done and f.exception() is not None]
            if failed:
                for future in futures:
                    future.cancel()
                error = failed[0].exception()
                assert error is not None
                raise error
            return [f.result() for f in futures]

    def _outcome(self, fn: Callable[[SugarClient, T], R], item: T) -> Outcome[T, R]:
        try:
            return Outcome(item, self._run(fn, item))
        except SugarError as error:
            return Outcome(item, error=error)

    def outcomes(
        self, fn: Callable[[SugarClient, T], R], items: Iterable[T]
    ) -> Iterator[Outcome[T, R]]:
        """``fn(client, item)`` for every item on up to ``size`` threads, yielding each outcome
        as it completes (not in input order).

        A Sugar error is the outcome's ``error`` and the other items still run, so the caller
        can record each batch as it ends and carry on past a failed one. Any other exception is
        a bug and propagates. Items not started yet are cancelled if the caller stops early.
        """
        work = list(items)
        if self.size == 1 or len(work) <= 1:
            for item in work:
                yield self._outcome(fn, item)
            return
        with ThreadPoolExecutor(
            max_workers=min(self.size, len(work)), thread_name_prefix="sugar-pool"
        ) as executor:
            futures = [executor.submit(self._outcome, fn, item) for item in work]
            try:
                for future in as_completed(futures):
                    yield future.result()
            finally:
                for future in futures:
                    future.cancel()

    def adaptive_outcomes(
        self,
        fn: Callable[[SugarClient, T], R],
        items: Iterable[T],
        concurrency: AdaptiveConcurrency,
        *,
        weight: Callable[[T], int],
        failed: Callable[[Outcome[T, R]], bool],
    ) -> Iterator[Outcome[T, R]]:
        """Like :meth:`outcomes`, with as many items in flight as ``concurrency.level`` says
        (at most ``size``), telling it how each item went: ``weight(item)`` records, its time,
        and whether ``failed(outcome)``; items are started in input order."""
        work = deque(items)
        running: dict[Future[Outcome[T, R]], tuple[float, int]] = {}
        with ThreadPoolExecutor(max_workers=self.size, thread_name_prefix="sugar-pool") as pool:

            def fill() -> None:
                while work and len(running) < min(concurrency.level, self.size):
                    future = pool.submit(self._outcome, fn, work.popleft())
                    running[future] = (time.perf_counter(), concurrency.epoch)

            try:
                fill()
                while running:
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    ended = []
                    for future in done:
                        started, epoch = running.pop(future)
                        outcome = future.result()
                        concurrency.finished(
                            epoch,
                            weight(outcome.item),
                            time.perf_counter() - started,
                            failed(outcome),
                        )
                        ended.append(outcome)
                    # The next items start before the caller handles these (its bookkeeping
                    # then overlaps Sugar's work instead of leaving the sessions idle).
                    fill()
                    yield from ended
            finally:
                for future in running:
                    future.cancel()

    def save_many(
        self,
        module: str,
        rows: Sequence[Mapping[str, Any]],
        batch_size: int = 50,
        *,
        check_exists: bool = True,
    ) -> list[str]:
        """``Module.save_many`` in parallel batches (Sugar ``set_entries``); ids in input order."""
        if batch_size < 1:
            raise InvalidCall("batch_size must be >= 1")
        batches = [rows[i : i + batch_size] for i in range(0, len(rows), batch_size)]

        def save(client: SugarClient, batch: Sequence[Mapping[str, Any]]) -> list[str]:
            return client.module(module).save_many(
                batch, batch_size=batch_size, check_exists=check_exists
            )

        return [record_id for ids in self.map(save, batches) for record_id in ids]

    def stats(self) -> dict[str, Any]:
        """The clients' counters added up (calls per method, writes, retries, re-logins),
        including those of clients already closed (as they were before their logout)."""
        with self._lock:
            closed = list(self._closed_stats)
        return sum_stats([*closed, *(client.stats.snapshot() for client in self.clients)])

    def close(self) -> None:
        """Log out every client (best effort) and close their connections."""
        with self._lock:
            self._closed = True
            clients, self._clients = self._clients, []
            self._closed_stats += [client.stats.snapshot() for client in clients]
        for client in clients:
            try:
                client.close()
            except SugarError as error:  # close() already swallows logout errors
                log.debug("closing a pooled client failed: %s", error)
