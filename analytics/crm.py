"""Per-customer statistics from the operational CRM extracted from Sugar (the ``crm_*`` tables).

After-sales cases, contacts (calls and meetings held), the open pipeline and campaign responses,
for one ``as_of`` date, joined to the customers through ``crm_account.customer_key`` (companies)
and ``crm_contact.customer_key`` (persons). Records deleted in Sugar (``deleted`` true) and
records entered after ``as_of`` do not count.

Sugar keeps the *current* state of a record only: a case's state, an opportunity's sales stage
and probability are as extracted, whatever ``as_of`` is (a backdated run sees today's states of
the records that existed then). Sugar has no close date on a case either: a closed case's
resolution time is its ``date_modified`` minus its ``date_entered`` (a later edit of a closed
case lengthens it). The audit would be a better source, but v4_1 reads no audit table (and the
CI's SuiteCRM bundle writes no audit row for a close: its AOP closure hook dies after the save
and before the audit, for a library its vendor/ lacks; recordings 22_*), so ``date_modified``
is what holds the close time.

Counts and sums are SQL (``COUNT``, ``SUM(CASE ..)``, ``GROUP BY``) that runs unchanged on
SQLite, MariaDB and PostgreSQL; date differences are taken in pandas, as in
:mod:`analytics.habits`. A warehouse without CRM rows (a shop without the Sugar source) gets no
CRM column at all: its runs store NULLs there and its figures stay what they were.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import (
    Numeric,
    and_,
    case,
    false,
    func,
    inspect,
    literal,
    or_,
    select,
)
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement, Select, TableClause

from analytics.frames import read_frame
from analytics.summary import cutoff, money_sum
from etl.schema import (
    crm_account,
    crm_activity,
    crm_campaign_log,
    crm_case,
    crm_contact,
    crm_lead,
    crm_opportunity,
)

WINDOW_DAYS = 365
MONTHS_IN_WINDOW = 12
CLOSED_SALES_STAGES = ("Closed Won", "Closed Lost")
HELD = "Held"
#: Campaign log activity types that are a response of the target (not a send or a failure).
RESPONSE_TYPES = ("viewed", "link", "lead", "contact")
SENT_TYPE = "targeted"

#: The customer_metrics columns this module fills (NULL for a shop without CRM data).
CRM_COLUMNS = (
    "cases_open",
    "cases_12m",
    "case_resolution_days",
    "last_contact_at",
    "contacts_12m",
    "contacts_per_month",
    "open_opportunities",
    "pipeline_amount",
    "weighted_pipeline_amount",
    "pipeline_by_stage",
    "campaign_targeted_12m",
    "campaign_responses_12m",
)


CRM_TABLES = ("crm_account", "crm_contact", "crm_lead")


def live(t: TableClause) -> ColumnElement[bool]:
    """Rows not deleted in Sugar."""
    return t.c.deleted == false()


def crm_present(conn: Connection) -> bool:
    """True when the warehouse holds CRM records (the Sugar source was extracted)."""
    inspector = inspect(conn)
    for name in CRM_TABLES:
        if not inspector.has_table(name):
            return False
    tables = {"crm_account": crm_account, "crm_contact": crm_contact, "crm_lead": crm_lead}
    return any(conn.scalar(select(literal(1)).select_from(t).limit(1)) for t in tables.values())


def _linked_accounts() -> Any:
    """Sugar accounts tied to a customer (not deleted): ``id, customer_key``."""
    a = crm_account
    return (
        select(a.c.id.label("account_id"), a.c.customer_key)
        .where(live(a), a.c.customer_key.is_not(None))
        .subquery("linked_account")
    )


def case_counts_query(as_of: date) -> Select[Any]:
    """Per customer: open cases and cases entered in the 12 months to ``as_of``."""
    c, acc = crm_case, _linked_accounts()
    start = cutoff(as_of) - timedelta(days=WINDOW_DAYS)
    return (
        select(
            acc.c.customer_key,
            func.sum(case((c.c.state == "Open", 1), else_=0)).label("cases_open"),
            func.sum(case((c.c.date_entered >= start, 1), else_=0)).label("cases_12m"),
        )
        .select_from(c.join(acc, acc.c.account_id == c.c.account_id))
        .where(live(c), c.c.date_entered < cutoff(as_of))
        .group_by(acc.c.customer_key)
    )


def closed_cases_query(as_of: date) -> Select[Any]:
    """The cases closed (last modified) in the 12 months to ``as_of``: one row per case."""
    c, acc = crm_case, _linked_accounts()
    end = cutoff(as_of)
    return (
        select(acc.c.customer_key, c.c.date_entered, c.c.date_modified)
        .select_from(c.join(acc, acc.c.account_id == c.c.account_id))
        .where(
            live(c),
            c.c.state == "Closed",
            c.c.date_modified >= end - timedelta(days=WINDOW_DAYS),
            c.c.date_modified < end,
        )
    )


def contacts_query(as_of: date) -> Select[Any]:
    """Per customer: last call or meeting held by ``as_of`` and those held in the 12 months.

    An activity belongs to the customer of its account (``crm_activity.account_id``, resolved
    for activities on a contact at extraction), else to the person customer of its contact.
    """
    act, acc, con = crm_activity, _linked_accounts(), crm_contact
    end = cutoff(as_of)
    held = (
        select(
            func.coalesce(acc.c.customer_key, con.c.customer_key).label("customer_key"),
            act.c.date_start,
        )
        .select_from(
            act.outerjoin(acc, acc.c.account_id == act.c.account_id).outerjoin(
                con, and_(con.c.id == act.c.contact_id, live(con))
            )
        )
        .where(
            live(act),
            act.c.module.in_(("Calls", "Meetings")),
            act.c.status == HELD,
            act.c.date_start < end,
            or_(acc.c.customer_key.is_not(None), con.c.customer_key.is_not(None)),
        )
        .subquery("held")
    )
    start = end - timedelta(days=WINDOW_DAYS)
    return select(
        held.c.customer_key,
        func.max(held.c.date_start).label("last_contact_at"),
        func.sum(case((held.c.date_start >= start, 1), else_=0)).label("contacts_12m"),
    ).group_by(held.c.customer_key)


def _is_open_opportunity() -> ColumnElement[bool]:
    o = crm_opportunity
    return or_(o.c.sales_stage.is_(None), o.c.sales_stage.not_in(CLOSED_SALES_STAGES))


def pipeline_query(as_of: date) -> Select[Any]:
    """Per customer and sales stage: open opportunities, their amount and weighted amount
    (amount x probability %, a missing probability weighing nothing)."""
    o, acc = crm_opportunity, _linked_accounts()
    weight = literal(Decimal("0.01"), Numeric(3, 2))
    stage = func.coalesce(o.c.sales_stage, "")
    return (
        select(
            acc.c.customer_key,
            stage.label("sales_stage"),
            func.count().label("n"),
            money_sum(func.coalesce(o.c.amount, 0)).label("amount"),
            money_sum(
                func.coalesce(o.c.amount, 0) * func.coalesce(o.c.probability, 0) * weight
            ).label("weighted"),
        )
        .select_from(o.join(acc, acc.c.account_id == o.c.account_id))
        .where(live(o), _is_open_opportunity(), o.c.date_entered < cutoff(as_of))
        .group_by(acc.c.customer_key, stage)
    )


def campaign_query(as_of: date) -> Select[Any]:
    """Per customer: campaign sends and responses (viewed, link, lead, contact) in 12 months,
    to its account or its person contact."""
    log, acc, con = crm_campaign_log, _linked_accounts(), crm_contact
    end = cutoff(as_of)
    targets = (
        select(
            func.coalesce(acc.c.customer_key, con.c.customer_key).label("customer_key"),
            log.c.activity_type,
        )
        .select_from(
            log.outerjoin(
                acc, and_(log.c.target_type == "Accounts", acc.c.account_id == log.c.target_id)
            ).outerjoin(
                con,
                and_(log.c.target_type == "Contacts", con.c.id == log.c.target_id, live(con)),
            )
        )
        .where(
            live(log),
            log.c.activity_date >= end - timedelta(days=WINDOW_DAYS),
            log.c.activity_date < end,
            or_(acc.c.customer_key.is_not(None), con.c.customer_key.is_not(None)),
        )
        .subquery("targets")
    )
    return select(
        targets.c.customer_key,
        func.sum(case((targets.c.activity_type == SENT_TYPE, 1), else_=0)).label("targeted"),
        func.sum(case((targets.c.activity_type.in_(RESPONSE_TYPES), 1), else_=0)).label(
            "responses"
        ),
    ).group_by(targets.c.customer_key)


def _has_rows(conn: Connection, t: TableClause) -> bool:
    if not inspect(conn).has_table(t.name):
        return False
    return conn.scalar(select(literal(1)).select_from(t).where(live(t)).limit(1)) is not None


def crm_statistics(conn: Connection, index: pd.Index, as_of: date) -> pd.DataFrame:
    """The :data:`CRM_COLUMNS` for the customers of ``index`` (customer keys) as of ``as_of``.

    Counts are 0 for a customer without records; ``case_resolution_days`` and
    ``last_contact_at`` are missing when there is nothing to measure; the campaign columns are
    missing for everyone when the warehouse has no campaign log (not known, not zero).
    """
    out = pd.DataFrame(index=index)
    cases = read_frame(conn, case_counts_query(as_of), {"customer_key": "int"}, default="float")
    cases = cases.set_index("customer_key").reindex(index)
    out["cases_open"] = cases["cases_open"].fillna(0).astype(int)
    out["cases_12m"] = cases["cases_12m"].fillna(0).astype(int)
    closed = read_frame(
        conn,
        closed_cases_query(as_of),
        {"customer_key": "int", "date_entered": "datetime", "date_modified": "datetime"},
    )
    seconds = (closed["date_modified"] - closed["date_entered"]).dt.total_seconds()
    days = (seconds / 86_400).clip(lower=0).groupby(closed["customer_key"]).mean()
    out["case_resolution_days"] = days.reindex(index).round(2)
    contacts = read_frame(
        conn,
        contacts_query(as_of),
        {"customer_key": "int", "last_contact_at": "datetime", "contacts_12m": "float"},
    ).set_index("customer_key")
    contacts = contacts.reindex(index)
    out["last_contact_at"] = contacts["last_contact_at"]
    out["contacts_12m"] = contacts["contacts_12m"].fillna(0).astype(int)
    out["contacts_per_month"] = (out["contacts_12m"] / MONTHS_IN_WINDOW).round(2)
    stages = read_frame(
        conn,
        pipeline_query(as_of),
        {"customer_key": "int", "sales_stage": "label", "n": "int"},
        default="float",
    )
    by_customer = stages.groupby("customer_key")
    out["open_opportunities"] = by_customer["n"].sum().reindex(index).fillna(0).astype(int)
    out["pipeline_amount"] = by_customer["amount"].sum().round(2).reindex(index).fillna(0.0)
    out["weighted_pipeline_amount"] = (
        by_customer["weighted"].sum().round(2).reindex(index).fillna(0.0)
    )
    out["pipeline_by_stage"] = _stage_json(stages).reindex(index)
    if _has_rows(conn, crm_campaign_log):
        campaigns = read_frame(
            conn, campaign_query(as_of), {"customer_key": "int"}, default="float"
        )
        campaigns = campaigns.set_index("customer_key").reindex(index)
        out["campaign_targeted_12m"] = campaigns["targeted"].fillna(0).astype(int)
        out["campaign_responses_12m"] = campaigns["responses"].fillna(0).astype(int)
    else:
        out["campaign_targeted_12m"] = pd.Series(pd.NA, index=index, dtype="Int64")
        out["campaign_responses_12m"] = pd.Series(pd.NA, index=index, dtype="Int64")
    return out


def _stage_json(stages: pd.DataFrame) -> pd.Series:
    """Per customer, ``{"stage": amount}`` of its open opportunities as JSON text (stages in
    name order, amounts to the cent)."""
    if stages.empty:
        return pd.Series(dtype=object)
    ordered = stages.sort_values(["customer_key", "sales_stage"])
    texts = {
        key: json.dumps(
            {
                str(s): round(float(a), 2)
                for s, a in zip(g["sales_stage"], g["amount"], strict=True)
            },
            ensure_ascii=False,
        )
        for key, g in ordered.groupby("customer_key", sort=False)
    }
    return pd.Series(texts, dtype=object)  # indexed by customer_key


def add_crm_statistics(conn: Connection, customers: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """``customers`` with the :data:`CRM_COLUMNS` when the warehouse holds CRM records, else as
    it is (a shop without the Sugar source stores NULLs there, its digest unchanged)."""
    if not crm_present(conn):
        return customers
    stats = crm_statistics(conn, customers.index, as_of)
    return customers.join(stats)


def crm_summary(conn: Connection, customers: pd.DataFrame, as_of: date) -> dict[str, Any] | None:
    """The report's CRM figures for the whole portfolio (None without CRM data): cases,
    contacts, open pipeline by stage, campaign responses, and the prospects counted."""
    if "cases_open" not in customers.columns:
        return None
    end = cutoff(as_of)
    resolution = closed_resolution_days(conn, as_of)
    stages = read_frame(
        conn,
        pipeline_query(as_of),
        {"customer_key": "int", "sales_stage": "label", "n": "int"},
        default="float",
    )
    by_stage = (
        stages.groupby("sales_stage")[["n", "amount", "weighted"]].sum().sort_values("amount")
        if not stages.empty
        else pd.DataFrame(columns=["n", "amount", "weighted"])
    )
    a, lead = crm_account, crm_lead
    unlinked_accounts = conn.scalar(
        select(func.count())
        .select_from(a)
        .where(live(a), a.c.customer_key.is_(None), a.c.date_entered < end)
    )
    open_leads = conn.scalar(
        select(func.count())
        .select_from(lead)
        .where(
            live(lead),
            lead.c.date_entered < end,
            or_(lead.c.converted.is_(None), lead.c.converted == false()),
            or_(lead.c.status.is_(None), lead.c.status != "Dead"),
        )
    )
    buyers = customers["n_orders"] > 0
    targeted = customers["campaign_targeted_12m"]
    campaigns_known = bool(targeted.notna().any())
    sent = int(targeted.fillna(0).sum()) if campaigns_known else None
    answered = int(customers["campaign_responses_12m"].fillna(0).sum()) if campaigns_known else None
    return {
        "cases_open": int(customers["cases_open"].sum()),
        "cases_12m": int(customers["cases_12m"].sum()),
        "customers_with_open_cases": int((customers["cases_open"] > 0).sum()),
        "case_resolution_days": resolution,
        "contacts_12m": int(customers["contacts_12m"].sum()),
        "contacts_per_month": round(float(customers["contacts_12m"].sum()) / MONTHS_IN_WINDOW, 2),
        "customers_contacted_12m": int((customers["contacts_12m"] > 0).sum()),
        "buyers_not_contacted_12m": int((buyers & (customers["contacts_12m"] == 0)).sum()),
        "open_opportunities": int(customers["open_opportunities"].sum()),
        "pipeline_amount": round(float(customers["pipeline_amount"].sum()), 2),
        "weighted_pipeline_amount": round(float(customers["weighted_pipeline_amount"].sum()), 2),
        "pipeline_by_stage": [
            {
                "stage": str(stage),
                "n": int(row["n"]),
                "amount": round(float(row["amount"]), 2),
                "weighted": round(float(row["weighted"]), 2),
            }
            for stage, row in by_stage.iloc[::-1].iterrows()
        ],
        "campaign_targeted_12m": sent,
        "campaign_responses_12m": answered,
        "campaign_response_rate": (answered / sent if sent and answered is not None else None),
        "prospects": {
            "customers_without_orders": int((~buyers).sum()),
            "accounts_not_customers": int(unlinked_accounts or 0),
            "open_leads": int(open_leads or 0),
        },
    }


def closed_resolution_days(conn: Connection, as_of: date) -> float | None:
    """Mean resolution time (days) of the linked customers' cases closed in the 12 months."""
    closed = read_frame(
        conn,
        closed_cases_query(as_of),
        {"customer_key": "int", "date_entered": "datetime", "date_modified": "datetime"},
    )
    if closed.empty:
        return None
    seconds = (closed["date_modified"] - closed["date_entered"]).dt.total_seconds()
    return round(float((seconds / 86_400).clip(lower=0).mean()), 2)
