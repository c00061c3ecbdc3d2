"""``sugar-bridge analytics``: compute and store the client-habit statistics, fit the CLV models."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Annotated, Any, get_args

import typer
from rich.table import Table

from analytics.config import LIFECYCLE_STAGES
from sugar_bridge.cli.common import AsOfOption, handle_errors, make_runtime, sync_exclusive, texts
from sugar_bridge.cli.output import (
    CONTEXT_SETTINGS,
    JsonOption,
    console,
    print_json,
    progress_reporter,
)
from sugar_bridge.exceptions import ConfigError

if TYPE_CHECKING:
    from analytics.i18n import Texts
    from analytics.run import AnalyticsRunInfo

app = typer.Typer(
    help="Client-habit statistics, RFM segments, lifecycle stages and CLV models.",
    no_args_is_help=True,
    context_settings=CONTEXT_SETTINGS,
)


def print_run_summary(info: AnalyticsRunInfo, t: Texts | None = None) -> None:
    """The summary tables of one analytics run, in ``t``'s language (default English)."""
    from analytics.btyd import MODEL_LABELS

    t = t or texts()
    _ = t.gettext
    currency = info.currency or None
    title = _("analytics run %(run)s as of %(day)s") % {
        "run": info.run_id,
        "day": t.date(info.as_of),
    }
    table = Table(title=title, show_header=False)
    table.add_column(_("figure"), style="bold")
    table.add_column(_("value"), justify="right")
    table.add_row(_("customers"), t.number(info.n_customers))
    table.add_row(_("buyers"), t.number(info.n_buyers))
    table.add_row(_("orders"), t.number(info.n_orders))
    table.add_row(_("revenue"), t.money(info.revenue, currency))
    table.add_row(_("revenue share of the top 20 %"), t.percent(info.top_20_pct_revenue_share))
    missing = info.conversion.get("unconverted") or []
    if missing:
        table.add_row(
            _("orders without a rate (not in the amounts)"),
            ", ".join(
                f"{t.number(m['orders'])} {m['currency']} ({t.money(m['amount'], m['currency'])})"
                for m in missing
            ),
        )
    if info.models is not None:
        name = info.models["model"]
        fitted = info.models[name]
        table.add_row(
            f"{MODEL_LABELS.get(name, name)} ({_(info.models['time_unit'])})",
            ", ".join(f"{k} {t.number(v, 4)}" for k, v in fitted["params"].items()),
        )
        selection = info.models.get("selection")
        if selection:
            table.add_row(_("model choice"), f"{selection['model']}: {selection['reason']}")
            for skipped in selection.get("skipped", []):
                table.add_row(_("not used"), skipped)
        if fitted.get("degenerate"):
            table.add_row(
                _("warning"),
                _("degenerate fit: %(params)s") % {"params": ", ".join(fitted["degenerate"])},
            )
        if info.models.get("penalized"):
            table.add_row(
                _("warning"),
                _("refitted with penalizer %(penalty)s") % {"penalty": info.models["penalized"]},
            )
        if info.models.get("gamma_gamma"):
            gg = info.models["gamma_gamma"]["params"]
            table.add_row("Gamma-Gamma", ", ".join(f"{k} {t.number(v, 4)}" for k, v in gg.items()))
    else:
        table.add_row(_("CLV models"), _("not fitted: %(error)s") % {"error": info.clv_error})
    table.add_row(_("time"), f"{t.number(info.duration_s, 1)} s")
    console.print(table)
    segments = Table(title=_("RFM segments"))
    segments.add_column(_("segment"))
    segments.add_column(_("customers"), justify="right")
    for name, count in sorted(info.segments.items(), key=lambda kv: -kv[1]):
        segments.add_row(name, t.number(count))  # names from the config, as in Sugar
    stages = Table(title=_("lifecycle stages"))
    stages.add_column(_("stage"))
    stages.add_column(_("customers"), justify="right")
    for stage in LIFECYCLE_STAGES:
        stages.add_row(_(stage), t.number(info.stages.get(stage, 0)))
    console.print(segments)
    console.print(stages)


@app.command("run")
@handle_errors
def run_command(as_of: AsOfOption = None) -> None:
    """Compute and store the statistics, segments, lifecycle stages and CLV; print a summary."""
    from analytics.run import run_analytics
    from sugar_bridge.pipeline import load_configured_rates, prune_history_safely

    runtime = make_runtime()
    when = runtime.parse_as_of(as_of)
    with sync_exclusive(runtime, "analytics run") as engine, progress_reporter() as progress:
        load_configured_rates(runtime, engine)  # rates changed since the last load count now
        info = run_analytics(
            engine,
            runtime.config.analytics,
            when,
            progress=progress,
            backdated=runtime.is_backdated(when),  # stored, never shown to the push
            default_currency=runtime.load_defaults().currency,
        )
        prune_history_safely(engine, runtime.settings.history_days)
    print_run_summary(info, texts(runtime))


ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="bgnbd, mbgnbd, pareto_nbd, or auto (lowest holdout error); default: the config's.",
    ),
]
HoldoutOption = Annotated[
    int | None,
    typer.Option(
        "--holdout",
        min=7,
        help="Days held out to check the models (default: a third of the history, 28-365).",
    ),
]


@app.command("clv")
@handle_errors
def clv_command(
    as_of: AsOfOption = None,
    model: ModelOption = None,
    holdout: HoldoutOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check the repeat-purchase models on a holdout, fit the chosen one and Gamma-Gamma on the
    warehouse as of a date, and print them (nothing stored)."""
    # Only what fitting needs: the summary is computed by the warehouse and read into numpy
    # arrays (analytics.summary: no scipy); pandas loads only for a holdout check.
    from analytics.config import ClvConfig
    from analytics.summary import read_model_input
    from etl.db import cancel_statement
    from etl.fx import resolve_reporting_currency

    runtime = make_runtime()
    when = runtime.parse_as_of(as_of)
    config = runtime.config.analytics
    updates: dict[str, object] = {}
    if model is not None:
        choices = get_args(ClvConfig.model_fields["model"].annotation)
        if model not in choices:
            raise ConfigError(f"--model {model!r}: choose {', '.join(choices)}")
        updates["model"] = model
    if holdout is not None:
        updates["holdout_days"] = holdout
    if updates:
        config = config.model_copy(update={"clv": config.clv.model_copy(update=updates)})
    clv = config.clv
    with (
        runtime.warehouse("read") as engine,
        engine.connect() as summary_conn,
        ThreadPoolExecutor(1, "clv-summary") as pool,
    ):
        # The warehouse computes the buyers' summary (most of this command's time) on a
        # connection of its own while this thread loads the fitting code (scipy.optimize alone
        # takes about 0.4 s to import) and checks the models on a holdout.
        reading = pool.submit(read_model_input, summary_conn, when, clv.time_unit)
        try:
            from analytics.holdout import choose_model, fit_models

            with engine.connect() as conn:
                currency = resolve_reporting_currency(
                    conn, config.currency.reporting, runtime.load_defaults().currency
                )
                choice = choose_model(
                    conn,
                    when,
                    model=clv.model,
                    holdout_days=clv.holdout_days,
                    time_unit=clv.time_unit,
                    penalizer=clv.penalizer,
                    min_customers=clv.min_customers,
                )
            summary = reading.result()
        except BaseException:
            # Ctrl-C, or a failure here: stop the summary's statement instead of waiting for it
            # (the pool waits for its thread on the way out).
            cancel_statement(summary_conn)
            raise
    fit = fit_models(summary, config, choice)
    # Gamma-Gamma's spend parameters are in the reporting currency.
    result = {"as_of": when.isoformat(), "currency": currency, **fit.as_dict()}
    if as_json:
        print_json(result)
        return
    table = Table(title=f"CLV models as of {when} (time unit: {fit.time_unit})")
    for column in ("model", "customers", "parameters", "log-likelihood"):
        table.add_column(column)
    for name in (fit.model, "gamma_gamma"):
        fitted = result[name]
        if fitted is None:
            table.add_row(name, "—", "not fitted (fewer than 2 repeat buyers)", "—")
            continue
        params = ", ".join(f"{k} = {v:.4f}" for k, v in fitted["params"].items())
        table.add_row(
            name, f"{fitted['n_customers']:,}", params, f"{fitted['log_likelihood']:,.2f}"
        )
    console.print(table)
    console.print(f"model: {fit.model} (holdout choice {choice.model}: {choice.reason})")
    if fit.penalized is not None:
        # Without this line the table's model and "fit not used: <the same model>" below read
        # as a contradiction: the parameters shown are those of the penalized refit.
        console.print(
            f"{fit.model} refitted with penalizer {fit.penalized:g}: its fit without one was "
            "degenerate (the parameters above are the refit's)"
        )
    for skipped in (fit.selection or {}).get("skipped", []):
        console.print(f"fit not used: {skipped}")
    if choice.evaluations:
        check = Table(
            title=f"holdout check: fitted up to {choice.calibration_end}, predicting to {when}"
        )
        for column in ("model", "MAE", "RMSE", "holdout purchases (predicted / actual)", "edge"):
            check.add_column(column)
        for name, ev in choice.evaluations.items():
            check.add_row(
                name,
                f"{ev.mae:.4f}",
                f"{ev.rmse:.4f}",
                f"{ev.predicted_total:,.0f} / {ev.actual_total:,.0f}",
                ", ".join(ev.degenerate) or "—",
            )
        console.print(check)


TopOption = Annotated[
    int, typer.Option("--top", min=0, help="How many of the best-scored prospects to list.")
]


@app.command("prospects")
@handle_errors
def prospects_command(
    as_of: AsOfOption = None, top: TopOption = 15, as_json: JsonOption = False
) -> None:
    """Fit the prospect score on the warehouse's CRM history as of a date, check it on a later
    day, and print its inputs, weights, validation and best prospects (nothing stored).

    Exit 1 when no score can be given (no CRM records, or too little history), with the reason.
    """
    from analytics.prospects import score_prospects

    runtime = make_runtime()
    when = runtime.parse_as_of(as_of)
    config = runtime.config.analytics.prospects
    with runtime.warehouse("read") as engine, engine.connect() as conn:
        described, scores = score_prospects(conn, when, config)
    if described is None:
        described = {
            "status": "insufficient",
            "message": "no CRM records in the warehouse (the Sugar source was never extracted)",
        }
    best = scores.sort_values(["score", "record_id"], ascending=[False, True]).head(top)
    result = {
        "as_of": when.isoformat(),
        **described,
        "best": [
            {"module": m, "record_id": r, "score": float(s)}
            for m, r, s in zip(best["module"], best["record_id"], best["score"], strict=True)
        ],
    }
    if as_json:
        print_json(result)
    else:
        _print_prospects(result)
    if result["status"] != "ok":
        raise typer.Exit(1)


def _print_prospects(result: dict[str, Any]) -> None:
    if result["status"] != "ok":
        console.print(f"no prospect score: {result['message']}")
        return
    validation = result["validation"]
    console.print(
        f"P(first order within {result['horizon_days']} days); fitted on the prospects of "
        f"{', '.join(result['training_days'])}, checked on those of {result['holdout_day']}"
    )
    console.print(
        f"holdout: AUC {validation['auc']:.3f}, base rate {validation['base_rate']:.1%}, "
        f"mean score {validation['mean_score']:.1%}, Brier {validation['brier']:.4f} "
        f"(base rate alone {validation['brier_base_rate']:.4f})"
    )
    for reason in result.get("not_scored", {}).values():
        console.print(reason)
    if result.get("constant_inputs"):
        console.print(f"left out (constant in the history): {', '.join(result['constant_inputs'])}")
    inputs = Table(title="inputs (weight per standard deviation)")
    for column in ("input", "weight", "odds ratio"):
        inputs.add_column(column)
    for row in result["inputs"]:
        inputs.add_row(row["label"], f"{row['weight']:+.3f}", f"{row['odds_ratio']:.3f}")
    console.print(inputs)
    calibration = Table(title="calibration on the holdout, by score decile")
    for column in ("decile", "prospects", "mean score", "became buyers"):
        calibration.add_column(column)
    for row in validation["calibration"]:
        calibration.add_row(
            str(row["decile"]),
            f"{row['n']:,}",
            f"{row['mean_score']:.1%}",
            f"{row['observed_rate']:.1%}",
        )
    console.print(calibration)
    best = Table(title=f"best prospects ({result['scored']:,} scored)")
    for column in ("module", "record", "score"):
        best.add_column(column)
    for row in result["best"]:
        best.add_row(row["module"], row["record_id"], f"{row['score']:.1%}")
    console.print(best)
