"""Fault injection and latency for the sandbox: what a flaky real Sugar does, on demand.

``Latency`` adds a fixed delay per call and a delay per created / updated record (a real SuiteCRM
with search indexing on saves ~25 records/s and updates ~15/s). ``Faults`` decides,
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
from collections.abc import Mapping
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
