"""A first load builds the orders' secondary indexes at its end (etl.indexes), on every engine:
absent while it writes, present when it returns, fails or is rerun after a SIGKILL; a load into
a warehouse that has orders never touches them."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from etl import indexes, load_csv
from etl.db import create_engine_for
from etl.run import BatchHook
from etl.schema import fact_order
from etl.spider import facts_on_spider
from tests.etl.data import fingerprint, order_rows, write_csv
from tests.etl.fixtures import table_indexes

BATCH = 100


def _present(warehouse: Engine) -> set[str]:
    return set(table_indexes(warehouse, fact_order.name))


def _expected(warehouse: Engine) -> list[str]:
    with warehouse.connect() as conn:
        return indexes.deferrable(conn)


def _orders(tmp_path: Path, name: str, n: int, seed: int) -> Path:
    return write_csv(tmp_path / name, order_rows(n, seed=seed, prefix=name[:1].upper()))


def _watching(warehouse: Engine, seen: list[set[str]], at: int = 2) -> BatchHook:
    """A batch hook noting the orders' indexes before batch ``at`` commits."""

    def hook(stage: str, batch: int) -> None:
        if stage == "before_commit" and batch == at:
            seen.append(_present(warehouse))

    return hook


def test_a_first_load_writes_without_them_and_builds_them_at_its_end(
    warehouse: Engine, tmp_path: Path
) -> None:
    deferred = _expected(warehouse)
    seen: list[set[str]] = []
    info = load_csv(warehouse, _orders(tmp_path, "a.csv", 200, 1), batch_lines=BATCH,
                    hook=_watching(warehouse, seen))  # fmt: skip
    assert info.batches > 2
    assert info.rows_rejected == 0
    every = set(indexes.DEFERRED)
    assert seen[0] & every == every - set(deferred)  # what the engine cannot defer stays
    assert info.indexes_built == deferred
    assert every <= _present(warehouse)
    with warehouse.connect() as conn:
        assert indexes.missing(conn) == []


def test_what_the_engine_defers(warehouse: Engine) -> None:
    with warehouse.connect() as conn:
        kind = "spider" if conn.dialect.name == "mysql" and facts_on_spider(conn) else None
        name = kind or conn.dialect.name
    expected = {
        "sqlite": ["ix_fact_order_by_customer", "ix_fact_order_ordered_at"],
        "postgresql": ["ix_fact_order_by_customer", "ix_fact_order_ordered_at"],
        # InnoDB's foreign key on customer_key uses the by-customer index
        "mysql": ["ix_fact_order_ordered_at"],
        "spider": [],  # DDL there changes the head only
    }[name]
    assert _expected(warehouse) == expected


def test_a_load_into_a_warehouse_with_orders_keeps_them(warehouse: Engine, tmp_path: Path) -> None:
    load_csv(warehouse, _orders(tmp_path, "a.csv", 50, 1), batch_lines=BATCH)
    seen: list[set[str]] = []
    info = load_csv(warehouse, _orders(tmp_path, "b.csv", 200, 2), batch_lines=BATCH,
                    hook=_watching(warehouse, seen))  # fmt: skip
    assert set(indexes.DEFERRED) <= seen[0]
    assert info.indexes_built == []


def test_a_failed_first_load_builds_them_before_it_raises(
    warehouse: Engine, tmp_path: Path
) -> None:
    def fail(stage: str, batch: int) -> None:
        if stage == "after_commit" and batch == 2:
            raise RuntimeError("the source went away")

    with pytest.raises(RuntimeError, match="went away"):
        load_csv(warehouse, _orders(tmp_path, "a.csv", 200, 1), batch_lines=BATCH, hook=fail)
    assert set(indexes.DEFERRED) <= _present(warehouse)
    with warehouse.connect() as conn:
        assert conn.execute(select(fact_order.c.order_key)).first() is not None  # it had loaded


def _load_then_die(url: str, path: str) -> None:
    def hook(stage: str, batch: int) -> None:
        if stage == "after_commit" and batch == 2:
            os.kill(os.getpid(), signal.SIGKILL)

    load_csv(create_engine_for(url), path, batch_lines=BATCH, hook=hook)


def test_the_rerun_after_a_killed_first_load_builds_them_first(
    warehouse: Engine, tmp_path: Path
) -> None:
    path = _orders(tmp_path, "a.csv", 200, 1)
    reference = create_engine_for(f"sqlite:///{tmp_path / 'reference.db'}")
    load_csv(reference, path, batch_lines=BATCH)
    url = warehouse.url.render_as_string(hide_password=False)
    # forked: SIGKILL leaves the loader no chance to clean up, as in real life
    child = mp.get_context("fork").Process(target=_load_then_die, args=(url, str(path)))
    child.start()
    child.join(timeout=120)
    assert child.exitcode == -signal.SIGKILL
    deferred = _expected(warehouse)
    with warehouse.connect() as conn:
        assert indexes.missing(conn) == deferred  # left unbuilt by the kill
    seen: list[set[str]] = []
    info = load_csv(warehouse, path, batch_lines=BATCH, hook=_watching(warehouse, seen, at=1))
    assert info.indexes_built == deferred  # built before the rerun wrote anything
    assert set(indexes.DEFERRED) <= seen[0]
    assert set(indexes.DEFERRED) <= _present(warehouse)
    assert fingerprint(warehouse) == fingerprint(reference)
    reference.dispose()


def test_two_loads_at_once_never_fail_on_each_others_indexes(
    warehouse: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``run_etl`` itself takes no job lock (the commands do): one load may drop or build an
    index between another's look and its DDL. Seen from a stale look, dropping a dropped index
    and building a built one do nothing."""
    deferred = _expected(warehouse)
    if not deferred:  # Spider: its DDL would change the head only; nothing is dropped
        assert indexes.drop_for_first_load(warehouse) == []
        assert set(indexes.DEFERRED) <= _present(warehouse)
        return
    assert indexes.drop_for_first_load(warehouse) == deferred
    monkeypatch.setattr(indexes, "missing", lambda conn: [])  # "all there", already gone
    assert indexes.drop_for_first_load(warehouse) == deferred
    assert not set(deferred) & _present(warehouse)
    monkeypatch.undo()
    assert indexes.restore(warehouse) == deferred
    monkeypatch.setattr(indexes, "missing", lambda conn: list(deferred))  # "missing", built
    assert indexes.restore(warehouse) == deferred
    assert set(indexes.DEFERRED) <= _present(warehouse)
