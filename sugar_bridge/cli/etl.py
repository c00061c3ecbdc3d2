"""``sugar-bridge etl``: load orders into the warehouse, list rejected rows."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
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
    err_console,
    json_logs,
    print_json,
)
from sugar_bridge.exceptions import ConfigError

if TYPE_CHECKING:
    from analytics.i18n import Texts
    from connectors.orders.base import OrderSource
    from etl.fx import RatesLoadInfo
    from etl.history import RejectRow
    from etl.run import EtlProgress, EtlRunInfo
    from sugar_bridge.runtime import Runtime

app = typer.Typer(
    help="Orders into the warehouse: run the ETL, list rejects.",
    no_args_is_help=True,
    context_settings=CONTEXT_SETTINGS,
)


def _parse_since(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"--since {value!r}: expected a date like 2024-01-31") from None


@app.command("run")
@handle_errors
def run_command(
    csv: Annotated[
        Path | None,
        typer.Option("--csv", help="Load this canonical orders file (or folder) without config."),
    ] = None,
    source: Annotated[
        list[str] | None, typer.Option("--source", help="Only this configured source (repeatable).")
    ] = None,
    full_refresh: Annotated[
        bool,
        typer.Option("--full-refresh", help="Ignore watermarks and loaded files: re-read all."),
    ] = False,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Re-read orders placed on or after this date (YYYY-MM-DD)."),
    ] = None,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")
    ] = True,
    sugar: Annotated[
        bool,
        typer.Option(
            "--sugar",
            help="Extract Sugar's records (accounts, contacts, leads, opportunities, cases, "
            "activities, target lists) into the crm_* tables instead of loading orders.",
        ),
    ] = False,
    module: Annotated[
        list[str] | None,
        typer.Option("--module", help="With --sugar: only this Sugar module (repeatable)."),
    ] = None,
) -> None:
    """Extract, validate and load orders; exit code 3 when rows were rejected.

    With --sugar: extract what changed in Sugar since the last run (--full-refresh: everything,
    and rows Sugar no longer has are marked deleted).
    """
    from analytics.config import CurrencyConfig
    from connectors.orders.csv_source import CsvSource
    from connectors.orders.sources import make_sources
    from etl.run import run_etl
    from sugar_bridge.pipeline import load_configured_rates, prune_history_safely

    runtime = make_runtime()
    if sugar:
        if csv is not None or source or since:
            raise ConfigError("--sugar takes neither --csv, --source nor --since")
        _run_sugar(runtime, full_refresh, module or [])
        return
    if module:
        raise ConfigError("--module goes with --sugar")
    since_date = _parse_since(since)
    sources: list[OrderSource]
    if csv is not None:
        if not csv.exists():
            raise ConfigError(f"--csv {csv}: no such file or folder")
        sources = [CsvSource.canonical(csv)]
    else:
        if not runtime.sources.inputs:
            raise ConfigError(
                f"{runtime.settings.config}: no order source under sources.inputs "
                "(or use `sugar-bridge etl run --csv PATH`)"
            )
        sources = make_sources(runtime.sources, source or [])
    # --csv runs without the config file: it is not read, even for these defaults.
    defaults = runtime.load_defaults(from_config=csv is None)
    currency = runtime.config.analytics.currency if csv is None else CurrencyConfig()
    with sync_exclusive(runtime, "etl run", config=csv is None) as engine:
        rates = load_configured_rates(runtime, engine) if csv is None else None
        info = _run_with_progress(
            lambda cb: run_etl(
                engine,
                sources,
                full_refresh=full_refresh,
                since=since_date,
                progress=cb,
                default_currency=defaults.currency,
                batch_lines=defaults.batch_lines,
                reporting_currency=currency.reporting,
                max_rate_age_days=currency.max_rate_age_days,
            ),
            show=progress,
        )
        prune_history_safely(engine, runtime.settings.history_days)
    _summary(info, rates, texts(runtime))
    if info.rows_rejected or (rates is not None and rates.rejected):
        raise typer.Exit(EXIT_PARTIAL)


def _run_sugar(runtime: Runtime, full: bool, modules: list[str]) -> None:
    from sugar_bridge.pipeline import extract_sugar, prune_history_safely

    with sync_exclusive(runtime, "etl run --sugar") as engine:
        info = extract_sugar(runtime, engine, full=full, modules=modules)
        prune_history_safely(engine, runtime.settings.history_days)
    table = Table(
        title=f"Sugar extraction, run {info.run_id}{' (full refresh)' if full else ''}",
    )
    for column in ("module", "read", "inserted", "updated", "deleted", "unchanged"):
        table.add_column(column, justify="left" if column == "module" else "right")
    for m in info.modules:
        if m.skipped:
            table.add_row(m.module, f"skipped: {m.skipped}", "", "", "", "")
            continue
        table.add_row(
            m.module,
            *(f"{n:,}" for n in (m.read, m.inserted, m.updated, m.deleted, m.unchanged)),
        )
    console.print(table, highlight=False)
    console.print(f"{info.read:,} records read in {info.seconds:.1f} s", highlight=False)


def _run_with_progress(
    run: Callable[[Callable[[EtlProgress], None] | None], EtlRunInfo], show: bool
) -> EtlRunInfo:
    # A bar is for a person at a terminal; piped or with JSON logs it would only add noise to
    # stderr (the summary says the same at the end).
    if not show or not err_console.is_terminal or json_logs():
        return run(None)
    columns = (
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TextColumn("{task.fields[counts]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err_console, transient=False) as bar:
        task = bar.add_task("loading", total=None, counts="")

        def update(event: EtlProgress) -> None:
            bar.update(
                task,
                description=event.source,
                total=event.total_bytes or None,
                completed=event.done_bytes,
                counts=(
                    f"{event.rows_read:,} read · {event.rows_loaded:,} loaded · "
                    f"{event.rows_rejected:,} rejected"
                ),
            )

        result = run(update)
        bar.update(task, completed=bar.tasks[0].total or 0)
        return result


def _summary(info: EtlRunInfo, rates: RatesLoadInfo | None, t: Texts) -> None:
    _ = t.gettext
    title = _("ETL run %(run)s: %(status)s") % {"run": info.run_id, "status": word(t, info.status)}
    table = Table(title=title, show_header=False)
    table.add_column(_("what"))
    table.add_column(_("count"), justify="right")
    for label, value in (
        (_("rows read"), info.rows_read),
        (_("rows loaded"), info.rows_loaded),
        (_("rows rejected"), info.rows_rejected),
        (_("rows skipped (before --since)"), info.rows_skipped),
        (_("orders inserted"), info.orders_inserted),
        (_("orders updated"), info.orders_updated),
        (_("orders unchanged"), info.orders_unchanged),
        (_("batches"), info.batches),
    ):
        table.add_row(label, t.number(value))
    if rates is not None:
        table.add_row(_("exchange rates loaded"), t.number(rates.inserted + rates.updated))
        table.add_row(_("exchange rates rejected"), t.number(rates.rejected))
    conversion = info.conversion
    if conversion:
        table.add_row(_("reporting currency"), str(conversion["reporting_currency"]))
        table.add_row(_("orders without a rate"), t.number(conversion["unconverted_orders"]))
    table.add_row(_("duration"), f"{t.number(info.duration_s, 1)} s")
    console.print(table)
    for note in info.notes:
        said = _("note:")
        console.print(f"[yellow]{said}[/] {note}", highlight=False)
    for missing in conversion.get("unconverted") or []:
        console.print(
            "[yellow]"
            + _(
                "%(n)s orders in %(currency)s (%(amount)s) have no exchange rate to %(to)s: kept, "
                "left out of the money figures until their rates are loaded"
            )
            % {
                "n": t.number(missing["orders"]),
                "currency": missing["currency"],
                "amount": t.money(missing["amount"], missing["currency"]),
                "to": conversion["reporting_currency"],
            }
            + "[/]",
            highlight=False,
        )
    if info.rows_rejected:
        rules = ", ".join(f"{rule} {n}" for rule, n in sorted(info.rejects_by_rule.items()))
        console.print(
            "[yellow]"
            + _("%(n)s rejected rows") % {"n": t.number(info.rows_rejected)}
            + f"[/] ({rules}): "
            + _("`sugar-bridge etl rejects --run %(run)s` lists them") % {"run": info.run_id},
            highlight=False,
        )
    if rates is not None and rates.rejected:
        rules = ", ".join(f"{rule} {n}" for rule, n in sorted(rates.rejects_by_rule.items()))
        console.print(
            "[yellow]"
            + _("%(n)s rejected exchange rates") % {"n": t.number(rates.rejected)}
            + f"[/] ({rules}): "
            + _("`sugar-bridge etl rejects --run %(run)s` lists them") % {"run": rates.run_id},
            highlight=False,
        )


@app.command("rejects")
@handle_errors
def rejects_command(
    run: Annotated[
        int | None,
        typer.Option(
            "--run", help="Every reject of this run (default: the open ones of all runs)."
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Show at most this many.")] = 200,
    as_json: JsonOption = False,
) -> None:
    """List the rejected rows still open, with the reason of each (or every reject of --run N).

    A reject stays open, whichever run found it, until a later run loads its file again or loads
    its order (or rejects the row anew): a bad file's rows stay listed after quiet nights.
    """
    from etl.history import get_run, open_rejects, reject_counts, rejects

    runtime = make_runtime()
    with runtime.warehouse("read") as engine:
        if run is not None:
            if get_run(engine, run) is None:
                raise typer.BadParameter(
                    f"no run {run} in the warehouse (`sugar-bridge status` lists the runs)",
                    param_hint="--run",
                )
            found = rejects(engine, run, limit=limit)
            total = sum(n for _, n in reject_counts(engine, run))
        else:
            found, total = open_rejects(engine, limit=limit)
    if as_json:
        print_json(
            {
                "run": run,
                "scope": "run" if run is not None else "open",
                "total": total,
                "shown": len(found),
                "rejects": [_reject_document(row) for row in found],
            }
        )
        return
    what = f"rejected rows of run {run}" if run is not None else "open rejected rows"
    if not found:
        console.print(f"no {what}")
        return
    table = Table(title=f"{what}: {total:,}")
    table.add_column("run", justify="right")
    table.add_column("where")
    table.add_column("rule")
    table.add_column("reason", overflow="fold")
    for row in found:
        table.add_row(str(row.run_id), row.source_key or row.source, row.rule, row.reason)
    console.print(table, highlight=False)
    if len(found) < total:
        console.print(f"(first {len(found):,} of {total:,}; --limit to see more)")


def _reject_document(row: RejectRow) -> dict[str, Any]:
    """One reject for ``--json``: its columns, with the raw row as an object (it is JSON)."""
    out = row.as_dict()
    if row.raw is not None:
        with contextlib.suppress(ValueError):  # not JSON: kept as the text it is
            out["raw"] = json.loads(row.raw)
    return out
