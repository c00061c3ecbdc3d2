"""The ``sugar-bridge`` Typer application: registers each command group's sub-app."""

from __future__ import annotations

import typer

from sugar_bridge import __version__
from sugar_bridge.cli.output import CONTEXT_SETTINGS

app = typer.Typer(
    name="sugar-bridge",
    help="Integration and ETL layer for SugarCRM CE / SuiteCRM 7.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    context_settings=CONTEXT_SETTINGS,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"sugar-bridge {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Provision Sugar from config, sync orders into a warehouse, push segments back into Sugar."""


def _register() -> None:
    # Sub-apps are imported here so that `sugar-bridge --help` stays the single entry point;
    # each group lives in its own module (sugar_bridge/cli/<group>.py).
    from sugar_bridge.cli import provision as provision_cli

    app.add_typer(provision_cli.app, name="provision")
    from sugar_bridge.cli import segments as segments_cli

    app.add_typer(segments_cli.app, name="segments")
    from sugar_bridge.cli import extension as extension_cli

    app.add_typer(extension_cli.app, name="extension")
    from sugar_bridge.cli import scheduler as scheduler_cli
    from sugar_bridge.cli import sync as sync_cli

    app.command("sync")(sync_cli.sync_command)
    app.add_typer(scheduler_cli.app, name="scheduler")
    from sugar_bridge.cli import demo as demo_cli

    app.command("demo")(demo_cli.demo_command)
    from sugar_bridge.cli import db as db_cli
    from sugar_bridge.cli import etl as etl_cli
    from sugar_bridge.cli import status as status_cli

    app.add_typer(etl_cli.app, name="etl")
    app.add_typer(db_cli.app, name="db")
    app.command("status")(status_cli.status_command)
    from sugar_bridge.cli import sandbox as sandbox_cli

    app.add_typer(sandbox_cli.app, name="sandbox")
    from sugar_bridge.cli import analytics as analytics_cli
    from sugar_bridge.cli import report as report_cli

    app.add_typer(analytics_cli.app, name="analytics")
    app.command("report")(report_cli.report_command)


_register()


def main() -> None:
    """Console-script entry point."""
    app()
