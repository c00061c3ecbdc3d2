"""``sugar-bridge provision``: plan, apply, export and the spec's JSON Schema.

Thin layer: each command loads settings and the config (validated once: a bad spec exits 2 before
Sugar is contacted), calls one function of :mod:`sugar_bridge.provision`, and renders the result
with Rich.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from sugar_bridge.cli.common import EXIT_FAILED, handle_errors, make_runtime
from sugar_bridge.cli.output import (
    CONTEXT_SETTINGS,
    JsonOption,
    console,
    err_console,
    print_json,
    report_problem,
)

if TYPE_CHECKING:
    from sugar_bridge.provision.apply import ApplyResult
    from sugar_bridge.provision.plan import Item, Plan

app = typer.Typer(
    help="Provision Sugar from the config's sugar: section (users, roles, groups, accounts, "
    "custom fields): plan, apply, export, schema.",
    no_args_is_help=True,
    context_settings=CONTEXT_SETTINGS,
)

_STYLE = {
    "create": "green",
    "update": "yellow",
    "add": "green",
    "remove": "red",
    "prune": "red",
    "would-prune": "magenta",
    "blocked": "bold red",
    "unchanged": "dim",
}


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else str(value)
    text = text if text not in ("", "None") else "∅"
    # Shortened for a person at a terminal only: piped, every value is whole.
    return text if len(text) <= 60 or not console.is_terminal else text[:57] + "..."


def _details(item: Item) -> str:
    if item.kind == "role_rights" and item.action == "create":
        # A new role's rights: one line per module rather than one per action.
        modules: dict[str, list[str]] = {}
        for change in item.changes:
            module, _, action = change.name.partition(".")
            modules.setdefault(module, []).append(f"{action} {change.new}")
        return "\n".join(f"{module}: {', '.join(words)}" for module, words in modules.items())
    parts = [f"{c.name}: {_short(c.old)} → {_short(c.new)}" for c in item.changes]
    if item.title:
        parts.insert(0, item.title)
    if item.note:
        parts.append(f"[italic]{item.note}[/]")
    return "\n".join(parts)


def render_plan(the_plan: Plan, *, show_unchanged: bool = False) -> None:
    """Print the plan as a table, then its blockers, notes and counts."""
    table = Table(title="Provisioning plan", show_lines=False, expand=False)
    table.add_column("kind")
    table.add_column("object", overflow="fold")
    table.add_column("action")
    table.add_column("details", overflow="fold")
    shown = 0
    for item in the_plan.items:
        if item.action == "unchanged" and not (show_unchanged or item.note):
            continue
        style = _STYLE.get(item.action, "")
        table.add_row(item.kind, item.key, f"[{style}]{item.action}[/]", _details(item))
        shown += 1
    if shown:
        console.print(table)
    for blocker in the_plan.blockers:
        report_problem("blocked", blocker)
    counts = the_plan.counts()
    summary = ", ".join(f"{n} {action}" for action, n in sorted(counts.items())) or "nothing"
    console.print(f"Plan: {summary}.", highlight=False)
    if the_plan.blockers:
        report_problem(
            "Blocked",
            f"{len(the_plan.blockers)} blocker(s) above; apply would change nothing until they "
            "are resolved.",
        )
    elif not the_plan.has_changes:
        console.print("[green]No changes: Sugar matches the spec.[/]")


def plan_document(the_plan: Plan) -> dict[str, Any]:
    """``provision plan --json``: every item with its changes (old → new), blockers, counts.

    The values apply would write are left out: a user's carry the generated password.
    """
    return {
        "has_changes": the_plan.has_changes,
        "prune": the_plan.prune,
        "counts": the_plan.counts(),
        "blockers": the_plan.blockers,
        "items": [
            {
                "kind": item.kind,
                "key": item.key,
                "title": item.title,
                "action": item.action,
                "sugar_id": item.sugar_id,
                "changes": [{"name": c.name, "old": c.old, "new": c.new} for c in item.changes],
                "note": item.note,
            }
            for item in the_plan.items
        ],
    }


def _render_result(result: ApplyResult) -> None:
    table = Table(title="Applied")
    table.add_column("kind")
    table.add_column("changes")
    for kind, actions in result.summary().items():
        table.add_row(kind, ", ".join(f"{n} {a}" for a, n in sorted(actions.items())))
    if result.applied:
        console.print(table)
    console.print(f"Apply complete: {len(result.applied)} change(s).", highlight=False)
    if result.password_file is not None:
        console.print(
            f"{result.passwords_written} generated password(s) written to {result.password_file} "
            "(mode 0600): hand them over and delete the file.",
            highlight=False,
        )


@app.command("plan")
@handle_errors
def plan_command(
    detailed_exitcode: Annotated[
        bool,
        typer.Option(
            "--detailed-exitcode",
            help="Exit 0 when Sugar matches the spec, 2 when there are changes (drift check); "
            "a blocked plan exits 1 with or without it.",
        ),
    ] = False,
    prune: Annotated[
        bool, typer.Option("--prune", help="Plan the deactivation of users not in the spec.")
    ] = False,
    show_all: Annotated[bool, typer.Option("--all", help="Also list unchanged objects.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Read Sugar and show what apply would change (create / update old → new / prune).

    Exit 1 when something blocks the plan (apply would refuse it), so a blocked Sugar never
    passes for one in sync, with or without ``--detailed-exitcode``.
    """
    from sugar_bridge.provision.plan import plan
    from sugar_bridge.sugar import make_client

    runtime = make_runtime()
    spec = runtime.require_config_file("sugar").sugar
    with make_client(runtime.settings) as client:
        the_plan = plan(client, spec, prune=prune)
    if as_json:
        print_json(plan_document(the_plan))
    else:
        render_plan(the_plan, show_unchanged=show_all)
    if the_plan.blockers:
        raise typer.Exit(EXIT_FAILED)
    if detailed_exitcode and the_plan.has_changes:
        raise typer.Exit(2)


@app.command("apply")
@handle_errors
def apply_command(
    prune: Annotated[
        bool,
        typer.Option("--prune", help="Deactivate users not in the spec (users are never deleted)."),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Apply without asking.")] = False,
    passwords_file: Annotated[
        Path | None,
        typer.Option(
            "--passwords-file",
            help="Where generated passwords go (a new file, mode 0600). "
            "Default: <data_dir>/provision-passwords-<UTC time>.tsv.",
        ),
    ] = None,
    show_all: Annotated[bool, typer.Option("--all", help="Also list unchanged objects.")] = False,
) -> None:
    """Make Sugar match the spec: fields → roles → groups → users → memberships → accounts."""
    from sugar_bridge.provision.apply import apply
    from sugar_bridge.provision.exceptions import PlanBlocked
    from sugar_bridge.provision.history import recorded_apply
    from sugar_bridge.provision.plan import plan
    from sugar_bridge.sugar import make_client

    runtime = make_runtime()
    spec = runtime.require_config_file("sugar").sugar
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = passwords_file or runtime.settings.data_dir / f"provision-passwords-{stamp}.tsv"
    with make_client(runtime.settings) as client:
        the_plan = plan(client, spec, prune=prune)
        render_plan(the_plan, show_unchanged=show_all)
        if the_plan.blockers:
            raise PlanBlocked(the_plan.blockers)
        if not the_plan.changes:
            return
        question = f"Apply {len(the_plan.changes)} change(s) to Sugar?"
        if not yes and not typer.confirm(question):
            err_console.print("Nothing applied.")
            raise typer.Exit(1)
        with Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=err_console,  # stdout carries the result only
            transient=True,
        ) as bar:
            task = bar.add_task("applying", total=len(the_plan.changes))

            def advance(item: Item) -> None:
                bar.update(task, advance=1, description=f"{item.kind} {item.key}")

            with recorded_apply(runtime.settings.warehouse_url_value) as record:
                result = apply(
                    client,
                    spec,
                    prune=prune,
                    passwords_file=target,
                    progress=advance,
                    on_secret=runtime.add_secret,
                    current=the_plan,
                )
                record.summary, record.changes = result.summary(), len(result.applied)
    _render_result(result)


@app.command("export")
@handle_errors
def export_command(
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the spec here (else stdout).")
    ] = None,
    module: Annotated[
        list[str] | None,
        typer.Option("--module", help="Module whose custom fields are exported (repeatable)."),
    ] = None,
    key_field: Annotated[
        str, typer.Option("--key-field", help="Accounts custom field holding the external id.")
    ] = "external_id_c",
) -> None:
    """Write the current Sugar state as a sugar: spec (to adopt an existing instance)."""
    from sugar_bridge.provision.export import export
    from sugar_bridge.sugar import make_client

    runtime = make_runtime()
    modules = tuple(module or ["Accounts"])
    with make_client(runtime.settings) as client:
        result = export(client, modules=modules, account_key_field=key_field)
    _emit(result.to_yaml(), out, "Spec")
    for line in result.skipped:
        report_problem("skipped", line, level=logging.WARNING)


@app.command("schema")
@handle_errors
def schema_command(
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the schema here (else stdout).")
    ] = None,
) -> None:
    """Print the JSON Schema of the config file (for editors' autocompletion)."""
    from sugar_bridge.config import json_schema

    _emit(json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n", out, "Schema")


def _emit(text: str, out: Path | None, what: str) -> None:
    """Write ``text`` to ``out`` (creating its directory) and say so, or to stdout."""
    if out is None:
        typer.echo(text, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    console.print(f"{what} written to {out}.", highlight=False)
