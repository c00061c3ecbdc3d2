"""The extraction reads the next page while it writes this one (etl.crm.prefetched)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from etl.crm import prefetched


def test_items_come_in_order_and_at_most_two_ahead() -> None:
    produced: list[int] = []

    def items() -> Iterator[int]:
        for i in range(6):
            produced.append(i)
            yield i

    seen = []
    for item in prefetched(items()):
        seen.append(item)
        # one waiting in the box, one in the producer's hands: never more read ahead
        assert len(produced) <= item + 3
    assert seen == list(range(6))


def test_an_error_comes_after_the_items_before_it() -> None:
    def items() -> Iterator[int]:
        yield 1
        yield 2
        raise ConnectionError("Sugar went away")

    seen: list[int] = []
    with pytest.raises(ConnectionError, match="went away"):
        seen.extend(prefetched(items()))
    assert seen == [1, 2]


def test_a_consumer_that_stops_stops_the_producer() -> None:
    produced: list[int] = []

    def items() -> Iterator[int]:
        for i in range(1000):
            produced.append(i)
            yield i

    gen = prefetched(items(), name="prefetch-test")
    assert next(gen) == 0
    gen.close()
    assert not [t for t in threading.enumerate() if t.name == "prefetch-test"]
    assert len(produced) <= 3
