"""Status lines of the push runs, for ``sugar-bridge status``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Engine

from sugar_bridge.push import store

if TYPE_CHECKING:
    from analytics.i18n import Texts


def status_lines(engine: Engine, t: Texts | None = None, limit: int = 3) -> list[str]:
    """One line per recent push run (newest first): counts, duration, error, in ``t``'s
    language (default English)."""
    from analytics.i18n import Texts

    t = t or Texts.for_locale(None)
    _ = t.gettext
    lines = []
    for run in store.last_runs(engine, limit):
        started = t.datetime(run["started_at"]) if run["started_at"] else "?"
        took = (
            ", "
            + _("%(seconds)s s")
            % {"seconds": t.number((run["finished_at"] - run["started_at"]).total_seconds())}
            if run["finished_at"] and run["started_at"]
            else ""
        )
        kind = _("full push") if run["full_push"] else _("push")
        if run["dry_run"]:
            kind = _("dry run")
        counts = _(
            "%(matched)s matched, %(created)s created, %(updated)s updated, %(unchanged)s "
            "unchanged, %(failed)s failed, lists +%(added)s/-%(removed)s, %(tasks)s follow-ups, "
            "%(writes)s writes"
        ) % {
            "matched": t.number(run["matched"]),
            "created": t.number(run["created"]),
            "updated": t.number(run["updated"]),
            "unchanged": t.number(run["unchanged"]),
            "failed": t.number(run["failed"]),
            "added": t.number(run["list_added"]),
            "removed": t.number(run["list_removed"]),
            "tasks": t.number(run["tasks_created"]),
            "writes": t.number(run["sugar_writes"]),
        }
        head = _("%(kind)s %(run)s, %(started)s, as of %(as_of)s: %(status)s") % {
            "kind": kind,
            "run": run["run_id"],
            "started": started,
            "as_of": t.date(run["as_of"]) if run["as_of"] else "?",
            "status": _(str(run["status"])),
        }
        error = " — " + _("error: %(error)s") % {"error": run["error"]} if run["error"] else ""
        lines.append(f"{head}{took} — {counts}{error}")
    return lines
