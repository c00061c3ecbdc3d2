"""The report's charts: matplotlib figures rendered to inline SVG strings (no network, no files).

Figures are built with ``matplotlib.figure.Figure`` directly (no pyplot, no global backend
switch). Text stays text in the SVG (``svg.fonttype: none``) and matplotlib escapes it, so data
such as category names cannot inject markup. Each chart gets its own ``svg.hashsalt`` so the ids
of clip paths never collide between the charts of one page.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import Any

import matplotlib as mpl
import numpy as np
from babel.numbers import format_compact_decimal
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from analytics.btyd import MODEL_LABELS
from analytics.i18n import ENGLISH, Texts

PALETTE = [
    "#1b6ca8",
    "#3a9d5d",
    "#f2a541",
    "#d1495b",
    "#8f6bb3",
    "#2ab7ca",
    "#6c757d",
    "#b5838d",
    "#7a9e7e",
    "#e07a5f",
    "#3d405b",
    "#81b29a",
]
ACCENT = "#1b6ca8"
MUTED = "#9aa5b1"

_RC: dict[str, Any] = {
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.edgecolor": "#606770",
    "axes.labelcolor": "#303840",
    "xtick.color": "#303840",
    "ytick.color": "#303840",
}


def _style(**extra: Any) -> Any:
    """rc parameters for ``rc_context`` (typed loosely: matplotlib's stubs list literal keys)."""
    return {**_RC, **{k.replace("__", "."): v for k, v in extra.items()}}


_PROLOGUE = re.compile(r"^.*?(?=<svg)", re.DOTALL)


def to_svg(fig: Figure, name: str) -> str:
    """The figure as an ``<svg>`` element (no XML prologue), responsive width."""
    buffer = io.StringIO()
    with mpl.rc_context(_style(svg__hashsalt=f"sb-{name}")):
        fig.savefig(buffer, format="svg", bbox_inches="tight")
    svg = _PROLOGUE.sub("", buffer.getvalue(), count=1)
    # Fixed pt sizes from matplotlib; let CSS scale the chart to its container.
    svg = re.sub(r'<svg([^>]*?) width="[^"]+" height="[^"]+"', r"<svg\1", svg, count=1)
    return svg.replace("<svg", f'<svg class="chart" role="img" aria-label="{name}"', 1)


def _figure(width: float, height: float) -> Figure:
    with mpl.rc_context(_style()):
        return Figure(figsize=(width, height), layout="constrained")


def _bars(
    ax: Any, labels: Sequence[str], values: Any, *, horizontal: bool = False, **kw: Any
) -> None:
    """Bars at positions 0..n-1 with ``labels`` as tick labels.

    Positions rather than matplotlib's categorical axis: that one parses the labels and logs at
    INFO when they all look like numbers or dates ("Jan", "Mon", a segment named "2024").
    """
    positions = np.arange(len(labels))
    if horizontal:
        ax.barh(positions, values, **kw)
        ax.set_yticks(positions, list(labels))
    else:
        ax.bar(positions, values, **kw)
        ax.set_xticks(positions, list(labels))


def _empty(fig: Figure, text: str) -> None:
    ax = fig.add_subplot()
    ax.text(0.5, 0.5, text, ha="center", va="center", color=MUTED)
    ax.set_axis_off()


def segment_chart(segments: Sequence[dict[str, Any]], *, t: Texts = ENGLISH) -> str:
    """Customers and revenue per segment, side by side (horizontal bars)."""
    with mpl.rc_context(_style()):
        fig = _figure(9.5, 3.8)
        rows = [s for s in segments if s["customers"]]
        if not rows:
            _empty(fig, t.gettext("no data"))
            return to_svg(fig, "segments")
        names = [s["segment"] for s in rows][::-1]
        axes = fig.subplots(1, 2, sharey=True)
        colors = [PALETTE[i % len(PALETTE)] for i in range(len(rows))][::-1]
        customers = [s["customers"] for s in rows][::-1]
        revenue = [s["revenue"] for s in rows][::-1]
        _bars(axes[0], names, customers, horizontal=True, color=colors)
        axes[0].set_title(t.gettext("Customers per segment"))
        _bars(axes[1], names, revenue, horizontal=True, color=colors)
        axes[1].set_title(t.gettext("Revenue per segment"))
        axes[1].xaxis.set_major_formatter(_thousands(t))
        for ax, values in ((axes[0], customers), (axes[1], revenue)):
            ax.grid(axis="x", color="#e3e7eb")
            ax.set_axisbelow(True)
            for y, v in enumerate(values):
                ax.text(v, y, f" {_short(v, t)}", va="center", fontsize=8)
        return to_svg(fig, "segments")


def rfm_grid_chart(grid: Sequence[dict[str, Any]], segment_for: Any, *, t: Texts = ENGLISH) -> str:
    """Heat map of customers per R score (rows) and FM score (columns), cells named."""
    with mpl.rc_context(_style()):
        fig = _figure(5.2, 4.0)
        counts = np.zeros((5, 5))
        for cell in grid:
            counts[5 - int(cell["r"]), int(cell["fm"]) - 1] = cell["customers"]
        ax = fig.add_subplot()
        ax.imshow(counts, cmap="Blues", aspect="auto", vmin=0, vmax=max(counts.max(), 1))
        for i in range(5):
            for j in range(5):
                r, fm = 5 - i, j + 1
                dark = counts[i, j] > counts.max() * 0.6
                ax.text(
                    j,
                    i,
                    f"{segment_for(r, fm)}\n{int(counts[i, j]):,}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if dark else "#1d2733",
                )
        ax.set_xticks(range(5), [str(v) for v in range(1, 6)])
        ax.set_yticks(range(5), [str(v) for v in range(5, 0, -1)])
        ax.set_xlabel(t.gettext("FM score (frequency and monetary)"))
        ax.set_ylabel(t.gettext("R score (recency)"))
        ax.set_title(t.gettext("RFM grid: customers per cell"))
        return to_svg(fig, "rfm-grid")


def concentration_chart(concentration: dict[str, Any], *, t: Texts = ENGLISH) -> str:
    """Cumulative share of revenue against the share of buyers, best first."""
    with mpl.rc_context(_style()):
        fig = _figure(5.2, 3.8)
        curve = concentration.get("curve") or []
        if not curve:
            _empty(fig, t.gettext("no data"))
            return to_svg(fig, "concentration")
        ax = fig.add_subplot()
        x = [p[0] * 100 for p in curve]
        y = [p[1] * 100 for p in curve]
        ax.plot(x, y, color=ACCENT, linewidth=2)
        ax.plot([0, 100], [0, 100], color=MUTED, linestyle="--", linewidth=1)
        for pct in (10, 20, 30):
            share = concentration.get(f"top_{pct}_pct")
            if share is None:
                continue
            ax.plot([pct], [share * 100], "o", color="#d1495b")
            ax.annotate(
                f"top {pct} %: {share:.0%}",
                (pct, share * 100),
                textcoords="offset points",
                xytext=(8, -12),
                fontsize=8,
            )
        ax.set_xlim(0, 100)
        ax.set_ylim(0, 101)
        ax.set_xlabel(t.gettext("% of buyers (largest spend first)"))
        ax.set_ylabel(t.gettext("% of revenue"))
        ax.set_title(t.gettext("Revenue concentration"))
        ax.grid(color="#e3e7eb")
        return to_svg(fig, "concentration")


def category_mix_chart(mix: dict[str, Any], segments: Sequence[str], *, t: Texts = ENGLISH) -> str:
    """Share of spend per category, for all buyers and per segment (stacked bars)."""
    with mpl.rc_context(_style()):
        fig = _figure(9.5, 4.2)
        categories: list[str] = list(mix.get("categories") or [])
        if not categories:
            _empty(fig, t.gettext("no data"))
            return to_svg(fig, "category-mix")
        rows = [("All buyers", mix["overall"])]
        rows += [(s, mix["by_segment"][s]) for s in segments if s in mix.get("by_segment", {})]
        rows = rows[::-1]
        ax = fig.add_subplot()
        left = np.zeros(len(rows))
        for i, category in enumerate(categories):
            values = np.array([row[1].get(category, 0.0) * 100 for row in rows])
            _bars(
                ax,
                [row[0] for row in rows],
                values,
                horizontal=True,
                left=left,
                color=PALETTE[i % len(PALETTE)],
                label=category,
            )
            left += values
        ax.set_xlim(0, 100)
        ax.set_xlabel(t.gettext("% of spend"))
        ax.set_title(t.gettext("Category mix by segment"))
        ax.legend(
            loc="upper center",
            bbox_to_anchor=(0.5, -0.14),
            ncol=min(len(categories), 5),
            frameon=False,
        )
        return to_svg(fig, "category-mix")


def payment_chart(payment: Sequence[dict[str, Any]], *, t: Texts = ENGLISH) -> str:
    """Average payment delay (days) and late share per payment method."""
    with mpl.rc_context(_style()):
        fig = _figure(9.5, 2.7)
        if not payment:
            _empty(fig, t.gettext("no data"))
            return to_svg(fig, "payment")
        methods = [p["method"] for p in payment]
        delay = [p["avg_delay_days"] or 0.0 for p in payment]
        late = [(p["late_share"] or 0.0) * 100 for p in payment]
        axes = fig.subplots(1, 2)
        _bars(axes[0], methods, delay, color=ACCENT)
        axes[0].set_title(t.gettext("Average payment delay (days from invoice)"))
        _bars(axes[1], methods, late, color="#d1495b")
        axes[1].set_title(t.gettext("Share of invoices paid late (%)"))
        for ax, values, fmt in ((axes[0], delay, "{:.0f}"), (axes[1], late, "{:.0f} %")):
            ax.grid(axis="y", color="#e3e7eb")
            ax.set_axisbelow(True)
            for x, v in enumerate(values):
                ax.text(x, v, fmt.format(v), ha="center", va="bottom", fontsize=8)
        return to_svg(fig, "payment")


def seasonality_chart(
    seasonality: dict[str, Sequence[dict[str, Any]]], *, t: Texts = ENGLISH
) -> str:
    """Revenue per calendar month and orders per weekday."""
    with mpl.rc_context(_style()):
        fig = _figure(9.5, 3.0)
        axes = fig.subplots(1, 2, width_ratios=[12, 7])
        months = seasonality.get("month") or []
        weekdays = seasonality.get("weekday") or []
        month_names = [t.locale.months["format"]["abbreviated"][k] for k in range(1, 13)]
        _bars(axes[0], month_names[: len(months)], [m["revenue"] for m in months], color=ACCENT)
        axes[0].set_title(t.gettext("Revenue by month of year"))
        axes[0].yaxis.set_major_formatter(_thousands(t))
        day_names = [t.locale.days["format"]["abbreviated"][k] for k in range(7)]
        _bars(axes[1], day_names[: len(weekdays)], [w["orders"] for w in weekdays], color="#3a9d5d")
        axes[1].set_title(t.gettext("Orders by weekday"))
        for ax in axes:
            ax.grid(axis="y", color="#e3e7eb")
            ax.set_axisbelow(True)
        return to_svg(fig, "seasonality")


def channel_chart(channels: Sequence[dict[str, Any]], *, t: Texts = ENGLISH) -> str:
    """Revenue per sales channel."""
    with mpl.rc_context(_style()):
        fig = _figure(4.6, 2.2)
        if not channels:
            _empty(fig, t.gettext("no data"))
            return to_svg(fig, "channels")
        ax = fig.add_subplot()
        rows = sorted(channels, key=lambda c: c["revenue"])
        _bars(
            ax,
            [c["channel"] for c in rows],
            [c["revenue"] for c in rows],
            horizontal=True,
            color=PALETTE[4],
        )
        ax.xaxis.set_major_formatter(_thousands(t))
        ax.set_title(t.gettext("Revenue by channel"))
        ax.grid(axis="x", color="#e3e7eb")
        ax.set_axisbelow(True)
        return to_svg(fig, "channels")


def cohort_chart(cohorts: Sequence[dict[str, Any]], *, t: Texts = ENGLISH) -> str:
    """Retention heat map: share of each first-order-month cohort buying in month k after."""
    with mpl.rc_context(_style()):
        fig = _figure(9.5, 4.2)
        if not cohorts:
            _empty(fig, t.gettext("no cohort in the last 12 months"))
            return to_svg(fig, "cohorts")
        width = max(len(c["retention"]) for c in cohorts) or 1
        matrix = np.full((len(cohorts), width), np.nan)
        for i, cohort in enumerate(cohorts):
            matrix[i, : len(cohort["retention"])] = np.array(cohort["retention"]) * 100
        ax = fig.add_subplot()
        ax.imshow(
            matrix,
            cmap="Greens",
            aspect="auto",
            vmin=0,
            vmax=max(np.nanmax(matrix), 1) if np.isfinite(matrix).any() else 1,
        )
        top = np.nanmax(matrix) if np.isfinite(matrix).any() else 1.0
        for i in range(matrix.shape[0]):
            for j in range(matrix.shape[1]):
                if np.isfinite(matrix[i, j]):
                    color = "white" if matrix[i, j] > 0.6 * top else "#1d2733"
                    ax.text(
                        j,
                        i,
                        f"{matrix[i, j]:.0f}",
                        ha="center",
                        va="center",
                        fontsize=7,
                        color=color,
                    )
        ax.set_yticks(range(len(cohorts)), [f"{c['cohort']} ({c['size']})" for c in cohorts])
        ax.set_xticks(range(width), [str(k) for k in range(1, width + 1)])
        ax.set_xlabel(t.gettext("months after the first order"))
        ax.set_title(t.gettext("Cohort retention: % of each first-order cohort buying again"))
        return to_svg(fig, "cohorts")


def trend_chart(months: Sequence[dict[str, Any]], *, t: Texts = ENGLISH) -> str:
    """Monthly revenue (bars, the last 12 months darker) and buyers (line) of the last 24 months."""
    with mpl.rc_context(_style()):
        fig = _figure(9.5, 3.2)
        if not months or not any(m["orders"] for m in months):
            _empty(fig, t.gettext("no order in the last 24 months"))
            return to_svg(fig, "trend")
        ax = fig.add_subplot()
        labels = [m["month"] if i % 3 == 0 else "" for i, m in enumerate(months)]
        colors = [MUTED if i < len(months) - 12 else ACCENT for i in range(len(months))]
        _bars(ax, labels, [m["revenue"] for m in months], color=colors)
        if months[-1].get("partial"):
            ax.patches[-1].set_hatch("///")
            ax.patches[-1].set_alpha(0.5)
            ax.text(
                len(months) - 1,
                months[-1]["revenue"],
                " " + t.gettext("to date"),
                fontsize=8,
                va="bottom",
            )
        ax.yaxis.set_major_formatter(_thousands(t))
        ax.set_ylabel(t.gettext("revenue"))
        ax.grid(axis="y", color="#e3e7eb")
        ax.set_axisbelow(True)
        buyers = ax.twinx()
        buyers.plot(range(len(months)), [m["customers"] for m in months], color=PALETTE[3])
        buyers.set_ylabel(t.gettext("buyers"), color=PALETTE[3])
        buyers.spines["right"].set_visible(True)
        ax.set_title(t.gettext("Revenue per month (last 12 months in blue) and buyers per month"))
        return to_svg(fig, "trend")


def payment_delay_chart(delays: dict[str, Any], *, t: Texts = ENGLISH) -> str:
    """Orders by days from invoice to payment; unpaid invoices by days overdue (amount)."""
    with mpl.rc_context(_style()):
        fig = _figure(9.5, 3.2)
        if not delays or not any(d["orders"] for d in delays.get("delays", [])):
            _empty(fig, t.gettext("no payment data"))
            return to_svg(fig, "payment-delays")
        axes = fig.subplots(1, 2)
        rows = delays["delays"]
        labels = [t.gettext(r["bucket"]) for r in rows]
        _bars(axes[0], labels, [r["orders"] for r in rows], color=ACCENT)
        axes[0].set_title(t.gettext("Paid orders by days from invoice to payment"))
        axes[0].set_xlabel(t.gettext("days"))
        overdue = delays["overdue"]
        _bars(
            axes[1],
            [t.gettext(r["bucket"]) for r in overdue],
            [r["amount"] for r in overdue],
            color=[PALETTE[2], PALETTE[2], PALETTE[3], PALETTE[3]][: len(overdue)],
        )
        axes[1].yaxis.set_major_formatter(_thousands(t))
        axes[1].set_title(t.gettext("Unpaid past due: amount by days overdue"))
        axes[1].set_xlabel(t.gettext("days past due"))
        for ax in axes:
            ax.grid(axis="y", color="#e3e7eb")
            ax.set_axisbelow(True)
        for x, r in enumerate(overdue):
            axes[1].text(
                x, r["amount"], f"{r['invoices']} inv.", ha="center", va="bottom", fontsize=8
            )
        return to_svg(fig, "payment-delays")


def clv_tracking_chart(
    evaluations: dict[str, dict[str, Any]], chosen: str, *, t: Texts = ENGLISH
) -> str:
    """Cumulative repeat purchases per period, actual vs each model, the holdout shaded."""
    with mpl.rc_context(_style()):
        fig = _figure(9.5, 3.6)
        if not evaluations:
            _empty(fig, t.gettext("no holdout evaluation"))
            return to_svg(fig, "clv-tracking")
        first = next(iter(evaluations.values()))
        periods = [row["period"] for row in first["tracking"]]
        axes = fig.subplots(1, 2)
        actual = [row["actual_cumulative"] for row in first["tracking"]]
        axes[0].plot(periods, actual, color="#1d2733", linewidth=2, label=t.gettext("actual"))
        axes[1].plot(
            periods,
            [row["actual"] for row in first["tracking"]],
            color="#1d2733",
            label=t.gettext("actual"),
        )
        for i, (name, ev) in enumerate(evaluations.items()):
            style = {
                "color": PALETTE[i % len(PALETTE)],
                "linestyle": "-" if name == chosen else "--",
                "label": MODEL_LABELS.get(name, name)
                + (" " + t.gettext("(chosen)") if name == chosen else ""),
            }
            axes[0].plot(periods, [r["predicted_cumulative"] for r in ev["tracking"]], **style)
            axes[1].plot(periods, [r["predicted"] for r in ev["tracking"]], **style)
        calibration = len(periods) - ev["holdout_periods"]
        for ax in axes:
            ax.axvspan(calibration, periods[-1], color="#eef2f6", zorder=0)
            ax.set_xlabel(
                t.gettext("%(unit)s since the first order (holdout shaded)")
                % {"unit": t.gettext(first["time_unit"])}
            )
            ax.grid(axis="y", color="#e3e7eb")
        axes[0].set_title(t.gettext("Cumulative repeat purchases"))
        axes[1].set_title(t.gettext("Repeat purchases per period"))
        axes[0].yaxis.set_major_formatter(_thousands(t))
        axes[0].legend(frameon=False, fontsize=8)
        return to_svg(fig, "clv-tracking")


def clv_frequency_chart(evaluations: dict[str, dict[str, Any]], *, t: Texts = ENGLISH) -> str:
    """Mean holdout purchases by calibration frequency: actual bars, each model's expectation."""
    with mpl.rc_context(_style()):
        fig = _figure(6.0, 3.4)
        if not evaluations:
            _empty(fig, t.gettext("no holdout evaluation"))
            return to_svg(fig, "clv-frequency")
        first = next(iter(evaluations.values()))
        labels = [row["frequency"] for row in first["by_frequency"]]
        ax = fig.add_subplot()
        _bars(ax, labels, [row["actual"] for row in first["by_frequency"]], color=MUTED)
        for i, (name, ev) in enumerate(evaluations.items()):
            ax.plot(
                range(len(labels)),
                [row["predicted"] for row in ev["by_frequency"]],
                marker="o",
                color=PALETTE[i % len(PALETTE)],
                label=MODEL_LABELS.get(name, name),
            )
        ax.set_xlabel(t.gettext("repeat purchases in the calibration period"))
        ax.set_ylabel(t.gettext("mean purchases in the holdout"))
        ax.set_title(t.gettext("Holdout purchases by calibration frequency (bars: actual)"))
        ax.legend(frameon=False, fontsize=8)
        ax.grid(axis="y", color="#e3e7eb")
        ax.set_axisbelow(True)
        return to_svg(fig, "clv-frequency")


def p_alive_matrix_chart(matrices: dict[str, Any], model: str, *, t: Texts = ENGLISH) -> str:
    """P(alive) by frequency (rows) and recency (columns) of a customer of the longest age."""
    with mpl.rc_context(_style()):
        fig = _figure(6.0, 3.8)
        if not matrices or not matrices.get("p_alive"):
            _empty(fig, t.gettext("no model"))
            return to_svg(fig, "p-alive")
        matrix = np.array(matrices["p_alive"], dtype=float)
        ax = fig.add_subplot()
        image = ax.imshow(matrix, cmap="RdYlGn", vmin=0, vmax=1, aspect="auto", origin="lower")
        fig.colorbar(image, ax=ax, label=t.gettext("P(alive)"))
        recency = matrices["recency"]
        step = max(1, len(recency) // 8)
        ax.set_xticks(range(0, len(recency), step), [f"{v:.0f}" for v in recency[::step]])
        frequency = matrices["frequency"]
        fstep = max(1, len(frequency) // 10)
        ax.set_yticks(range(0, len(frequency), fstep), [str(v) for v in frequency[::fstep]])
        ax.set_xlabel(
            t.gettext("recency (last purchase, age %(age)s)") % {"age": t.number(matrices["T"])}
        )
        ax.set_ylabel(t.gettext("repeat purchases"))
        ax.set_title(t.gettext("P(alive), %(model)s") % {"model": MODEL_LABELS.get(model, model)})
        return to_svg(fig, "p-alive")


def _short(value: float, t: Texts) -> str:
    """A compact figure in the locale (``1.6M``, ``1,6 M``; ``16K``, ``16 k``)."""
    if abs(value) >= 1e4:
        return str(format_compact_decimal(value, locale=t.locale, fraction_digits=1))
    return t.number(value)


def _thousands(t: Texts) -> FuncFormatter:
    # A formatter binds to one axis: a new one per use.
    return FuncFormatter(lambda value, _pos: _short(value, t))
