"""Status lines of the push runs, for ``sugar-bridge status``."""

from __future__ import annotations

from sqlalchemy import Engine

from sugar_bridge.push import store


def status_lines(engine: Engine, limit: int = 3) -> list[str]:
    """One line per recent push run (newest first): counts, duration, error."""
    lines = []
    for run in store.last_runs(engine, limit):
        started = run["started_at"].strftime("%Y-%m-%d %H:%M") if run["started_at"] else "?"
        took = (
            f", {(run['finished_at'] - run['started_at']).total_seconds():.0f}s"
            if run["finished_at"] and run["started_at"]
            else ""
        )
        kind = "dry run" if run["dry_run"] else ("full push" if run["full_push"] else "push")
        lines.append(
            f"{kind} {run['run_id']} {started} as of {run['as_of']}: {run['status']}{took} — "
            f"{run['matched']} matched, {run['created']} created, {run['updated']} updated, "
            f"{run['unchanged']} unchanged, {run['failed']} failed, lists "
            f"+{run['list_added']}/-{run['list_removed']}, {run['tasks_created']} tasks, "
            f"{run['sugar_writes']} writes" + (f" — error: {run['error']}" if run["error"] else "")
        )
    return lines
