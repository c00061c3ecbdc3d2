"""Reliability: the loader is SIGKILLed at random points of a larger load, again and again; every
rerun converges to the same warehouse (checksums of the fact tables, not just counts).

Reuses the ETL's crash hooks (``load_csv(..., hook=...)`` called before and after each batch's
commit, see tests/etl/test_crash.py) and its order files. The source is a folder of two files, so
kills also land between files and inside the second one; a killed run is often killed again while
it resumes, before a rerun is let through and checked.
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
import random
import signal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from etl import indexes, load_csv
from etl.db import create_engine_for
from etl.schema import dim_customer, dim_product, etl_run, fact_order, fact_order_line
from tests.etl.data import empty_warehouse, fingerprint, order_rows, write_csv

BATCH = 200
KILLS = 10  # kill points in all
KILLS_PER_CHECK = 2  # kills (of a load and of its resumed rerun) before a rerun is checked


def checksum(engine: Engine) -> str:
    """sha256 of the fact tables' rows by natural keys (surrogate keys differ between runs)."""
    fo, fl, dc, dp = fact_order.c, fact_order_line.c, dim_customer.c, dim_product.c
    orders = (
        select(
            fo.source, fo.source_order_id, dc.source_customer_id, fo.ordered_at, fo.status,
            fo.channel, fo.payment_method, fo.currency, fo.n_lines, fo.n_items, fo.total_amount,
            fo.invoiced_at, fo.due_at, fo.paid_at, fo.payment_delay_days, fo.lateness_days,
            fo.content_hash,
        )
        .join(dim_customer, dc.customer_key == fo.customer_key)
        .order_by(fo.source, fo.source_order_id)
    )  # fmt: skip
    lines = (
        select(
            fo.source, fo.source_order_id, fl.line_no, dp.sku, fl.quantity, fl.unit_price,
            fl.discount, fl.amount,
        )
        .join(fact_order, fo.order_key == fl.order_key)
        .join(dim_product, dp.product_key == fl.product_key)
        .order_by(fo.source, fo.source_order_id, fl.line_no)
    )  # fmt: skip
    digest = hashlib.sha256()
    with engine.connect() as conn:
        for query in (orders, lines):
            for row in conn.execute(query):
                digest.update(repr(tuple(row)).encode())
            digest.update(b"|")
    return digest.hexdigest()


@pytest.fixture(scope="module")
def orders_folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, int]:
    """Two order files (~3,700 lines), the checksum of their uninterrupted load, its batches."""
    folder = tmp_path_factory.mktemp("kill")
    data = folder / "orders"
    write_csv(data / "orders-1.csv", order_rows(1000, seed=21, prefix="A"))
    write_csv(data / "orders-2.csv", order_rows(500, seed=22, prefix="B"))
    reference = create_engine_for(f"sqlite:///{folder / 'reference.db'}")
    info = load_csv(reference, data, batch_lines=BATCH)
    assert info.rows_rejected == 0
    expected = checksum(reference)
    reference.dispose()
    return data, expected, info.batches


def _load_then_die(url: str, path: str, stage: str, batch: int) -> None:
    """The loader process: SIGKILLs itself at (stage, batch) of its run."""

    def hook(current_stage: str, current_batch: int) -> None:
        if current_stage == stage and current_batch == batch:
            os.kill(os.getpid(), signal.SIGKILL)

    engine = create_engine_for(url)  # its own connections, nothing shared with the parent
    load_csv(engine, path, batch_lines=BATCH, hook=hook)


def _killed_child(url: str, path: Path, stage: str, batch: int) -> str:
    # A forked process (the modules are already imported: a kill costs milliseconds, not the
    # second an interpreter start takes); SIGKILL leaves no chance to clean up, as in real life.
    child = mp.get_context("fork").Process(
        target=_load_then_die, args=(url, str(path), stage, batch)
    )
    child.start()
    child.join(timeout=120)
    if child.exitcode == -signal.SIGKILL:
        return f"killed {stage} batch {batch}"
    assert child.exitcode == 0, f"loader ended with {child.exitcode}"
    return "completed"  # the resumed run had fewer batches left than the kill point


def test_every_rerun_after_a_kill_converges_to_the_same_warehouse(
    warehouse_url: str, orders_folder: tuple[Path, str, int]
) -> None:
    path, expected, batches = orders_folder
    rng = random.Random()  # new points every run: the property holds for all of them
    engine = create_engine_for(warehouse_url)
    history: list[str] = []
    kills = 0
    try:
        while kills < KILLS:
            for _ in range(KILLS_PER_CHECK):
                stage = rng.choice(("before_commit", "after_commit"))
                outcome = _killed_child(warehouse_url, path, stage, rng.randint(1, batches))
                history.append(outcome)
                kills += outcome.startswith("killed")
            info = load_csv(engine, path, batch_lines=BATCH)  # the rerun that is let through
            assert info.rows_rejected == 0
            assert checksum(engine) == expected, f"diverged after {history}"
            with engine.connect() as conn:
                statuses = set(conn.scalars(select(etl_run.c.status)))
            assert statuses <= {"ok", "interrupted"}, statuses
            with engine.connect() as conn:
                assert indexes.missing(conn) == [], f"indexes unbuilt after {history}"
            history.append("checked")
            empty_warehouse(engine)
        assert kills >= 10
    finally:
        empty_warehouse(engine)
        engine.dispose()


def test_checksum_sees_what_counts_and_sums_miss(
    warehouse_url: str, orders_folder: tuple[Path, str, int]
) -> None:
    """The checksum is stricter than the ETL test's fingerprint: swapping two lines' amounts
    keeps every count and sum but changes the checksum."""
    path, expected, _ = orders_folder
    engine = create_engine_for(warehouse_url)
    try:
        load_csv(engine, path, batch_lines=BATCH)
        before = fingerprint(engine)
        assert checksum(engine) == expected
        with engine.begin() as conn:
            first, second = conn.execute(
                select(
                    fact_order_line.c.order_key, fact_order_line.c.line_no, fact_order_line.c.amount
                )
                .order_by(fact_order_line.c.order_key, fact_order_line.c.line_no)
                .limit(2)
            ).all()
            for (key, line, _), (_, _, amount) in ((first, second), (second, first)):
                conn.execute(
                    fact_order_line.update()
                    .where(fact_order_line.c.order_key == key, fact_order_line.c.line_no == line)
                    .values(amount=amount)
                )
        assert fingerprint(engine) == before
        if first[2] != second[2]:
            assert checksum(engine) != expected
    finally:
        empty_warehouse(engine)
        engine.dispose()
