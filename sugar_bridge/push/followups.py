"""Follow-up actions of the commercial policy: a Task (or Call) for an account in a watched state.

The parent is the customer's record: an Account, or a Contact for a person (``parent_type``
Contacts; a Task also gets ``contact_id``, so it shows under the contact's Activities).

A *state* rule (``is`` / ``when`` / ``key_account``) fires while the account is in the state and
has no open follow-up of that rule; one closed (or deleted) in Sugar — read back each night with
``get_entries`` — lets it fire again after the rule's cool-down. A *transition* rule (``enters``)
fires when the value pushed for its column moves into one of ``enters`` (compared with the
snapshot of the last value that stuck in Sugar). No rule fires for a customer who ordered within
its ``recent_buyer_days``.

Each follow-up is registered in ``push_followup`` *before* Sugar is called, under (account, rule,
from, to, n) — n the run that pushed "from" for a transition, the occurrence number for a state —
with a client-generated record id: a retry, a crash or a rerun finds the registration and never
creates a second one. A night creates at most ``push.followup_limits.per_owner_per_day`` per
owner: the rules named in ``rules_first`` first, then the others, the most valuable customers
first within each (``order_by``: CLV, then revenue); the rest wait: a state rule simply fires
again the next night, a transition is registered ``waiting`` and created on a later night while
the account is still in the value it entered. Subject and description are Jinja2
templates (sandboxed) rendered with the customer's figures, in the configured locale (Babel
filters ``money``, ``number``, ``percent``, ``date``; default texts in English and French).

Where the bridge extension has ``bridge_save_records`` (``bulk=True``), the night's new follow-ups
are registered first, then created a batch per module and call, with their registered ids and
``new_with_id`` (a replayed call updates what its lost first attempt made); the answer proves each
record exists, so nothing is read back. Follow-ups left over from an earlier run are retried one
by one, checked first, as before: one may exist already, changed by a rep since.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import jinja2
import jinja2.sandbox
from sqlalchemy import Engine

from analytics.i18n import Texts
from connectors.sugar.client import SugarClient
from connectors.sugar.exceptions import SugarError
from connectors.sugar.extension.bulk import MAX_RECORDS, save_records
from sugar_bridge.push import store
from sugar_bridge.push.config import FollowupRule
from sugar_bridge.push.diff import FieldSpec
from sugar_bridge.push.store import FollowupBook, LogEntry, Pushed

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Trigger:
    """A rule that fires for one account."""

    rule: FollowupRule
    account_id: str
    customer_key: int
    from_value: str  # Sugar value left ("" = none, and for a state rule)
    to_value: str  # Sugar value entered (the state's values for a state rule)
    from_run_id: int  # run that pushed from_value (0 = none); a state rule: occurrence number
    context: Mapping[str, Any]  # template variables
    owner_id: str  # the Sugar user the follow-up is assigned to (never empty)
    owner_name: str = ""
    value: tuple[float, ...] = ()  # push.followup_limits.order_by: highest first
    parent_type: str = "Accounts"  # the module of account_id: Accounts | Contacts

    @property
    def key(self) -> tuple[str, str, str, str, int]:
        """The registration key in ``push_followup``."""
        return (self.account_id, self.rule.name, self.from_value, self.to_value, self.from_run_id)


#: Statuses that close a follow-up in Sugar (SuiteCRM's task_status_dom and call_status_dom).
CLOSED_STATUSES: dict[str, frozenset[str]] = {
    "Tasks": frozenset({"Completed", "Deferred"}),
    "Calls": frozenset({"Held", "Not Held"}),
}


def _accepted(values: Sequence[str], spec: FieldSpec) -> set[str]:
    out = set(values)
    for value in values:
        # A word for a numeric column cannot be normalised: it is compared as written.
        with contextlib.suppress(ValueError):
            out.add(spec.sugar_value(value))
    return out


def holds(
    rule: FollowupRule,
    spec_of: Mapping[str, FieldSpec],
    desired: Mapping[str, str],
    key_account: bool,
) -> str | None:
    """A state rule's state as a value (``declining``, ``lost|champions``…) when the account
    is in it (every condition true), else None."""
    if rule.key_account is not None and rule.key_account != key_account:
        return None
    parts = []
    for column, values in rule.conditions().items():
        spec = spec_of[column]
        value = desired.get(spec.field, "")
        if not value:
            return None
        if value not in _accepted(values, spec) and spec.label(value) not in values:
            return None
        parts.append(value)
    return "|".join(parts) if parts else "key_account"


def closed_in_sugar(
    client: SugarClient, book: FollowupBook, now: datetime
) -> list[tuple[int, str, datetime]]:
    """The follow-ups created earlier that a rep closed (or deleted) in Sugar: (id, status,
    when). Reads each module's open ones with ``get_entries`` (a deleted record is absent)."""
    by_module: dict[str, list[dict[str, Any]]] = {}
    for row in book.in_sugar:
        by_module.setdefault(str(row["module"]), []).append(row)
    closed: list[tuple[int, str, datetime]] = []
    for module, rows in by_module.items():
        found = client.module(module).get_many(
            [str(r["record_id"]) for r in rows], fields=["id", "status", "date_modified"]
        )
        done = CLOSED_STATUSES.get(module, frozenset())
        for row in rows:
            record = found.get(str(row["record_id"]))
            if record is None:
                closed.append((int(row["followup_id"]), "(deleted)", now))
                continue
            status = str(record.get("status") or "")
            if status in done:
                when = now
                with contextlib.suppress(ValueError, TypeError):
                    when = datetime.strptime(str(record.get("date_modified")), "%Y-%m-%d %H:%M:%S")
                closed.append((int(row["followup_id"]), status, when))
    return closed


def cooling(rule: FollowupRule, last_closed: datetime | None, as_of: date) -> bool:
    """Whether a state rule still rests after its last follow-up for the account closed."""
    if last_closed is None or not rule.cooldown_days:
        return False
    return (as_of - last_closed.date()).days < rule.cooldown_days


def recent_buyer(days: int, habits: Mapping[str, Any]) -> bool:
    """Whether the customer ordered within ``days`` (0: the rule is off)."""
    recency = habits.get("recency_days")
    return bool(days) and recency is not None and int(recency) <= days


def value_of(habits: Mapping[str, Any], columns: Sequence[str]) -> tuple[float, ...]:
    """The ordering value of a customer: ``columns`` as numbers, a missing one lowest."""
    out = []
    for column in columns:
        raw = habits.get(column)
        try:
            number = float(raw) if raw is not None else -math.inf
        except (TypeError, ValueError):
            number = -math.inf
        out.append(-math.inf if number != number else number)  # NaN
    return tuple(out)


def select_capped(
    triggers: Sequence[Trigger],
    cap: int,
    made: Mapping[str, int],
    rules_first: Sequence[str] = (),
) -> tuple[list[Trigger], list[Trigger]]:
    """(created tonight, waiting): the follow-ups of the ``rules_first`` rules first (in that
    order), then the others; within each, the most valuable first; at most ``cap`` per owner a
    night counting the ``made`` ones already registered for it (a rerun the same night), and
    at most a rule's own ``per_owner_per_day`` of that rule's."""
    rank = {name: i for i, name in enumerate(rules_first)}
    ordered = sorted(
        triggers,
        key=lambda t: (
            rank.get(t.rule.name, len(rank)),
            tuple(-v for v in t.value),
            t.account_id,
            t.rule.name,
        ),
    )
    used: Counter[str] = Counter(made)
    by_rule: Counter[tuple[str, str]] = Counter()  # (owner, rule): tonight's, for a rule's cap
    chosen: list[Trigger] = []
    waiting: list[Trigger] = []
    for trig in ordered:
        own = trig.rule.per_owner_per_day
        if used[trig.owner_id] < cap and (
            own is None or by_rule[trig.owner_id, trig.rule.name] < own
        ):
            used[trig.owner_id] += 1
            by_rule[trig.owner_id, trig.rule.name] += 1
            chosen.append(trig)
        else:
            waiting.append(trig)
    return chosen, waiting


def detect(
    rule: FollowupRule,
    spec: FieldSpec,
    new_value: str,
    previous: Pushed | None,
) -> tuple[str, int] | None:
    """``(from_value, from_run_id)`` when ``rule`` fires for this value change, else None."""
    old = previous.value if previous is not None else ""
    if new_value == old or not new_value or rule.enters is None:
        return None
    entered = _accepted(rule.enters, spec)
    if new_value not in entered and spec.label(new_value) not in entered:
        return None
    if not old and not rule.on_first_push:
        return None  # no history: we cannot tell that the account *entered* the stage
    return old, previous.run_id if previous is not None else 0


NAME_LEN = 50  # Tasks.name and Calls.name are varchar(50) in Sugar


@functools.cache
def _environment(locale: str) -> jinja2.sandbox.SandboxedEnvironment:
    """The sandboxed template environment of a locale, with its Babel filters."""
    texts = Texts.for_locale(locale)
    env = jinja2.sandbox.SandboxedEnvironment(
        undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False
    )

    @jinja2.pass_context
    def money(ctx: jinja2.runtime.Context, value: Any, currency: str | None = None) -> str:
        return texts.money(value, currency or ctx.get("currency"))

    def day(value: Any) -> str:
        if isinstance(value, str) and value:
            with contextlib.suppress(ValueError):
                value = date.fromisoformat(value[:10])
        return texts.date(value if isinstance(value, (date, datetime)) else None)

    env.filters.update(
        money=money,
        number=lambda value, digits=0: texts.number(value, digits),
        percent=lambda value, digits=0: texts.percent(value, digits),
        date=day,
    )
    return env


def render(template: str, context: Mapping[str, Any], locale: str = "en") -> str:
    """Render a rule's template (sandboxed; an unknown variable is an error, not a blank)."""
    return _environment(locale).from_string(template).render(**context).strip()


def default_texts(rule: FollowupRule, texts: Texts) -> tuple[str, str]:
    """A rule's subject and description templates: its own, else the locale's defaults."""
    subject = rule.subject or texts.gettext("Follow up {{ account_name }}")
    if rule.description is not None:
        return subject, rule.description
    if rule.on_state:
        description = texts.gettext(
            "{{ account_name }}: {{ new_value }}. {{ n_orders | number }} orders, the last on "
            "{{ last_order_at | date }}; average order {{ avg_order_amount | money }}; "
            "12-month value {{ clv_12m | money }}; probability of being active "
            "{{ p_alive | percent }}."
        )
    else:
        description = texts.gettext(
            "{{ account_name }}: {{ old_value or '—' }} → {{ new_value }}. "
            "{{ n_orders | number }} orders, the last on {{ last_order_at | date }}; "
            "average order {{ avg_order_amount | money }}; 12-month value "
            "{{ clv_12m | money }}; probability of being active {{ p_alive | percent }}."
        )
    return subject, description


def due_at(as_of: date, rule: FollowupRule) -> str:
    """The due date of a follow-up in Sugar's DB format, UTC: ``as_of`` + ``due_in_days``."""
    moment = datetime.combine(
        as_of + timedelta(days=rule.due_in_days), time.fromisoformat(rule.due_time)
    )
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def payload(trigger: Trigger, as_of: date, locale: str = "en") -> dict[str, Any]:
    """The Task or Call values (set_entry) of a trigger, its texts in ``locale``. Raises jinja2
    errors on bad templates."""
    rule = trigger.rule
    subject, description = default_texts(rule, Texts.for_locale(locale))
    values: dict[str, Any] = {
        "name": render(subject, trigger.context, locale)[:NAME_LEN],
        "description": render(description, trigger.context, locale),
        "parent_type": trigger.parent_type,
        "parent_id": trigger.account_id,
        "priority": rule.priority,
        "assigned_user_id": trigger.owner_id,
    }
    if trigger.parent_type == "Contacts" and rule.module == "Tasks":
        values["contact_id"] = trigger.account_id
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
    by_owner: Counter[str] = field(default_factory=Counter)  # owner name: created
    sample: list[dict[str, Any]] = field(default_factory=list)  # a few created, with owners


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
    locale: str = "en",
    sample_size: int = 20,
) -> tuple[FollowupResult, list[LogEntry]]:
    """Register and create the follow-ups of ``triggers``; retry earlier unfinished ones first.

    ``bulk``: create the new ones with ``bridge_save_records`` in batches of ``batch_size`` (see
    the module docstring); else one ``set_entry`` and one read-back each."""
    result = FollowupResult()
    entries: list[LogEntry] = []
    if dry_run:
        result.planned = len(triggers)
        for trig in triggers[:sample_size]:
            result.sample.append(_sample(trig, None, as_of, locale))
        result.by_owner.update(t.owner_name or t.owner_id for t in triggers)
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
            values = payload(trig, as_of, locale)
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
            owner_id=trig.owner_id,
            owner_name=trig.owner_name,
            as_of=as_of,
        )
        if claim.status == "created" or claim.followup_id in retried:
            result.already += 1  # this transition's follow-up exists (or was just retried)
            continue
        result.by_owner[trig.owner_name or trig.owner_id] += 1
        if len(result.sample) < sample_size:
            result.sample.append(_sample(trig, claim.record_id, as_of, locale, values))
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


def _sample(
    trig: Trigger,
    record_id: str | None,
    as_of: date,
    locale: str,
    values: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One follow-up as ``segments push --json`` shows it."""
    if values is None:
        try:
            values = payload(trig, as_of, locale)
        except Exception as exc:  # a user's template may fail any way
            values = {"name": f"(template error: {exc})"}
    return {
        "account_id": trig.account_id,
        "rule": trig.rule.name,
        "module": trig.rule.module,
        "id": record_id,
        "owner": trig.owner_name,
        "owner_id": trig.owner_id,
        "subject": values.get("name"),
        "state": trig.to_value,
    }


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
