"""``sugar-bridge sandbox``: run the local v4_1-compatible Sugar, look at its accounts.

Thin layer over :mod:`sugar_bridge.sandbox` (``Sandbox``, ``Faults``, ``Latency``, ``AodIndex``,
``Store.accounts_overview``).
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Annotated, get_args

import typer
from rich.table import Table

from sugar_bridge.cli.common import handle_errors, make_runtime
from sugar_bridge.cli.output import CONTEXT_SETTINGS, JsonOption, console, print_json
from sugar_bridge.sandbox import (
    AodIndex,
    Faults,
    Latency,
    Sandbox,
    SandboxConfigError,
    SandboxError,
    Store,
    flavor_named,
)
from sugar_bridge.sandbox.faults import FaultKind, FaultWhen

DEMO_PASSWORD = "sandbox-admin"  # noqa: S105 - a documented demo credential of a local test server

app = typer.Typer(
    help="A local SugarCRM CE / SuiteCRM 7 lookalike (REST v4_1 + the bridge extension) for tests "
    "and the offline demo; --suitecrm 8 plays SuiteCRM 8. Without a subcommand it starts "
    "the server in the foreground.",
    no_args_is_help=False,
    context_settings=CONTEXT_SETTINGS,
)


def _db_path(data_dir: Path | None) -> Path:
    directory = data_dir if data_dir is not None else make_runtime().settings.data_dir
    return directory / "sandbox.db"


def _faults(
    rate: float,
    kinds: list[str],
    when: str,
    seed: int | None,
    methods: list[str],
    expire_every: int | None,
) -> Faults | None:
    if rate == 0 and expire_every is None:
        return None
    bad = [k for k in kinds if k not in get_args(FaultKind)]
    if bad or when not in get_args(FaultWhen):
        raise SandboxConfigError(
            f"--fault-kind takes {', '.join(get_args(FaultKind))}; --fault-when takes "
            f"{', '.join(get_args(FaultWhen))}"
        )
    return Faults(
        rate=rate,
        kinds=tuple(kinds),  # type: ignore[arg-type]  # checked just above
        when=when,  # type: ignore[arg-type]
        seed=seed,
        methods=frozenset(methods) if methods else None,
        expire_every=expire_every,
    )


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@app.callback(invoke_without_command=True)
@handle_errors
def serve(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0 = any free port).")] = 8089,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="State goes to <data-dir>/sandbox.db (default: SUGAR_BRIDGE_DATA_DIR)."),
    ] = None,
    memory: Annotated[bool, typer.Option(help="Keep state in memory only.")] = False,
    admin_password: Annotated[
        str | None,
        typer.Option(
            envvar="SUGAR_BRIDGE_SANDBOX_ADMIN_PASSWORD",
            help=f"Password of the demo user 'admin' (default: {DEMO_PASSWORD}).",
        ),
    ] = None,
    latency_ms: Annotated[float, typer.Option(help="Delay added to every call.")] = 0.0,
    create_ms: Annotated[float, typer.Option(help="Delay per record created (real: ~40).")] = 0.0,
    update_ms: Annotated[float, typer.Option(help="Delay per record updated (real: ~65).")] = 0.0,
    workers: Annotated[
        int | None, typer.Option(help="At most N calls spend their delay at once (server cores).")
    ] = None,
    aod: Annotated[
        bool,
        typer.Option(
            help="SuiteCRM's AOD search indexing on: each saved Accounts/Contacts/Leads/... record "
            "also writes the index under one server-wide lock (concurrent sessions queue there)."
        ),
    ] = False,
    aod_index_ms: Annotated[
        float, typer.Option(help="With --aod: index write per saved record, under the lock.")
    ] = AodIndex().per_save * 1000,
    aod_contended_ms: Annotated[
        float,
        typer.Option(help="With --aod: extra per save, per other session writing or waiting."),
    ] = AodIndex().contended * 1000,
    fault_rate: Annotated[float, typer.Option(help="Share of calls that fail (0..1).")] = 0.0,
    fault_kind: Annotated[
        list[str],
        typer.Option(help="http500 | null | timeout | drop | expire (repeatable)."),
    ] = ["http500"],  # noqa: B006 - Typer reads list defaults this way
    fault_when: Annotated[
        str, typer.Option(help="before | after (the write is committed) | random.")
    ] = "before",
    fault_method: Annotated[
        list[str], typer.Option(help="Only these methods fail (repeatable; default: all).")
    ] = [],  # noqa: B006
    fault_seed: Annotated[
        int | None, typer.Option(help="Seed: the same faults on every run.")
    ] = None,
    expire_every: Annotated[
        int | None, typer.Option(help="Destroy all sessions every N calls.")
    ] = None,
    session_ttl: Annotated[
        float | None, typer.Option(help="Seconds idle before a session expires (default: never).")
    ] = None,
    suitecrm: Annotated[
        str,
        typer.Option(
            help="SuiteCRM release to play: 7.15 (sessions need employee_status 'Active'), 7.14, "
            "or 8 (API and extension below /legacy, login refuses application_name)."
        ),
    ] = "7.15",
) -> None:
    """Start the sandbox in the foreground: print its URL and demo credentials; Ctrl-C stops it."""
    if ctx.invoked_subcommand is not None:
        return
    flavor = flavor_named(suitecrm)
    db = None if memory else _db_path(data_dir)
    sandbox = Sandbox(
        db,
        faults=_faults(fault_rate, fault_kind, fault_when, fault_seed, fault_method, expire_every),
        latency=Latency(latency_ms / 1000, create_ms / 1000, update_ms / 1000, workers),
        aod=AodIndex(aod_index_ms / 1000, aod_contended_ms / 1000) if aod else False,
        port=port,
        admin_password=admin_password or DEMO_PASSWORD,
        session_ttl=session_ttl,
        flavor=flavor,
    )
    try:
        sandbox.start()
    except OSError as exc:
        sandbox.close()
        raise SandboxError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from None
    shown = DEMO_PASSWORD if admin_password is None else "(the one you gave)"
    # From the banner on, Ctrl-C stops it cleanly: someone (or a test) who reads "Ctrl-C stops
    # it" may press it at once. SIGTERM (a service manager, `kill`) stops it the same way.
    try:
        signal.signal(signal.SIGTERM, _interrupt)
        # Ctrl-C too, whatever it inherited: a command started in the background by a script
        # (`cmd &` without job control, as CI runners do) begins with SIGINT ignored, and Python
        # then keeps it ignored: the sandbox never stopped.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        console.print(
            f"Sugar sandbox (SuiteCRM {flavor.suitecrm_version}) at [bold]{sandbox.base_url}[/]  "
            f"(v4_1: {sandbox.url})"
        )
        console.print(f"admin user: [bold]admin[/]  password: [bold]{shown}[/]")
        console.print(f"state: {db if db is not None else 'in memory'}  —  Ctrl-C stops it")
        if sandbox.index is not None:
            console.print("AOD search indexing: on (saves of indexed records queue on the index)")
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.close()
        console.print("sandbox stopped")


@app.command("accounts")
@handle_errors
def accounts_command(
    segment: Annotated[str | None, typer.Option(help="Only accounts of this segment.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many rows.")] = 100,
    ids: Annotated[bool, typer.Option("--ids", help="Also show the record ids.")] = False,
    data_dir: Annotated[
        Path | None, typer.Option(help="Where sandbox.db is (default: SUGAR_BRIDGE_DATA_DIR).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List the accounts in the sandbox's database (with segment/lifecycle fields when present)."""
    _overview("Accounts", segment, limit, ids, data_dir, as_json)


@app.command("contacts")
@handle_errors
def contacts_command(
    segment: Annotated[str | None, typer.Option(help="Only contacts of this segment.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many rows.")] = 100,
    ids: Annotated[bool, typer.Option("--ids", help="Also show the record ids.")] = False,
    data_dir: Annotated[
        Path | None, typer.Option(help="Where sandbox.db is (default: SUGAR_BRIDGE_DATA_DIR).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List the contacts in the sandbox's database: the customers who are persons (B2C)."""
    _overview("Contacts", segment, limit, ids, data_dir, as_json)


def _overview(
    module: str,
    segment: str | None,
    limit: int,
    ids: bool,
    data_dir: Path | None,
    as_json: bool,
) -> None:
    path = _db_path(data_dir)
    if not path.exists():
        raise SandboxError(f"no sandbox database at {path}: start `sugar-bridge sandbox` first")
    store = Store(path)
    try:
        rows = store.accounts_overview(segment, limit, module)
    finally:
        store.close()
    if as_json:
        print_json({module.lower(): rows})
        return
    table = Table(title=f"Sandbox {module.lower()} ({len(rows)})")
    columns = [c for c in (rows[0] if rows else ["id", "name"]) if ids or c != "id"]
    for column in columns:
        table.add_column(column.removesuffix("_c"), overflow="fold")
    for row in rows:
        table.add_row(*("" if row[c] is None else str(row[c]) for c in columns))
    console.print(table)
