"""``sugar-bridge db``: the warehouse schema (Alembic migrations shipped with the package)."""

from __future__ import annotations

import typer

from sugar_bridge.cli.common import handle_errors, make_runtime
from sugar_bridge.cli.output import CONTEXT_SETTINGS, console

app = typer.Typer(
    help="Warehouse schema: migrate, show the revision.",
    no_args_is_help=True,
    context_settings=CONTEXT_SETTINGS,
)


@app.command("upgrade")
@handle_errors
def upgrade_command() -> None:
    """Apply the warehouse migrations up to this version's head."""
    from etl.db import current_revision

    runtime = make_runtime()
    before = runtime.warehouse_revision()
    with runtime.warehouse("write") as engine:
        after = current_revision(engine)
    where = runtime.warehouse_display
    if before == after:
        console.print(f"warehouse {where} already at revision {after}")
    else:
        console.print(f"warehouse {where} migrated from {before or 'empty'} to {after}")


@app.command("current")
@handle_errors
def current_command() -> None:
    """Show the warehouse's schema revision and the one this version needs (creates nothing)."""
    from etl.db import head_revision

    runtime = make_runtime()
    current = runtime.warehouse_revision()
    head = head_revision()
    state = "up to date" if current == head else "run `sugar-bridge db upgrade`"
    console.print(
        f"warehouse {runtime.warehouse_display}: revision {current or 'none (empty)'}"
        f", code head {head} — {state}"
    )
