"""The load's read-ahead: chunks produced in a background thread, handed over in order."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from etl.run import _read_ahead


def test_items_come_in_order_from_another_thread() -> None:
    threads: set[str] = set()

    def produce() -> Iterator[int]:
        for i in range(5):
            threads.add(threading.current_thread().name)
            yield i

    assert list(_read_ahead(produce())) == [0, 1, 2, 3, 4]
    assert threads == {"etl-read-ahead"}


def test_an_error_of_the_producer_is_raised_after_the_items_before_it() -> None:
    def produce() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("line 7: bad")

    got: list[int] = []
    with pytest.raises(ValueError, match="line 7: bad"):
        got.extend(_read_ahead(produce()))
    assert got == [1, 2]


def test_a_caller_that_stops_closes_the_producer_and_its_thread() -> None:
    closed = threading.Event()

    def produce() -> Iterator[int]:
        try:
            yield from range(1_000)
        finally:
            closed.set()

    items = _read_ahead(produce())
    assert next(items) == 0
    items.close()
    assert closed.is_set()
    assert not [t for t in threading.enumerate() if t.name == "etl-read-ahead"]
