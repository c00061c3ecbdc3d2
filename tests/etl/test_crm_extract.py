"""The Sugar source: the sandbox's records into the crm_* tables, incrementally (issue 16)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from connectors.sugar.client import SugarClient
from connectors.sugar.crm import (
    Cursor,
    SugarSourceConfig,
    UnknownField,
    changed_since,
    parse_datetime,
)
from etl.crm import extract_crm
from etl.db import create_engine_for
from etl.schema import (
    crm_account,
    crm_activity,
    crm_case,
    crm_contact,
    crm_extract_state,
    crm_lead,
    crm_opportunity,
    crm_target_list_member,
    dim_customer,
    etl_run,
    metadata,
)
from sugar_bridge.sandbox import Sandbox


def _rows(engine: Engine, table: Any, *where: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(table).where(*where)).mappings())


def _only(engine: Engine, table: Any, record_id: str) -> Any:
    rows = _rows(engine, table, table.c.id == record_id)
    assert len(rows) == 1, rows
    return rows[0]


@pytest.mark.parametrize(
    "text",
    [
        "2026-12-01 10:00:05",
        "2026-12-01 10:00:05.123456",
        "2026-02-29 10:00:05",
        "2028-02-29 23:59:59",
        "2026-13-01 10:00:05",
        "2026-12-01 24:00:00",
        "2026-12-01",
        "2026-1-1 1:2:3",
        "2026-12-01T10:00:05",
        "not a date",
    ],
)
def test_dates_are_parsed_as_strptime_parses_them(text: str) -> None:
    """The fast path (fromisoformat for Sugar's own shape) answers what strptime answered."""
    try:
        expected: datetime | None = datetime.strptime(text[:19], "%Y-%m-%d %H:%M:%S")
    except ValueError:
        expected = None
    assert parse_datetime(text) == expected


def test_the_query_quotes_the_cursor_and_breaks_ties_on_id() -> None:
    at = datetime(2026, 12, 1, 10, 0, 5)
    assert changed_since("accounts", None) == ""
    assert (
        changed_since("accounts", Cursor(at)) == "accounts.date_modified >= '2026-12-01 10:00:05'"
    )
    assert changed_since("accounts", Cursor(at, "a'b")) == (
        "(accounts.date_modified > '2026-12-01 10:00:05') OR "
        "((accounts.date_modified = '2026-12-01 10:00:05') AND (accounts.id > 'a''b'))"
    )


def test_modules_are_extracted_with_their_links(engine: Engine, client: SugarClient) -> None:
    tag = datetime.now().strftime("%H%M%S%f")
    accounts, contacts = client.module("Accounts"), client.module("Contacts")
    acc = accounts.create(
        {"name": f"Acme {tag}", "industry": "Energy", "billing_address_city": "Lyon"}
    )
    person = contacts.create(
        {"first_name": "Ada", "last_name": f"O'Hara {tag}", "lead_source": "Web Site"}
    )
    accounts.link(acc, "contacts", [person])
    lead = client.module("Leads").create(
        {
            "last_name": f"L {tag}",
            "status": "Converted",
            "converted": 1,
            "account_id": acc,
            "contact_id": person,
        }
    )
    opp = client.module("Opportunities").create(
        {
            "name": f"Deal {tag}",
            "sales_stage": "Prospecting",
            "amount": "2500.75",
            "date_closed": "2027-01-31",
        }
    )
    accounts.link(acc, "opportunities", [opp])
    case = client.module("Cases").create(
        {"name": f"Broken {tag}", "account_id": acc, "priority": "P1"}
    )
    call = client.module("Calls").create(
        {
            "name": f"Call {tag}",
            "parent_type": "Contacts",
            "parent_id": person,
            "direction": "Outbound",
            "date_start": "2026-11-30 09:00:00",
            "duration_hours": 1,
            "duration_minutes": 30,
        }
    )
    meeting = client.module("Meetings").create(
        {
            "name": f"Visit {tag}",
            "parent_type": "Accounts",
            "parent_id": acc,
            "date_start": "2026-11-29 14:00:00",
            "duration_hours": 0,
            "duration_minutes": 45,
        }
    )
    task = client.module("Tasks").create(
        {
            "name": f"Todo {tag}",
            "parent_type": "Accounts",
            "parent_id": acc,
            "date_due": "2026-12-10 12:00:00",
            "priority": "High",
        }
    )
    note = client.module("Notes").create(
        {
            "name": f"Memo {tag}",
            "parent_type": "Accounts",
            "parent_id": acc,
            "description": "a secret body",
        }
    )
    plist = client.module("ProspectLists").create({"name": f"List {tag}", "list_type": "default"})
    client.module("ProspectLists").link(plist, "accounts", [acc])
    with engine.begin() as conn:
        conn.execute(
            dim_customer.insert().values(
                customer_key=41,
                source="csv",
                source_customer_id=f"C{tag}",
                sugar_account_id=acc,
                first_seen_at=datetime(2026, 1, 1),
                updated_at=datetime(2026, 1, 1),
            )
        )

    info = extract_crm(engine, client, SugarSourceConfig(page_size=2))

    assert info.changed == info.read > 0
    a = _only(engine, crm_account, acc)
    assert (a["name"], a["industry"], a["billing_city"], a["customer_key"]) == (
        f"Acme {tag}",
        "Energy",
        "Lyon",
        41,
    )
    assert a["deleted"] is False
    assert a["extracted_run_id"] == info.run_id
    assert isinstance(a["date_modified"], datetime)
    assert a["date_modified"].microsecond == 0
    c = _only(engine, crm_contact, person)
    assert (c["account_id"], c["last_name"], c["lead_source"]) == (acc, f"O'Hara {tag}", "Web Site")
    ld = _only(engine, crm_lead, lead)
    assert (ld["status"], ld["converted"], ld["contact_id"], ld["account_id"]) == (
        "Converted",
        True,
        person,
        acc,
    )
    o = _only(engine, crm_opportunity, opp)
    assert (o["account_id"], o["amount"], o["probability"], str(o["date_closed"])) == (
        acc,
        Decimal("2500.75"),
        10,
        "2027-01-31",
    )
    cs = _only(engine, crm_case, case)
    assert (cs["account_id"], cs["state"], cs["priority"]) == (acc, "Open", "P1")
    assert isinstance(cs["case_number"], int)
    ca = _only(engine, crm_activity, call)
    # a call on a contact counts for the contact's account
    assert (
        ca["module"],
        ca["account_id"],
        ca["contact_id"],
        ca["direction"],
        ca["duration_minutes"],
    ) == ("Calls", acc, person, "Outbound", 90)
    assert ca["date_start"] == datetime(2026, 11, 30, 9, 0)
    m = _only(engine, crm_activity, meeting)
    assert (m["module"], m["account_id"], m["duration_minutes"]) == ("Meetings", acc, 45)
    t = _only(engine, crm_activity, task)
    assert (t["module"], t["date_start"]) == ("Tasks", datetime(2026, 12, 10, 12, 0))
    n = _only(engine, crm_activity, note)
    assert n["module"] == "Notes"
    assert n["date_start"] == n["date_entered"]
    assert "a secret body" not in str(n)  # headers only
    members = _rows(engine, crm_target_list_member, crm_target_list_member.c.list_id == plist)
    assert [(r["module"], r["record_id"], r["deleted"]) for r in members] == [
        ("Accounts", acc, False)
    ]
    run = _rows(engine, etl_run, etl_run.c.run_id == info.run_id)[0]
    assert (run["job"], run["source"], run["status"]) == ("etl", "sugar", "ok")


def test_a_second_run_changes_nothing_then_edits_and_deletions_are_caught(
    engine: Engine, client: SugarClient
) -> None:
    tag = datetime.now().strftime("%H%M%S%f")
    contacts = client.module("Contacts")
    ids = [contacts.create({"last_name": f"P{i} {tag}"}) for i in range(5)]
    config = SugarSourceConfig(page_size=2, modules={"Accounts": {"enabled": False}})
    extract_crm(engine, client, config, modules=["Contacts"])

    again = extract_crm(engine, client, config, modules=["Contacts"])
    assert again.changed == 0  # the overlap re-reads, nothing is written

    contacts.update(ids[1], {"last_name": f"Edited {tag}"})
    contacts.update(ids[2], {"deleted": 1})
    # Sugar's clock is to the second: the edit may share the watermark's second (the tie-break)
    third = extract_crm(engine, client, config, modules=["Contacts"])
    by_module = {m.module: m for m in third.modules}
    assert (by_module["Contacts"].updated, by_module["Contacts"].deleted) == (1, 1)
    assert _only(engine, crm_contact, ids[1])["last_name"] == f"Edited {tag}"
    gone = _only(engine, crm_contact, ids[2])
    assert gone["deleted"] is True
    assert gone["last_name"] == f"P2 {tag}"
    assert gone["extracted_run_id"] == third.run_id


def test_without_overlap_the_watermark_second_is_read_again(
    engine: Engine, client: SugarClient
) -> None:
    tag = datetime.now().strftime("%H%M%S%f")
    contacts = client.module("Contacts")
    config = SugarSourceConfig(page_size=3, overlap_minutes=0)
    [contacts.create({"last_name": f"Q{i} {tag}"}) for i in range(4)]
    extract_crm(engine, client, config, modules=["Contacts"])
    state = _rows(engine, crm_extract_state, crm_extract_state.c.module == "Contacts")[0]
    assert state["watermark"] is not None
    assert state["watermark_id"]
    second = extract_crm(engine, client, config, modules=["Contacts"])
    # only the watermark's own second is read again (an edit in it keeps its date_modified)
    same_second = _rows(engine, crm_contact, crm_contact.c.date_modified == state["watermark"])
    assert second.read == len(same_second)
    assert second.changed == 0


def test_a_full_refresh_marks_what_it_does_not_see(engine: Engine, client: SugarClient) -> None:
    tag = datetime.now().strftime("%H%M%S%f")
    keep = client.module("Cases").create({"name": f"K {tag}"})
    config = SugarSourceConfig()
    extract_crm(engine, client, config, modules=["Cases"])
    with engine.begin() as conn:  # a row Sugar no longer has at all (purged from its database)
        conn.execute(
            crm_case.insert().values(
                id=f"purged-{tag}",
                deleted=False,
                extracted_run_id=0,
                date_modified=datetime(2020, 1, 1),
            )
        )
    info = extract_crm(engine, client, config, modules=["Cases"], full=True)
    assert _only(engine, crm_case, f"purged-{tag}")["deleted"] is True
    assert _only(engine, crm_case, keep)["deleted"] is False
    assert info.modules[0].deleted >= 1
    state = _rows(engine, crm_extract_state, crm_extract_state.c.module == "Cases")[0]
    assert state["last_full_at"] is not None


def test_custom_and_extra_fields_go_to_extra(engine: Engine, client: SugarClient) -> None:
    tag = datetime.now().strftime("%H%M%S%f")
    acc = client.module("Accounts").create({"name": f"X {tag}", "website": "https://x.test"})
    config = SugarSourceConfig(modules={"Accounts": {"extra_fields": ["website"]}})
    extract_crm(engine, client, config, modules=["Accounts"])
    extra = _only(engine, crm_account, acc)["extra"]
    assert extra["website"] == "https://x.test"
    assert not any(k.startswith("jjwg_maps_") for k in extra)  # SuiteCRM's map plugin's


def test_a_leads_name_goes_to_extra_by_default(engine: Engine, client: SugarClient) -> None:
    # crm_lead has no name columns; the report shows a lead without a company by its name.
    tag = datetime.now().strftime("%H%M%S%f")
    lead = client.module("Leads").create({"first_name": "Pat", "last_name": f"Lead {tag}"})
    extract_crm(engine, client, SugarSourceConfig(), modules=["Leads"])
    extra = _only(engine, crm_lead, lead)["extra"]
    assert (extra["first_name"], extra["last_name"]) == ("Pat", f"Lead {tag}")


def test_an_unknown_extra_field_is_refused_before_anything_is_written(
    engine: Engine, client: SugarClient
) -> None:
    config = SugarSourceConfig(modules={"Leads": {"extra_fields": ["no_such_field"]}})
    with pytest.raises(
        UnknownField, match=r"sugar_source.modules.Leads.extra_fields.*'no_such_field'"
    ):
        extract_crm(engine, client, config)
    assert _rows(engine, etl_run) == []
    assert _rows(engine, crm_account) == []


def test_an_unknown_module_is_a_config_error() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="Acounts"):
        SugarSourceConfig.model_validate({"modules": {"Acounts": {}}})
    with pytest.raises(ValueError, match="unknown module Bugs"):
        SugarSourceConfig().selected(["Bugs"])


def test_account_customer_key_follows_the_push_match(engine: Engine, client: SugarClient) -> None:
    tag = datetime.now().strftime("%H%M%S%f")
    acc = client.module("Accounts").create({"name": f"Later {tag}"})
    extract_crm(engine, client, SugarSourceConfig(), modules=["Accounts"])
    assert _only(engine, crm_account, acc)["customer_key"] is None
    with engine.begin() as conn:  # the push matches the customer afterwards
        conn.execute(
            dim_customer.insert().values(
                customer_key=77,
                source="csv",
                source_customer_id=f"L{tag}",
                sugar_account_id=acc,
                first_seen_at=datetime(2026, 1, 1),
                updated_at=datetime(2026, 1, 1),
            )
        )
    extract_crm(engine, client, SugarSourceConfig(), modules=["Accounts"])
    assert _only(engine, crm_account, acc)["customer_key"] == 77


def test_a_record_saved_behind_the_cursor_is_read_next_time(
    engine: Engine, client: SugarClient, sandbox: Sandbox
) -> None:
    """Keyset paging: a record changed during the run moves past the end, read by the next run."""
    tag = datetime.now().strftime("%H%M%S%f")
    leads = client.module("Leads")
    ids = [leads.create({"last_name": f"R{i} {tag}"}) for i in range(3)]
    config = SugarSourceConfig(overlap_minutes=0)
    extract_crm(engine, client, config, modules=["Leads"])
    # move the watermark back a day: the next run reads everything again, unchanged
    with engine.begin() as conn:
        conn.execute(
            update(crm_extract_state)
            .where(crm_extract_state.c.module == "Leads")
            .values(watermark=datetime.now() - timedelta(days=1), watermark_id="")
        )
    info = extract_crm(engine, client, config, modules=["Leads"])
    assert info.read >= 3
    assert info.changed == 0
    assert {r["id"] for r in _rows(engine, crm_lead, crm_lead.c.id.in_(ids))} == set(ids)


class _DiesOnPage(SugarClient):
    """A client whose n-th page read (get_entry_list or bridge_read_changed) fails like a Sugar
    that went away."""

    def __init__(self, *args: Any, die_on: int, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.die_on, self.lists = die_on, 0

    def _page(self) -> None:
        self.lists += 1
        if self.lists == self.die_on:
            from connectors.sugar.exceptions import ConnectionRefused

            raise ConnectionRefused("Sugar went away")

    def call(self, method: str, **params: Any) -> Any:
        if method == "get_entry_list":
            self._page()
        return super().call(method, **params)

    def call_extension(self, method: str, **params: Any) -> Any:
        if method == "bridge_read_changed":
            self._page()
        return super().call_extension(method, **params)


class _OldExtension(SugarClient):
    """A Sugar whose extension predates bridge_read_changed (1.4.0 and older)."""

    def call_extension(self, method: str, **params: Any) -> Any:
        if method == "bridge_read_changed":
            from connectors.sugar.exceptions import ExtensionMissing

            raise ExtensionMissing("no such method", method=method)
        return super().call_extension(method, **params)


_MAIN = ["Accounts", "Contacts", "Leads", "Opportunities", "Cases", "Calls", "Meetings", "Tasks"]
_TABLES = (crm_account, crm_contact, crm_lead, crm_opportunity, crm_case, crm_activity)


def _snapshot(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Every crm_* row but the run that wrote it, by table, in id order."""
    out = {}
    for table in _TABLES:
        rows = _rows(engine, table)
        out[table.name] = sorted(
            ({k: v for k, v in r.items() if k != "extracted_run_id"} for r in rows),
            key=lambda r: (str(r.get("module", "")), r["id"]),
        )
    return out


def test_the_extension_read_writes_what_get_entry_list_writes(
    client: SugarClient, tmp_path: Path
) -> None:
    """bridge_read_changed (the default where Sugar has it) and get_entry_list give the same
    warehouse, deleted records, a contact's account and email, a lead's account name included."""
    tag = datetime.now().strftime("%H%M%S%f")
    account = client.module("Accounts").create({"name": f"Same & Co {tag}"})
    contact = client.module("Contacts").create(
        {"last_name": f"O'Same {tag}", "email1": f"s{tag}@x.example"}
    )
    client.module("Accounts").link(account, "contacts", [contact])
    client.module("Contacts").create({"last_name": f"Alone {tag}"})
    gone = client.module("Contacts").create({"last_name": f"Gone {tag}"})
    client.module("Accounts").link(account, "contacts", [gone])
    client.module("Contacts").update(gone, {"deleted": 1})
    client.module("Leads").create(
        {"last_name": f"L {tag}", "account_id": account, "account_name": "typed"}
    )
    deal = client.module("Opportunities").create({"name": f"D {tag}"})
    client.module("Accounts").link(account, "opportunities", [deal])
    client.module("Calls").create(
        {"name": f"C {tag}", "parent_type": "Contacts", "parent_id": contact, "status": "Held"}
    )
    client.module("Meetings").create(
        {"name": f"M {tag}", "parent_type": "Accounts", "parent_id": account}
    )
    snapshots, methods = [], []
    for read_method in ("stock", "auto"):
        engine = create_engine_for(f"sqlite:///{tmp_path / read_method}.db")
        metadata.create_all(engine)
        config = SugarSourceConfig(page_size=3, read_method=read_method)  # type: ignore[arg-type]
        info = extract_crm(engine, client, config, full=True, modules=_MAIN)
        methods.append({m.module: m.method for m in info.modules})
        snapshots.append(_snapshot(engine))
        engine.dispose()
    assert set(methods[0].values()) == {"get_entry_list"}
    assert set(methods[1].values()) == {"bridge_read_changed"}
    stock, extension = snapshots
    assert stock["crm_contact"], "nothing extracted"
    assert extension == stock
    row = next(r for r in extension["crm_contact"] if r["id"] == contact)
    assert (row["account_id"], row["email1"]) == (account, f"s{tag}@x.example")


def test_an_older_extension_falls_back_to_get_entry_list(sandbox: Sandbox, tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'w.db'}")
    metadata.create_all(engine)
    with _OldExtension(sandbox.base_url, "admin", sandbox.admin_password) as old:
        account = old.module("Accounts").create({"name": "Old extension"})
        info = extract_crm(engine, old, SugarSourceConfig(), full=True, modules=["Accounts"])
    assert info.modules[0].method == "get_entry_list"
    assert _only(engine, crm_account, account)["name"] == "Old extension"
    details = _rows(engine, etl_run, etl_run.c.run_id == info.run_id)[0]["details"]
    assert details["modules"]["Accounts"]["method"] == "get_entry_list"
    engine.dispose()


def test_a_run_killed_halfway_keeps_its_pages_and_the_next_resumes(
    engine: Engine, sandbox: Sandbox
) -> None:
    from connectors.sugar.exceptions import ConnectionRefused

    tag = datetime.now().strftime("%H%M%S%f")
    with SugarClient(sandbox.base_url, "admin", sandbox.admin_password) as client:
        ids = [client.module("Opportunities").create({"name": f"O{i} {tag}"}) for i in range(7)]
    config = SugarSourceConfig(page_size=2, overlap_minutes=0)
    with (
        _DiesOnPage(sandbox.base_url, "admin", sandbox.admin_password, die_on=3) as dying,
        pytest.raises(ConnectionRefused),
    ):
        extract_crm(engine, dying, config, modules=["Opportunities"])
    kept = _rows(engine, crm_opportunity)
    assert len(kept) == 4  # the two pages committed before the third call failed
    state = _rows(engine, crm_extract_state, crm_extract_state.c.module == "Opportunities")[0]
    assert state["watermark"] is not None
    failed = _rows(engine, etl_run, etl_run.c.source == "sugar")[-1]
    assert failed["status"] == "failed"
    assert "Sugar went away" in failed["error"]
    with SugarClient(sandbox.base_url, "admin", sandbox.admin_password) as client:
        extract_crm(engine, client, config, modules=["Opportunities"])
    assert {r["id"] for r in _rows(engine, crm_opportunity, crm_opportunity.c.id.in_(ids))} == set(
        ids
    )
