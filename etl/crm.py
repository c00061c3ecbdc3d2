"""Loading Sugar's operational CRM into the ``crm_*`` tables, incrementally (issue 16).

:func:`extract_crm` reads each configured module from its watermark (``crm_extract_state``)
minus the overlap, page by page (:func:`connectors.sugar.crm.iter_changed_pages`), and writes
every page in ONE transaction with the module's new watermark: a run killed halfway resumes
after the last page committed, and never loses nor skips a record. Rows are merged by Sugar's
id: a new id is inserted, a changed one (another ``date_modified``, or a deletion) updated, an
unchanged one (re-read through the overlap) left alone, so a night without changes writes
nothing. A deleted record (``deleted = 1`` in Sugar) keeps its row, marked, with the values it
last had (Sugar drops a deleted contact's account link; the warehouse keeps it).

A full refresh (``full=True``) reads everything and then marks deleted the rows of the module
it did not see (records purged from Sugar's database).

Memory is bounded by three pages (``page_size`` records each) whatever the module's size: the
page being written, the next one, read from Sugar meanwhile (a thread: Sugar's time and the
warehouse's overlap), and the one after it, being read.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Table, and_, bindparam, func, insert, select, update
from sqlalchemy.engine import Connection, Engine

from connectors.sugar.client import SugarClient
from connectors.sugar.crm import (
    Cursor,
    FieldPlan,
    ReadMethod,
    SugarSourceConfig,
    iter_changed_pages,
    iter_members,
    parse_bool,
    parse_date,
    parse_datetime,
    parse_decimal,
    parse_int,
    plan_fields,
)
from connectors.sugar.exceptions import NoSuchModule
from connectors.sugar.records import Record
from etl.runs import describe_error, start_run, utcnow
from etl.schema import (
    crm_account,
    crm_activity,
    crm_campaign_log,
    crm_case,
    crm_contact,
    crm_extract_state,
    crm_lead,
    crm_opportunity,
    crm_target_list,
    crm_target_list_member,
    dim_customer,
)

log = logging.getLogger(__name__)

TABLES: dict[str, Table] = {
    "Accounts": crm_account,
    "Contacts": crm_contact,
    "Leads": crm_lead,
    "Opportunities": crm_opportunity,
    "Cases": crm_case,
    "Calls": crm_activity,
    "Meetings": crm_activity,
    "Tasks": crm_activity,
    "Notes": crm_activity,
    "ProspectLists": crm_target_list,
    "CampaignLog": crm_campaign_log,
}
ACTIVITIES = ("Calls", "Meetings", "Tasks", "Notes")

#: ``progress(module, records read so far)``
CrmProgress = Callable[[str, int], None]


@dataclass
class ModuleInfo:
    """What the extraction did for one module."""

    module: str
    read: int = 0  # records Sugar sent (the overlap's re-reads included)
    inserted: int = 0
    updated: int = 0
    deleted: int = 0  # rows newly marked deleted (Sugar's deleted=1, or unseen by a full refresh)
    unchanged: int = 0
    pages: int = 0
    members: int = 0  # target list memberships read (ProspectLists)
    skipped: str = ""  # why the module was not read (not in this Sugar)
    method: str = ""  # how its pages were read (bridge_read_changed, get_entry_list)
    watermark: datetime | None = None

    @property
    def changed(self) -> int:
        """Rows written because something changed."""
        return self.inserted + self.updated + self.deleted


@dataclass
class CrmExtractInfo:
    """One extraction run: its etl_run id and each module's counts."""

    run_id: int
    full: bool
    modules: list[ModuleInfo] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def read(self) -> int:
        """Records read over all modules."""
        return sum(m.read for m in self.modules)

    @property
    def changed(self) -> int:
        """Rows written because something changed, over all modules."""
        return sum(m.changed for m in self.modules)

    def counts(self) -> dict[str, int]:
        """Headline counts (the sync step's)."""
        return {
            "records_read": self.read,
            "inserted": sum(m.inserted for m in self.modules),
            "updated": sum(m.updated for m in self.modules),
            "deleted": sum(m.deleted for m in self.modules),
            "unchanged": sum(m.unchanged for m in self.modules),
            "modules": len([m for m in self.modules if not m.skipped]),
        }


# --- turning Sugar records into rows ----------------------------------------------------------


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def _id(value: Any) -> str | None:
    """An id field: None when empty or blank (get_entry_list answers a 36-space placeholder for
    the id of a relate field over a many-to-many link, Calls' and Meetings' contact_id)."""
    text = _text(value)
    return text if text is not None and text.strip() else None


def _minutes(record: Record) -> int | None:
    hours, minutes = (
        parse_int(record.get("duration_hours")),
        parse_int(record.get("duration_minutes")),
    )
    if hours is None and minutes is None:
        return None
    return (hours or 0) * 60 + (minutes or 0)


def _row(module: str, record: Record, plan: FieldPlan, run_id: int) -> dict[str, Any]:
    """The warehouse row of one Sugar record (the contract's columns)."""
    row: dict[str, Any] = {
        "id": str(record["id"]),
        "date_entered": parse_datetime(record.get("date_entered")),
        "date_modified": parse_datetime(record.get("date_modified")),
        "deleted": parse_bool(record.get("deleted", "0")),
        "extracted_run_id": run_id,
    }
    extra = {name: _text(record.get(name)) for name in plan.extra if name in record}
    row["extra"] = extra or None
    get = record.get
    if module == "Accounts":
        row.update(
            name=_text(get("name")),
            account_type=_text(get("account_type")),
            industry=_text(get("industry")),
            billing_city=_text(get("billing_address_city")),
            billing_country=_text(get("billing_address_country")),
            assigned_user_id=_text(get("assigned_user_id")),
        )
    elif module == "Contacts":
        row.update(
            # absent when the contact has no account (recording 10_24): NULL
            account_id=_text(get("account_id")),
            first_name=_text(get("first_name")),
            last_name=_text(get("last_name")),
            email1=_text(get("email1")),
            lead_source=_text(get("lead_source")),
            assigned_user_id=_text(get("assigned_user_id")),
        )
    elif module == "Leads":
        row.update(
            account_id=_text(get("account_id")),
            status=_text(get("status")),
            lead_source=_text(get("lead_source")),
            converted=parse_bool(get("converted", "0")),
            contact_id=_text(get("contact_id")),
            account_name=_text(get("account_name")),
            opportunity_id=_text(get("opportunity_id")),
            assigned_user_id=_text(get("assigned_user_id")),
        )
    elif module == "Opportunities":
        row.update(
            account_id=_text(get("account_id")),
            name=_text(get("name")),
            sales_stage=_text(get("sales_stage")),
            amount=parse_decimal(get("amount")),
            currency_id=_text(get("currency_id")),
            probability=parse_int(get("probability")),
            date_closed=parse_date(get("date_closed")),
            assigned_user_id=_text(get("assigned_user_id")),
        )
    elif module == "Cases":
        row.update(
            account_id=_text(get("account_id")),
            case_number=parse_int(get("case_number")),
            status=_text(get("status")),
            state=_text(get("state")),
            priority=_text(get("priority")),
            type=_text(get("type")),
            assigned_user_id=_text(get("assigned_user_id")),
        )
    elif module in ACTIVITIES:
        parent_type, parent_id = _text(get("parent_type")), _text(get("parent_id"))
        if module == "Tasks":
            start = parse_datetime(get("date_start")) or parse_datetime(get("date_due"))
        elif module == "Notes":
            start = row["date_entered"]
        else:
            start = parse_datetime(get("date_start"))
        row.update(
            module=module,
            name=_text(get("name")),
            parent_type=parent_type,
            parent_id=parent_id,
            account_id=parent_id if parent_type == "Accounts" else None,
            contact_id=parent_id if parent_type == "Contacts" else _id(get("contact_id")),
            status=_text(get("status")),
            direction=_text(get("direction")) if module == "Calls" else None,
            date_start=start,
            duration_minutes=_minutes(record) if module in ("Calls", "Meetings") else None,
        )
    elif module == "ProspectLists":
        row.update(name=_text(get("name")), list_type=_text(get("list_type")))
    elif module == "CampaignLog":
        row.update(
            campaign_id=_text(get("campaign_id")),
            target_id=_text(get("target_id")),
            target_type=_text(get("target_type")),
            activity_type=_text(get("activity_type")),
            activity_date=parse_datetime(get("activity_date")),
            related_id=_text(get("related_id")),
            related_type=_text(get("related_type")),
        )
    return row


# --- writing a page ----------------------------------------------------------------------------


def _resolve_links(conn: Connection, module: str, rows: list[dict[str, Any]]) -> None:
    """Warehouse-side links of a page: accounts' customer, activities' contact's account."""
    if module == "Accounts":
        ids = [r["id"] for r in rows]
        keys = dict(
            conn.execute(
                select(dim_customer.c.sugar_account_id, func.min(dim_customer.c.customer_key))
                .where(dim_customer.c.sugar_account_id.in_(ids))
                .group_by(dim_customer.c.sugar_account_id)
            ).all()
        )
        for r in rows:
            r["customer_key"] = keys.get(r["id"])
    elif module == "Contacts":
        contact_key = getattr(dim_customer.c, "sugar_contact_id", None)
        keys = {}
        if contact_key is not None:
            ids = [r["id"] for r in rows]
            keys = dict(
                conn.execute(
                    select(contact_key, func.min(dim_customer.c.customer_key))
                    .where(contact_key.in_(ids))
                    .group_by(contact_key)
                ).all()
            )
        for r in rows:
            r["customer_key"] = keys.get(r["id"])
    elif module in ACTIVITIES:
        contacts = {r["parent_id"] for r in rows if r["parent_type"] == "Contacts"}
        if contacts:
            accounts = dict(
                conn.execute(
                    select(crm_contact.c.id, crm_contact.c.account_id).where(
                        crm_contact.c.id.in_(sorted(contacts))
                    )
                ).all()
            )
            for r in rows:
                if r["parent_type"] == "Contacts":
                    r["account_id"] = accounts.get(r["parent_id"])


def _same(stored: Mapping[str, Any], row: Mapping[str, Any]) -> bool:
    """Whether ``row`` holds what is stored (the run that wrote it aside)."""
    for name, value in row.items():
        if name == "extracted_run_id":
            continue
        old = stored.get(name)
        if isinstance(value, bool) or isinstance(old, bool):
            if bool(old) != bool(value):
                return False
        elif old != value:
            return False
    return True


def _write_page(
    conn: Connection,
    module: str,
    rows: list[dict[str, Any]],
    run_id: int,
    full: bool,
    info: ModuleInfo,
) -> None:
    """Merge one page of rows by id (insert new, update changed, skip unchanged)."""
    table = TABLES[module]
    ids = [r["id"] for r in rows]
    # The whole stored row, not only date_modified: Sugar's clock is to the second, so an edit
    # in the second of the previous read has the same date_modified and other values.
    existing: dict[str, Mapping[str, Any]] = {
        row["id"]: dict(row)
        for row in conn.execute(select(table).where(table.c.id.in_(ids))).mappings()
    }
    _resolve_links(conn, module, rows)
    new, changed, deletions, touched = [], [], [], []
    for r in rows:
        before = existing.get(r["id"])
        if before is None:
            new.append(r)
            info.inserted += 1
            continue
        if r["deleted"] and not before["deleted"]:
            # Keep the values the record had: Sugar's delete drops some links (a contact's
            # account, a case's account_id; recordings 1N_*_after_delete).
            deletions.append(
                {
                    "b_id": r["id"],
                    "deleted": True,
                    "date_modified": r["date_modified"],
                    "extracted_run_id": run_id,
                }
            )
            info.deleted += 1
        elif (r["deleted"] and before["deleted"]) or _same(before, r):
            info.unchanged += 1
            if full:
                touched.append({"b_id": r["id"], "extracted_run_id": run_id})
        else:
            changed.append({**{k: v for k, v in r.items() if k != "id"}, "b_id": r["id"]})
            info.updated += 1
    if new:
        conn.execute(insert(table), new)
    # executemany UPDATEs: the SET clause is made of the parameters' keys (b_id aside)
    by_id = update(table).where(table.c.id == bindparam("b_id"))
    if changed:
        conn.execute(by_id, changed)
    if deletions:
        conn.execute(by_id, deletions)
    if touched:
        # A full refresh marks what it saw, so what it did not see can be marked deleted.
        conn.execute(by_id, touched)


def _save_state(
    conn: Connection, module: str, cursor: Cursor | None, run_id: int, full_at: datetime | None
) -> None:
    values: dict[str, Any] = {"run_id": run_id}
    if cursor is not None:
        values.update(watermark=cursor.modified, watermark_id=cursor.id)
    if full_at is not None:
        values["last_full_at"] = full_at
    done = conn.execute(
        update(crm_extract_state).where(crm_extract_state.c.module == module).values(values)
    ).rowcount
    if not done:
        conn.execute(insert(crm_extract_state).values(module=module, **values))


def _state(engine: Engine, module: str) -> Cursor | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(crm_extract_state.c.watermark, crm_extract_state.c.watermark_id).where(
                crm_extract_state.c.module == module
            )
        ).first()
    if row is None or row.watermark is None:
        return None
    return Cursor(row.watermark, row.watermark_id or "")


def _later(a: Cursor | None, b: Cursor) -> Cursor:
    if a is None or (b.modified, b.id) > (a.modified, a.id):
        return b
    return a


def _mark_unseen(conn: Connection, module: str, run_id: int) -> int:
    """After a full refresh: rows of ``module`` it did not see are marked deleted."""
    table = TABLES[module]
    conditions = [table.c.deleted.is_(False), table.c.extracted_run_id != run_id]
    if table is crm_activity:
        conditions.append(crm_activity.c.module == module)
    return int(
        conn.execute(
            update(table).where(and_(*conditions)).values(deleted=True, extracted_run_id=run_id)
        ).rowcount
    )


def refresh_customer_keys(conn: Connection) -> int:
    """Re-resolve ``crm_account.customer_key`` from the push's current match (set-based)."""
    match = (
        select(func.min(dim_customer.c.customer_key))
        .where(dim_customer.c.sugar_account_id == crm_account.c.id)
        .scalar_subquery()
    )
    return int(
        conn.execute(
            update(crm_account)
            .where(func.coalesce(crm_account.c.customer_key, -1) != func.coalesce(match, -1))
            .values(customer_key=match)
        ).rowcount
    )


# --- the extraction ----------------------------------------------------------------------------

T = TypeVar("T")


def prefetched(items: Iterator[T], *, name: str = "sugar-read") -> Iterator[T]:
    """The items of ``items``, the next one produced in a thread while the caller works on the
    current one (the next page read from Sugar while this one is written).

    At most one item waits (besides the one the thread is producing). An exception of ``items``
    is raised here after the items before it, so what they carried is written first; when the
    caller stops early (its own error, or it closes this generator) the thread stops after the
    item it is producing.
    """
    box: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def put(kind: str, item: Any) -> bool:
        while not stop.is_set():
            try:
                box.put((kind, item), timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put("item", item):
                    return
            put("end", None)
        except BaseException as exc:  # handed to the consumer, raised there
            put("error", exc)

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            kind, item = box.get()
            if kind == "end":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)


def _extract_members(
    engine: Engine,
    client: SugarClient,
    plan: FieldPlan,
    run_id: int,
    page_size: int,
    info: ModuleInfo,
) -> None:
    """Every live target list's members, merged; members no longer listed are marked deleted."""
    t = crm_target_list_member
    with engine.connect() as conn:
        lists = [
            row.id
            for row in conn.execute(
                select(crm_target_list.c.id).where(crm_target_list.c.deleted.is_(False))
            )
        ]
    for list_id in lists:
        for link, target in plan.member_links:
            for ids in iter_members(client, list_id, link, page_size):
                info.members += len(ids)
                with engine.begin() as conn:
                    known = {
                        row.record_id: row.deleted
                        for row in conn.execute(
                            select(t.c.record_id, t.c.deleted).where(
                                t.c.list_id == list_id, t.c.module == target, t.c.record_id.in_(ids)
                            )
                        )
                    }
                    fresh = [i for i in ids if i not in known]
                    if fresh:
                        conn.execute(
                            insert(t),
                            [
                                {
                                    "list_id": list_id,
                                    "module": target,
                                    "record_id": i,
                                    "deleted": False,
                                    "extracted_run_id": run_id,
                                }
                                for i in fresh
                            ],
                        )
                    seen = [i for i in ids if i in known]
                    if seen:
                        conn.execute(
                            update(t)
                            .where(
                                t.c.list_id == list_id,
                                t.c.module == target,
                                t.c.record_id.in_(seen),
                            )
                            .values(deleted=False, extracted_run_id=run_id)
                        )
        with engine.begin() as conn:
            conn.execute(
                update(t)
                .where(
                    t.c.list_id == list_id,
                    t.c.deleted.is_(False),
                    t.c.extracted_run_id != run_id,
                )
                .values(deleted=True, extracted_run_id=run_id)
            )
    # members of lists deleted in Sugar are no longer members
    with engine.begin() as conn:
        gone = select(crm_target_list.c.id).where(crm_target_list.c.deleted.is_(True))
        conn.execute(
            update(t)
            .where(t.c.list_id.in_(gone), t.c.deleted.is_(False))
            .values(deleted=True, extracted_run_id=run_id)
        )


def extract_module(
    engine: Engine,
    client: SugarClient,
    plan: FieldPlan,
    run_id: int,
    *,
    full: bool,
    overlap: timedelta,
    page_size: int,
    progress: CrmProgress | None = None,
    method: ReadMethod = "auto",
) -> ModuleInfo:
    """Extract one module: pages from its watermark (minus ``overlap``), or all when ``full``."""
    name = plan.module.name
    info = ModuleInfo(name)
    state = None if full else _state(engine, name)
    # From the watermark's second itself (minus the overlap), id tie-break off: an edit made in
    # the very second the previous run read (Sugar's clock is to the second) is read again.
    start = Cursor(state.modified - overlap) if state is not None else None
    watermark = state
    started = utcnow().replace(microsecond=0)
    used: list[str] = []
    pages = iter_changed_pages(client, plan, start, page_size, method=method, used=used)
    for records in prefetched(pages, name=f"sugar-read-{name}"):
        rows = [_row(name, r, plan, run_id) for r in records]
        info.read += len(rows)
        info.pages += 1
        last = records[-1]
        modified = parse_datetime(last.get(plan.module.cursor))
        if modified is not None:
            watermark = _later(watermark, Cursor(modified, str(last["id"])))
        with engine.begin() as conn:
            _write_page(conn, name, rows, run_id, full, info)
            _save_state(conn, name, watermark, run_id, None)
        if progress is not None:
            progress(name, info.read)
    with engine.begin() as conn:
        if full:
            info.deleted += _mark_unseen(conn, name, run_id)
        _save_state(conn, name, watermark, run_id, started if full else None)
        if name == "Accounts":
            refresh_customer_keys(conn)
    if plan.member_links:
        _extract_members(engine, client, plan, run_id, page_size, info)
    info.watermark = watermark.modified if watermark is not None else None
    info.method = ", ".join(used)
    return info


def extract_crm(
    engine: Engine,
    client: SugarClient,
    config: SugarSourceConfig,
    *,
    full: bool = False,
    modules: Iterable[str] | None = None,
    progress: CrmProgress | None = None,
) -> CrmExtractInfo:
    """Extract the configured Sugar modules into the ``crm_*`` tables; one ``etl_run`` row.

    Every module's fields are checked against Sugar first (``get_module_fields``): a configured
    field Sugar does not have raises :class:`connectors.sugar.crm.UnknownField` before anything is
    read or written. A module this Sugar does not have (``CampaignLog`` on some installs) is
    skipped and said so. Sugar errors propagate (the run is recorded as failed; what committed
    stays, and the next run resumes from the last committed page).
    """
    selected = config.selected(list(modules) if modules else None)
    plans: list[FieldPlan] = []
    skipped: list[ModuleInfo] = []
    for module in selected:
        try:
            plans.append(plan_fields(client, module, config))
        except NoSuchModule:
            skipped.append(ModuleInfo(module.name, skipped="not a module of this Sugar"))
    run = start_run(
        engine,
        "etl",
        source="sugar",
        details={"full": full, "modules": [p.module.name for p in plans]},
    )
    info = CrmExtractInfo(run_id=run.run_id, full=full, modules=list(skipped))
    started = time.perf_counter()
    overlap = timedelta(minutes=config.overlap_minutes)
    try:
        for plan in plans:
            module_info = extract_module(
                engine,
                client,
                plan,
                run.run_id,
                full=full,
                overlap=overlap,
                page_size=config.page_size,
                progress=progress,
                method=config.read_method,
            )
            info.modules.append(module_info)
            log.info(
                "sugar extract %s: read %d, inserted %d, updated %d, deleted %d, unchanged %d",
                module_info.module,
                module_info.read,
                module_info.inserted,
                module_info.updated,
                module_info.deleted,
                module_info.unchanged,
            )
    except BaseException as exc:
        run.error = describe_error(exc)
        run.status = "failed"
        raise
    else:
        run.status = "ok"
    finally:
        info.seconds = time.perf_counter() - started
        run.rows_read = info.read
        run.rows_loaded = info.changed
        run.details = {
            "full": full,
            "modules": {m.module: _module_details(m) for m in info.modules},
            "seconds": round(info.seconds, 3),
        }
        run.finish()
    return info


def _module_details(m: ModuleInfo) -> Mapping[str, Any]:
    out: dict[str, Any] = {
        "read": m.read,
        "inserted": m.inserted,
        "updated": m.updated,
        "deleted": m.deleted,
        "unchanged": m.unchanged,
        "pages": m.pages,
    }
    if m.members:
        out["members"] = m.members
    if m.skipped:
        out["skipped"] = m.skipped
    if m.method:
        out["method"] = m.method
    if m.watermark is not None:
        out["watermark"] = m.watermark.isoformat(sep=" ")
    return out
