"""A night reads from Sugar only the records modified since the last read (push/reads.py).

Against the sandbox, which answers the keyset query (``date_modified`` and id, ``deleted=1``)
as SuiteCRM 7.15 did (recordings ``20_*_keyset``): a record edited in Sugar between two nights
is read again and its pushed values restored; a deleted account is seen and recreated; an edit
that does not move ``date_modified`` (SQL on Sugar's database) is caught by the full check.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from etl.schema import push_log, push_read_state, push_record
from sugar_bridge.push.push import push_segments
from sugar_bridge.push.reads import ReadState, choose
from sugar_bridge.sandbox import Sandbox
from tests.sugar_bridge.push.conftest import Warehouse, client_for, factory, push_config


def _seed(wh: Warehouse, n: int = 12) -> None:
    segments = ["Champions", "Loyal", "At risk", "Can't lose them"]
    for i in range(n):
        wh.add_customer(f"C{i:03d}", f"Customer {i} SA", f"c{i}@example.com")
        wh.set(f"C{i:03d}", rfm_segment=segments[i % 4], n_orders=i + 1)
    wh.analyse()


def _config(**kw: Any) -> Any:
    return push_config(read_overlap_minutes=0, **kw)


def _push(wh: Warehouse, sb: Sandbox, **kw: Any) -> Any:
    options = {k: kw.pop(k) for k in ("full_check", "dry_run") if k in kw}
    return push_segments(wh.engine, factory(sb), _config(**kw), as_of=wh.as_of, **options)


def _account(sb: Sandbox, external_id: str) -> dict[str, Any]:
    with client_for(sb) as client:
        found = [
            r
            for r in client.module("Accounts").iter_records(fields=None)
            if r.get("external_id_c") == external_id
        ]
    assert len(found) == 1, found
    return found[0]


def _backdate_sugar(sb: Sandbox) -> None:
    """Every account saved a while ago, each at its own second (as if the last night were a
    day old): the nights of a test follow each other within a second, and Sugar's
    ``date_modified`` has a precision of one second. The newest is C000's (the lowest external
    id), the one the next nights read again; the tests edit others."""
    sb.store.execute(
        "UPDATE accounts SET date_modified = strftime('%Y-%m-%d %H:%M:%S', 'now',"
        " '-' || (100 + (SELECT COUNT(*) FROM accounts_cstm b WHERE b.external_id_c <"
        " (SELECT c.external_id_c FROM accounts_cstm c WHERE c.id_c = accounts.id)))"
        " || ' seconds')"
    )


#: A night reads again the records of the watermark's second (one here: _backdate_sugar): one
#: saved later in that second must not be missed.
SAME_SECOND = 1


def test_a_night_reads_only_what_changed_and_restores_an_edit_made_in_sugar(
    warehouse: Warehouse, sandbox: Sandbox
) -> None:
    _seed(warehouse)
    first = _push(warehouse, sandbox)
    assert first.status == "ok"
    assert first.reads["Accounts"]["mode"] == "full"
    assert first.created == 12

    # The second night: the full read the first left for (it found no account then).
    _backdate_sugar(sandbox)
    second = _push(warehouse, sandbox)
    assert second.reads["Accounts"]["mode"] == "full", second.reads
    assert second.reads["Accounts"]["read"] == 12
    assert (second.unchanged, second.sugar_writes) == (12, 0)

    # Nothing changed in Sugar since: the third night reads no other account.
    sandbox.stats.reset()
    third = _push(warehouse, sandbox)
    assert third.reads["Accounts"]["mode"] == "changed"
    assert third.reads["Accounts"]["read"] == SAME_SECOND
    assert third.reads["Accounts"]["calls"] == 1
    assert (third.unchanged, third.sugar_writes) == (12, 0)

    # A rep edits one account's segment (a pushed field) and another's name in Sugar.
    edited = _account(sandbox, "C003")
    renamed = _account(sandbox, "C004")
    assert edited["segment_c"] == "cant_lose_them"
    with client_for(sandbox) as client:
        client.module("Accounts").update(edited["id"], {"segment_c": "lost"})
        client.module("Accounts").update(renamed["id"], {"name": "Renamed by a rep"})
    fourth = _push(warehouse, sandbox)
    reads = fourth.reads["Accounts"]
    assert (reads["mode"], reads["read"], reads["edited"]) == ("changed", SAME_SECOND + 2, 1)
    assert (fourth.updated, fourth.unchanged, fourth.failed) == (1, 11, 0)
    assert _account(sandbox, "C003")["segment_c"] == "cant_lose_them"  # restored
    assert _account(sandbox, "C004")["name"] == "Renamed by a rep"  # not a pushed field: kept
    with warehouse.engine.connect() as conn:
        logged = conn.execute(
            select(push_log.c.old_values, push_log.c.new_values).where(
                push_log.c.run_id == fourth.run_id, push_log.c.operation == "update"
            )
        ).one()
        cached = conn.execute(
            select(push_record.c.name).where(push_record.c.record_id == renamed["id"])
        ).scalar_one()
    # The log says what Sugar held (the rep's value), not the snapshot's.
    assert logged.old_values["segment_c"] == "lost"
    assert logged.new_values["segment_c"] == "cant_lose_them"
    assert cached == "Renamed by a rep"


def test_a_deleted_account_is_seen_and_recreated(warehouse: Warehouse, sandbox: Sandbox) -> None:
    _seed(warehouse, 6)
    _push(warehouse, sandbox)
    _backdate_sugar(sandbox)
    _push(warehouse, sandbox)  # full read, the accounts known
    gone = _account(sandbox, "C002")
    with client_for(sandbox) as client:
        client.module("Accounts").update(gone["id"], {"deleted": 1})
    night = _push(warehouse, sandbox)
    assert night.reads["Accounts"]["mode"] == "changed"
    assert night.reads["Accounts"]["deleted"] == 1
    assert night.created == 1  # unmatched: create, as when every account was read
    again = _account(sandbox, "C002")
    assert again["id"] != gone["id"]
    assert again["segment_c"] == "at_risk"
    with warehouse.engine.connect() as conn:
        ids = set(conn.execute(select(push_record.c.record_id)).scalars())
    assert gone["id"] not in ids


def test_an_account_made_in_sugar_by_hand_is_matched_the_next_night(
    warehouse: Warehouse, sandbox: Sandbox
) -> None:
    _seed(warehouse, 4)
    _push(warehouse, sandbox)
    _backdate_sugar(sandbox)
    _push(warehouse, sandbox)
    warehouse.add_customer("NEW", "Brand New Ltd", "new@example.com")
    warehouse.analyse()
    with client_for(sandbox) as client:
        made = client.module("Accounts").create({"name": "Brand New Ltd", "external_id_c": "NEW"})
    night = _push(warehouse, sandbox)
    assert night.reads["Accounts"]["mode"] == "changed"
    assert (night.created, night.updated) == (0, 1)  # matched by external id, not duplicated
    assert _account(sandbox, "NEW")["id"] == made


def test_an_edit_that_leaves_date_modified_is_caught_by_the_full_check(
    warehouse: Warehouse, sandbox: Sandbox
) -> None:
    _seed(warehouse, 6)
    _push(warehouse, sandbox)
    _backdate_sugar(sandbox)
    _push(warehouse, sandbox)
    target = _account(sandbox, "C001")
    # SQL on Sugar's database: the value changes, date_modified does not.
    sandbox.store.execute(
        "UPDATE accounts_cstm SET segment_c = 'lost' WHERE id_c = ?", (target["id"],)
    )
    night = _push(warehouse, sandbox)
    assert night.reads["Accounts"]["mode"] == "changed"
    assert night.sugar_writes == 0  # not seen: the documented limit of a changed-only read
    assert _account(sandbox, "C001")["segment_c"] == "lost"
    checked = _push(warehouse, sandbox, full_check=True)
    assert checked.reads["Accounts"]["mode"] == "full"
    assert checked.reads["Accounts"]["edited"] == 1
    assert checked.updated == 1
    assert _account(sandbox, "C001")["segment_c"] == "loyal"


def test_a_dry_run_reads_the_same_way_and_keeps_nothing(
    warehouse: Warehouse, sandbox: Sandbox
) -> None:
    _seed(warehouse, 4)
    dry = _push(warehouse, sandbox, dry_run=True)
    assert dry.reads["Accounts"]["mode"] == "full"
    with warehouse.engine.connect() as conn:
        assert conn.execute(select(push_read_state)).first() is None
        assert conn.execute(select(push_record)).first() is None


def test_when_a_night_reads_everything() -> None:
    now = datetime(2026, 12, 6, 2, 0)
    state = ReadState("key", datetime(2026, 12, 5, 2, 0), "id", datetime(2026, 12, 1, 2, 0))
    assert choose(state, "key", now, full_check=False, full_check_days=7)[0] == "changed"
    assert choose(state, "key", now, full_check=True, full_check_days=7)[0] == "full"
    assert choose(None, "key", now, full_check=False, full_check_days=7)[0] == "full"
    # another Sugar URL or API user
    assert choose(state, "other", now, full_check=False, full_check_days=7)[0] == "full"
    # the period: 5 days since the last full read
    assert choose(state, "key", now, full_check=False, full_check_days=5)[0] == "full"
    assert choose(state, "key", now, full_check=False, full_check_days=0)[0] == "full"
    empty = ReadState("key", None, None, datetime(2026, 12, 5, 2, 0))
    assert choose(empty, "key", now, full_check=False, full_check_days=7)[0] == "full"


def test_the_state_is_kept_per_sugar(warehouse: Warehouse, sandbox: Sandbox) -> None:
    """A read state of another Sugar (URL or user) is never trusted: a full read."""
    _seed(warehouse, 3)
    _push(warehouse, sandbox)
    _backdate_sugar(sandbox)
    _push(warehouse, sandbox)
    with warehouse.engine.begin() as conn:
        conn.execute(update(push_read_state).values(sugar_key="another Sugar"))
    night = _push(warehouse, sandbox)
    assert night.reads["Accounts"]["mode"] == "full"
    assert "another Sugar URL" in night.reads["Accounts"]["why"]
