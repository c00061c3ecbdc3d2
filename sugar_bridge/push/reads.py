"""Which Sugar records a night reads: only those modified since the last read, else all.

Matching needs every live Account (or Contact) of Sugar: its id, name, e-mail, owner, external
id. Reading them all each night costs one ``get_entry_list`` row per record (32-37 s for 10,000
accounts on the CI SuiteCRM). So the push keeps what it last read in the warehouse
(``push_record``) with a watermark (``push_read_state``: the greatest ``date_modified`` read and
the id breaking ties at that second), and a night asks Sugar only for the records modified since
the watermark minus an overlap (``push.read_overlap_minutes``): keyset pages of ``get_entry_list``
with ``query`` ``date_modified > W OR (date_modified = W AND id > I)``, ``order_by``
``date_modified, id`` and ``deleted=1`` — :mod:`connectors.sugar.crm`'s incremental reads, whose
query shapes were recorded on SuiteCRM 7.15 (``20_*_keyset``; the push's own reads ``24_*``). A
record deleted or merged away in Sugar comes back with ``deleted`` 1 (deleting moves
``date_modified``) and leaves the cache; a record saved while the read pages through moves
behind the cursor and is read later, never skipped. Sugar's ``date_modified`` has a precision
of one second, hence the id tie-break within a read, and a night reads the watermark's second
again (``>=``).

Every record read also brings the pushed fields, so the push sees a record edited in Sugar since
the last push (its values against the snapshot, :func:`drift`) and diffs it against Sugar's
values rather than the snapshot's.

A **full read** (every live record, the cache replaced) happens when there is no state, when the
Sugar URL or API user changed, on ``--full-check`` / ``--full``, and every
``push.full_check_days`` days. It is the safety net for edits that do not move
``date_modified``: SQL run on Sugar's database, a workflow or script saving with
``update_date_modified = false``, an e-mail address changed on another record sharing it (the
address lives in ``email_addresses``; the account itself is not saved). The watermark is written
in the same transaction as the rows it covers; a dry run reads the same way and keeps nothing.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Engine, delete, insert, select

from connectors.sugar import query as q
from connectors.sugar.client import SugarClient
from connectors.sugar.crm import Cursor, changed_since, parse_datetime
from connectors.sugar.exceptions import NotJsonResponse
from connectors.sugar.records import Record, entry_to_record
from etl.schema import push_read_state, push_record
from sugar_bridge.push.match import Account
from sugar_bridge.push.sugar_io import READ_PAGE, Expect, compare

log = logging.getLogger(__name__)

#: Sugar module -> its table (the query's column prefix).
TABLES = {"Accounts": "accounts", "Contacts": "contacts"}

ReadMode = Literal["full", "changed"]


def sugar_key(client: SugarClient) -> str:
    """Which Sugar (URL and API user) a cache was read from, as a hash (nothing to leak)."""
    site = f"{client.base_url.rstrip('/')}\n{client.username}"
    return hashlib.sha256(site.encode()).hexdigest()


def match_fields(module: str, external_id_field: str) -> list[str]:
    """The fields matching needs of ``module`` (what :class:`Account` holds)."""
    if module == "Contacts":
        return ["first_name", "last_name", "email1", "assigned_user_id", external_id_field]
    return [
        "name",
        "email1",
        "assigned_user_id",
        external_id_field,
        "billing_address_city",
        "billing_address_country",
        "billing_address_postalcode",
    ]


def to_account(module: str, rec: Mapping[str, Any], external_id_field: str) -> Account:
    """The matching view of a record as Sugar answered it."""
    if module == "Contacts":
        first = str(rec.get("first_name") or "").strip()
        last = str(rec.get("last_name") or "").strip()
        name = f"{first} {last}".strip()
    else:
        name = str(rec.get("name") or "")
    return Account(
        id=str(rec["id"]),
        name=name,
        email=str(rec.get("email1") or ""),
        external_id=str(rec.get(external_id_field) or ""),
        assigned_user_id=str(rec.get("assigned_user_id") or ""),
        city=str(rec.get("billing_address_city") or ""),
        country=str(rec.get("billing_address_country") or ""),
        postcode=str(rec.get("billing_address_postalcode") or ""),
    )


@dataclass(frozen=True)
class ReadState:
    """``push_read_state``'s row of a module."""

    sugar_key: str
    watermark: datetime | None
    watermark_id: str | None
    last_full_at: datetime


@dataclass
class ReadInfo:
    """How a night read a module: for the run's details and the benchmark."""

    mode: ReadMode
    why: str
    read: int = 0  # records Sugar answered (deleted ones included)
    deleted: int = 0  # of them, deleted in Sugar: left the cache
    calls: int = 0  # get_entry_list pages
    since: str | None = None  # the query's start (changed reads)
    edited: int = 0  # matched records whose pushed values Sugar holds otherwise (drift)

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "why": self.why,
            "read": self.read,
            "deleted": self.deleted,
            "calls": self.calls,
            "since": self.since,
            "edited": self.edited,
        }


@dataclass
class Records:
    """What a night knows of a module's live records."""

    accounts: list[Account]
    #: the records read tonight (all of them in a full read), with the pushed fields
    read: dict[str, Record] = field(default_factory=dict)
    info: ReadInfo = field(default_factory=lambda: ReadInfo("full", ""))


def load_state(engine: Engine, module: str) -> ReadState | None:
    """The module's read state, None before its first read."""
    with engine.connect() as conn:
        row = conn.execute(
            select(push_read_state).where(push_read_state.c.module == module)
        ).first()
    if row is None:
        return None
    return ReadState(row.sugar_key, row.watermark, row.watermark_id, row.last_full_at)


def choose(
    state: ReadState | None,
    key: str,
    now: datetime,
    *,
    full_check: bool,
    full_check_days: int,
) -> tuple[ReadMode, str]:
    """Full or changed-only read, and why."""
    if full_check:
        return "full", "asked (--full-check or --full)"
    if state is None:
        return "full", "first read (no read state)"
    if state.sugar_key != key:
        return "full", "another Sugar URL or API user than the last read"
    if state.watermark is None:
        return "full", "the last read found no record"
    if now - state.last_full_at >= timedelta(days=full_check_days):
        return "full", f"the last full read is {full_check_days} day(s) old or more"
    return "changed", f"changed since the last read (full read every {full_check_days} day(s))"


def iter_pages(
    client: SugarClient,
    module: str,
    select_fields: Sequence[str],
    start: Cursor | None,
    *,
    deleted: bool,
    page_size: int = READ_PAGE,
) -> Iterator[list[Record]]:
    """Keyset pages of ``module``'s records after ``start`` (every record when None).

    Sugar method ``get_entry_list`` ordered by ``date_modified, id``, each page's query starting
    after the previous page's last record; ``deleted`` asks for deleted records too (``deleted``
    1: how a deletion is seen). Holds one page at a time.
    """
    cursor = start
    table = TABLES[module]
    while True:
        body = client.call(
            "get_entry_list",
            module_name=module,
            query=changed_since(table, cursor),
            order_by=q.order_by("date_modified ASC, id ASC"),
            offset=0,
            select_fields=list(select_fields),
            link_name_to_fields_array=[],
            max_results=page_size,
            deleted=1 if deleted else 0,
        )
        if not isinstance(body, dict):
            raise NotJsonResponse("get_entry_list answered no object", method="get_entry_list")
        records = [entry_to_record(e) for e in body.get("entry_list") or []]
        if not records:
            return
        yield records
        last = records[-1]
        modified = parse_datetime(last.get("date_modified"))
        if modified is None or len(records) < page_size:
            return  # a record without date_modified sorts first: it cannot be a cursor
        cursor = Cursor(modified, str(last["id"]))


def _row(module: str, account: Account, modified: datetime | None) -> dict[str, Any]:
    return {
        "module": module,
        "record_id": account.id,
        "name": account.name[:255],
        "email": account.email[:255],
        "external_id": account.external_id[:255],
        "assigned_user_id": account.assigned_user_id[:36],
        "city": account.city[:255],
        "country": account.country[:255],
        "postcode": account.postcode[:64],
        "date_modified": modified,
    }


def _cached(engine: Engine, module: str) -> list[Account]:
    t = push_record.c
    columns = (t.record_id, t.name, t.email, t.external_id, t.assigned_user_id, t.city)
    stmt = select(*columns, t.country, t.postcode).where(t.module == module).order_by(t.record_id)
    with engine.connect() as conn:
        return [Account(*(str(v or "") for v in row)) for row in conn.execute(stmt)]


def read_for_push(
    engine: Engine,
    client: SugarClient,
    module: str,
    external_id_field: str,
    pushed_fields: Sequence[str],
    *,
    now: datetime,
    run_id: int | None,
    full_check: bool = False,
    full_check_days: int = 7,
    overlap: timedelta = timedelta(minutes=5),
    keep: bool = True,
) -> Records:
    """The live records of ``module`` for matching, reading from Sugar only what changed since
    the last read (see the module docstring), and the records read tonight with
    ``pushed_fields``. ``keep``: store what was read and the new watermark (False: a dry run)."""
    key = sugar_key(client)
    state = load_state(engine, module)
    mode, why = choose(state, key, now, full_check=full_check, full_check_days=full_check_days)
    info = ReadInfo(mode, why)
    wanted = ["id", "date_modified", "deleted", *match_fields(module, external_id_field)]
    select_fields = list(dict.fromkeys([*wanted, *pushed_fields]))
    start: Cursor | None = None
    if mode == "changed":
        assert state is not None
        assert state.watermark is not None
        start = Cursor(state.watermark - overlap)
        info.since = start.modified.strftime("%Y-%m-%d %H:%M:%S")
    read: dict[str, Record] = {}
    gone: set[str] = set()
    newest: tuple[datetime, str] | None = None
    if state is not None and state.watermark is not None and mode == "changed":
        newest = (state.watermark, state.watermark_id or "")
    for page in iter_pages(client, module, select_fields, start, deleted=mode == "changed"):
        info.calls += 1
        for rec in page:
            info.read += 1
            rid = str(rec["id"])
            modified = parse_datetime(rec.get("date_modified"))
            if modified is not None and (newest is None or (modified, rid) > newest):
                newest = (modified, rid)
            if str(rec.get("deleted") or "0") == "1":
                gone.add(rid)
                read.pop(rid, None)
            else:
                gone.discard(rid)
                read[rid] = rec
    info.deleted = len(gone)
    if keep:
        _store(engine, module, mode, state, key, read, gone, newest, now, run_id, external_id_field)
    if mode == "full":
        accounts = [to_account(module, rec, external_id_field) for rec in read.values()]
    else:  # the cache (as stored just now, or, for a dry run, with tonight's changes applied)
        by_id = {a.id: a for a in _cached(engine, module)}
        if not keep:
            for rid in gone:
                by_id.pop(rid, None)
            for rec in read.values():
                by_id[str(rec["id"])] = to_account(module, rec, external_id_field)
        accounts = list(by_id.values())
    accounts.sort(key=lambda a: a.id)
    log.info(
        "push read %s %s: %d record(s) in %d call(s), %d deleted; %s",
        module,
        mode,
        info.read,
        info.calls,
        info.deleted,
        why,
    )
    return Records(accounts, read, info)


def _store(
    engine: Engine,
    module: str,
    mode: ReadMode,
    state: ReadState | None,
    key: str,
    read: Mapping[str, Record],
    gone: set[str],
    newest: tuple[datetime, str] | None,
    now: datetime,
    run_id: int | None,
    external_id_field: str,
) -> None:
    """Tonight's read into ``push_record`` and its watermark, in one transaction (a full read
    replaces the module's rows; a changed read replaces the rows it read, drops the deleted)."""
    rows = [
        _row(
            module,
            to_account(module, rec, external_id_field),
            parse_datetime(rec.get("date_modified")),
        )
        for rec in read.values()
    ]
    t = push_record.c
    with engine.begin() as conn:
        if mode == "full":
            conn.execute(delete(push_record).where(t.module == module))
        else:
            stale = sorted(gone | set(read))
            for i in range(0, len(stale), 500):
                chunk = stale[i : i + 500]
                conn.execute(delete(push_record).where(t.module == module, t.record_id.in_(chunk)))
        for i in range(0, len(rows), 1000):
            conn.execute(insert(push_record), rows[i : i + 1000])
        conn.execute(delete(push_read_state).where(push_read_state.c.module == module))
        last_full = now if mode == "full" or state is None else state.last_full_at
        conn.execute(
            insert(push_read_state),
            {
                "module": module,
                "sugar_key": key,
                "watermark": newest[0] if newest else None,
                "watermark_id": newest[1] if newest else None,
                "last_full_at": last_full,
                "run_id": run_id,
            },
        )


def drift(
    read: Mapping[str, Record],
    snapshot: Mapping[str, Mapping[str, str]],
    expect_of: Mapping[str, Expect],
) -> dict[str, dict[str, str]]:
    """``{record_id: {field: value in Sugar}}`` of the pushed values Sugar no longer holds as
    the snapshot says (edited in Sugar since they were verified), among the records ``read``.
    ``expect_of`` gives each pushed field's kind; values are compared as the write's
    verification compares them."""
    out: dict[str, dict[str, str]] = {}
    for rid, rec in read.items():
        values = snapshot.get(rid)
        if not values:
            continue
        expect = {
            name: Expect(value, expect_of[name].kind, expect_of[name].precision)
            for name, value in values.items()
            if name in expect_of and name in rec
        }
        stuck, _ = compare(rec, expect)
        moved = {
            name: _as_sugar(rec[name], exp) for name, exp in expect.items() if name not in stuck
        }
        if moved:
            out[rid] = moved
    return out


def _as_sugar(value: Any, exp: Expect) -> str:
    from sugar_bridge.push.values import normalise

    try:
        return normalise(value, exp.kind, exp.precision)
    except ValueError:
        return str(value)
