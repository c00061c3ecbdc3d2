"""``sugar-bridge demo``: sandbox Sugar → provisioning → three years of orders → sync → report.

Runs offline on embedded defaults (SQLite in the data dir, the local sandbox). ``--orders-only``
just writes the generated order history (the Docker entrypoint uses it to seed a real stack).
Exit codes: 0 done, 1 a phase failed (named), 2 config error (nothing done).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

import sugar_bridge
from sugar_bridge.cli.common import (
    handle_errors,
    make_runtime,
    quiet_library_logs,
    step_printer,
    texts,
)
from sugar_bridge.cli.output import console, json_logs, progress_reporter
from sugar_bridge.demo.generator import GeneratorOptions, write_orders_csv

if TYPE_CHECKING:
    from sugar_bridge.config import ProjectConfig
    from sugar_bridge.demo.run import DemoResult
    from sugar_bridge.settings import Settings


def _example_config(settings: Settings) -> ProjectConfig:
    """The configured file, else the repository's example (an editable install from a clone)."""
    from sugar_bridge.config import load_config

    path = settings.config
    if not path.exists():
        bundled = Path(sugar_bridge.__file__).resolve().parent.parent / "config" / path.name
        if "config" not in settings.model_fields_set and bundled.exists():
            path = bundled
    return load_config(path)


def render_summary(result: DemoResult) -> None:
    """What was done, where things are, and what to try next."""
    console.print(f"\n[bold]sugar-bridge demo done in {result.seconds:.1f} s[/]", highlight=False)
    table = Table(show_header=True)
    table.add_column("phase")
    table.add_column("seconds", justify="right")
    for name, seconds in result.phases.items():
        table.add_row(name, f"{seconds:.1f}")
    console.print(table)

    for night, run in enumerate(result.syncs, start=1):
        load, push = run.step("load"), run.step("push")
        lc = load.counts if load else {}
        pc = push.counts if push else {}
        loaded = (
            f"{lc.get('orders_inserted', 0):,} orders loaded"
            + (f", {lc.get('orders_updated', 0):,} updated (late payments)"
               if lc.get("orders_updated") else "")
        )  # fmt: skip
        failed = pc.get("failed", 0)
        persons = (
            f" — of which {pc.get('contacts_created', 0):,} new and "
            f"{pc.get('contacts_updated', 0):,} changed Contacts for "
            f"{pc.get('contacts_customers', 0):,} customers who are persons (B2C)"
            if pc.get("contacts_customers")
            else ""
        )
        console.print(
            f"[bold]Night {night}[/] (as of {run.as_of}): {loaded}; pushed "
            f"{pc.get('created', 0):,} new and {pc.get('updated', 0):,} changed records"
            f"{persons} "
            f"({pc.get('unchanged', 0):,} unchanged, not sent; {pc.get('verified', 0):,} verified "
            f"by read-back), target lists +{pc.get('list_added', 0):,}/-"
            f"{pc.get('list_removed', 0):,}, {pc.get('tasks_created', 0):,} follow-ups "
            f"(tasks and calls; {pc.get('tasks_unowned', 0):,} without an owner, "
            f"{pc.get('tasks_waiting', 0):,} waiting for later nights, "
            f"{pc.get('tasks_still_open', 0):,} not repeated: still open)"
            + (f"; {failed} not stored as sent (retried next run)" if failed else ""),
            highlight=False,
        )
    info = result.sync
    data = result.data_dir
    env = f"SUGAR_BRIDGE_DATA_DIR={data} " if data != Path("data") else ""
    if info is not None and info.rows_rejected:
        console.print(
            f"[bold]Rejected[/]: {info.rows_rejected} order rows, each with its reason "
            f"(`{env}sugar-bridge etl rejects`).",
            highlight=False,
        )
    if result.segments:
        sizes = ", ".join(f"{seg} {n:,}" for seg, n in result.segments.items())
        console.print(f"[bold]Segments[/]: {sizes}", highlight=False)
    lines = [
        "",
        "[bold]Next[/]",
        f"  report       {result.report} (open it in a browser, no network needed)",
        f"  warehouse    {data / 'warehouse.db'} (star schema, view customer_habits)",
        f'  in Sugar     {env}sugar-bridge sandbox accounts --segment "At risk"',
        f'               {env}sugar-bridge sandbox contacts --segment "At risk" (persons)',
        f"  run history  {env}sugar-bridge status",
        "  a real Sugar:",
        "    1. install the server extension: `sugar-bridge extension build`, then",
        "       Admin → Module Loader (or the docker/ stack, see README)",
        "    2. set SUGAR_BRIDGE_SUGAR_URL, _USERNAME, _PASSWORD in .env",
        "    3. point sources: in config/sugar-bridge.yaml at the shop's exports",
        "    4. sugar-bridge provision plan && sugar-bridge provision apply",
        "    5. sugar-bridge sync, then sugar-bridge scheduler start (nightly)",
    ]
    if result.passwords_file is not None:
        lines.append(f"  sandbox users' passwords: {result.passwords_file} (mode 0600)")
    console.print("\n".join(lines), highlight=False)


@handle_errors
def demo_command(
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir", help="Where the demo's files go (default: SUGAR_BRIDGE_DATA_DIR, data)."
        ),
    ] = None,
    customers: Annotated[
        int, typer.Option("--customers", min=10, max=200_000, help="Customers to generate.")
    ] = 3000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the generated history.")] = 42,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Last day of the history (default: today)."),
    ] = None,
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Sandbox port (0 = a free one).")
    ] = 0,
    bad_rows: Annotated[
        bool, typer.Option("--bad-rows/--no-bad-rows", help="Add rows the ETL must reject.")
    ] = True,
    orders_only: Annotated[
        Path | None,
        typer.Option(
            "--orders-only",
            help="Only write the generated order history (canonical CSV) to this file.",
        ),
    ] = None,
) -> None:
    """Run the whole job offline: sandbox Sugar, provisioning, 3 years of orders, sync, report."""
    runtime = make_runtime()
    settings = runtime.settings
    quiet_library_logs(settings)  # the demo prints its own progress
    end = runtime.parse_as_of(as_of, allow_future=True)  # made-up orders, any date
    if orders_only is not None:
        info = write_orders_csv(
            orders_only,
            GeneratorOptions(end=end, seed=seed, n_customers=customers, bad_rows=bad_rows),
        )
        console.print(
            f"{info.n_orders:,} orders ({info.n_lines:,} lines) of {info.n_customers:,} customers "
            f"written to {orders_only}",
            highlight=False,
        )
        return
    from sugar_bridge.demo.run import DemoOptions, run_demo

    config = _example_config(settings)
    options = DemoOptions(
        data_dir=data_dir or settings.data_dir,
        as_of=end,
        customers=customers,
        seed=seed,
        bad_rows=bad_rows,
        port=port,
    )
    console.print(
        f"sugar-bridge demo: {customers:,} customers, 3 years of orders up to {end}, "
        f"files in {options.data_dir}/ (a real Sugar or warehouse configured is not touched)",
        highlight=False,
    )

    def on_phase(name: str, message: str) -> None:
        console.print(f"[green]✓[/] [bold]{name}[/]: {message}", highlight=False)

    with progress_reporter() as progress:
        result = run_demo(
            options,
            config,
            on_phase=on_phase,
            # with JSON logs: the step records
            on_step=None if json_logs() else step_printer(texts(runtime)),
            on_secret=runtime.add_secret,
            progress=progress,
        )
    render_summary(result)
