"""The push's state in the warehouse: runs, per-account log, snapshot, follow-ups, matches.

Everything goes through SQLAlchemy Core on the tables of ``etl/schema.py`` (section "push"), so it
runs the same on SQLite and MariaDB. Each batch's log rows and snapshot updates are written in one
transaction: the snapshot never claims a value whose outcome was not logged.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Engine,
    MetaData,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from analytics.store import latest_run, load_run
from etl.runs import Run, RunStatus
from etl.runs import start_run as start_run_record
from etl.schema import (
    dim_customer,
    push_followup,
    push_log,
    push_match_issue,
    push_run,
    push_snapshot,
)
from sugar_bridge.push.exceptions import NoHabitsError
from sugar_bridge.push.match import Customer

log = logging.getLogger(__name__)

HABITS = "customer_habits"


@dataclass(frozen=True)
class CustomerRow:
    """A warehouse customer with its latest ``customer_habits`` row."""

    customer: Customer
    source: str
    source_customer_id: str
    habits: Mapping[str, Any]


def _habits_table(engine: Engine) -> Table:
    inspector = inspect(engine)
    if not (inspector.has_table(HABITS) or HABITS in inspector.get_view_names()):
        raise NoHabitsError(
            f"the warehouse has no {HABITS} table or view: run `sugar-bridge analytics run` first"
        )
    return Table(HABITS, MetaData(), autoload_with=engine)


# customer_habits columns that come from the repeat-purchase model.
CLV_COLUMNS = frozenset({"p_alive", "expected_orders_90d", "clv_12m"})


def clv_warning(engine: Engine) -> str | None:
    """Why the model figures the push would send (those of the latest *current* analytics run,
    the one ``customer_habits`` shows) should not reach Sugar, or None.

    A fit at the edge of the parameter space (degenerate), refitted with a penalty or not, gives
    P(alive) and CLV that mean little: the push leaves those fields as they are and says so.
    """
    with engine.connect() as conn:
        shown = latest_run(conn)
        run = load_run(conn, shown.run_id) if shown is not None else None
    models = run["models"] if run is not None else None
    if isinstance(models, str):  # a JSON column read back as text by some drivers
        models = json.loads(models)
    if not isinstance(models, dict):
        return None
    name = models.get("model")
    fitted = models.get(name) if isinstance(name, str) else None
    degenerate = fitted.get("degenerate") if isinstance(fitted, dict) else None
    if degenerate or models.get("penalized"):
        edge = ", ".join(degenerate or []) or "refitted"
        return f"the {name} fit of the latest analytics run is degenerate ({edge})"
    return None


#: The customer_habits columns that are amounts (in the analytics run's reporting currency).
MONEY_COLUMNS = frozenset({"total_amount", "avg_order_amount", "clv_12m"})


def habits_currency(engine: Engine) -> str | None:
    """The reporting currency of the run the push sends (the latest current one), or None for a
    run made before amounts were converted (migration 0013)."""
    with engine.connect() as conn:
        shown = latest_run(conn)
        run = load_run(conn, shown.run_id) if shown is not None else None
    currency = run.get("currency") if run is not None else None
    return str(currency) if currency else None


def last_pushed_currency(engine: Engine) -> str | None:
    """The currency of the amounts the last push that wrote money fields sent, or None."""
    query = (
        select(push_run.c.details)
        .where(push_run.c.dry_run.is_(False), push_run.c.status.in_(("ok", "partial")))
        .order_by(push_run.c.run_id.desc())
        .limit(50)
    )
    with engine.connect() as conn:
        for (details,) in conn.execute(query):
            if isinstance(details, str):
                details = json.loads(details)
            if isinstance(details, dict) and details.get("money_currency"):
                return str(details["money_currency"])
    return None


def load_customers(
    engine: Engine, external_id_format: str = "{source_customer_id}"
) -> tuple[list[CustomerRow], date | None]:
    """Customers that have statistics (``customer_habits`` joined to ``dim_customer``).

    Returns the rows and the statistics' ``as_of`` date (the latest one, None if not recorded).
    """
    habits = _habits_table(engine)
    if "customer_key" in habits.c:
        on = dim_customer.c.customer_key == habits.c.customer_key
    else:
        on = dim_customer.c.source_customer_id == habits.c.customer_id
    dim_cols = [
        dim_customer.c.customer_key.label("dc_customer_key"),
        dim_customer.c.source.label("dc_source"),
        dim_customer.c.source_customer_id.label("dc_source_customer_id"),
        dim_customer.c.name.label("dc_name"),
        dim_customer.c.email.label("dc_email"),
        dim_customer.c.city.label("dc_city"),
        dim_customer.c.country.label("dc_country"),
        dim_customer.c.sugar_account_id.label("dc_sugar_account_id"),
        dim_customer.c.match_method.label("dc_match_method"),
        dim_customer.c.customer_type.label("dc_customer_type"),
        dim_customer.c.sugar_contact_id.label("dc_sugar_contact_id"),
    ]
    stmt = (
        select(*dim_cols, *habits.c)
        .select_from(habits.join(dim_customer, on))
        .order_by(dim_customer.c.customer_key)
    )
    rows: list[CustomerRow] = []
    as_of: date | None = None
    seen: set[int] = set()
    with engine.connect() as conn:
        result = conn.execute(stmt)
        names = list(result.keys())
        records = result.all()
    first = len(dim_cols)  # the habits' columns follow dim_customer's
    habit_names = names[first:]
    for values in records:
        rec = dict(zip(names[:first], values[:first], strict=True))
        key = int(rec["dc_customer_key"])
        if key in seen:  # several habits rows for one customer: keep the first (latest run)
            continue
        seen.add(key)
        habit = dict(zip(habit_names, values[first:], strict=True))
        value = habit.get("as_of")
        if isinstance(value, datetime):
            value = value.date()
        if isinstance(value, date) and (as_of is None or value > as_of):
            as_of = value
        source, source_id = str(rec["dc_source"]), str(rec["dc_source_customer_id"])
        customer = Customer(
            customer_key=key,
            external_id=external_id_format.format(source=source, source_customer_id=source_id),
            name=rec["dc_name"],
            email=rec["dc_email"],
            city=rec["dc_city"],
            country=rec["dc_country"],
            sugar_account_id=rec["dc_sugar_account_id"],
            match_method=rec["dc_match_method"],
            customer_type=rec["dc_customer_type"],
            sugar_contact_id=rec["dc_sugar_contact_id"],
        )
        rows.append(CustomerRow(customer, source, source_id, habit))
    return rows, as_of


# --- runs -----------------------------------------------------------------------------------


def start_run(engine: Engine, as_of: date, *, dry_run: bool, full: bool, now: datetime) -> Run:
    """Open a push run: its ledger row (job ``push``, :mod:`etl.runs`) and its ``push_run`` row."""
    run = start_run_record(
        engine,
        "push",
        source="sugar",
        started_at=now,
        details={"as_of": as_of.isoformat(), "dry_run": dry_run, "full": full},
    )
    counts = dict.fromkeys(COUNT_COLUMNS, 0)
    with engine.begin() as conn:
        conn.execute(
            insert(push_run).values(
                run_id=run.run_id,
                as_of=as_of,
                dry_run=dry_run,
                full_push=full,
                started_at=now,
                status="running",
                **counts,
            )
        )
    return run


def habits_as_of(engine: Engine) -> date | None:
    """The ``as_of`` date of the statistics in ``customer_habits`` (None when there are none)."""
    habits = _habits_table(engine)
    if "as_of" not in habits.c:
        return None
    with engine.connect() as conn:
        value = conn.execute(select(func.max(habits.c.as_of))).scalar()
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    return value if isinstance(value, date) else None


COUNT_COLUMNS = (
    "customers",
    "matched",
    "ambiguous",
    "unmatched",
    "created",
    "updated",
    "unchanged",
    "failed",
    "verified",
    "list_added",
    "list_removed",
    "tasks_created",
    "sugar_writes",
)


def finish_run(
    run: Run,
    *,
    status: RunStatus,
    counts: Mapping[str, int],
    details: Mapping[str, Any],
    error: str | None,
    now: datetime,
) -> None:
    """Close a push run with its counts (``push_run`` and the ledger row, in one transaction)."""
    run.status, run.error, run.details = status, error, dict(details)
    run.rows_read = int(counts.get("customers", 0))
    run.rows_loaded = int(counts.get("created", 0)) + int(counts.get("updated", 0))
    run.rows_rejected = int(counts.get("failed", 0))
    with run.engine.begin() as conn:
        conn.execute(
            update(push_run)
            .where(push_run.c.run_id == run.run_id)
            .values(
                status=status,
                finished_at=now,
                error=error,
                details=dict(details),
                **{c: int(counts.get(c, 0)) for c in COUNT_COLUMNS},
            )
        )
        run.finish(conn=conn, finished_at=now)


# --- matches --------------------------------------------------------------------------------


def record_matches(
    engine: Engine,
    matches: Iterable[tuple[int, str | None, str | None]],
    now: datetime,
    module: str = "Accounts",
) -> int:
    """Store ``(customer_key, record_id, method)`` in ``dim_customer`` (``sugar_account_id``,
    or ``sugar_contact_id`` for ``module`` Contacts); returns rows changed."""
    column = "sugar_contact_id" if module == "Contacts" else "sugar_account_id"
    params = [
        {"k": key, "a": account_id, "m": method, "t": now if account_id else None, "u": now}
        for key, account_id, method in matches
    ]
    if not params:
        return 0
    stmt = (
        update(dim_customer)
        .where(dim_customer.c.customer_key == bindparam("k"))
        .values(
            {
                column: bindparam("a"),
                "match_method": bindparam("m"),
                "matched_at": bindparam("t"),
                "updated_at": bindparam("u"),
            }
        )
    )
    with engine.begin() as conn:
        conn.execute(stmt, params)
    return len(params)


def replace_match_issues(
    engine: Engine, run_id: int, issues: Sequence[Mapping[str, Any]], now: datetime
) -> None:
    """Replace the list of unmatched/ambiguous customers with the last match's."""
    with engine.begin() as conn:
        conn.execute(delete(push_match_issue))
        if issues:
            conn.execute(
                insert(push_match_issue),
                [dict(issue) | {"run_id": run_id, "recorded_at": now} for issue in issues],
            )


def read_match_issues(engine: Engine, *, ambiguous_only: bool = False) -> list[dict[str, Any]]:
    """The customers the last match could not pair, with their candidates."""
    stmt = (
        select(
            push_match_issue,
            dim_customer.c.source,
            dim_customer.c.source_customer_id,
            dim_customer.c.name,
            dim_customer.c.email,
        )
        .select_from(
            push_match_issue.outerjoin(
                dim_customer, dim_customer.c.customer_key == push_match_issue.c.customer_key
            )
        )
        .order_by(push_match_issue.c.reason, push_match_issue.c.customer_key)
    )
    if ambiguous_only:
        stmt = stmt.where(push_match_issue.c.reason == "ambiguous")
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(stmt).mappings()]


# --- snapshot and log -----------------------------------------------------------------------


@dataclass(frozen=True)
class Pushed:
    """A value in the snapshot: what Sugar holds, and the run that put it there."""

    value: str
    run_id: int


def snapshot_customers(engine: Engine, module: str) -> dict[str, set[int]]:
    """``{record_id: {customer_key}}`` of the records of ``module`` the push has written values
    to (its snapshot): the customers it wrote them for."""
    stmt = (
        select(push_snapshot.c.account_id, push_snapshot.c.customer_key)
        .where(push_snapshot.c.module == module, push_snapshot.c.customer_key.is_not(None))
        .distinct()
    )
    out: dict[str, set[int]] = {}
    with engine.connect() as conn:
        for record_id, key in conn.execute(stmt):
            out.setdefault(str(record_id), set()).add(int(key))
    return out


def load_snapshot(engine: Engine, module: str = "Accounts") -> dict[str, dict[str, Pushed]]:
    """``{record_id: {field: Pushed}}`` of every value verified in Sugar so far in ``module``."""
    out: dict[str, dict[str, Pushed]] = {}
    stmt = select(
        push_snapshot.c.account_id,
        push_snapshot.c.field,
        push_snapshot.c.value,
        push_snapshot.c.run_id,
    ).where(push_snapshot.c.module == module)
    with engine.connect() as conn:
        for account_id, name, value, run_id in conn.execute(stmt):
            out.setdefault(account_id, {})[name] = Pushed(value, int(run_id))
    return out


@dataclass(frozen=True)
class LogEntry:
    """One ``push_log`` row, and the snapshot values it confirms."""

    operation: str
    status: str
    account_id: str | None
    customer_key: int | None = None
    old_values: Mapping[str, Any] | None = None
    new_values: Mapping[str, Any] | None = None
    error: str | None = None
    stuck: Mapping[str, str] | None = None  # fields now verified in Sugar → snapshot
    module: str = "Accounts"  # of account_id: Accounts | Contacts | ProspectLists | Tasks…


def write_log(engine: Engine, run_id: int, entries: Sequence[LogEntry], now: datetime) -> None:
    """Insert log rows and upsert the verified values into the snapshot, in one transaction."""
    if not entries:
        return
    logs = [
        {
            "run_id": run_id,
            "account_id": e.account_id,
            "customer_key": e.customer_key,
            "operation": e.operation,
            "status": e.status,
            "old_values": dict(e.old_values) if e.old_values is not None else None,
            "new_values": dict(e.new_values) if e.new_values is not None else None,
            "error": e.error,
            "created_at": now,
            "module": e.module,
        }
        for e in entries
    ]
    snap = [
        {
            "account_id": e.account_id,
            "field": name,
            "value": value,
            "customer_key": e.customer_key,
            "run_id": run_id,
            "pushed_at": now,
            "module": e.module,
        }
        for e in entries
        if e.stuck and e.account_id
        for name, value in e.stuck.items()
    ]
    with engine.begin() as conn:
        conn.execute(insert(push_log), logs)
        if snap:
            # Portable upsert: delete the (record, field, module) rows, then insert them.
            conn.execute(
                delete(push_snapshot).where(
                    and_(
                        push_snapshot.c.account_id == bindparam("a"),
                        push_snapshot.c.field == bindparam("f"),
                        push_snapshot.c.module == bindparam("m"),
                    )
                ),
                [{"a": s["account_id"], "f": s["field"], "m": s["module"]} for s in snap],
            )
            conn.execute(insert(push_snapshot), snap)


# --- follow-ups -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FollowupClaim:
    """A follow-up to create (or finish creating) with a fixed record id."""

    followup_id: int
    record_id: str
    status: str


def claim_followup(
    engine: Engine,
    *,
    account_id: str,
    rule: str,
    from_value: str,
    to_value: str,
    from_run_id: int,
    module: str,
    record_id: str,
    payload: Mapping[str, Any],
    run_id: int,
    now: datetime,
    parent_type: str = "Accounts",
    owner_id: str | None = None,
    owner_name: str | None = None,
    as_of: date | None = None,
) -> FollowupClaim:
    """Register a follow-up before it is created, or return the one registered earlier.

    The unique key (record, rule, from, to, from_run_id, parent_type) makes a second registration
    of the same transition (or state occurrence) return the first one — with its record id, so a
    retried create reuses it. ``account_id`` is the parent record, an Account or
    (``parent_type``) a Contact. A ``waiting`` registration (over an earlier night's cap) is taken
    up: it becomes ``pending`` with this night's payload, owner and date.
    """
    key = and_(
        push_followup.c.account_id == account_id,
        push_followup.c.parent_type == parent_type,
        push_followup.c.rule == rule,
        push_followup.c.from_value == from_value,
        push_followup.c.to_value == to_value,
        push_followup.c.from_run_id == from_run_id,
    )
    cols = (push_followup.c.followup_id, push_followup.c.record_id, push_followup.c.status)
    fresh = {
        "module": module,
        "payload": dict(payload),
        "status": "pending",
        "run_id": run_id,
        "owner_id": owner_id,
        "owner_name": owner_name,
        "as_of": as_of,
        "updated_at": now,
    }
    with engine.begin() as conn:
        row = conn.execute(select(*cols).where(key)).first()
        if row is not None:
            if row[2] == "waiting":
                conn.execute(
                    update(push_followup)
                    .where(
                        push_followup.c.followup_id == row[0], push_followup.c.status == "waiting"
                    )
                    .values(**fresh)
                )
                return FollowupClaim(int(row[0]), str(row[1]), "pending")
            return FollowupClaim(int(row[0]), str(row[1]), str(row[2]))
    try:
        with engine.begin() as conn:
            new_id = conn.execute(
                insert(push_followup).values(
                    account_id=account_id,
                    rule=rule,
                    from_value=from_value,
                    to_value=to_value,
                    from_run_id=from_run_id,
                    record_id=record_id,
                    parent_type=parent_type,
                    created_at=now,
                    **fresh,
                )
            ).inserted_primary_key
        assert new_id is not None
        return FollowupClaim(int(new_id[0]), record_id, "pending")
    except IntegrityError:  # registered concurrently: use that one
        with engine.connect() as conn:
            row = conn.execute(select(*cols).where(key)).one()
        return FollowupClaim(int(row[0]), str(row[1]), str(row[2]))


def register_waiting(
    engine: Engine,
    rows: Sequence[Mapping[str, Any]],
    *,
    run_id: int,
    now: datetime,
) -> int:
    """Register transitions over the night's cap as ``waiting`` (created a later night); rows
    carry account_id, rule, from_value, to_value, from_run_id, module, record_id. Returns how
    many were new (one already registered is left as it is)."""
    new = 0
    for row in rows:
        try:
            with engine.begin() as conn:
                conn.execute(
                    insert(push_followup).values(
                        **row,
                        payload={},
                        status="waiting",
                        run_id=run_id,
                        created_at=now,
                        updated_at=now,
                    )
                )
            new += 1
        except IntegrityError:
            continue
    return new


def mark_followup(
    engine: Engine, followup_id: int, status: str, error: str | None, now: datetime
) -> None:
    """Record the outcome of a follow-up's create."""
    with engine.begin() as conn:
        conn.execute(
            update(push_followup)
            .where(push_followup.c.followup_id == followup_id)
            .values(status=status, error=error, updated_at=now)
        )


def pending_followups(engine: Engine) -> list[dict[str, Any]]:
    """Follow-ups registered but not confirmed created (a crash or a Sugar error hit them)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(push_followup).where(push_followup.c.status.in_(("pending", "failed")))
        ).mappings()
        return [dict(r) for r in rows]


#: Statuses of a follow-up that holds its rule for the account (until closed in Sugar).
HOLDING = ("pending", "created", "failed", "waiting")


@dataclass
class FollowupBook:
    """What the warehouse knows of the follow-ups, for one night's decisions."""

    open: set[tuple[str, str]]  # (account, rule) with a follow-up not closed in Sugar
    last_closed: dict[tuple[str, str], datetime]  # (account, rule) -> when its last one closed
    next_occurrence: dict[tuple[str, str], int]  # state rules: the next occurrence number
    waiting: list[dict[str, Any]]  # registrations over an earlier night's cap
    made_on: dict[str, int]  # owner id -> follow-ups registered for the night (the cap)
    in_sugar: list[dict[str, Any]]  # created and not known closed: to read back from Sugar


def followup_book(engine: Engine, as_of: date) -> FollowupBook:
    """Read the follow-ups' bookkeeping (one pass over ``push_followup``)."""
    book = FollowupBook(set(), {}, {}, [], {}, [])
    f = push_followup.c
    cols = (
        f.followup_id, f.account_id, f.rule, f.from_value, f.to_value, f.from_run_id, f.module,
        f.record_id, f.status, f.owner_id, f.as_of, f.closed_at, f.updated_at,
    )  # fmt: skip
    with engine.connect() as conn:
        for r in conn.execute(select(*cols)).mappings():
            key = (str(r["account_id"]), str(r["rule"]))
            occurrence = int(r["from_run_id"]) + 1
            book.next_occurrence[key] = max(book.next_occurrence.get(key, 1), occurrence)
            status = str(r["status"])
            if status == "dropped":  # never created: no cool-down
                continue
            if r["closed_at"] is not None:
                closed = r["closed_at"]
                if key not in book.last_closed or closed > book.last_closed[key]:
                    book.last_closed[key] = closed
                continue
            if status in HOLDING:
                book.open.add(key)
            if status == "waiting":
                book.waiting.append(dict(r))
            elif status == "created":
                book.in_sugar.append(dict(r))
            if status != "waiting" and r["as_of"] == as_of and r["owner_id"]:
                owner = str(r["owner_id"])
                book.made_on[owner] = book.made_on.get(owner, 0) + 1
    return book


def close_followups(
    engine: Engine, closed: Sequence[tuple[int, str, datetime]], now: datetime
) -> None:
    """Record follow-ups found closed (or deleted) in Sugar: (id, Sugar status, when)."""
    if not closed:
        return
    with engine.begin() as conn:
        conn.execute(
            update(push_followup)
            .where(push_followup.c.followup_id == bindparam("fid"))
            .values(sugar_status=bindparam("st"), closed_at=bindparam("at"), updated_at=now),
            [{"fid": fid, "st": status, "at": at} for fid, status, at in closed],
        )


def drop_waiting(engine: Engine, ids: Sequence[int], now: datetime) -> None:
    """Waiting follow-ups whose account left the state they waited for: never created."""
    if not ids:
        return
    with engine.begin() as conn:
        conn.execute(
            update(push_followup)
            .where(push_followup.c.followup_id.in_(list(ids)), push_followup.c.status == "waiting")
            .values(status="dropped", closed_at=now, updated_at=now)
        )


def record_owners(engine: Engine, owners: Mapping[int, str], now: datetime) -> None:
    """``dim_customer.owner_name`` of customers whose account owner changed (or was learnt)."""
    if not owners:
        return
    with engine.connect() as conn:
        known = {
            int(k): v
            for k, v in conn.execute(
                select(dim_customer.c.customer_key, dim_customer.c.owner_name)
            ).all()
        }
    changes = [{"k": key, "o": name} for key, name in owners.items() if known.get(key, "") != name]
    if not changes:
        return
    with engine.begin() as conn:
        conn.execute(
            update(dim_customer)
            .where(dim_customer.c.customer_key == bindparam("k"))
            .values(owner_name=bindparam("o")),
            changes,
        )


# --- status ---------------------------------------------------------------------------------


def last_runs(engine: Engine, limit: int = 5) -> list[dict[str, Any]]:
    """The latest push runs, newest first."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(push_run).order_by(push_run.c.run_id.desc()).limit(limit)
        ).mappings()
        return [dict(r) for r in rows]


def failed_accounts(engine: Engine, run_id: int) -> int:
    """Number of accounts whose write failed in a run."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(push_log)
                .where(push_log.c.run_id == run_id, push_log.c.status == "failed")
            ).scalar_one()
        )
