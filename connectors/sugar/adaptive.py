"""How many Sugar sessions to write with: start at one, add while throughput rises, back off.

A Sugar server's best concurrency depends on what it is doing: with AOD's per-save indexing,
concurrent saves queue on one index lock and two sessions are slower than one; without it, a
second session overlaps one request's network and PHP start-up with another's database work, and
more help until the server's cores are busy. :class:`AdaptiveConcurrency` finds the level by
measuring instead of guessing (a hill climb): it runs one session for a window of batches, then
two, and keeps adding while each level's records/s beat the best level's by :attr:`gain`; the first
level that does not, or a batch that fails, or a batch whose latency climbs past
:attr:`latency_factor` times one session's, sends it back to the best level measured, where it
stays. Every decision is kept in :attr:`steps`, for the run's details.

The controller is pure bookkeeping (no threads, no I/O); ``SessionPool.adaptive_outcomes`` asks
it how many batches may run at once and tells it how each one went.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Step:
    """One decision: the level chosen, why, and the records/s measured at the level left."""

    level: int
    reason: str
    records_per_s: float | None = None


@dataclass
class _Window:
    level: int
    started: float
    records: int = 0
    batches: int = 0
    latencies: list[float] = field(default_factory=list)


class AdaptiveConcurrency:
    """The number of concurrent sessions for a run's writes (see the module docstring).

    ``maximum``: the ceiling (``push.sessions``). ``window``: batches measured per session at a
    level (a level of L is judged on ``window * L`` batches, so each session ends a few).
    ``fixed`` (a reason) pins the level at ``maximum`` without probing, e.g. at 1 where Sugar
    indexes each save under a lock.
    """

    def __init__(
        self,
        maximum: int,
        *,
        window: int = 2,
        gain: float = 1.10,
        latency_factor: float = 4.0,
        fixed: str | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        if maximum < 1:
            raise ValueError("the maximum concurrency must be >= 1")
        self.maximum = maximum
        self.window = max(1, window)
        self.gain = gain
        self.latency_factor = latency_factor
        self._clock = clock
        self.settled = fixed is not None or maximum == 1
        first = maximum if fixed is not None else 1
        reason = fixed if fixed is not None else "start with one session"
        if fixed is None and maximum == 1:
            reason = "push.sessions is 1"
        self.steps: list[Step] = [Step(first, reason)]
        self.epoch = 0
        self._current = _Window(first, clock())
        self._best: tuple[int, float] | None = None
        self._baseline_latency: float | None = None
        self.records = 0
        self.failures = 0

    @property
    def level(self) -> int:
        """How many batches may be in flight now."""
        return self._current.level

    @property
    def reason(self) -> str:
        """Why the current level (the last decision)."""
        return self.steps[-1].reason

    def _move(self, level: int, reason: str, rate: float | None, *, settle: bool) -> None:
        self.steps.append(Step(level, reason, None if rate is None else round(rate, 1)))
        self.epoch += 1
        self._current = _Window(level, self._clock())
        self.settled = self.settled or settle

    def finished(self, epoch: int, records: int, seconds: float, failed: bool) -> None:
        """A batch of ``records`` started in ``epoch`` ended after ``seconds``; ``failed``: it
        failed as a whole (a Sugar error, not a refused row)."""
        self.records += records
        window = self._current
        if failed:
            self.failures += 1
            if not self.settled or window.level > 1:
                back = self._best[0] if self._best and self._best[0] < window.level else 1
                back = min(back, max(1, window.level // 2))
                self._move(back, f"a batch failed at {window.level} session(s)", None, settle=True)
            return
        if epoch != self.epoch or self.settled:
            return  # started under an earlier level, or nothing left to decide
        window.records += records
        window.batches += 1
        window.latencies.append(seconds)
        if window.level == 1 and self._baseline_latency is None:
            self._baseline_latency = seconds
        limit = (self._baseline_latency or 0.0) * self.latency_factor
        if window.level > 1 and limit and seconds > limit:
            best = self._best[0] if self._best else 1
            self._move(
                best,
                f"latency climbed at {window.level} sessions ({seconds:.2f} s a batch, one "
                f"session took {self._baseline_latency:.2f} s): back to {best}",
                None,
                settle=True,
            )
            return
        if window.batches < self.window * window.level:
            return
        elapsed = max(self._clock() - window.started, 1e-9)
        rate = window.records / elapsed
        level = window.level
        if self._best is None:
            self._best = (level, rate)
            self._move(level + 1, f"{rate:.1f} records/s with 1 session: try 2", rate, settle=False)
        elif rate >= self._best[1] * self.gain:
            previous = self._best
            self._best = (level, rate)
            if level >= self.maximum:
                self._move(
                    level,
                    f"{rate:.1f} records/s with {level} sessions (x{rate / previous[1]:.2f} "
                    f"of {previous[0]}): the maximum (push.sessions)",
                    rate,
                    settle=True,
                )
            else:
                self._move(
                    level + 1,
                    f"{rate:.1f} records/s with {level} sessions (x{rate / previous[1]:.2f} of "
                    f"{previous[0]}): try {level + 1}",
                    rate,
                    settle=False,
                )
        else:
            best, best_rate = self._best
            self._move(
                best,
                f"{rate:.1f} records/s with {level} sessions, not {self.gain:.2f}x the "
                f"{best_rate:.1f} of {best}: stay at {best}",
                rate,
                settle=True,
            )

    def summary(self) -> dict[str, Any]:
        """The chosen level, why, and every step (for the run's details)."""
        return {
            "maximum": self.maximum,
            "chosen": self.level,
            "reason": self.reason,
            "steps": [asdict(s) for s in self.steps],
            "failed_batches": self.failures,
        }
