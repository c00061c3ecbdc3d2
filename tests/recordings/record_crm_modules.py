"""Record real v4_1 exchanges for Contacts, Leads, Opportunities, Cases, Meetings and Notes.

Run by hand against any SuiteCRM 7 (admin user), e.g.::

    set -a; . /tmp/sugar-bridge-suitecrm/live.env; set +a
    python tests/recordings/record_crm_modules.py --out tests/recordings/suitecrm-7.15.0

Writes one JSON per exchange, ``{"description", "request": {"method", "rest_data"},
"response": {"status", "body"}}``, named ``<prefix>_<step>_<what>.json`` (10 Contacts, 11 Leads,
12 Opportunities, 13 Cases, 14 Meetings, 15 Notes). Within a prefix the files are one sequence,
in file-name order, starting from an account the sequence creates: replaying them in order
against an empty Sugar reproduces the state each answer depends on.

Never written in clear: the session id (replaced by ``SESSION_PLACEHOLDER``) and the admin's
password and its md5 (the login itself is not recorded). Every record the script creates is
marked deleted at the end, also when a step fails.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from recorder import OUT, Recorder, quote, run


@dataclass(frozen=True)
class ModuleSpec:
    """What the sequence of one module does (values are templates: ``{tag}``, ``{account}``)."""

    prefix: str
    module: str
    table: str
    # The link on Accounts that reaches this module, and this module's link back to Accounts.
    account_link: str
    back_link: str
    # How a record points at its account when created: "link" (only through a relationship),
    # "account_id" (Cases, Leads), "parent" (parent_type/parent_id: Meetings, Notes).
    relate_by: str
    create: dict[str, Any]
    batch: list[dict[str, Any]]
    update: dict[str, Any]
    select: list[str]
    order_field: str
    # An exact-match query value with a quote in it (the field is ``order_field``).
    quoted_value: str
    bad: dict[str, Any]
    after_relate_select: list[str] = field(default_factory=list)


SPECS: tuple[ModuleSpec, ...] = (
    ModuleSpec(
        prefix="10",
        module="Contacts",
        table="contacts",
        account_link="contacts",
        back_link="accounts",
        relate_by="link",
        create={
            "salutation": "Ms.",
            "first_name": "Ada",
            "last_name": "{tag} O'Hara",
            "title": "Buyer",
            "phone_work": "+49 30 5555",
            "primary_address_city": "Berlin",
            "email1": "ada.{tag}@example.test",
            "lead_source": "Web Site",
            "description": "created by the recorder",
        },
        batch=[
            {"first_name": "Bob", "last_name": "{tag} Batch A", "lead_source": "Email"},
            {"first_name": "Cleo", "last_name": "{tag} Batch B", "title": "CFO"},
        ],
        update={"title": "Head of Purchasing", "phone_work": ""},
        select=[
            "salutation",
            "first_name",
            "last_name",
            "name",
            "full_name",
            "title",
            "phone_work",
            "primary_address_city",
            "email1",
            "lead_source",
            "description",
            "deleted",
        ],
        order_field="last_name",
        quoted_value="{tag} O'Hara",
        bad={
            "first_name": "Bad",
            "last_name": "{tag} Bad Enum",
            "lead_source": "Carrier Pigeon",
            "no_such_field_c": "x",
        },
        after_relate_select=["last_name", "account_name", "account_id"],
    ),
    ModuleSpec(
        prefix="11",
        module="Leads",
        table="leads",
        account_link="leads",
        back_link="accounts",
        relate_by="account_id",
        create={
            "first_name": "Lea",
            "last_name": "{tag} O'Neil",
            "status": "New",
            "lead_source": "Cold Call",
            "account_name": "{tag} Prospect GmbH",
            "phone_work": "+49 40 1111",
            "email1": "lea.{tag}@example.test",
            "account_id": "{account}",
        },
        batch=[
            {"first_name": "Max", "last_name": "{tag} Batch A", "status": "Assigned"},
            {"first_name": "Noa", "last_name": "{tag} Batch B", "status": "In Process"},
        ],
        update={"status": "Converted", "title": "Owner"},
        select=[
            "first_name",
            "last_name",
            "name",
            "full_name",
            "status",
            "lead_source",
            "account_name",
            "account_id",
            "phone_work",
            "email1",
            "title",
            "converted",
            "deleted",
        ],
        order_field="last_name",
        quoted_value="{tag} O'Neil",
        bad={"last_name": "{tag} Bad Enum", "status": "Sleeping", "no_such_field_c": "x"},
        after_relate_select=["last_name", "account_name", "account_id"],
    ),
    ModuleSpec(
        prefix="12",
        module="Opportunities",
        table="opportunities",
        account_link="opportunities",
        back_link="accounts",
        relate_by="link",
        create={
            "name": "{tag} Deal O'Reilly",
            "amount": "15000.5",
            "currency_id": "-99",
            "sales_stage": "Prospecting",
            "date_closed": "2026-12-31",
            "lead_source": "Partner",
            "opportunity_type": "New Business",
            "next_step": "call back",
        },
        batch=[
            {
                "name": "{tag} Deal Batch A",
                "amount": 1000,
                "sales_stage": "Qualification",
                "date_closed": "2027-01-15",
            },
            {
                "name": "{tag} Deal Batch B",
                "amount": "2,500.75",
                "sales_stage": "Closed Won",
                "date_closed": "2027-02-01",
                "probability": 55,
            },
        ],
        update={"sales_stage": "Negotiation/Review", "amount": "17500"},
        select=[
            "name",
            "amount",
            "amount_usdollar",
            "currency_id",
            "sales_stage",
            "probability",
            "date_closed",
            "lead_source",
            "opportunity_type",
            "next_step",
            "deleted",
        ],
        order_field="name",
        quoted_value="{tag} Deal O'Reilly",
        bad={
            "name": "{tag} Deal Bad Enum",
            "sales_stage": "Dreaming",
            "amount": "12",
            "date_closed": "2027-03-01",
            "no_such_field_c": "x",
        },
        after_relate_select=["name", "account_name", "account_id"],
    ),
    ModuleSpec(
        prefix="13",
        module="Cases",
        table="cases",
        account_link="cases",
        back_link="accounts",
        relate_by="account_id",
        create={
            "name": "{tag} Printer O'Fire",
            "status": "Open_New",
            "priority": "P1",
            "state": "Open",
            "type": "User",
            "description": "the printer is on fire",
            "account_id": "{account}",
        },
        batch=[
            {"name": "{tag} Case Batch A", "priority": "P2"},
            # Not a closed case: closing runs AOP's closure-email hook (see the README).
            {"name": "{tag} Case Batch B", "priority": "P3", "status": "Open_Pending Input"},
        ],
        update={"status": "Open_Assigned", "priority": "P2"},
        select=[
            "name",
            "case_number",
            "status",
            "priority",
            "state",
            "type",
            "description",
            "account_id",
            "account_name",
            "deleted",
        ],
        order_field="name",
        quoted_value="{tag} Printer O'Fire",
        bad={"name": "{tag} Case Bad Enum", "priority": "P9", "no_such_field_c": "x"},
        after_relate_select=["name", "account_name", "account_id"],
    ),
    ModuleSpec(
        prefix="14",
        module="Meetings",
        table="meetings",
        account_link="meetings",
        back_link="accounts",
        relate_by="parent",
        create={
            "name": "{tag} Kick-off O'Clock",
            "date_start": "2026-12-02 10:00:00",
            "duration_hours": 1,
            "duration_minutes": 30,
            "status": "Planned",
            "location": "Berlin",
            "description": "agenda: everything",
            "assigned_user_id": "1",
        },
        batch=[
            {
                "name": "{tag} Meeting Batch A",
                "date_start": "2026-12-03 09:00:00",
                "duration_hours": 0,
                "duration_minutes": 15,
            },
            {
                "name": "{tag} Meeting Batch B",
                "date_start": "2026-12-04 14:00:00",
                "duration_hours": 2,
                "duration_minutes": 0,
                "status": "Held",
            },
        ],
        update={"status": "Held", "location": "Hamburg"},
        select=[
            "name",
            "date_start",
            "date_end",
            "duration_hours",
            "duration_minutes",
            "status",
            "location",
            "parent_type",
            "parent_id",
            "parent_name",
            "assigned_user_id",
            "deleted",
        ],
        order_field="name",
        quoted_value="{tag} Kick-off O'Clock",
        bad={
            "name": "{tag} Meeting Bad Enum",
            "date_start": "2026-12-05 09:00:00",
            "duration_hours": 0,
            "duration_minutes": 30,
            "status": "Postponed",
            "no_such_field_c": "x",
        },
        after_relate_select=["name", "parent_type", "parent_id", "parent_name"],
    ),
    ModuleSpec(
        prefix="15",
        module="Notes",
        table="notes",
        account_link="notes",
        back_link="accounts",
        relate_by="parent",
        create={
            "name": "{tag} Call summary O'Brien",
            "description": "<b>important</b> & urgent",
            "portal_flag": 0,
        },
        batch=[
            {"name": "{tag} Note Batch A", "description": "a"},
            {"name": "{tag} Note Batch B", "description": "b"},
        ],
        update={"description": "updated"},
        select=[
            "name",
            "description",
            "parent_type",
            "parent_id",
            "parent_name",
            "contact_id",
            "portal_flag",
            "embed_flag",
            "deleted",
        ],
        order_field="name",
        quoted_value="{tag} Call summary O'Brien",
        bad={"name": "{tag} Note Bad Type", "parent_type": "Nowhere", "no_such_field_c": "x"},
        after_relate_select=["name", "parent_type", "parent_id", "parent_name"],
    ),
)


def _fill(value: Any, tag: str, account: str) -> Any:
    if isinstance(value, str):
        return value.replace("{tag}", tag).replace("{account}", account)
    return value


def _nvl(values: dict[str, Any], tag: str, account: str) -> list[dict[str, Any]]:
    return [{"name": k, "value": _fill(v, tag, account)} for k, v in values.items()]


def record_module(r: Recorder, spec: ModuleSpec, tag: str) -> None:
    """The whole sequence of one module (see the module docstring)."""
    p, m, t = spec.prefix, spec.module, spec.table
    low = m.lower()
    step = iter(range(1, 100))

    def rec(what: str, description: str, method: str, **params: Any) -> Any:
        return r.record(f"{p}_{next(step):02d}_{what}", description, method, params)

    account_name = f"{tag} {m} Account"
    account = rec(
        "account_create",
        f"set_entry Accounts: the account this {m} sequence relates its records to.",
        "set_entry",
        module_name="Accounts",
        name_value_list=[{"name": "name", "value": account_name}],
    )["id"]
    r.created.append(("Accounts", account))
    rec(
        f"get_module_fields_{m}",
        f"get_module_fields {m} with an empty field list: every field and link.",
        "get_module_fields",
        module_name=m,
        fields=[],
    )
    create = dict(spec.create)
    if spec.relate_by == "parent":
        create |= {"parent_type": "Accounts", "parent_id": "{account}"}
    first = rec(
        f"{low}_create_set_entry",
        f"set_entry {m}: create one record (list form of name_value_list)"
        + {
            "link": ".",
            "account_id": ", related to the account through account_id.",
            "parent": ", related to the account through parent_type/parent_id.",
        }[spec.relate_by],
        "set_entry",
        module_name=m,
        name_value_list=_nvl(create, tag, account),
    )["id"]
    r.created.append((m, first))
    batch = rec(
        f"{low}_create_set_entries",
        f"set_entries {m}: two records in one call (no relation to the account).",
        "set_entries",
        module_name=m,
        name_value_lists=[_nvl(row, tag, account) for row in spec.batch],
    )["ids"]
    r.created += [(m, i) for i in batch]
    rec(
        f"{low}_update_set_entry",
        f"set_entry {m}: update the first record by id; an empty string clears a field.",
        "set_entry",
        module_name=m,
        name_value_list=[{"name": "id", "value": first}, *_nvl(spec.update, tag, account)],
    )
    rec(
        f"{low}_get_entry",
        f"get_entry {m} with select_fields (after the update).",
        "get_entry",
        module_name=m,
        id=first,
        select_fields=spec.select,
        link_name_to_fields_array=[],
        track_view=False,
    )
    like = f"{t}.{spec.order_field} LIKE {quote(tag + '%')}"
    rec(
        f"{low}_get_entry_list_query_order",
        f"get_entry_list {m}: query '{t}.{spec.order_field} LIKE <tag>%', order_by"
        f" '{spec.order_field} DESC'.",
        "get_entry_list",
        module_name=m,
        query=like,
        order_by=f"{spec.order_field} DESC",
        offset=0,
        select_fields=spec.select,
        link_name_to_fields_array=[],
        max_results=10,
        deleted=0,
        favorites=False,
    )
    exact = _fill(spec.quoted_value, tag, account)
    rec(
        f"{low}_get_entry_list_quoted_value",
        f"get_entry_list {m}: exact match on a value with a single quote, doubled in the query.",
        "get_entry_list",
        module_name=m,
        query=f"{t}.{spec.order_field} = {quote(exact)}",
        order_by="",
        offset=0,
        select_fields=["id", spec.order_field],
        link_name_to_fields_array=[],
        max_results=10,
        deleted=0,
        favorites=False,
    )
    rec(
        f"{low}_get_entries_count",
        f"get_entries_count {m} with the same LIKE query.",
        "get_entries_count",
        module_name=m,
        query=like,
        deleted=0,
    )
    # Relate the second record from the account's side, the third from this module's side.
    rec(
        f"account_set_relationship_{spec.account_link}",
        f"set_relationship Accounts link '{spec.account_link}' → the second {m} record.",
        "set_relationship",
        module_name="Accounts",
        module_id=account,
        link_field_name=spec.account_link,
        related_ids=[batch[0]],
        name_value_list=[],
        delete=0,
    )
    rec(
        f"{low}_set_relationship_{spec.back_link}",
        f"set_relationship {m} link '{spec.back_link}' → the account, from the third record.",
        "set_relationship",
        module_name=m,
        module_id=batch[1],
        link_field_name=spec.back_link,
        related_ids=[account],
        name_value_list=[],
        delete=0,
    )
    if spec.relate_by == "link":
        rec(
            f"account_set_relationship_{spec.account_link}_first",
            f"set_relationship Accounts link '{spec.account_link}' → the first {m} record.",
            "set_relationship",
            module_name="Accounts",
            module_id=account,
            link_field_name=spec.account_link,
            related_ids=[first],
            name_value_list=[],
            delete=0,
        )
    rec(
        f"account_get_relationships_{spec.account_link}",
        f"get_relationships Accounts link '{spec.account_link}': the related {m}, ordered.",
        "get_relationships",
        module_name="Accounts",
        module_id=account,
        link_field_name=spec.account_link,
        related_module_query="",
        related_fields=["id", spec.order_field],
        related_module_link_name_to_fields_array=[],
        deleted=0,
        order_by=f"{spec.order_field} ASC",
        offset=0,
        limit=False,
    )
    rec(
        f"{low}_get_relationships_{spec.back_link}",
        f"get_relationships {m} link '{spec.back_link}' from the third record: its account.",
        "get_relationships",
        module_name=m,
        module_id=batch[1],
        link_field_name=spec.back_link,
        related_module_query="",
        related_fields=["id", "name"],
        related_module_link_name_to_fields_array=[],
        deleted=0,
        order_by="",
        offset=0,
        limit=False,
    )
    rec(
        f"{low}_get_entries_related_fields",
        f"get_entries {m}: the relate fields of the three records once related.",
        "get_entries",
        module_name=m,
        ids=[first, *batch],
        select_fields=spec.after_relate_select,
        link_name_to_fields_array=[],
        track_view=False,
    )
    wrong_case = spec.account_link.capitalize()
    rec(
        f"account_get_relationships_wrong_case_{wrong_case}",
        f"get_relationships Accounts link '{wrong_case}' (wrong case).",
        "get_relationships",
        module_name="Accounts",
        module_id=account,
        link_field_name=wrong_case,
        related_module_query="",
        related_fields=["id"],
        related_module_link_name_to_fields_array=[],
        deleted=0,
        order_by="",
        offset=0,
        limit=False,
    )
    wrong_name = spec.account_link.rstrip("s")
    rec(
        f"account_set_relationship_wrong_name_{wrong_name}",
        f"set_relationship Accounts link '{wrong_name}' (no such link).",
        "set_relationship",
        module_name="Accounts",
        module_id=account,
        link_field_name=wrong_name,
        related_ids=[first],
        name_value_list=[],
        delete=0,
    )
    bad = rec(
        f"{low}_set_entry_bad_enum_unknown_field",
        f"set_entry {m}: a value not in the dropdown and a field that does not exist.",
        "set_entry",
        module_name=m,
        name_value_list=_nvl(spec.bad, tag, account),
    )
    if isinstance(bad, dict) and "id" in bad:
        r.created.append((m, bad["id"]))
        rec(
            f"{low}_get_entry_bad_enum",
            f"get_entry {m}: what was stored for the bad value; relate fields of a record"
            " never related.",
            "get_entry",
            module_name=m,
            id=bad["id"],
            select_fields=[
                *(k for k in spec.bad if k != "no_such_field_c"),
                *(k for k in spec.after_relate_select if k not in spec.bad),
            ],
            link_name_to_fields_array=[],
            track_view=False,
        )
    rec(
        f"{low}_delete_set_entry",
        f"set_entry {m}: deleted 1 on the first record.",
        "set_entry",
        module_name=m,
        name_value_list=[{"name": "id", "value": first}, {"name": "deleted", "value": 1}],
    )
    rec(
        f"{low}_get_entry_after_delete",
        f"get_entry {m} of the deleted record.",
        "get_entry",
        module_name=m,
        id=first,
        select_fields=spec.select,
        link_name_to_fields_array=[],
        track_view=False,
    )
    rec(
        f"{low}_get_entry_list_after_delete",
        f"get_entry_list {m}: the LIKE query again after the delete.",
        "get_entry_list",
        module_name=m,
        query=like,
        order_by=f"{spec.order_field} DESC",
        offset=0,
        select_fields=["id", spec.order_field],
        link_name_to_fields_array=[],
        max_results=10,
        deleted=0,
        favorites=False,
    )
    rec(
        f"{low}_get_entries_count_after_delete",
        f"get_entries_count {m} after the delete (deleted 0).",
        "get_entries_count",
        module_name=m,
        query=like,
        deleted=0,
    )
    rec(
        f"{low}_get_entry_list_deleted_1",
        f"get_entry_list {m} with deleted 1 after the delete: relate fields of the deleted one.",
        "get_entry_list",
        module_name=m,
        query=like,
        order_by=f"{spec.order_field} DESC",
        offset=0,
        select_fields=["id", spec.order_field, "deleted", *spec.after_relate_select[1:]],
        link_name_to_fields_array=[],
        max_results=10,
        deleted=1,
        favorites=False,
    )
    rec(
        f"account_get_relationships_{spec.account_link}_after_delete",
        f"get_relationships Accounts link '{spec.account_link}' after the delete.",
        "get_relationships",
        module_name="Accounts",
        module_id=account,
        link_field_name=spec.account_link,
        related_module_query="",
        related_fields=["id", spec.order_field],
        related_module_link_name_to_fields_array=[],
        deleted=0,
        order_by=f"{spec.order_field} ASC",
        offset=0,
        limit=False,
    )


def tagged() -> list[tuple[str, str]]:
    """Where a run's records carry its tag: each module's order field, and account names."""
    return [(spec.module, f"{spec.table}.{spec.order_field}") for spec in SPECS] + [
        ("Accounts", "accounts.name")
    ]


def main(argv: list[str] | None = None) -> int:
    """Record the sequences chosen by ``--only`` (all by default) into ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--only", default="", help="comma-separated prefixes, e.g. 10,13")
    args, rest = parser.parse_known_args(argv)
    wanted = [spec for spec in SPECS if not args.only or spec.prefix in args.only.split(",")]

    def sequence(recorder: Recorder, tag: str) -> None:
        for spec in wanted:
            record_module(recorder, spec, tag)

    return run(
        __doc__,
        [spec.prefix for spec in wanted],
        sequence,
        ["--out", str(args.out), *rest],
        tagged=tagged(),
    )


if __name__ == "__main__":
    raise SystemExit(main())
