"""``sugar-bridge report``: the self-contained HTML report of the client-habit statistics."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sugar_bridge.cli.common import AsOfOption, handle_errors, make_runtime
from sugar_bridge.cli.output import console


@handle_errors
def report_command(
    as_of: AsOfOption = None,
    out: Annotated[Path, typer.Option("--out", help="Where to write the HTML file.")] = Path(
        "report.html"
    ),
    recompute: Annotated[
        bool,
        typer.Option("--recompute", help="Run the analytics even if a run for the date exists."),
    ] = False,
) -> None:
    """Write the HTML report (figures, segment table with actions, charts) for a date.

    Uses the stored analytics run of that date, or computes one first. Never creates or migrates
    the warehouse (there would be nothing to report).
    """
    from analytics.report import write_report

    runtime = make_runtime()
    when = runtime.parse_as_of(as_of)
    with runtime.warehouse("read") as engine:
        result = write_report(
            engine,
            runtime.config.analytics,
            when,
            out,
            recompute=recompute,
            locale=runtime.settings.locale,
            sugar_url=runtime.settings.sugar_url,
            backdated=runtime.is_backdated(when),
        )
    state = "computed now" if result.computed else "stored"
    console.print(
        f"report as of {when} (analytics run {result.run_id}, {state}): {result.path} "
        f"({result.size_bytes / 1024:,.0f} KiB)"
    )
