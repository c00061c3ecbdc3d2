"""Persons (B2C customers) pushed to Sugar's Contacts, with the Accounts' machinery."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from etl.schema import dim_customer, push_followup, push_log, push_match_issue, push_snapshot
from sugar_bridge.push import store
from sugar_bridge.push.config import PersonsConfig
from sugar_bridge.push.exceptions import MissingFieldsError
from sugar_bridge.push.push import push_segments, split_name
from sugar_bridge.push.store import LogEntry
from sugar_bridge.sandbox import Sandbox
from tests.sugar_bridge.push.conftest import (
    FIELDS,
    Warehouse,
    client_for,
    factory,
    provision,
    push_config,
)
from tests.sugar_bridge.push.test_push_sandbox import write_calls


def seed(wh: Warehouse, sb: Sandbox) -> None:
    """Four companies and ten persons. In Sugar: a contact carrying P000's external id, one with
    P001's e-mail (other case), one named like P002, two contacts with one name (P009 is
    ambiguous), and an ACCOUNT named like P003 (a person never matches an account)."""
    segments = ["Champions", "Loyal", "At risk"]
    for i in range(4):
        wh.add_customer(f"C{i:03d}", f"Company {i} GmbH", f"c{i}@corp.example", customer_type="b2b")
    for i in range(9):
        wh.add_customer(
            f"P{i:03d}",
            f"Person {i}" if i != 4 else "Jean de La Fontaine",
            f"p{i}@mail.example",
            city="Lyon" if i % 2 else None,
            country="France" if i % 2 else None,
            customer_type="B2C" if i % 3 else "b2c",  # any case
            rfm_segment=segments[i % 3],
            n_orders=i + 1,
        )
    wh.add_customer("P009", "Twin Person", None, customer_type="b2c")
    wh.analyse()
    with client_for(sb) as client:
        contacts = client.module("Contacts")
        contacts.create({"first_name": "Old", "last_name": "Name", "external_id_c": "P000"})
        contacts.create({"first_name": "By", "last_name": "Mail", "email1": "P1@Mail.Example"})
        contacts.create({"first_name": "person", "last_name": "2"})
        contacts.create({"first_name": "Twin", "last_name": "Person"})
        contacts.create({"first_name": "Twin", "last_name": "person"})
        client.module("Accounts").create({"name": "Person 3"})
    sb.stats.reset()


def contacts_by_external_id(sb: Sandbox) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    with client_for(sb) as client:
        for rec in client.module("Contacts").iter_records(fields=None):
            out.setdefault(str(rec.get("external_id_c") or ""), []).append(rec)
    return out


def members(sb: Sandbox, link: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    with client_for(sb) as client:
        lists = client.module("ProspectLists")
        for rec in lists.iter_records(fields=["id", "name"]):
            found = lists.related(rec["id"], link, fields=["id", "external_id_c"])
            out[rec["name"]] = {str(m.get("external_id_c") or m["id"]) for m in found}
    return out


@pytest.mark.parametrize("method", ["auto", "set_entries"])
def test_persons_go_to_contacts_with_the_same_machinery(
    warehouse: Warehouse, sandbox: Sandbox, method: str
) -> None:
    seed(warehouse, sandbox)
    config = push_config(write_method=method)
    info = push_segments(warehouse.engine, factory(sandbox), config, as_of=warehouse.as_of)
    assert info.status == "ok", info
    people = info.modules["Contacts"]
    assert people["customers"] == 10
    assert (people["matched"], people["ambiguous"], people["created"]) == (3, 1, 6)
    assert (people["updated"], people["failed"]) == (3, 0)
    assert info.modules["Accounts"]["created"] == 4
    # the contacts whatever the write method: the extension refuses Contacts (set_entries does
    # its duplicate check there), so they always go through set_entries
    assert sandbox.stats.calls["set_entries"] >= 1

    by_ext = contacts_by_external_id(sandbox)
    assert all(len(v) == 1 for k, v in by_ext.items() if k), "no duplicate contact"
    assert by_ext["P000"][0]["first_name"] == "Old"  # matched: the name is the reps' to keep
    assert by_ext["P001"][0]["last_name"] == "Mail"  # matched by e-mail, case aside
    assert by_ext["P002"][0]["first_name"] == "person"  # matched by first + last name
    created = by_ext["P005"][0]
    assert (created["first_name"], created["last_name"]) == ("Person", "5")
    assert created["email1"] == "p5@mail.example"
    assert created["primary_address_city"] == "Lyon"
    assert created["primary_address_country"] == "France"
    assert created["segment_c"] == "at_risk"
    fontaine = by_ext["P004"][0]
    assert (fontaine["first_name"], fontaine["last_name"]) == ("Jean", "de La Fontaine")
    assert "P009" not in by_ext  # ambiguous: not pushed, reported
    with client_for(sandbox) as client:
        accounts = client.module("Accounts").list(fields=["name", "external_id_c"])
    assert {a["external_id_c"] for a in accounts if a["external_id_c"]} == {
        "C000",
        "C001",
        "C002",
        "C003",
    }  # no person became an account (not even P003, whose name an account has)

    with warehouse.engine.connect() as conn:
        dims = {
            r.source_customer_id: r
            for r in conn.execute(
                select(
                    dim_customer.c.source_customer_id,
                    dim_customer.c.sugar_account_id,
                    dim_customer.c.sugar_contact_id,
                    dim_customer.c.match_method,
                )
            )
        }
        issues = conn.execute(select(push_match_issue)).mappings().all()
        modules = set(conn.execute(select(push_snapshot.c.module).distinct()).scalars())
    assert dims["P001"].sugar_contact_id == by_ext["P001"][0]["id"]
    assert dims["P001"].sugar_account_id is None
    assert dims["P001"].match_method == "email"
    assert dims["P002"].match_method == "name"
    assert dims["C001"].sugar_contact_id is None
    assert dims["C001"].sugar_account_id
    assert [(i["module"], i["reason"], len(i["candidates"])) for i in issues] == [
        ("Contacts", "ambiguous", 2)
    ]
    assert modules == {"Accounts", "Contacts"}

    # Target lists hold persons through their contacts link, companies through accounts.
    people_in = members(sandbox, "contacts")
    companies_in = members(sandbox, "accounts")
    assert people_in["Segment: At risk"] == {"P002", "P005", "P008"}
    assert companies_in["Segment: Loyal"] == {"C000", "C001", "C002", "C003"}

    # A lead marketing put in a list by hand stays (the push manages accounts and contacts).
    with client_for(sandbox) as client:
        lead = client.module("Leads").create({"last_name": "Walk-in"})
        lists = client.module("ProspectLists")
        at_risk = next(
            r["id"] for r in lists.list(fields=["id", "name"]) if r["name"] == "Segment: At risk"
        )
        lists.link(at_risk, "leads", [lead])

    # Second night, nothing changed: not a single write.
    sandbox.stats.reset()
    again = push_segments(warehouse.engine, factory(sandbox), config, as_of=warehouse.as_of)
    assert again.status == "ok"
    assert again.modules["Contacts"]["unchanged"] == 9
    assert write_calls(sandbox) == 0

    # One person changed: one write, into Contacts.
    warehouse.set("P006", n_orders=77)
    warehouse.analyse()
    sandbox.stats.reset()
    third = push_segments(warehouse.engine, factory(sandbox), config, as_of=warehouse.as_of)
    assert (third.updated, third.modules["Contacts"]["updated"]) == (1, 1)
    assert write_calls(sandbox) == 1
    assert contacts_by_external_id(sandbox)["P006"][0]["n_orders_c"] in ("77", 77)
    assert members(sandbox, "leads")["Segment: At risk"] == {lead}


def test_a_person_entering_a_stage_gets_a_task_on_the_contact(
    warehouse: Warehouse, sandbox: Sandbox
) -> None:
    seed(warehouse, sandbox)
    config = push_config()
    push_segments(warehouse.engine, factory(sandbox), config, as_of=warehouse.as_of)
    warehouse.set("P007", lifecycle_stage="declining")
    warehouse.set("P008", rfm_segment="Can't lose them")
    warehouse.analyse()
    info = push_segments(warehouse.engine, factory(sandbox), config, as_of=warehouse.as_of)
    assert (info.tasks_created, info.tasks_failed) == (2, 0)
    contact_of = {k: v[0]["id"] for k, v in contacts_by_external_id(sandbox).items()}
    with client_for(sandbox) as client:
        fields = ["name", "parent_type", "parent_id", "contact_id"]
        tasks = client.module("Tasks").list(fields=fields)
        calls = client.module("Calls").list(fields=["name", "parent_type", "parent_id"])
    assert [(t["parent_type"], t["parent_id"], t["contact_id"]) for t in tasks] == [
        ("Contacts", contact_of["P007"], contact_of["P007"])
    ]
    assert tasks[0]["name"] == "Relancer Person 7"
    assert [(c["parent_type"], c["parent_id"]) for c in calls] == [("Contacts", contact_of["P008"])]
    with warehouse.engine.connect() as conn:
        parents = set(conn.execute(select(push_followup.c.parent_type)).scalars())
    assert parents == {"Contacts"}
    # the same transition seen again creates nothing
    again = push_segments(warehouse.engine, factory(sandbox), config, as_of=warehouse.as_of)
    assert again.tasks_created == 0


def test_contacts_without_the_fields_stop_the_push_naming_contacts(warehouse: Warehouse) -> None:
    sb = Sandbox()
    sb.start()
    try:
        provision(sb, modules=("Accounts",))
        warehouse.add_customer("P1", "Ada Person", "ada@mail.example", customer_type="b2c")
        warehouse.analyse()
        with pytest.raises(MissingFieldsError, match="Contacts module has no field"):
            push_segments(warehouse.engine, factory(sb), push_config(), as_of=warehouse.as_of)
        # persons switched off: everyone is an account, the push goes through
        config = push_config(persons={"enabled": False})
        info = push_segments(warehouse.engine, factory(sb), config, as_of=warehouse.as_of)
        assert (info.status, info.created, "Contacts" in info.modules) == ("ok", 1, False)
    finally:
        sb.close()


def test_snapshot_keeps_an_account_and_a_contact_with_one_id_apart(
    warehouse: Warehouse,
) -> None:
    """Sugar's ids are per table: the snapshot is keyed by module as well."""
    engine = warehouse.engine
    run = store.start_run(engine, warehouse.as_of, dry_run=False, full=False, now=datetime.now())
    same = "00000000-0000-0000-0000-000000000001"
    store.write_log(
        engine,
        run.run_id,
        [
            LogEntry("update", "ok", same, stuck={"segment_c": "loyal"}),
            LogEntry("update", "ok", same, stuck={"segment_c": "at_risk"}, module="Contacts"),
        ],
        datetime.now(),
    )
    assert store.load_snapshot(engine)[same]["segment_c"].value == "loyal"
    assert store.load_snapshot(engine, "Contacts")[same]["segment_c"].value == "at_risk"


def test_who_is_a_person() -> None:
    default = PersonsConfig()
    assert default.is_person("b2c", "shop")
    assert default.is_person("B2C", "shop")
    assert not default.is_person("b2b", "shop")
    assert not default.is_person(None, "shop")
    by_source = PersonsConfig(sources=["webshop"])
    assert by_source.is_person(None, "webshop")
    assert not by_source.is_person("b2b", "webshop")
    assert PersonsConfig(untyped="contact").is_person(None, "shop")
    assert not PersonsConfig(enabled=False).is_person("b2c", "shop")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Marie Dupont", ("Marie", "Dupont")),
        ("  Jean  de La Fontaine ", ("Jean", "de La Fontaine")),
        ("Cher", ("", "Cher")),
        (None, ("", "")),
    ],
)
def test_split_name(name: str | None, expected: tuple[str, str]) -> None:
    assert split_name(name) == expected


def test_match_alone_records_persons_on_their_contacts(
    warehouse: Warehouse, sandbox: Sandbox
) -> None:
    """`segments match`: persons matched in Contacts, companies in Accounts; nothing written."""
    from sugar_bridge.push.push import match_accounts

    seed(warehouse, sandbox)
    info = match_accounts(warehouse.engine, factory(sandbox), push_config())
    assert (info.customers, info.matched, info.ambiguous) == (14, 3, 1)
    assert info.by_method == {"external_id": 1, "email": 1, "name": 1}
    assert write_calls(sandbox) == 0
    with warehouse.engine.connect() as conn:
        matched = dict(
            conn.execute(
                select(dim_customer.c.source_customer_id, dim_customer.c.sugar_contact_id).where(
                    dim_customer.c.sugar_contact_id.is_not(None)
                )
            ).all()
        )
        issues = conn.execute(select(push_match_issue.c.module)).scalars().all()
    assert sorted(matched) == ["P000", "P001", "P002"]
    assert issues == ["Contacts"]


def test_lists_take_leads_from_a_caller_that_has_some(sandbox: Sandbox) -> None:
    """``reconcile_lists`` with ``links`` including leads: the leads link reconciled both ways,
    read back, the accounts and contacts links untouched when not managed."""
    from sugar_bridge.push.config import TargetListsConfig
    from sugar_bridge.push.lists import reconcile_lists

    config = TargetListsConfig(name_pattern="Prospects: {segment}", segments=[])
    with client_for(sandbox) as client:
        leads = [client.module("Leads").create({"last_name": f"Lead {i}"}) for i in range(3)]
        contact = client.module("Contacts").create({"last_name": "Kept"})
        first = reconcile_lists(client, config, {"hot": {"leads": set(leads[:2])}}, links=["leads"])
        assert (first.added, first.removed, first.failed, first.lists_created) == (2, 0, 0, 1)
        lists = client.module("ProspectLists")
        hot = lists.list(fields=["id", "name"])[0]
        assert hot["name"] == "Prospects: hot"
        lists.link(hot["id"], "contacts", [contact])  # put there by hand
        second = reconcile_lists(client, config, {"hot": {"leads": {leads[2]}}}, links=["leads"])
        assert (second.added, second.removed, second.failed) == (1, 2, 0)
        held = {str(r["id"]) for r in lists.related(hot["id"], "leads", fields=["id"])}
        assert held == {leads[2]}
        assert [str(r["id"]) for r in lists.related(hot["id"], "contacts")] == [contact]
        with pytest.raises(ValueError, match="unknown ProspectLists link prospects"):
            reconcile_lists(client, config, {}, links=["prospects"])


def test_the_push_manages_only_accounts_and_contacts_links() -> None:
    from pydantic import ValidationError

    from sugar_bridge.push.config import TargetListsConfig

    with pytest.raises(ValidationError, match="accounts"):
        TargetListsConfig.model_validate({"links": ["leads"]})


def test_a_company_that_becomes_a_person_leaves_no_stale_figures_on_its_account(
    warehouse: Warehouse, sandbox: Sandbox
) -> None:
    """X1 was a company (an Account, "At risk"); its orders now say it is a person: it is pushed
    to a Contact, and its old Account keeps its name, key and owner but no figures (emptied,
    verified, logged as 'retire', once); back to a company, the Account gets its figures again."""
    from sqlalchemy import update

    warehouse.add_customer("X1", "Flip Person", "flip@mail.example", customer_type="b2b")
    warehouse.add_customer("C1", "Stay GmbH", "c@corp.example", customer_type="b2b")
    warehouse.set("X1", rfm_segment="At risk")
    warehouse.analyse()
    config = push_config()

    def push() -> Any:
        info = push_segments(warehouse.engine, factory(sandbox), config, as_of=warehouse.as_of)
        assert info.status == "ok", info.error
        return info

    def accounts() -> dict[str, dict[str, Any]]:
        with client_for(sandbox) as client:
            found = client.module("Accounts").list(fields=None)
        return {str(a["external_id_c"]): a for a in found}

    def flip(customer_type: str) -> None:
        with warehouse.engine.begin() as conn:
            conn.execute(
                update(dim_customer)
                .where(dim_customer.c.source_customer_id == "X1")
                .values(customer_type=customer_type)
            )

    push()
    before = accounts()["X1"]
    assert before["segment_c"] == "at_risk"

    flip("b2c")
    warehouse.set("X1", rfm_segment="Champions")
    warehouse.analyse()
    info = push()
    assert info.retired == 1
    assert info.modules["Contacts"]["created"] == 1
    account = accounts()["X1"]
    assert account["name"] == "Flip Person"  # the reps' record stays, with its key and owner
    assert account["assigned_user_id"] == before["assigned_user_id"]
    figures = [f["name"] for f in FIELDS if f["name"] not in ("external_id_c", "segment_updated_c")]
    assert {f: account[f] for f in figures} == dict.fromkeys(figures, "")
    assert accounts()["C1"]["segment_c"] == "loyal"  # the others untouched
    assert members(sandbox, "accounts")["Segment: At risk"] == set()
    assert members(sandbox, "contacts")["Segment: Champions"] == {"X1"}
    with warehouse.engine.connect() as conn:
        logged = conn.execute(
            select(push_log.c.operation, push_log.c.status, push_log.c.module).where(
                push_log.c.operation == "retire"
            )
        ).all()
    assert logged == [("retire", "ok", "Accounts")]

    sandbox.stats.reset()
    again = push()  # nothing changed: nothing retired again, nothing written
    assert again.retired == 0
    assert write_calls(sandbox) == 0

    flip("b2b")
    warehouse.analyse()
    back = push()
    assert back.modules["Accounts"]["updated"] == 1
    assert accounts()["X1"]["segment_c"] == "champions"
    assert back.retired == 1  # and now the contact is the old record
