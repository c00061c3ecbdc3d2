"""Rendering the report: gather one run's figures, draw the charts, fill the Jinja2 template."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
from markupsafe import Markup
from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Connection, Engine

from analytics.btyd import MODEL_LABELS
from analytics.config import AT_RISK, CANT_LOSE, AnalyticsConfig
from analytics.exceptions import AnalyticsError
from analytics.i18n import Texts
from analytics.report import charts
from analytics.run import run_analytics
from analytics.store import latest_run, load_run
from etl.schema import crm_account, crm_lead, customer_metrics, dim_customer, prospect_score

log = logging.getLogger(__name__)

FOLLOW_UP_LIMIT = 15


@dataclass(frozen=True)
class ReportResult:
    """Where the report went and which run it shows."""

    path: Path
    run_id: int
    as_of: date
    computed: bool
    size_bytes: int


def _environment(t: Texts, currency: str | None) -> jinja2.Environment:
    """Jinja with the report's filters in locale ``t`` and its translations installed."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("analytics.report", "templates"),
        autoescape=True,  # every value from the warehouse is escaped
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(t.translations, newstyle=True)  # type: ignore[attr-defined]
    env.filters["money"] = lambda value: t.money(value, currency)
    env.filters["pct"] = lambda value, digits=1: t.percent(value, digits)
    env.filters["signed_pct"] = lambda value: t.percent(value, 1, signed=True)
    env.filters["num"] = lambda value: t.number(value)
    env.filters["dec"] = lambda value, digits=2: t.number(value, digits)
    env.filters["day"] = lambda value: t.date(_as_date(value))
    env.filters["moment"] = lambda value: t.datetime(value, "short")
    return env


def _as_date(value: Any) -> date | None:
    """A date from a date, a datetime or an ISO string (JSON-stored figures)."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def follow_up_customers(conn: Connection, run_id: int, limit: int = FOLLOW_UP_LIMIT) -> list[Any]:
    """Declining customers and those in the at-risk segments, most valuable first."""
    m = customer_metrics
    query = (
        select(
            dim_customer.c.name,
            m.c.customer_id,
            m.c.rfm_segment,
            m.c.lifecycle_stage,
            m.c.n_orders,
            m.c.last_order_at,
            m.c.total_amount,
            m.c.p_alive,
            m.c.clv_12m,
            m.c.preferred_payment_method,
            dim_customer.c.sugar_account_id,
            dim_customer.c.owner_name,  # the account's owner in Sugar, as the push left it
        )
        .join(dim_customer, dim_customer.c.customer_key == m.c.customer_key)
        .where(
            m.c.run_id == run_id,
            or_(m.c.lifecycle_stage == "declining", m.c.rfm_segment.in_([AT_RISK, CANT_LOSE])),
        )
        .order_by(m.c.total_amount.desc(), m.c.customer_key)
        .limit(limit * 8)
    )
    result = conn.execute(query)
    frame = pd.DataFrame(result.all(), columns=list(result.keys()))
    if frame.empty:
        return []
    frame["_clv"] = frame["clv_12m"].astype(float).fillna(-1.0)
    frame["_total"] = frame["total_amount"].astype(float)
    frame = frame.sort_values(["_clv", "_total"], ascending=False).head(limit)
    return list(frame.itertuples(index=False))


def crm_customers(conn: Connection, run_id: int, limit: int = FOLLOW_UP_LIMIT) -> list[Any]:
    """Customers with open cases or an open pipeline, largest weighted pipeline first."""
    m = customer_metrics
    query = (
        select(
            dim_customer.c.name,
            m.c.customer_id,
            dim_customer.c.sugar_account_id,
            m.c.lifecycle_stage,
            m.c.cases_open,
            m.c.case_resolution_days,
            m.c.last_contact_at,
            m.c.contacts_12m,
            m.c.open_opportunities,
            m.c.weighted_pipeline_amount,
        )
        .join(dim_customer, dim_customer.c.customer_key == m.c.customer_key)
        .where(m.c.run_id == run_id, or_(m.c.cases_open > 0, m.c.open_opportunities > 0))
        .order_by(m.c.weighted_pipeline_amount.desc(), m.c.cases_open.desc(), m.c.customer_key)
        .limit(limit)
    )
    return list(conn.execute(query).all())


def top_prospects(conn: Connection, run_id: int, limit: int = FOLLOW_UP_LIMIT) -> list[Any]:
    """The run's best-scored prospects (leads and accounts) with their Sugar name."""
    s = prospect_score
    lead, account = crm_lead, crm_account
    name = func.coalesce(account.c.name, lead.c.account_name)
    query = (
        select(
            s.c.module,
            s.c.record_id,
            s.c.score,
            name.label("name"),
            lead.c.extra,
            lead.c.lead_source,
            lead.c.status,
            account.c.industry,
        )
        .select_from(
            s.outerjoin(lead, and_(s.c.module == "Leads", lead.c.id == s.c.record_id)).outerjoin(
                account, and_(s.c.module == "Accounts", account.c.id == s.c.record_id)
            )
        )
        .where(s.c.run_id == run_id)
        .order_by(s.c.score.desc(), s.c.record_id)
        .limit(limit)
    )
    return [
        {**row._mapping, "name": row.name or _person_name(row.extra)} for row in conn.execute(query)
    ]


def _person_name(extra: Any) -> str | None:
    """A lead without a company name is a person: its first and last name (extracted into
    ``extra``, see connectors/sugar/crm.py), else nothing (the template shows the record id)."""
    if isinstance(extra, str):
        extra = json.loads(extra)
    if not isinstance(extra, dict):
        return None
    name = " ".join(str(extra.get(k) or "").strip() for k in ("first_name", "last_name")).strip()
    return name or None


def _site_root(url: str) -> str:
    """The Sugar site a record link starts from: the configured URL without an API path."""
    root = url.rstrip("/")
    for suffix in ("/service/v4_1/rest.php", "/custom/service/bridge/rest.php"):
        if root.endswith(suffix):
            root = root[: -len(suffix)]
    return root


def _purchase_model(models: dict[str, Any]) -> dict[str, Any] | None:
    """The stored repeat-purchase model with its label (runs before the model choice stored
    BG/NBD under ``bgnbd`` without a ``model`` key)."""
    name = models.get("model") or ("bgnbd" if models.get("bgnbd") else None)
    if name is None or not models.get(name):
        return None
    fitted: dict[str, Any] = models[name]
    return {**fitted, "name": name, "label": MODEL_LABELS.get(name, name)}


def render_report(
    conn: Connection,
    run_id: int,
    config: AnalyticsConfig,
    *,
    locale: str | None = None,
    currency: str | None = None,
    sugar_url: str | None = None,
) -> str:
    """The HTML of the report for the stored analytics run ``run_id``, in ``locale`` (texts,
    numbers, dates; default English), amounts in ``currency`` (default: the run's reporting
    currency; the orders converted from other currencies are said, and those without a rate
    listed with their own currency and amount, never summed), follow-up names linked to their
    account in the Sugar at ``sugar_url`` when given."""
    t = Texts.for_locale(locale)
    run = load_run(conn, run_id)
    if run is None:
        raise AnalyticsError(f"no analytics run {run_id} in the warehouse")
    portfolio: dict[str, Any] = run["portfolio"] or {}
    by_currency: list[dict[str, Any]] = portfolio.get("currencies", [])
    currencies = [c["currency"] for c in by_currency]
    converted = bool(run.get("currency"))  # a run whose orders were converted (migration 0013)
    if currency is None:
        currency = run.get("currency") or None
    if currency is None and len(currencies) == 1:
        currency = currencies[0]  # every order in one currency: the amounts are in it
    # Runs made before orders were converted summed several currencies: said, as then.
    mixed = currencies if len(currencies) > 1 and not converted else []
    foreign = [
        c
        for c in by_currency
        if converted and c["currency"] != currency and c["orders"] > c.get("unconverted_orders", 0)
    ]
    unconverted = [c for c in by_currency if c.get("unconverted_orders")]
    models: dict[str, Any] = run["models"] or {}
    names = config.segment_names()
    segments = portfolio.get("segments", [])
    purchase = _purchase_model(models)
    prospects: dict[str, Any] = models.get("prospects") or {}
    selection: dict[str, Any] = models.get("selection") or {}
    evaluations: dict[str, Any] = selection.get("evaluations") or {}
    used = models.get("model") or selection.get("model") or ""
    chart_svgs = {
        "trend": charts.trend_chart(portfolio.get("trend", {}).get("months", []), t=t),
        "payment_delays": charts.payment_delay_chart(portfolio.get("payment_delays", {}), t=t),
        "clv_tracking": charts.clv_tracking_chart(evaluations, chosen=used, t=t),
        "clv_frequency": charts.clv_frequency_chart(evaluations, t=t),
        "p_alive": charts.p_alive_matrix_chart(
            (evaluations.get(used) or {}).get("matrices") or {}, used, t=t
        ),
        "segments": charts.segment_chart(segments, t=t),
        "rfm_grid": charts.rfm_grid_chart(portfolio.get("rfm_grid", []), config.segment_for, t=t),
        "concentration": charts.concentration_chart(portfolio.get("concentration", {}), t=t),
        "category_mix": charts.category_mix_chart(portfolio.get("category_mix", {}), names, t=t),
        "payment": charts.payment_chart(portfolio.get("payment", []), t=t),
        "seasonality": charts.seasonality_chart(portfolio.get("seasonality", {}), t=t),
        "channels": charts.channel_chart(portfolio.get("channels", []), t=t),
        "cohorts": charts.cohort_chart(portfolio.get("cohorts", {}).get("cohorts", []), t=t),
    }
    template = _environment(t, currency).get_template("report.html.j2")
    return template.render(
        lang=t.tag,
        currency=currency,
        mixed_currencies=mixed,
        foreign_currencies=foreign,
        unconverted=unconverted,
        own_money=t.money,
        sugar_url=_site_root(sugar_url) if sugar_url else None,
        stage_names={
            "prospect": t.gettext("prospect"),
            "new": t.gettext("new"),
            "active": t.gettext("active"),
            "declining": t.gettext("declining"),
            "lost": t.gettext("lost"),
        },
        run_id=run_id,
        as_of=run["as_of"],
        created_at=run["created_at"],
        p=portfolio,
        models=models,
        purchase=purchase,
        selection=selection,
        labels=MODEL_LABELS,
        segments=segments,
        config=config,
        follow_up=follow_up_customers(conn, run_id),
        crm=portfolio.get("crm"),
        crm_customers=crm_customers(conn, run_id) if portfolio.get("crm") else [],
        prospects=prospects,
        top_prospects=top_prospects(conn, run_id) if prospects.get("scored") else [],
        palette=charts.PALETTE,
        at_risk=AT_RISK,
        cant_lose=CANT_LOSE,
        # matplotlib's SVG output, whose text it escapes itself: trusted markup.
        charts={name: Markup(svg) for name, svg in chart_svgs.items()},  # noqa: S704
    )


def write_report(
    engine: Engine,
    config: AnalyticsConfig,
    as_of: date,
    path: Path,
    *,
    recompute: bool = False,
    locale: str | None = None,
    currency: str | None = None,
    sugar_url: str | None = None,
    backdated: bool = False,
) -> ReportResult:
    """Write the report of ``as_of`` to ``path``, computing the analytics run first if needed
    (``locale``, ``currency`` and ``sugar_url`` as for ``render_report``; a run computed for a
    ``backdated`` date is stored as such)."""
    computed = False
    with engine.connect() as conn:
        run = None if recompute else latest_run(conn, as_of)
    if run is None:
        run_id = run_analytics(engine, config, as_of, backdated=backdated).run_id
        computed = True
    else:
        run_id = run.run_id
    with engine.connect() as conn:
        html = render_report(
            conn, run_id, config, locale=locale, currency=currency, sugar_url=sugar_url
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    log.info("report for %s (run %d) written to %s", as_of, run_id, path)
    return ReportResult(
        path=path, run_id=run_id, as_of=as_of, computed=computed, size_bytes=path.stat().st_size
    )
