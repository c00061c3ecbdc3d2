"""The adaptive session count: up while throughput rises, back on a drop, an error or latency."""

from __future__ import annotations

import pytest

from connectors.sugar.adaptive import AdaptiveConcurrency


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def run_level(
    c: AdaptiveConcurrency, clock: Clock, per_s: float, *, batch: int = 10, latency: float = 1.0
) -> None:
    """Finish one window's batches at ``c.level`` at ``per_s`` records/s in all."""
    level, epoch = c.level, c.epoch
    for _ in range(c.window * level):
        clock.now += batch / per_s
        c.finished(epoch, batch, latency, failed=False)
        if c.epoch != epoch:
            return
    assert c.level == level, "a full window must decide"  # pragma: no cover


def test_adds_sessions_while_throughput_rises_and_keeps_the_best() -> None:
    clock = Clock()
    c = AdaptiveConcurrency(4, clock=clock)
    assert c.level == 1
    run_level(c, clock, 100)
    assert c.level == 2
    run_level(c, clock, 180)  # x1.8: worth it
    assert c.level == 3
    run_level(c, clock, 185)  # x1.03 of the best: not worth a third session
    assert (c.level, c.settled) == (2, True)
    assert "not 1.10x the 180.0 of 2: stay at 2" in c.reason
    assert [s.level for s in c.steps] == [1, 2, 3, 2]
    summary = c.summary()
    assert (summary["chosen"], summary["maximum"]) == (2, 4)
    assert summary["steps"][1]["records_per_s"] == 100.0


def test_backs_off_to_one_when_two_are_slower() -> None:
    """AOD's index lock: the second session makes the server slower, so the push stays at one."""
    clock = Clock()
    c = AdaptiveConcurrency(4, clock=clock)
    run_level(c, clock, 20)
    run_level(c, clock, 8)
    assert (c.level, c.settled) == (1, True)


def test_stops_at_the_maximum() -> None:
    clock = Clock()
    c = AdaptiveConcurrency(2, clock=clock)
    run_level(c, clock, 50)
    run_level(c, clock, 100)
    assert (c.level, c.settled) == (2, True)
    assert "the maximum (push.sessions)" in c.reason


def test_a_failed_batch_halves_and_settles() -> None:
    clock = Clock()
    c = AdaptiveConcurrency(8, clock=clock)
    run_level(c, clock, 50)
    run_level(c, clock, 100)
    run_level(c, clock, 150)
    assert c.level == 4
    c.finished(c.epoch, 10, 1.0, failed=True)
    assert (c.level, c.settled, c.failures) == (2, True, 1)
    assert "a batch failed at 4 session(s)" in c.reason


def test_latency_climbing_sends_it_back_to_the_best_level() -> None:
    clock = Clock()
    c = AdaptiveConcurrency(4, clock=clock, latency_factor=3.0)
    run_level(c, clock, 50, latency=0.5)
    run_level(c, clock, 90, latency=0.6)
    assert c.level == 3
    c.finished(c.epoch, 10, 2.0, failed=False)  # 4x one session's 0.5 s
    assert (c.level, c.settled) == (2, True)
    assert "latency climbed at 3 sessions" in c.reason


def test_batches_started_under_an_earlier_level_do_not_count() -> None:
    clock = Clock()
    c = AdaptiveConcurrency(4, clock=clock)
    old = c.epoch
    run_level(c, clock, 100)
    assert c.level == 2
    for _ in range(10):
        c.finished(old, 10, 1.0, failed=False)
    assert (c.level, len(c.steps)) == (2, 2)


def test_fixed_and_single_session_never_probe() -> None:
    clock = Clock()
    pinned = AdaptiveConcurrency(1, fixed="AOD indexing on and set_entries", clock=clock)
    single = AdaptiveConcurrency(1, clock=clock)
    for c in (pinned, single):
        run_level(c, clock, 100)
        assert (c.level, c.settled, len(c.steps)) == (1, True, 1)
    assert pinned.reason == "AOD indexing on and set_entries"
    assert single.reason == "push.sessions is 1"
    with pytest.raises(ValueError, match=">= 1"):
        AdaptiveConcurrency(0)
