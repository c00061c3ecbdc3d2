"""``sugar-bridge extension``: build the Sugar server extension package, check the installed one.

Thin layer over :mod:`connectors.sugar.extension` (``build.build_package``,
``compat.require_extension``).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from connectors.sugar.exceptions import SugarError
from connectors.sugar.extension import API_LEVEL, ENDPOINT, EXTENSION_VERSION
from connectors.sugar.extension.compat import require_extension
from sugar_bridge.cli.common import handle_errors, make_runtime
from sugar_bridge.cli.output import CONTEXT_SETTINGS, console

app = typer.Typer(
    help="The bridge's Sugar server extension (custom/service/bridge): build its Module Loader "
    "package, check that Sugar runs a compatible one.",
    no_args_is_help=True,
    context_settings=CONTEXT_SETTINGS,
)


@app.command("build")
@handle_errors
def build_command(
    out: Annotated[
        Path, typer.Option("--out", help="Directory to write the zip into.", file_okay=False)
    ] = Path("dist"),
) -> None:
    """Write the Module Loader zip (install it: Admin → Module Loader) and print its path."""
    from connectors.sugar.extension.build import build_package

    package = build_package(out)
    console.print(str(package.path.resolve()), highlight=False, soft_wrap=True)


@app.command("check")
@handle_errors
def check_command() -> None:
    """Call bridge_info on the configured Sugar; exit 1 if the extension is missing or outdated."""
    from sugar_bridge.sugar import make_client

    client = make_client(make_runtime().settings)
    try:
        info = require_extension(client)
    finally:
        with contextlib.suppress(SugarError):  # a failed logout must not hide the real answer
            client.logout()
    table = Table(title=f"Sugar server extension ({ENDPOINT})", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    table.add_row(
        "extension", f"{info.get('extension_version')} (api_level {info.get('api_level')})"
    )
    table.add_row("packaged", f"{EXTENSION_VERSION} (api_level {API_LEVEL})")
    table.add_row("Sugar", f"{info.get('flavor')} {info.get('sugar_version')}")
    table.add_row("SuiteCRM", str(info.get("suitecrm_version") or "—"))
    table.add_row("PHP", str(info.get("php_version")))
    table.add_row("security groups", "yes" if info.get("security_groups") else "no")
    modules = info.get("modules")
    table.add_row("modules", str(len(modules)) if isinstance(modules, list) else "?")
    console.print(table)
    console.print("[green]ok:[/] the extension is installed and compatible")
