"""Follow-up actions of the commercial policy: a Task (or Call) when an account enters a stage.

The parent is the customer's record: an Account, or a Contact for a person (``parent_type``
Contacts; a Task also gets ``contact_id``, so it shows under the contact's Activities).

A rule fires when the value pushed for its column moves into one of ``enters`` (compared with the
snapshot of the last value that stuck in Sugar). Each transition is registered in
``push_followup`` under (account, rule, from, to, run that pushed "from") *before* Sugar is
called, with a client-generated record id: a retry, a crash or the same transition seen again on a
later night finds the registration and never creates a second task. Subject and description are
Jinja2 templates (sandboxed) rendered with the customer's figures.

Where the bridge extension has ``bridge_save_records`` (``bulk=True``), the night's new follow-ups
are registered first, then created a batch per module and call, with their registered ids and
``new_with_id`` (a replayed call updates what its lost first attempt made); the answer proves each
record exists, so nothing is read back. Follow-ups left over from an earlier run are retried one
by one, checked first, as before: one may exist already, changed by a rep since.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import jinja2
import jinja2.sandbox
from sqlalchemy import Engine

from connectors.sugar.client import SugarClient
from connectors.sugar.exceptions import SugarError
from connectors.sugar.extension.bulk import MAX_RECORDS, save_records
from sugar_bridge.push import store
from sugar_bridge.push.config import FollowupRule
from sugar_bridge.push.diff import FieldSpec
from sugar_bridge.push.store import LogEntry, Pushed

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Trigger:
    """A rule that fires for one account."""

    rule: FollowupRule
    account_id: str
    customer_key: int
    from_value: str  # Sugar value left ("" = none)
    to_value: str  # Sugar value entered
    from_run_id: int  # run that pushed from_value (0 = none)
    context: Mapping[str, Any]  # template variables
    assigned_user_id: str
    parent_type: str = "Accounts"  # the module of account_id: Accounts | Contacts


def detect(
    rule: FollowupRule,
    spec: FieldSpec,
    new_value: str,
    previous: Pushed | None,
) -> tuple[str, int] | None:
    """``(from_value, from_run_id)`` when ``rule`` fires for this value change, else None."""
    old = previous.value if previous is not None else ""
    if new_value == old or not new_value:
        return None
    entered = set(rule.enters)
    for value in rule.enters:
        # A word for a numeric column cannot be normalised: it is compared as written.
        with contextlib.suppress(ValueError):
            entered.add(spec.sugar_value(value))
    if new_value not in entered and spec.label(new_value) not in entered:
        return None
    if not old and not rule.on_first_push:
        return None  # no history: we cannot tell that the account *entered* the stage
    return old, previous.run_id if previous is not None else 0


NAME_LEN = 50  # Tasks.name and Calls.name are varchar(50) in Sugar

_ENV = jinja2.sandbox.SandboxedEnvironment(
    undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False
)


def render(template: str, context: Mapping[str, Any]) -> str:
    """Render a rule's template (sandboxed; an unknown variable is an error, not a blank)."""
    return _ENV.from_string(template).render(**context).strip()


def due_at(as_of: date, rule: FollowupRule) -> str:
    """The due date of a follow-up in Sugar's DB format, UTC: ``as_of`` + ``due_in_days``."""
    moment = datetime.combine(
        as_of + timedelta(days=rule.due_in_days), time.fromisoformat(rule.due_time)
    )
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def payload(trigger: Trigger, as_of: date) -> dict[str, Any]:
    """The Task or Call values (set_entry) of a trigger. Raises jinja2 errors on bad templates."""
    rule = trigger.rule
    values: dict[str, Any] = {
        "name": render(rule.subject, trigger.context)[:NAME_LEN],
        "description": render(rule.description, trigger.context),
        "parent_type": trigger.parent_type,
        "parent_id": trigger.account_id,
        "priority": rule.priority,
    }
    if trigger.parent_type == "Contacts" and rule.module == "Tasks":
        values["contact_id"] = trigger.account_id
    if trigger.assigned_user_id:
        values["assigned_user_id"] = trigger.assigned_user_id
    when = due_at(as_of, rule)
    if rule.module == "Tasks":
        values |= {"status": rule.status or "Not Started", "date_due": when, "date_due_flag": 0}
    else:
        values |= {
            "status": rule.status or "Planned",
            "direction": "Outbound",
            "date_start": when,
            "duration_hours": rule.duration_minutes // 60,
            "duration_minutes": rule.duration_minutes % 60,
        }
        values.pop("priority")
    return values


@dataclass
class FollowupResult:
    """Follow-ups created, failed, planned (dry run), and the writes sent."""

    created: int = 0
    failed: int = 0
    planned: int = 0
    already: int = 0
    writes: int = 0


def _create(
    client: SugarClient, module: str, record_id: str, values: Mapping[str, Any], check: bool
) -> int:
    """Create one record with a fixed id unless it exists; returns writes sent."""
    mod = client.module(module)
    if check and mod.get(record_id, fields=["id"]) is not None:
        return 0  # created by an earlier attempt whose answer was lost
    mod.create(values, id=record_id)
    if mod.get(record_id, fields=["id"]) is None:
        raise LookupError(f"{module} {record_id} not found when read back")
    return 1


def run_followups(
    engine: Engine,
    client: SugarClient,
    triggers: list[Trigger],
    *,
    as_of: date,
    run_id: int,
    now: datetime,
    dry_run: bool = False,
    bulk: bool = False,
    batch_size: int = 200,
) -> tuple[FollowupResult, list[LogEntry]]:
    """Register and create the follow-ups of ``triggers``; retry earlier unfinished ones first.

    ``bulk``: create the new ones with ``bridge_save_records`` in batches of ``batch_size`` (see
    the module docstring); else one ``set_entry`` and one read-back each."""
    result = FollowupResult()
    entries: list[LogEntry] = []
    if dry_run:
        result.planned = len(triggers)
        return result, entries
    retried: set[int] = set()
    fresh: list[_Fresh] = []
    for row in store.pending_followups(engine):
        retried.add(int(row["followup_id"]))
        _attempt(
            engine,
            client,
            row["module"],
            row["record_id"],
            row["payload"],
            int(row["followup_id"]),
            row["account_id"],
            None,
            True,
            result,
            entries,
            now,
            str(row.get("parent_type") or "Accounts"),
        )
    for trig in triggers:
        try:
            values = payload(trig, as_of)
        except Exception as exc:  # a user's template may fail any way (types, filters, syntax)
            result.failed += 1
            entries.append(
                LogEntry(
                    "task",
                    "failed",
                    trig.account_id,
                    trig.customer_key,
                    error=f"rule {trig.rule.name}: template error: {exc}",
                    module=trig.parent_type,
                )
            )
            continue
        claim = store.claim_followup(
            engine,
            account_id=trig.account_id,
            rule=trig.rule.name,
            from_value=trig.from_value,
            to_value=trig.to_value,
            from_run_id=trig.from_run_id,
            module=trig.rule.module,
            record_id=str(uuid.uuid4()),
            payload=values,
            run_id=run_id,
            now=now,
            parent_type=trig.parent_type,
        )
        if claim.status == "created" or claim.followup_id in retried:
            result.already += 1  # this transition's follow-up exists (or was just retried)
            continue
        if bulk:
            fresh.append(_Fresh(trig, claim.followup_id, claim.record_id, values))
            continue
        # A claim registered just now: its record id is new, nothing to check first.
        _attempt(
            engine,
            client,
            trig.rule.module,
            claim.record_id,
            values,
            claim.followup_id,
            trig.account_id,
            trig.customer_key,
            False,
            result,
            entries,
            now,
            trig.parent_type,
        )
    by_module: dict[str, list[_Fresh]] = {}
    for item in fresh:
        by_module.setdefault(item.trigger.rule.module, []).append(item)
    size = max(1, min(batch_size, MAX_RECORDS))
    for module, items in by_module.items():
        for start in range(0, len(items), size):
            _create_batch(engine, client, module, items[start : start + size], result, entries, now)
    return result, entries


@dataclass(frozen=True)
class _Fresh:
    """A follow-up registered by this run, to create in bulk."""

    trigger: Trigger
    followup_id: int
    record_id: str
    values: Mapping[str, Any]


def _create_batch(
    engine: Engine,
    client: SugarClient,
    module: str,
    items: list[_Fresh],
    result: FollowupResult,
    entries: list[LogEntry],
    now: datetime,
) -> None:
    """Create ``items`` with one ``bridge_save_records`` call; register each outcome."""
    rows = [{**item.values, "id": item.record_id, "new_with_id": True} for item in items]
    try:
        answer = save_records(client, module, rows, ["id"])
        outcomes = [
            None if saved.saved and saved.stored else (saved.error or "not read back")
            for saved in answer.records
        ]
    except SugarError as exc:
        outcomes = [f"bridge_save_records failed: {exc}"] * len(items)
    result.writes += 1
    for item, error in zip(items, outcomes, strict=True):
        trig = item.trigger
        logged = {"module": module, "id": item.record_id, "name": item.values.get("name")}
        if error is not None:
            store.mark_followup(engine, item.followup_id, "failed", error, now)
            result.failed += 1
            entries.append(
                LogEntry(
                    "task",
                    "failed",
                    trig.account_id,
                    trig.customer_key,
                    new_values=logged,
                    error=error,
                    module=trig.parent_type,
                )
            )
            continue
        store.mark_followup(engine, item.followup_id, "created", None, now)
        result.created += 1
        entries.append(
            LogEntry(
                "task",
                "ok",
                trig.account_id,
                trig.customer_key,
                new_values=logged,
                module=trig.parent_type,
            )
        )


def _attempt(
    engine: Engine,
    client: SugarClient,
    module: str,
    record_id: str,
    values: Mapping[str, Any],
    followup_id: int,
    account_id: str,
    customer_key: int | None,
    check_first: bool,
    result: FollowupResult,
    entries: list[LogEntry],
    now: datetime,
    parent_type: str,
) -> None:
    try:
        result.writes += _create(client, module, record_id, values, check_first)
    except (SugarError, LookupError) as exc:
        store.mark_followup(engine, followup_id, "failed", str(exc), now)
        result.failed += 1
        entries.append(
            LogEntry(
                "task",
                "failed",
                account_id,
                customer_key,
                new_values={"module": module, "id": record_id, "name": values.get("name")},
                error=str(exc),
                module=parent_type,
            )
        )
        return
    store.mark_followup(engine, followup_id, "created", None, now)
    result.created += 1
    entries.append(
        LogEntry(
            "task",
            "ok",
            account_id,
            customer_key,
            new_values={"module": module, "id": record_id, "name": values.get("name")},
            module=parent_type,
        )
    )
