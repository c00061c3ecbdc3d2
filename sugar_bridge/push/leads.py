"""The prospect score pushed to Sugar's Leads (``push.lead_score``).

The scores of the latest *current* analytics run (``prospect_score``, module Leads; see
``analytics.prospects``) go to one integer field of the lead (default ``prospect_score_c``: the
score in percent, 0-100), the same way the segments go to the accounts: diffed against the
snapshot of the last value verified in Sugar, only the leads whose score moved by at least
``min_change`` points are written, and a value counts as pushed only once read back from Sugar.

Per batch of changed leads: ``get_entries`` (the leads that are gone — deleted, or converted
since the extraction — are skipped: Sugar answers an update of a deleted id as a success),
``set_entries`` on the others, ``get_entries`` again to verify. Nothing is read or written when
the run has no lead score (a shop without the Sugar extraction, or too little history); a Sugar
without the field gets a warning, not a write Sugar would drop silently.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from connectors.sugar.client import SugarClient
from connectors.sugar.exceptions import SugarError
from etl.schema import analytics_run, prospect_score
from sugar_bridge.push import store
from sugar_bridge.push.config import LeadScoreConfig
from sugar_bridge.push.store import LogEntry
from sugar_bridge.push.sugar_io import Expect, compare
from sugar_bridge.push.values import normalise

log = logging.getLogger(__name__)

MODULE = "Leads"
#: A lead that Sugar shows as converted is a contact/account now: its score is left alone.
CONVERTED = "Converted"


@dataclass
class LeadScorePush:
    """What the lead score push did (counts of leads)."""

    scored: int = 0  # leads with a score in the run
    unchanged: int = 0  # same value as the last verified push (or a change below min_change)
    updated: int = 0  # written and verified
    planned: int = 0  # would be written (dry run)
    skipped: int = 0  # gone from Sugar, or converted since the extraction
    failed: int = 0
    warnings: list[str] = field(default_factory=list)
    sugar_writes: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "scored": self.scored,
            "unchanged": self.unchanged,
            "updated": self.updated,
            "planned": self.planned,
            "skipped": self.skipped,
            "failed": self.failed,
        }


def lead_scores(engine: Engine) -> dict[str, float]:
    """``{lead id: score}`` of the latest current analytics run (empty when it has none)."""
    latest = (
        select(analytics_run.c.run_id)
        .where(analytics_run.c.kind == "current")
        .order_by(analytics_run.c.run_id.desc())
        .limit(1)
        .scalar_subquery()
    )
    query = select(prospect_score.c.record_id, prospect_score.c.score).where(
        prospect_score.c.run_id == latest, prospect_score.c.module == MODULE
    )
    with engine.connect() as conn:
        return {str(lead): float(score) for lead, score in conn.execute(query)}


def sugar_value(score: float) -> str:
    """The score as the lead field holds it: whole percent points, ``"0"``-``"100"``."""
    return normalise(round(score * 100), "int")


def _matters(old: str | None, new: str, min_change: int) -> bool:
    if old is None or old == "":
        return True
    try:
        return abs(int(new) - int(old)) >= min_change
    except ValueError:
        return old != new


def push_lead_scores(
    engine: Engine,
    client: SugarClient,
    config: LeadScoreConfig,
    *,
    run_id: int,
    now: datetime,
    dry_run: bool = False,
    full: bool = False,
) -> LeadScorePush:
    """Push the latest run's lead scores to ``config.field`` of the Leads (see the module doc).

    Sugar errors of a batch fail that batch's leads (kept out of the snapshot, so sent again by
    the next push); the log and the snapshot are written once at the end.
    """
    out = LeadScorePush()
    if config.field is None:
        return out
    scores = lead_scores(engine)
    out.scored = len(scores)
    if not scores:
        return out
    leads = client.module(MODULE)
    if config.field not in leads.fields([config.field]).module_fields:
        out.warnings.append(
            f"lead scores not pushed: Sugar's Leads module has no field {config.field} "
            "(declare it under sugar.custom_fields.Leads and run `sugar-bridge provision apply`)"
        )
        log.warning("%s", out.warnings[-1])
        return out
    snapshot = store.load_snapshot(engine, MODULE)
    changes: dict[str, tuple[str | None, str]] = {}
    for lead, score in scores.items():
        new = sugar_value(score)
        pushed = snapshot.get(lead, {}).get(config.field)
        old = pushed.value if pushed is not None else None
        if full or _matters(old, new, config.min_change):
            changes[lead] = (old, new)
    out.unchanged = len(scores) - len(changes)
    if dry_run:
        out.planned = len(changes)
        return out
    entries: list[LogEntry] = []
    ordered = sorted(changes)
    for start in range(0, len(ordered), config.batch_size):
        batch = ordered[start : start + config.batch_size]
        entries += _write_batch(client, config.field, batch, changes, out)
    if entries:
        store.write_log(engine, run_id, entries, now)
    log.info(
        "lead scores: %d scored, %d updated, %d unchanged, %d skipped, %d failed",
        out.scored,
        out.updated,
        out.unchanged,
        out.skipped,
        out.failed,
    )
    return out


def _write_batch(
    client: SugarClient,
    name: str,
    batch: list[str],
    changes: dict[str, tuple[str | None, str]],
    out: LeadScorePush,
) -> list[LogEntry]:
    """Write one batch of leads (get_entries, set_entries, get_entries); their log entries."""
    leads = client.module(MODULE)
    try:
        current = leads.get_many(batch, fields=["id", "status", name])
    except SugarError as exc:
        out.failed += len(batch)
        return [_failed(name, lead, changes[lead], f"get_entries failed: {exc}") for lead in batch]
    live = [lead for lead in batch if lead in current and current[lead].get("status") != CONVERTED]
    out.skipped += len(batch) - len(live)
    if not live:
        return []
    try:
        leads.save_many(
            [{"id": lead, name: changes[lead][1]} for lead in live],
            batch_size=len(live),
            check_exists=False,  # just read: they exist
        )
        out.sugar_writes += 1
        stored = leads.get_many(live, fields=["id", name])
    except SugarError as exc:
        out.failed += len(live)
        return [_failed(name, lead, changes[lead], f"set_entries failed: {exc}") for lead in live]
    entries = []
    for lead in live:
        old, new = changes[lead]
        record = stored.get(lead)
        if record is None:
            out.failed += 1
            entries.append(_failed(name, lead, (old, new), "lead not found when read back"))
            continue
        stuck, problem = compare(record, {name: Expect(new, "int")})
        if problem:
            out.failed += 1
            entries.append(_failed(name, lead, (old, new), f"not stored as sent: {problem}"))
            continue
        out.updated += 1
        entries.append(
            LogEntry(
                operation="update",
                status="ok",
                account_id=lead,
                old_values={name: old},
                new_values={name: new},
                stuck=stuck,
                module=MODULE,
            )
        )
    return entries


def _failed(name: str, lead: str, change: tuple[str | None, str], error: str) -> LogEntry:
    old, new = change
    return LogEntry(
        operation="update",
        status="failed",
        account_id=lead,
        old_values={name: old},
        new_values={name: new},
        error=error,
        module=MODULE,
    )
