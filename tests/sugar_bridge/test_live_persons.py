"""Persons pushed to a real SuiteCRM's Contacts (issue 16): match, create, verify, lists, tasks.

Runs only when SUGAR_LIVE_URL, SUGAR_LIVE_USERNAME (an admin) and SUGAR_LIVE_PASSWORD are set.
Provisions its own custom fields on Accounts and Contacts (``sbp<run>_*_c``), then pushes a small
warehouse (two companies, four persons; Sugar already has a contact with one person's e-mail and
one with another's name) five times: the first push creates and matches, the second writes
nothing, the third writes the one changed person and creates its task on the contact, the
fourth finds a company turned person (a contact created, the old account's figures emptied), the
fifth writes nothing. Everything it made is marked deleted at the end and its fields removed.
"""

from __future__ import annotations

import secrets
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from connectors.sugar import query as q
from connectors.sugar.client import SugarClient
from etl.db import create_engine_for, upgrade
from etl.schema import dim_customer
from sugar_bridge.provision.apply import apply
from sugar_bridge.provision.spec import SugarSpec
from sugar_bridge.push.config import PushConfig
from sugar_bridge.push.push import push_segments
from tests.live.support import LiveClients, delete_records, remove_fields
from tests.sugar_bridge.push.conftest import SEGMENT_OPTIONS, Warehouse

pytestmark = pytest.mark.live

STAGES = {"new": "New", "active": "Active", "declining": "Declining", "lost": "Lost"}


def _fields(s: str) -> list[dict[str, Any]]:
    return [
        {"name": f"sbp{s}_ext_c", "type": "varchar", "len": 64, "label": "SBP External ID"},
        {
            "name": f"sbp{s}_segment_c",
            "type": "enum",
            "label": "SBP Segment",
            "options": SEGMENT_OPTIONS,
        },
        {"name": f"sbp{s}_stage_c", "type": "enum", "label": "SBP Stage", "options": STAGES},
        {"name": f"sbp{s}_orders_c", "type": "int", "label": "SBP Orders"},
        {"name": f"sbp{s}_updated_c", "type": "datetime", "label": "SBP Updated"},
    ]


def _config(s: str) -> PushConfig:
    drop = (
        "rfm_score",
        "clv_12m",
        "p_alive",
        "avg_order_amount",
        "last_order_at",
        "preferred_payment_method",
        "avg_payment_delay_days",
    )
    return PushConfig.model_validate(
        {
            "match": {"external_id_field": f"sbp{s}_ext_c"},
            "fields": {
                "rfm_segment": {
                    "field": f"sbp{s}_segment_c",
                    "type": "enum",
                    "values": {label: key for key, label in SEGMENT_OPTIONS.items()},
                },
                "lifecycle_stage": {"field": f"sbp{s}_stage_c", "type": "enum"},
                "n_orders": {"field": f"sbp{s}_orders_c", "type": "int"},
                **dict.fromkeys(drop),
            },
            "updated_field": f"sbp{s}_updated_c",
            "batch_size": 3,
            "target_lists": {"name_pattern": f"SBP {s} {{segment}}", "segments": []},
            "followups": [
                {
                    "name": "declining",
                    "column": "lifecycle_stage",
                    "enters": ["declining"],
                    "subject": "Relancer {{ account_name }}",
                }
            ],
        }
    )


def test_persons_are_pushed_to_contacts(live_sugar: SugarClient, tmp_path: Path) -> None:
    s = secrets.token_hex(3)
    spec = SugarSpec.model_validate(
        {"custom_fields": {"Accounts": _fields(s), "Contacts": _fields(s)}}
    )
    engine = create_engine_for(f"sqlite:///{tmp_path / 'warehouse.db'}")
    upgrade(engine)
    contacts = live_sugar.module("Contacts")
    try:
        apply(live_sugar, spec, passwords_file=tmp_path / "pw.tsv")
        by_mail = contacts.create(
            {"first_name": "Already", "last_name": f"Known{s}", "email1": f"p1.{s}@Example.test"}
        )
        by_name = contacts.create({"first_name": "Paula", "last_name": f"Named{s}"})

        wh = Warehouse(engine, as_of=date(2026, 11, 24))
        for i in range(2):
            wh.add_customer(f"SBP{s}-C{i}", f"SBP Company {s} {i}", None, customer_type="B2B")
        persons = {
            0: (f"Marie Dupont{s}", f"p0.{s}@example.test"),
            1: (f"Someone Else{s}", f"p1.{s}@example.test"),  # matched by e-mail
            2: (f"Paula Named{s}", None),  # matched by first + last name
            3: (f"Jean de La Fontaine{s}", f"p3.{s}@example.test"),
        }
        for i, (name, email) in persons.items():
            wh.add_customer(
                f"SBP{s}-P{i}",
                name,
                email,
                city="Lyon",
                country="France",
                customer_type="B2C",
                rfm_segment="At risk" if i % 2 else "Loyal",
                n_orders=i + 1,
            )
        wh.analyse()
        config = _config(s)
        made = LiveClients()
        info = push_segments(engine, made, config, as_of=wh.as_of)
        assert info.status == "ok", info.error
        people = info.modules["Contacts"]
        assert (people["customers"], people["matched"], people["created"]) == (4, 2, 2)
        assert (people["updated"], people["failed"]) == (2, 0)
        assert info.modules["Accounts"]["created"] == 2

        ext = f"sbp{s}_ext_c"
        stored = {
            str(r[ext]): r
            for r in contacts.list(
                q.like_prefix(f"contacts_cstm.{ext}", f"SBP{s}-"),
                fields=[
                    "first_name",
                    "last_name",
                    "email1",
                    "primary_address_city",
                    ext,
                    f"sbp{s}_segment_c",
                ],
            )
        }
        assert sorted(stored) == [f"SBP{s}-P{i}" for i in range(4)]
        assert stored[f"SBP{s}-P1"]["id"] == by_mail  # matched by e-mail, case aside
        assert stored[f"SBP{s}-P1"]["last_name"] == f"Known{s}"  # a matched name stays
        assert stored[f"SBP{s}-P2"]["id"] == by_name
        marie = stored[f"SBP{s}-P0"]
        assert (marie["first_name"], marie["last_name"]) == ("Marie", f"Dupont{s}")
        assert marie["email1"] == f"p0.{s}@example.test"
        assert marie["primary_address_city"] == "Lyon"
        assert stored[f"SBP{s}-P3"]["last_name"] == f"de La Fontaine{s}"
        assert stored[f"SBP{s}-P1"][f"sbp{s}_segment_c"] == "at_risk"
        accounts = live_sugar.module("Accounts").list(
            q.like_prefix(f"accounts_cstm.{ext}", f"SBP{s}-"), fields=[ext]
        )
        assert sorted(a[ext] for a in accounts) == [f"SBP{s}-C0", f"SBP{s}-C1"]

        lists = live_sugar.module("ProspectLists")
        found = lists.list(q.eq("prospect_lists.name", f"SBP {s} At risk"), fields=["name"])
        assert len(found) == 1
        at_risk = str(found[0]["id"])
        in_list = {str(r["id"]) for r in lists.related(at_risk, "contacts", fields=["id"])}
        assert in_list == {by_mail, str(stored[f"SBP{s}-P3"]["id"])}

        # --- nothing changed: not one write ---------------------------------------------------
        made.clear()
        again = push_segments(engine, made, config, as_of=wh.as_of)
        assert again.status == "ok"
        assert again.modules["Contacts"]["unchanged"] == 4
        assert made.writes == 0

        # --- one person declines: one write, its task on the contact -----------------------
        wh.set(f"SBP{s}-P0", lifecycle_stage="declining")
        wh.analyse()
        made.clear()
        third = push_segments(engine, made, config, as_of=wh.as_of)
        assert (third.status, third.updated, third.tasks_created) == ("ok", 1, 1)
        tasks = live_sugar.module("Tasks").list(
            q.eq("tasks.parent_id", str(marie["id"])),
            fields=["name", "parent_type", "contact_id"],
        )
        assert [(t["parent_type"], t["contact_id"]) for t in tasks] == [
            ("Contacts", str(marie["id"]))
        ]
        assert tasks[0]["name"] == f"Relancer Marie Dupont{s}"

        # --- a company turns out to be a person: a contact now, its account emptied --------
        with engine.begin() as conn:
            conn.execute(
                update(dim_customer)
                .where(dim_customer.c.source_customer_id == f"SBP{s}-C0")
                .values(customer_type="B2C")
            )
        wh.analyse()
        made.clear()
        fourth = push_segments(engine, made, config, as_of=wh.as_of)
        assert (fourth.status, fourth.retired) == ("ok", 1), fourth.error
        assert fourth.modules["Contacts"]["created"] == 1
        figures = [f"sbp{s}_segment_c", f"sbp{s}_stage_c", f"sbp{s}_orders_c"]
        (old,) = live_sugar.module("Accounts").list(
            q.eq(f"accounts_cstm.{ext}", f"SBP{s}-C0"), fields=["name", ext, *figures]
        )
        assert old["name"] == f"SBP Company {s} 0"  # the record stays, with its key
        assert {f: old[f] for f in figures} == dict.fromkeys(figures, "")  # no stale figures
        made.clear()
        fifth = push_segments(engine, made, config, as_of=wh.as_of)
        assert (fifth.status, fifth.retired, made.writes) == ("ok", 0, 0)
    finally:
        engine.dispose()
        _cleanup(live_sugar, s)


def _cleanup(client: SugarClient, s: str) -> None:
    ext = f"sbp{s}_ext_c"
    for module, table in (("Contacts", "contacts"), ("Accounts", "accounts")):
        found = client.module(module).list(q.like_prefix(f"{table}_cstm.{ext}", f"SBP{s}-"))
        ids = [str(r["id"]) for r in found]
        if module == "Contacts":
            tasks = [
                str(t["id"])
                for i in ids
                for t in client.module("Tasks").list(q.eq("tasks.parent_id", i), fields=["id"])
            ]
            delete_records(client, "Tasks", tasks)
        delete_records(client, module, ids)
    for last in (f"Known{s}", f"Named{s}"):
        found = client.module("Contacts").list(q.eq("contacts.last_name", last), fields=["id"])
        delete_records(client, "Contacts", [str(r["id"]) for r in found])
    lists = client.module("ProspectLists").list(
        q.like_prefix("prospect_lists.name", f"SBP {s} "), fields=["id"]
    )
    delete_records(client, "ProspectLists", [str(r["id"]) for r in lists])
    for module in ("Accounts", "Contacts"):
        remove_fields(client, module, [f["name"] for f in _fields(s)])
