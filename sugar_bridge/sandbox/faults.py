"""Fault injection and latency for the sandbox: what a flaky real Sugar does, on demand.

``Latency`` adds a fixed delay per call and a delay per created / updated record (a real SuiteCRM
with search indexing on saves ~25 records/s and updates ~15/s). ``AodIndex`` adds SuiteCRM's AOD
search indexing: each saved record of an indexed module then also writes the Lucene index under
one server-wide lock, so saves from concurrent sessions queue there. ``Faults`` decides,
deterministically from a seed, which calls fail and how:

- ``http500``  HTTP 500 with an empty body (PHP fatal / DB down),
- ``null``     HTTP 200 with the body ``null``,
- ``timeout``  the answer comes only after ``timeout_seconds`` (past a client's read timeout),
- ``drop``     the connection is closed without an answer,
- ``expire``   the caller's session is destroyed (error 11 on this or the next call).

``when`` chooses whether the fault hits *before* the method runs (nothing written) or *after* it ran
and committed (the nasty real case: the write is stored but the client sees a failure), or
``random``.
``at_calls`` pins faults to call numbers (1-based, counted over matching calls) for exact tests;
``expire_every=N`` destroys all sessions every N calls.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from sugar_bridge.sandbox.exceptions import SandboxConfigError

FaultKind = Literal["http500", "null", "timeout", "drop", "expire"]
FaultWhen = Literal["before", "after", "random"]
FAULT_KINDS: tuple[FaultKind, ...] = ("http500", "null", "timeout", "drop", "expire")


@dataclass(frozen=True)
class Latency:
    """Delays in seconds: per call, per created record, per updated record.

    ``workers`` caps how many calls spend their delay at the same time (a real server has a few
    CPU cores: with 2, four parallel sessions get ~2x one session's throughput, as measured on
    the 2-core lab); None = every call sleeps independently.
    """

    call: float = 0.0
    per_create: float = 0.0
    per_update: float = 0.0
    workers: int | None = None

    def __post_init__(self) -> None:
        if min(self.call, self.per_create, self.per_update) < 0:
            raise SandboxConfigError("latency values must be >= 0")
        if self.workers is not None and self.workers < 1:
            raise SandboxConfigError("latency workers must be >= 1")

    def delay(self, created: int, updated: int) -> float:
        """Total delay for a call that created/updated this many records."""
        return self.call + created * self.per_create + updated * self.per_update


#: Modules whose saves AOD indexes: SuiteCRM 7.15's ``AOD_Index::isModuleSearchable`` takes a
#: module whose vardefs set ``unified_search`` (``modules/*/vardefs.php``), plus Cases and
#: DocumentRevisions, minus AOD's and AOW's own. Users, roles, security groups and email addresses
#: are not indexed.
AOD_INDEXED_MODULES = frozenset(
    {
        "Accounts",
        "Bugs",
        "Calls",
        "Campaigns",
        "Cases",
        "Contacts",
        "DocumentRevisions",
        "Documents",
        "Leads",
        "Meetings",
        "Notes",
        "Opportunities",
        "Project",
        "ProjectTask",
        "ProspectLists",
        "Prospects",
        "Tasks",
    }
)


@dataclass(frozen=True)
class AodIndex:
    """SuiteCRM's AOD search indexing (``$sugar_config['aod']['enable_aod']``), as a cost.

    On a real SuiteCRM each save of an indexed record runs AOD's after-save hook, which opens the
    Zend Lucene index, deletes the record's old document and adds the new one while holding the
    index's exclusive ``write.lock.file``: saves from every session of the server take turns
    there. It also gets slower the more sessions write at once: a writer that had to wait opens an
    index another process has just changed, and the other writers holding the index open keep it
    from merging and removing old segments, so every write reads more files. Measured on SuiteCRM
    7.15 (benchmarks/README.md, "Sessions and AOD"): with it on, 2 sessions pushed 1-4x slower
    than 1 and 4 sessions 2.5-4.5x slower; with it off, more sessions were faster.

    ``per_save``: seconds each indexed save holds the lock; ``contended``: extra seconds (also
    under the lock) per other session writing or waiting when the save asked for the lock;
    ``modules``: the indexed modules. Only ``set_entry``/``set_entries`` saves count (one per
    record). The defaults, with 15 ms per update on 2 workers, give push times of 1 : 1.6 : 2.8
    for 1, 2 and 4 sessions with AOD on, and 1 : 0.55 : 0.52 with it off (measured on 7.15:
    1 : 1.2 : 3.1 and 1 : 0.83 : 0.64).
    """

    per_save: float = 0.030
    contended: float = 0.045
    modules: frozenset[str] = AOD_INDEXED_MODULES

    def __post_init__(self) -> None:
        if min(self.per_save, self.contended) < 0:
            raise SandboxConfigError("AOD index costs must be >= 0")


class IndexLock:
    """The server-wide AOD index lock: ``write(n)`` spends ``n`` indexed saves' cost, one save
    at a time under the lock (as each record's after-save hook does), plus the contended extra
    for every other save writing or waiting when it asked."""

    def __init__(self, aod: AodIndex, sleep: Callable[[float], None] = time.sleep) -> None:
        self.aod = aod
        self._lock = threading.Lock()
        self._guard = threading.Lock()
        self._sleep = sleep
        self._in_line = 0  # saves holding or waiting for the lock
        self.contended_saves = 0
        # Records saved with indexing deferred (bridge_save_records): what Sugar's
        # aodIndexUnindexed job finds without an aod_indexevent as new as the record.
        self._pending: set[tuple[str, str]] = set()

    def defer(self, module: str, record_id: str) -> None:
        """A record saved with its indexing left to the index job (not searchable yet)."""
        with self._guard:
            self._pending.add((module, record_id))

    def searchable(self, module: str, record_id: str) -> bool:
        """Whether AOD's search would find the record (it is not waiting for the index job)."""
        with self._guard:
            return (module, record_id) not in self._pending

    def run_index_job(self) -> int:
        """Sugar's ``aodIndexUnindexed`` job: index every deferred record, one index write each
        under the lock (as the job does); how many it indexed."""
        with self._guard:
            pending, self._pending = sorted(self._pending), set()
        self.write(len(pending))
        return len(pending)

    def write(self, saves: int) -> None:
        for _ in range(saves):
            with self._guard:
                others = self._in_line
                self._in_line += 1
                if others:
                    self.contended_saves += 1
            try:
                with self._lock:
                    self._sleep(self.aod.per_save + others * self.aod.contended)
            finally:
                with self._guard:
                    self._in_line -= 1


@dataclass(frozen=True)
class Faults:
    """Which calls fail, and how (see the module docstring)."""

    rate: float = 0.0
    kinds: tuple[FaultKind, ...] = ("http500",)
    when: FaultWhen = "before"
    seed: int | None = None
    methods: frozenset[str] | None = None
    at_calls: Mapping[int, FaultKind] = field(default_factory=dict)
    expire_every: int | None = None
    timeout_seconds: float = 5.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise SandboxConfigError(f"fault rate must be within 0..1, got {self.rate}")
        bad = [k for k in (*self.kinds, *self.at_calls.values()) if k not in FAULT_KINDS]
        if bad:
            raise SandboxConfigError(
                f"unknown fault kind(s) {bad}; known: {', '.join(FAULT_KINDS)}"
            )
        if self.rate > 0 and not self.kinds:
            raise SandboxConfigError("a fault rate needs at least one fault kind")
        if self.when not in ("before", "after", "random"):
            raise SandboxConfigError(
                f"fault 'when' must be before, after or random, not {self.when!r}"
            )
        if self.expire_every is not None and self.expire_every < 1:
            raise SandboxConfigError("expire_every must be >= 1")


@dataclass(frozen=True)
class FaultDecision:
    """The fault chosen for one call."""

    kind: FaultKind
    after: bool


class FaultPlan:
    """Draws fault decisions call by call from a seeded generator (thread-safe, deterministic
    for a given order of calls)."""

    def __init__(self, faults: Faults | None) -> None:
        self.faults = faults or Faults()
        self._rng = random.Random(self.faults.seed)
        self._lock = threading.Lock()
        self._matching_calls = 0
        self._all_calls = 0

    def next_call(self, method: str) -> tuple[FaultDecision | None, bool]:
        """Decision for the next call of ``method``, and whether all sessions expire now."""
        f = self.faults
        with self._lock:
            self._all_calls += 1
            expire_all = bool(f.expire_every and self._all_calls % f.expire_every == 0)
            if f.methods is not None and method not in f.methods:
                return None, expire_all
            self._matching_calls += 1
            kind: FaultKind | None = f.at_calls.get(self._matching_calls)
            if kind is None and f.rate > 0 and self._rng.random() < f.rate:
                kind = self._rng.choice(f.kinds)
            if kind is None:
                return None, expire_all
            after = f.when == "after" or (f.when == "random" and self._rng.random() < 0.5)
            return FaultDecision(kind=kind, after=after), expire_all
