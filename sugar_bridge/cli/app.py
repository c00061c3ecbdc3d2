"""The ``sugar-bridge`` Typer application: registers each command group's sub-app.

``app`` is the whole command tree (``--help`` lists every group; the tests drive it). The console
script (:func:`main`) builds the tree with only the group it is asked to run, when it names one:
a command then imports its own group's module and no other (``sugar-bridge analytics clv`` does
not load the sandbox's HTTP server or the demo's generator).
"""

from __future__ import annotations

import functools
import gc
import sys
from collections.abc import Callable
from typing import Any

import typer

from sugar_bridge import __version__
from sugar_bridge.cli.output import CONTEXT_SETTINGS


def _version(value: bool) -> None:
    if value:
        typer.echo(f"sugar-bridge {__version__}")
        raise typer.Exit()


def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Provision Sugar from config, sync orders into a warehouse, push segments back into Sugar."""


# Sub-apps are imported by these functions so that `sugar-bridge --help` stays the single entry
# point; each group lives in its own module (sugar_bridge/cli/<group>.py).


def _provision(root: typer.Typer) -> None:
    from sugar_bridge.cli import provision as provision_cli

    root.add_typer(provision_cli.app, name="provision")


def _segments(root: typer.Typer) -> None:
    from sugar_bridge.cli import segments as segments_cli

    root.add_typer(segments_cli.app, name="segments")


def _extension(root: typer.Typer) -> None:
    from sugar_bridge.cli import extension as extension_cli

    root.add_typer(extension_cli.app, name="extension")


def _sync(root: typer.Typer) -> None:
    from sugar_bridge.cli import sync as sync_cli

    root.command("sync")(sync_cli.sync_command)


def _scheduler(root: typer.Typer) -> None:
    from sugar_bridge.cli import scheduler as scheduler_cli

    root.add_typer(scheduler_cli.app, name="scheduler")


def _demo(root: typer.Typer) -> None:
    from sugar_bridge.cli import demo as demo_cli

    root.command("demo")(demo_cli.demo_command)


def _etl(root: typer.Typer) -> None:
    from sugar_bridge.cli import etl as etl_cli

    root.add_typer(etl_cli.app, name="etl")


def _db(root: typer.Typer) -> None:
    from sugar_bridge.cli import db as db_cli

    root.add_typer(db_cli.app, name="db")


def _status(root: typer.Typer) -> None:
    from sugar_bridge.cli import status as status_cli

    root.command("status")(status_cli.status_command)


def _sandbox(root: typer.Typer) -> None:
    from sugar_bridge.cli import sandbox as sandbox_cli

    root.add_typer(sandbox_cli.app, name="sandbox")


def _analytics(root: typer.Typer) -> None:
    from sugar_bridge.cli import analytics as analytics_cli

    root.add_typer(analytics_cli.app, name="analytics")


def _report(root: typer.Typer) -> None:
    from sugar_bridge.cli import report as report_cli

    root.command("report")(report_cli.report_command)


#: Each top-level command or group and what registers it, in the order ``--help`` lists them.
GROUPS: dict[str, Callable[[typer.Typer], None]] = {
    "provision": _provision,
    "segments": _segments,
    "extension": _extension,
    "sync": _sync,
    "scheduler": _scheduler,
    "demo": _demo,
    "etl": _etl,
    "db": _db,
    "status": _status,
    "sandbox": _sandbox,
    "analytics": _analytics,
    "report": _report,
}


def build_app(only: str | None = None) -> typer.Typer:
    """The command tree: every group, or only the group ``only`` (a key of :data:`GROUPS`)."""
    root = typer.Typer(
        name="sugar-bridge",
        help="Integration and ETL layer for SugarCRM CE / SuiteCRM 7.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_show_locals=False,
        context_settings=CONTEXT_SETTINGS,
    )
    root.callback()(_root)
    for name, register in GROUPS.items():
        if only is None or name == only:
            register(root)
    return root


@functools.cache
def full_app() -> typer.Typer:
    """The whole command tree, built once."""
    return build_app()


def __getattr__(name: str) -> Any:
    # ``app`` is built on first use: importing this module for ``main`` registers nothing yet.
    if name == "app":
        return full_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """Console-script entry point."""
    # The root takes no option with a value: the first other word is the command's name.
    command = next((arg for arg in sys.argv[1:] if not arg.startswith("-")), None)
    try:
        if command in GROUPS:
            build_app(command)()
        else:  # no command, or an unknown one: the whole tree lists what there is
            full_app()()
    finally:
        # The process ends here. At exit the interpreter's collector walks every object the
        # command loaded (SQLAlchemy, pydantic, numpy, scipy) to free memory the system takes
        # back anyway: 0.1 s of `analytics clv`'s 2.1 s, measured. Frozen, they are left alone.
        # The atexit handlers still run and the output is still flushed; only objects left in a
        # reference cycle are not finalized, which Python never promised at exit (the command's
        # files, connections and locks are closed by the code that opened them).
        gc.freeze()
