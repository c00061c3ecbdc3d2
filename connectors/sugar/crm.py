"""Reading Sugar's operational CRM: the modules the warehouse keeps, page by page (issue 16).

What changed since a watermark is read with keyset paging: every page is one ``get_entry_list``
with ``query`` ``date_modified > W OR (date_modified = W AND id > I)`` (values quoted by
:mod:`connectors.sugar.query`), ``order_by`` ``date_modified, id``, ``offset`` 0 and
``deleted=1`` (deleted AND live rows, so deletions come with the changes: recordings
``1N_*_get_entry_list_deleted_1``). The next page starts after the last record of the previous
one, so a record saved while the extraction pages through moves *behind* the cursor and is read
by the next run, never skipped nor read twice in one run (offset paging over a changing result
would shift it). Sugar stores ``date_modified`` in UTC to the second (``Y-m-d H:i:s``,
recording 09_accounts_modified_since): the id tie-break is what makes a second holding more
records than a page safe.

The config section ``sugar_source:`` (:class:`SugarSourceConfig`) chooses the modules and extra
fields; :func:`check_fields` validates it against ``get_module_fields`` before anything is read.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from connectors.sugar import query as q
from connectors.sugar.exceptions import ExtensionMissing, InvalidCall, NotJsonResponse
from connectors.sugar.records import Record, entry_to_record

if TYPE_CHECKING:
    from connectors.sugar.client import SugarClient  # a type only: loading a config needs no HTTP

log = logging.getLogger(__name__)

CrmModuleName = Literal[
    "Accounts",
    "Contacts",
    "Leads",
    "Opportunities",
    "Cases",
    "Calls",
    "Meetings",
    "Tasks",
    "Notes",
    "ProspectLists",
    "CampaignLog",
]

#: Read for every module, whatever the config says.
COMMON_FIELDS: tuple[str, ...] = ("id", "date_entered", "date_modified", "deleted")

# SuiteCRM ships the Google Maps plugin's custom fields (jjwg_maps_*) on most modules: they are
# the plugin's, not the company's, so they are not copied into ``extra`` unless configured.
_SHIPPED_CUSTOM = re.compile(r"^jjwg_maps_")

#: How pages are read (``sugar_source.read_method``).
ReadMethod = Literal["auto", "stock"]

_FIELD_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


@dataclass(frozen=True)
class CrmModule:
    """One Sugar module the warehouse extracts: its SQL table (for the query) and its fields."""

    name: CrmModuleName
    table: str  # Sugar's table: the query's column prefix
    fields: tuple[str, ...]  # read by default, besides COMMON_FIELDS
    #: target list member links (ProspectLists): link name -> member module
    member_links: tuple[tuple[str, str], ...] = ()
    #: read by default into the row's ``extra`` (no column of their own)
    extra: tuple[str, ...] = ()
    #: the datetime field the keyset pages on (what marks a record new or changed)
    cursor: str = "date_modified"


_ACTIVITY = ("name", "parent_type", "parent_id", "status", "assigned_user_id")
_CALL = ("contact_id", "direction", "date_start", "duration_hours", "duration_minutes")

#: Extraction order: accounts and contacts first, so activities find their contact's account.
MODULES: dict[str, CrmModule] = {
    m.name: m
    for m in (
        CrmModule(
            "Accounts",
            "accounts",
            (
                "name",
                "account_type",
                "industry",
                "billing_address_city",
                "billing_address_country",
                "assigned_user_id",
            ),
        ),
        CrmModule(
            "Contacts",
            "contacts",
            ("account_id", "first_name", "last_name", "email1", "lead_source", "assigned_user_id"),
        ),
        CrmModule(
            "Leads",
            "leads",
            (
                "account_id",
                "status",
                "lead_source",
                "converted",
                "contact_id",
                "account_name",
                "opportunity_id",
                "assigned_user_id",
            ),
            # a lead without a company is shown by its name (the report's best prospects)
            extra=("first_name", "last_name"),
        ),
        CrmModule(
            "Opportunities",
            "opportunities",
            (
                "account_id",
                "name",
                "sales_stage",
                "amount",
                "currency_id",
                "probability",
                "date_closed",
                "assigned_user_id",
            ),
        ),
        CrmModule(
            "Cases",
            "cases",
            (
                "account_id",
                "case_number",
                "status",
                "state",
                "priority",
                "type",
                "assigned_user_id",
            ),
        ),
        CrmModule(
            "Calls",
            "calls",
            (*_ACTIVITY, *_CALL),
        ),
        CrmModule(
            "Meetings",
            "meetings",
            (*_ACTIVITY, "contact_id", "date_start", "duration_hours", "duration_minutes"),
        ),
        CrmModule("Tasks", "tasks", (*_ACTIVITY, "contact_id", "date_start", "date_due")),
        # Headers only: never the description (a note's body) nor its attachment.
        CrmModule("Notes", "notes", ("name", "parent_type", "parent_id", "contact_id")),
        CrmModule(
            "ProspectLists",
            "prospect_lists",
            ("name", "list_type"),
            member_links=(
                ("accounts", "Accounts"),
                ("contacts", "Contacts"),
                ("leads", "Leads"),
                ("prospects", "Prospects"),
            ),
        ),
        # Paged on activity_date: Sugar's own campaign code (log_campaign_activity, what the
        # link tracker, the open-tracking image and the opt-out page run) INSERTs those
        # responses with SQL and no date_modified (recording 21_*: '' for viewed, a time for
        # the targeted rows EmailMan saves as beans; a link click seen live the same). Keyed on
        # date_modified those rows would never be read again after a first full read. The log
        # is append-only (Sugar only bumps ``hits``).
        CrmModule(
            "CampaignLog",
            "campaign_log",
            (
                "campaign_id",
                "target_id",
                "target_type",
                "activity_type",
                "activity_date",
                "related_id",
                "related_type",
            ),
            cursor="activity_date",
        ),
    )
}


class ModuleSettings(BaseModel):
    """``sugar_source.modules.<Module>``: whether to extract it and which extra fields to keep."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    #: more fields of the module, kept as text in the row's ``extra`` JSON
    extra_fields: list[str] = Field(default_factory=list)

    @field_validator("extra_fields")
    @classmethod
    def _names(cls, names: list[str]) -> list[str]:
        for name in names:
            if not _FIELD_RE.match(name):
                raise ValueError(f"not a field name: {name!r}")
        return names


class SugarSourceConfig(BaseModel):
    """The ``sugar_source:`` section: extracting Sugar's records into the ``crm_*`` tables."""

    model_config = ConfigDict(extra="forbid")

    #: run the extraction in ``sync`` (``etl run --sugar`` runs it whatever this says)
    enabled: bool = False
    #: how far before the watermark an incremental run starts again (records saved late)
    overlap_minutes: int = Field(default=5, ge=0, le=24 * 60)
    #: records per read (one transaction each in the warehouse); 1000 read fastest with the
    #: extension (benchmarks/README.md)
    page_size: int = Field(default=1000, ge=1, le=1000)
    #: "auto": the extension's bridge_read_changed where Sugar has it (1.5.0+), else
    #: get_entry_list; "stock": always get_entry_list
    read_method: ReadMethod = "auto"
    #: copy the module's custom fields (``*_c``, SuiteCRM's jjwg_maps_* aside) into ``extra``
    custom_fields: bool = True
    #: per module; modules not named take the defaults (enabled, no extra field)
    modules: dict[CrmModuleName, ModuleSettings] = Field(default_factory=dict)

    def selected(self, only: Sequence[str] | None = None) -> list[CrmModule]:
        """The modules to extract, in extraction order (``only`` narrows them; unknown → error)."""
        if only:
            unknown = [m for m in only if m not in MODULES]
            if unknown:
                raise InvalidCall(
                    f"unknown module {', '.join(unknown)} (known: {', '.join(MODULES)})"
                )
        return [
            module
            for name, module in MODULES.items()
            if (not only or name in only) and self.modules.get(name, ModuleSettings()).enabled  # type: ignore[call-overload]
        ]

    def extra_fields(self, module: str) -> list[str]:
        """The configured extra fields of ``module``."""
        settings = self.modules.get(module)  # type: ignore[call-overload]
        return list(settings.extra_fields) if settings is not None else []


@dataclass(frozen=True)
class FieldPlan:
    """What to read from one module: every field of the select list, and which go to ``extra``."""

    module: CrmModule
    select: tuple[str, ...]
    extra: tuple[str, ...]
    member_links: tuple[tuple[str, str], ...]


class UnknownField(InvalidCall):
    """A configured extra field the module does not have (names the module and the field)."""


def plan_fields(client: SugarClient, module: CrmModule, config: SugarSourceConfig) -> FieldPlan:
    """The select list of ``module`` checked against Sugar (method ``get_module_fields``).

    A configured extra field Sugar does not know raises :class:`UnknownField` naming it; a
    default field this Sugar lacks is left out (SugarCRM CE and SuiteCRM differ a little).
    Custom fields (``*_c``) go to ``extra`` when ``custom_fields`` is on.
    """
    described = client.module(module.name).fields()
    known = described.module_fields
    links = described.link_fields
    extra = config.extra_fields(module.name)
    missing = [f for f in extra if f not in known]
    extra += [f for f in module.extra if f in known and f not in extra]
    if missing:
        raise UnknownField(
            f"sugar_source.modules.{module.name}.extra_fields: Sugar's {module.name} has no "
            f"field {', '.join(repr(m) for m in missing)}"
        )
    if config.custom_fields:
        custom = [n for n in known if n.endswith("_c") and not _SHIPPED_CUSTOM.match(n)]
        extra += [n for n in sorted(custom) if n not in extra]
    base = [f for f in (*COMMON_FIELDS, *module.fields) if f in known or f == "id"]
    select = list(dict.fromkeys([*base, *extra]))
    members = tuple((link, target) for link, target in module.member_links if link in links)
    return FieldPlan(module, tuple(select), tuple(extra), members)


@dataclass(frozen=True)
class Cursor:
    """A position in ``date_modified, id`` order: the next page starts after it."""

    modified: datetime  # naive, UTC (Sugar's database value)
    id: str = ""


def changed_since(table: str, cursor: Cursor | None, field: str = "date_modified") -> str:
    """The ``query`` of the records after ``cursor`` in ``field, id`` order ("" = every record)."""
    if cursor is None:
        return ""
    column = f"{table}.{field}"
    after = q.gt(column, cursor.modified)
    if not cursor.id:
        return q.ge(column, cursor.modified)
    return q.or_(after, q.and_(q.eq(column, cursor.modified), q.gt(f"{table}.id", cursor.id)))


_SUGAR_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")


def parse_datetime(value: Any) -> datetime | None:
    """Sugar's ``Y-m-d H:i:s`` (UTC) → a naive datetime; "" → None.

    Sugar's own shape is parsed by ``fromisoformat`` (strptime was 40 % of the extraction's
    CPU: two dates per record); anything else goes through ``strptime`` as before.
    """
    if not value or not isinstance(value, str):
        return None
    text = value[:19]
    try:
        if _SUGAR_DATETIME.fullmatch(text):
            return datetime.fromisoformat(text)
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None


def format_datetime(value: datetime) -> str:
    """A naive UTC datetime as Sugar stores it (``Y-m-d H:i:s``)."""
    return value.strftime("%Y-%m-%d %H:%M:%S")


def parse_date(value: Any) -> date | None:
    """Sugar's ``Y-m-d`` → a date; "" → None."""
    if not value or not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def parse_int(value: Any) -> int | None:
    """An integer field as Sugar answers it ("12", 12, "") → int or None."""
    if value in (None, ""):
        return None
    try:
        return int(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return None


def parse_decimal(value: Any) -> Decimal | None:
    """A number field ("2500.75", 17500, "") → Decimal or None."""
    if value in (None, ""):
        return None
    try:
        number = Decimal(str(value).replace(",", ""))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def parse_bool(value: Any) -> bool:
    """Sugar's booleans: "1"/"0", 1/0, true/false, "on"."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "on", "yes")


def iter_changed_pages(
    client: SugarClient,
    plan: FieldPlan,
    start: Cursor | None,
    page_size: int,
    *,
    method: ReadMethod = "auto",
    used: list[str] | None = None,
) -> Iterator[list[Record]]:
    """Pages of records changed after ``start`` (all when None), deleted ones included.

    Ordered by the module's cursor field (``date_modified``; CampaignLog's ``activity_date``)
    and ``id``; each page starts after the previous page's last record. ``method`` "auto" reads
    a ``date_modified`` module with the extension's ``bridge_read_changed`` (1.5.0+: the same
    records and values as ``get_entry_list`` without a bean per record) and falls back to the
    stock ``get_entry_list`` (``deleted=1``, the keyset ``query``) when Sugar's extension lacks
    it; "stock" always uses ``get_entry_list``. ``used`` (when given) receives the method name
    of the pages read. A page is at most ``page_size`` records; the generator holds one page at
    a time.
    """
    module = plan.module
    cursor = start
    # bridge_read_changed pages on date_modified only
    extension = method == "auto" and module.cursor == "date_modified"
    while True:
        body: Any = None
        if extension:
            try:
                body = client.call_extension(
                    "bridge_read_changed",
                    module_name=module.name,
                    since=format_datetime(cursor.modified) if cursor is not None else "",
                    after_id=cursor.id if cursor is not None else "",
                    max_results=page_size,
                    select_fields=list(plan.select),
                )
            except ExtensionMissing:
                log.info(
                    "bridge_read_changed not in this Sugar: %s read with get_entry_list",
                    module.name,
                )
                extension = False
        if not extension:
            body = client.call(
                "get_entry_list",
                module_name=module.name,
                query=changed_since(module.table, cursor, module.cursor),
                order_by=q.order_by(f"{module.cursor} ASC, id ASC"),
                offset=0,
                select_fields=list(plan.select),
                link_name_to_fields_array=[],
                max_results=page_size,
                deleted=1,
            )
        name = "bridge_read_changed" if extension else "get_entry_list"
        if not isinstance(body, dict):
            raise NotJsonResponse(f"{name} answered no object", method=name)
        if used is not None and name not in used:
            used.append(name)
        records = [entry_to_record(e) for e in body.get("entry_list") or []]
        if not records:
            return
        yield records
        last = records[-1]
        modified = parse_datetime(last.get(module.cursor))
        if modified is None or len(records) < page_size:
            # A record without date_modified cannot be a cursor (a row inserted behind Sugar's
            # back); it sorts first, so it can only end a full read's first page.
            return
        cursor = Cursor(modified, str(last["id"]))


def iter_members(
    client: SugarClient, list_id: str, link: str, page_size: int
) -> Iterator[list[str]]:
    """Ids of a target list's members over ``link``, a page at a time (``get_relationships``)."""
    page: list[str] = []
    for record in client.module("ProspectLists").related(list_id, link, page_size=page_size):
        page.append(str(record["id"]))
        if len(page) >= page_size:
            yield page
            page = []
    if page:
        yield page
