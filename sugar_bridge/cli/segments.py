"""``sugar-bridge segments``: push segments into Sugar, match customers, list the unmatched.

Thin layer over :mod:`sugar_bridge.push`: each command loads settings and config once, calls one
library function, and renders the result with Rich. ``push`` exits 3 when some accounts, list
members or tasks failed (they are retried by the next run).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from sugar_bridge.cli.common import (
    EXIT_PARTIAL,
    handle_errors,
    make_runtime,
    sync_exclusive,
    texts,
    word,
)
from sugar_bridge.cli.output import (
    CONTEXT_SETTINGS,
    JsonOption,
    console,
    print_json,
    progress_reporter,
)

if TYPE_CHECKING:
    from analytics.i18n import Texts
    from sugar_bridge.push.push import PushRunInfo

app = typer.Typer(
    help="Push segments and habits into Sugar accounts, target lists and follow-up tasks; "
    "match warehouse customers to accounts.",
    no_args_is_help=True,
    context_settings=CONTEXT_SETTINGS,
)


def render_run(info: PushRunInfo, t: Texts | None = None) -> None:
    """Print a push run's counts, and for a dry run its transitions and sample, in ``t``'s
    language (default English)."""
    t = t or texts()
    _ = t.gettext
    state = _("dry run, nothing written") if info.dry_run else word(t, info.status)
    title = _("push run %(run)s (%(state)s)") % {"run": info.run_id, "state": state}
    planned = " " + _("(planned)") if info.dry_run else ""
    table = Table(title=title, show_header=True)
    table.add_column(_("what"))
    table.add_column(_("count"), justify="right")
    rows = [
        (_("customers with statistics"), info.customers),
        (_("matched accounts"), info.matched),
        (_("ambiguous (see `segments unmatched`)"), info.ambiguous),
        (_("without account"), info.unmatched),
        (_("accounts created") + planned, info.created),
        (_("accounts updated") + planned, info.updated),
        (_("accounts unchanged"), info.unchanged),
    ]
    persons = info.modules.get("Contacts")
    if persons:
        # The counts above cover both modules; the persons' share (pushed to Contacts):
        rows += [
            ("  " + _("of which persons, in Contacts"), persons.get("customers", 0)),
            ("  " + _("contacts matched"), persons.get("matched", 0)),
            ("  " + _("contacts created") + planned, persons.get("created", 0)),
            ("  " + _("contacts updated") + planned, persons.get("updated", 0)),
        ]
    rows += [
        (_("failed (retried next run)"), info.failed),
        (_("verified by read-back"), info.verified),
        (_("target list members added"), info.list_added),
        (_("target list members removed"), info.list_removed),
        (_("target list failures"), info.list_failed),
        (_("follow-ups created") + planned, info.tasks_created),
        (_("follow-up failures"), info.tasks_failed),
        (_("follow-ups waiting (over the per-owner cap)"), info.tasks_waiting),
        (_("follow-ups not repeated (still open)"), info.tasks_still_open),
        (_("accounts given an owner"), info.owners_assigned),
        (_("old records emptied (customer moved)") + planned, info.retired),
        (_("Sugar write calls"), info.sugar_writes),
    ]
    calls = info.sugar_calls
    if calls:
        total = sum(calls.get("calls", {}).values())
        rows.append((_("Sugar calls"), total))
    for label, value in rows:
        table.add_row(label, t.number(value))
    if calls and (calls.get("retries") or calls.get("relogins")):
        table.add_row(
            "",
            _("(%(retries)s retried, %(relogins)s re-logins)")
            % {"retries": calls.get("retries", 0), "relogins": calls.get("relogins", 0)},
        )
    if info.currency:
        table.add_row(_("currency of the amounts"), info.currency)
    console.print(table)
    for warning in info.warnings:
        said = _("warning:")
        console.print(f"[bold yellow]{said}[/] {warning}", markup=True, highlight=False)
    by_owner = info.followups.get("by_owner") or {}
    if by_owner:
        owners = Table(title="follow-ups per owner", show_header=True)
        owners.add_column("owner")
        owners.add_column("created" + (" (planned)" if info.dry_run else ""), justify="right")
        owners.add_column("waiting", justify="right")
        waiting = info.followups.get("waiting_by_owner") or {}
        for owner in sorted(set(by_owner) | set(waiting)):
            owners.add_row(owner, str(by_owner.get(owner, 0)), str(waiting.get(owner, 0)))
        console.print(owners)
    if info.transitions:
        trans = Table(title=_("segment transitions"), show_header=True)
        trans.add_column(_("from → to"))
        trans.add_column(_("accounts"), justify="right")
        for key, count in info.transitions.items():
            trans.add_row(key, t.number(count))
        console.print(trans)
    if info.dry_run and info.sample:
        sample = Table(
            title=_("sample of planned writes (%(n)s)") % {"n": len(info.sample)},
            show_header=True,
        )
        sample.add_column(_("customer"))
        sample.add_column(_("account"))
        sample.add_column(_("changes"))
        for item in info.sample:
            changes = "; ".join(
                f"{f}: {old if old not in (None, '') else '∅'} → {new if new != '' else '∅'}"
                for f, (old, new) in item["changes"].items()
            )
            sample.add_row(str(item["customer_key"]), item["account_id"], changes)
        console.print(sample)


@app.command("push")
@handle_errors
def push_command(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; write nothing to Sugar.")
    ] = False,
    full: Annotated[
        bool, typer.Option("--full", help="Resend every mapped value, changed or not.")
    ] = False,
    full_check: Annotated[
        bool,
        typer.Option(
            "--full-check",
            help="Read every record from Sugar, not only those modified since the last push "
            "(and diff the edited ones against Sugar's values).",
        ),
    ] = False,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Date of the statistics (default: customer_habits' as_of)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Push the latest statistics into Sugar: only changed accounts, verified by read-back."""
    from sugar_bridge.push import store
    from sugar_bridge.push.push import push_segments
    from sugar_bridge.sugar import make_client

    runtime = make_runtime()
    config = runtime.push_config
    settings = runtime.settings
    settings.require_sugar()  # a missing URL/password is a config error before any work
    given = runtime.parse_as_of(as_of) if as_of is not None else None
    # A dry run only reads the warehouse (it records its push run but never migrates) and may
    # run beside a sync; a push writes to Sugar and is never run beside one.
    warehouse = runtime.warehouse("read") if dry_run else sync_exclusive(runtime, "segments push")
    with warehouse as engine:
        when = given or store.habits_as_of(engine) or runtime.today()
        with progress_reporter() as progress:
            info = push_segments(
                engine,
                lambda: make_client(settings),
                config,
                as_of=when,
                dry_run=dry_run,
                full=full,
                full_check=full_check,
                progress=progress,
                locale=settings.locale,
                currency=settings.default_currency,
            )
    if as_json:
        print_json(info)
    else:
        render_run(info, texts(runtime))
    if info.status == "partial":
        raise typer.Exit(EXIT_PARTIAL)


@app.command("match")
@handle_errors
def match_command() -> None:
    """Match warehouse customers to Sugar accounts (external id, email, name); write nothing."""
    from sugar_bridge.push.push import match_accounts
    from sugar_bridge.sugar import make_client

    runtime = make_runtime()
    config = runtime.push_config
    settings = runtime.settings
    settings.require_sugar()
    with runtime.warehouse("write") as engine:
        info = match_accounts(engine, lambda: make_client(settings), config)
    table = Table(title="match", show_header=True)
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("customers with statistics", str(info.customers))
    table.add_row("Sugar accounts", str(info.accounts))
    table.add_row("matched", str(info.matched))
    for method, count in sorted(info.by_method.items()):
        label = "created by the push" if method == "created" else f"by {method.replace('_', ' ')}"
        table.add_row(f"  {label}", str(count))
    table.add_row("new matches recorded", str(info.new_matches))
    table.add_row("ambiguous (see `segments unmatched`)", str(info.ambiguous))
    table.add_row("without account", str(info.unmatched))
    console.print(table)


@app.command("unmatched")
@handle_errors
def unmatched_command(
    ambiguous: Annotated[
        bool, typer.Option("--ambiguous", help="Only the ambiguous ones (with candidates).")
    ] = False,
) -> None:
    """List the customers the last match/push could not pair with exactly one account."""
    from sugar_bridge.push import store

    runtime = make_runtime()
    with runtime.warehouse("read") as engine:
        rows = store.read_match_issues(engine, ambiguous_only=ambiguous)
    if not rows:
        console.print(
            "Every customer with statistics is matched to exactly one account (or contact)."
        )
        return
    table = Table(title=f"unmatched customers ({len(rows)})", show_header=True)
    for column in ("customer", "name", "email", "reason", "candidates"):
        table.add_column(column)
    for row in rows:
        candidates = "\n".join(
            f"{c.get('id')}  {c.get('name') or '∅'}  {c.get('email') or ''}  "
            f"{('ext ' + c['external_id']) if c.get('external_id') else ''}".rstrip()
            for c in (row.get("candidates") or [])
        )
        reason = row["reason"] + (f" ({row['method']})" if row.get("method") else "")
        if row.get("module") == "Contacts":
            reason += " [a person: looked for in Contacts]"
        if row.get("detail"):
            reason += f": {row['detail']}"
        table.add_row(
            f"{row.get('source') or ''}:{row.get('source_customer_id') or row['customer_key']}",
            row.get("name") or "",
            row.get("email") or "",
            reason,
            candidates or "—",
        )
    console.print(table)
