"""The demo's operational CRM: contacts, leads, opportunities, cases, calls and meetings in Sugar.

Pure and deterministic like the order generator: :func:`crm_records` turns the demo customers
(and the Sugar accounts the first night's push matched them to) into records with client-made
ids (uuid5 of the seed), so the same options always give the same records; :func:`seed_crm`
writes them into the (sandbox) Sugar through the API, as a sales team would have entered them,
except the cases: those come in as an imported history (:data:`IMPORTED`), each closed one with
the time of its close as its ``date_modified``, which over the API Sugar would stamp "now".
The demo's second night extracts them (``sugar_source``).

What is in it, so that statistics have something true to find:

- **Leads**: buyers were leads once (``Converted``, tied to their account and contact, entered
  5–90 days before the first order); prospects are leads that never bought (``New``,
  ``Assigned``, ``In Process``, ``Recycled``, ``Dead``). A learnable signal: leads from
  *Partner*, *Trade Show* or *Existing Customer* convert far more than *Web Site*, *Cold Call*
  or *Email* ones, and a lead that had a meeting (a Meetings record whose parent is the lead)
  converts more again.
- **Contacts** for most accounts (businesses have two), **opportunities** at every sales stage
  (businesses more and larger), **cases** (after-sales requests; most closed, some open, more
  for declining customers), **calls** and **meetings** on accounts over the last year (regulars
  are called more).
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from connectors.sugar.client import SugarClient

log = logging.getLogger(__name__)

_NAMESPACE = uuid.UUID("5d3c1e7a-9a47-4f7e-9c55-16c0a0d1e516")

GOOD_SOURCES = ("Partner", "Trade Show", "Existing Customer")
POOR_SOURCES = ("Web Site", "Cold Call", "Email")
OPEN_LEAD_STATUSES = ("New", "Assigned", "In Process", "Recycled", "Dead")
STAGES = (
    ("Prospecting", 10),
    ("Qualification", 20),
    ("Needs Analysis", 25),
    ("Proposal/Price Quote", 65),
    ("Negotiation/Review", 80),
    ("Closed Won", 100),
    ("Closed Lost", 0),
)
CASE_TYPES = ("Product", "User", "Administration")
#: Mean days from a case's opening to its close, by priority (P1 = high).
RESOLUTION_DAYS = {"P1": 1.5, "P2": 5.0, "P3": 12.0}
#: Modules seeded as history through Sugar's Import (their date_modified kept, recording 22_*):
#: over the API Sugar stamps date_modified now, which would make every closed case look closed
#: on the demo's day (and closing a case dies on the CI's SuiteCRM bundle: AOP's closure hook).
IMPORTED = ("Cases",)


@dataclass(frozen=True)
class CrmCustomer:
    """A demo customer as the CRM generator sees it."""

    customer_id: str
    name: str
    email: str
    is_business: bool
    account_id: str | None  # the Sugar account the push matched (None: not in Sugar)
    first_order: date | None  # None: never bought
    archetype: str = ""
    contact_id: str | None = None  # a person pushed to Contacts (no account of their own)


@dataclass
class CrmRecords:
    """Records per module (name_value dicts with ``id``), and the links to make after them."""

    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: (module, id, link, related ids): account ↔ contacts / opportunities
    links: list[tuple[str, str, str, list[str]]] = field(default_factory=list)

    def add(self, module: str, values: dict[str, Any]) -> str:
        """Append a record; returns its id."""
        self.records.setdefault(module, []).append(values)
        return str(values["id"])

    def counts(self) -> dict[str, int]:
        """Records per module."""
        return {m: len(v) for m, v in self.records.items()}


def _stamp(day: date, rng: random.Random) -> str:
    at = datetime.combine(day, time(rng.randint(8, 17), rng.randint(0, 59), rng.randint(0, 59)))
    return at.strftime("%Y-%m-%d %H:%M:%S")


def crm_records(customers: Sequence[CrmCustomer], *, seed: int, as_of: date) -> CrmRecords:
    """The demo's CRM records for ``customers`` (deterministic for a seed and an as-of date)."""
    rng = random.Random(seed * 7919 + 16)
    counter = iter(range(10**9))
    out = CrmRecords()

    def new_id(module: str) -> str:
        return str(uuid.uuid5(_NAMESPACE, f"{seed}:{module}:{next(counter)}"))

    start = as_of - timedelta(days=3 * 365)

    def day_between(lo: date, hi: date) -> date:
        lo, hi = max(lo, start), min(hi, as_of)
        if hi <= lo:
            return hi
        return lo + timedelta(days=rng.randrange((hi - lo).days + 1))

    for c in customers:
        first, last = ([*c.name.split(" ", 1), ""])[:2] if not c.is_business else ("", c.name)
        contacts: list[str] = []
        if c.account_id is not None:
            for k in range(2 if c.is_business else 1):
                if rng.random() > (0.9 if c.is_business else 0.6):
                    continue
                contacts.append(
                    out.add(
                        "Contacts",
                        {
                            "id": new_id("Contacts"),
                            "first_name": first if not c.is_business else ("Alex", "Sam")[k],
                            "last_name": last if not c.is_business else f"Buyer {c.name}",
                            "email1": c.email if k == 0 else "",
                            "lead_source": rng.choice(GOOD_SOURCES + POOR_SOURCES),
                            "date_entered": _stamp(day_between(start, as_of), rng),
                        },
                    )
                )
            if contacts:
                out.links.append(("Accounts", c.account_id, "contacts", contacts))
        if c.contact_id is not None and not contacts:
            contacts.append(c.contact_id)  # the person's own Contact, made by the push
        _lead(out, c, contacts, rng, new_id, day_between, as_of)
        if c.account_id is None:
            if c.contact_id is not None:
                _activities(out, c, rng, new_id, day_between, as_of)
            continue
        _opportunities(out, c, rng, new_id, day_between, as_of)
        _cases(out, c, rng, new_id, day_between, as_of)
        _activities(out, c, rng, new_id, day_between, as_of)
    # Prospects that never became customers: leads only, mostly from the poor sources.
    for n in range(max(10, len(customers) // 3)):
        source = rng.choice(POOR_SOURCES) if rng.random() < 0.75 else rng.choice(GOOD_SOURCES)
        met = rng.random() < 0.15
        lead = out.add(
            "Leads",
            {
                "id": new_id("Leads"),
                "first_name": "Pat",
                "last_name": f"Prospect {n + 1}",
                "account_name": f"Prospect company {n + 1}" if rng.random() < 0.4 else "",
                "lead_source": source,
                "status": rng.choice(OPEN_LEAD_STATUSES),
                "converted": 0,
                "date_entered": _stamp(day_between(start, as_of), rng),
            },
        )
        if met:
            _meeting_on_lead(out, lead, rng, new_id, day_between(start, as_of))
    return out


def _lead(
    out: CrmRecords,
    c: CrmCustomer,
    contacts: list[str],
    rng: random.Random,
    new_id: Any,
    day_between: Any,
    as_of: date,
) -> None:
    """A buyer's converted lead (when they have an account and a first order)."""
    if c.first_order is None or (c.account_id or c.contact_id) is None or rng.random() > 0.45:
        return
    good = rng.random() < 0.7
    source = rng.choice(GOOD_SOURCES if good else POOR_SOURCES)
    entered = c.first_order - timedelta(days=rng.randint(5, 90))
    lead = out.add(
        "Leads",
        {
            "id": new_id("Leads"),
            "first_name": "",
            "last_name": c.name,
            "account_name": c.name,
            "account_id": c.account_id or "",
            "contact_id": contacts[0] if contacts else "",
            "lead_source": source,
            "status": "Converted",
            "converted": 1,
            "date_entered": _stamp(day_between(entered, entered), rng),
        },
    )
    if rng.random() < 0.65:
        _meeting_on_lead(out, lead, rng, new_id, day_between(entered, c.first_order))


def _meeting_on_lead(
    out: CrmRecords, lead: str, rng: random.Random, new_id: Any, day: date
) -> None:
    out.add(
        "Meetings",
        {
            "id": new_id("Meetings"),
            "name": "Discovery meeting",
            "parent_type": "Leads",
            "parent_id": lead,
            "status": "Held",
            "date_start": _stamp(day, rng),
            "duration_hours": 1,
            "duration_minutes": 0,
        },
    )


def _opportunities(
    out: CrmRecords, c: CrmCustomer, rng: random.Random, new_id: Any, day_between: Any, as_of: date
) -> None:
    n = rng.choice((0, 1, 1, 2, 3)) if c.is_business else (1 if rng.random() < 0.2 else 0)
    ids = []
    for _ in range(n):
        stage, probability = rng.choice(STAGES)
        closed = stage.startswith("Closed")
        close_day = (
            day_between(as_of - timedelta(days=365), as_of)
            if closed
            else (as_of + timedelta(days=rng.randint(10, 120)))
        )
        amount = rng.randint(20, 400) * (250 if c.is_business else 25)
        ids.append(
            out.add(
                "Opportunities",
                {
                    "id": new_id("Opportunities"),
                    "name": f"{c.name}: {rng.choice(('Screens', 'Fleet video', 'Conference kit'))}",
                    "sales_stage": stage,
                    "probability": probability,
                    "amount": str(amount),
                    "date_closed": close_day.isoformat(),
                    "lead_source": rng.choice(GOOD_SOURCES + POOR_SOURCES),
                    "date_entered": _stamp(day_between(close_day - timedelta(days=90), as_of), rng),
                },
            )
        )
    if ids and c.account_id is not None:
        out.links.append(("Accounts", c.account_id, "opportunities", ids))


def _cases(
    out: CrmRecords, c: CrmCustomer, rng: random.Random, new_id: Any, day_between: Any, as_of: date
) -> None:
    """After-sales cases, imported as history (see :data:`IMPORTED`): a closed case's
    ``date_modified`` is the time it was closed, ``RESOLUTION_DAYS`` of its priority after it
    was opened on average (exponential); one whose close would fall after ``as_of`` is open."""
    if c.first_order is None:
        return
    trouble = 0.45 if c.archetype in ("declining", "churned") else 0.2
    if rng.random() > trouble:
        return
    seeded = datetime.combine(as_of, time(18, 0))
    for _ in range(rng.choice((1, 1, 2, 3))):
        opened = day_between(c.first_order, as_of)
        closed = rng.random() < (0.8 if opened < as_of - timedelta(days=20) else 0.35)
        name = rng.choice(("Dead pixels", "No signal", "Mount loose", "Invoice query"))
        kind = rng.choice(CASE_TYPES)
        priority = rng.choice(("P1", "P2", "P2", "P3"))
        status = "Closed_Closed" if closed else rng.choice(("Open_New", "Open_Assigned"))
        entered = _stamp(opened, rng)
        opened_at = datetime.strptime(entered, "%Y-%m-%d %H:%M:%S")
        closed_at = opened_at + timedelta(days=rng.expovariate(1 / RESOLUTION_DAYS[priority]))
        if closed and closed_at > seeded:
            closed, status = False, "Open_Assigned"  # not solved yet
        out.add(
            "Cases",
            {
                "id": new_id("Cases"),
                "name": name,
                "account_id": c.account_id,
                "type": kind,
                "priority": priority,
                "state": "Closed" if closed else "Open",
                "status": status,
                "date_entered": entered,
                # the last save: the close, or the opening for a case still open
                "date_modified": (closed_at if closed else opened_at).strftime("%Y-%m-%d %H:%M:%S"),
            },
        )


def _activities(
    out: CrmRecords, c: CrmCustomer, rng: random.Random, new_id: Any, day_between: Any, as_of: date
) -> None:
    regular = c.archetype in ("loyal", "growing", "key_account") or c.is_business
    calls = rng.choice((0, 1, 2, 3, 4)) if regular else rng.choice((0, 0, 0, 1))
    for _ in range(calls):
        day = day_between(as_of - timedelta(days=365), as_of)
        out.add(
            "Calls",
            {
                "id": new_id("Calls"),
                "name": rng.choice(("Follow-up", "Order question", "Renewal", "Satisfaction")),
                "parent_type": "Accounts" if c.account_id else "Contacts",
                "parent_id": c.account_id or c.contact_id,
                "direction": rng.choice(("Inbound", "Outbound")),
                "status": "Held",
                "date_start": _stamp(day, rng),
                "duration_hours": 0,
                "duration_minutes": rng.choice((5, 10, 15, 30)),
            },
        )
    if c.is_business and c.account_id and rng.random() < 0.5:
        day = day_between(as_of - timedelta(days=365), as_of)
        out.add(
            "Meetings",
            {
                "id": new_id("Meetings"),
                "name": "Account review",
                "parent_type": "Accounts",
                "parent_id": c.account_id,
                "status": "Held",
                "date_start": _stamp(day, rng),
                "duration_hours": 1,
                "duration_minutes": 30,
            },
        )


def seed_crm(
    client: SugarClient,
    records: CrmRecords,
    *,
    importer: Callable[[str, list[dict[str, Any]]], Any],
    batch: int = 200,
) -> dict[str, int]:
    """Write ``records`` into Sugar: the :data:`IMPORTED` modules through ``importer`` (what
    Sugar's Import wizard does: the sandbox's ``import_records``), the others with
    ``set_entries`` (with ``new_with_id``) per module, then the account links in
    ``set_relationships`` calls. Returns the records written per module.
    """
    for module, rows in records.records.items():
        if module in IMPORTED:
            for start in range(0, len(rows), batch):
                importer(module, rows[start : start + batch])
            continue
        for start in range(0, len(rows), batch):
            chunk = rows[start : start + batch]
            client.call(
                "set_entries",
                module_name=module,
                name_value_lists=[
                    [
                        *({"name": k, "value": v} for k, v in row.items()),
                        {"name": "new_with_id", "value": True},
                    ]
                    for row in chunk
                ],
            )
    for start in range(0, len(records.links), batch):
        links = records.links[start : start + batch]
        client.call(
            "set_relationships",
            module_names=[m for m, _, _, _ in links],
            module_ids=[i for _, i, _, _ in links],
            link_field_names=[lk for _, _, lk, _ in links],
            related_ids=[ids for _, _, _, ids in links],
            name_value_lists=[[] for _ in links],
            delete_array=[0 for _ in links],
        )
    return records.counts()
