"""The Sugar source against the real SuiteCRM (marker live): issue 16's "done when".

A sync-sized extraction reads the modules, a second one writes nothing, a record edited in Sugar
is extracted again with its new value, a deleted one is marked deleted. Every record the test
makes is marked deleted at the end (Sugar is left as found).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from connectors.sugar.client import SugarClient
from connectors.sugar.crm import SugarSourceConfig
from etl.crm import extract_crm
from etl.db import create_engine_for, upgrade
from etl.schema import crm_account, crm_activity, crm_case, crm_contact, crm_target_list_member

pytestmark = pytest.mark.live

MODULES = ["Accounts", "Contacts", "Leads", "Opportunities", "Cases", "Calls", "Meetings"]
MODULES += ["Tasks", "Notes", "ProspectLists", "CampaignLog"]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = create_engine_for(f"sqlite:///{tmp_path / 'w.db'}")
    upgrade(eng)
    yield eng
    eng.dispose()


def _row(engine: Engine, table: object, record_id: str) -> dict[str, object]:
    with engine.connect() as conn:
        rows = conn.execute(select(table).where(table.c.id == record_id)).mappings().all()  # type: ignore[attr-defined]
    assert len(rows) == 1, rows
    return dict(rows[0])


def test_extract_again_edit_delete_on_the_real_sugar(
    live_sugar: SugarClient, engine: Engine
) -> None:
    tag = f"SBX{secrets.token_hex(3)}"
    created: list[tuple[str, str]] = []

    def make(module: str, **values: object) -> str:
        record_id = live_sugar.module(module).create(values)
        created.append((module, record_id))
        return record_id

    try:
        acc = make("Accounts", name=f"{tag} Account", industry="Energy")
        person = make("Contacts", first_name="Ada", last_name=f"{tag} O'Hara")
        live_sugar.module("Accounts").link(acc, "contacts", [person])
        case = make("Cases", name=f"{tag} broken", account_id=acc, priority="P1")
        call = make(
            "Calls",
            name=f"{tag} call",
            parent_type="Contacts",
            parent_id=person,
            direction="Outbound",
            date_start="2026-11-30 09:00:00",
            duration_hours=0,
            duration_minutes=20,
        )
        plist = make("ProspectLists", name=f"{tag} list", list_type="default")
        live_sugar.module("ProspectLists").link(plist, "contacts", [person])
        config = SugarSourceConfig(page_size=50)

        first = extract_crm(engine, live_sugar, config, modules=MODULES)
        assert first.read >= 5
        assert _row(engine, crm_account, acc)["industry"] == "Energy"
        assert _row(engine, crm_contact, person)["account_id"] == acc
        assert _row(engine, crm_case, case)["account_id"] == acc
        activity = _row(engine, crm_activity, call)
        assert (activity["account_id"], activity["duration_minutes"]) == (acc, 20)
        with engine.connect() as conn:
            members = conn.execute(
                select(crm_target_list_member.c.record_id).where(
                    crm_target_list_member.c.list_id == plist
                )
            ).all()
        assert [m.record_id for m in members] == [person]

        second = extract_crm(engine, live_sugar, config, modules=MODULES)
        assert second.changed == 0, [m for m in second.modules if m.changed]

        time.sleep(1.1)  # a later second than the reads (the content comparison covers the same)
        live_sugar.module("Contacts").update(person, {"last_name": f"{tag} Edited"})
        live_sugar.module("Cases").update(case, {"deleted": 1}, check_exists=False)
        third = extract_crm(engine, live_sugar, config, modules=MODULES)
        changed = {m.module: (m.updated, m.deleted) for m in third.modules if m.changed}
        assert changed == {"Contacts": (1, 0), "Cases": (0, 1)}, changed
        assert _row(engine, crm_contact, person)["last_name"] == f"{tag} Edited"
        gone = _row(engine, crm_case, case)
        assert gone["deleted"] is True
        assert gone["account_id"] == acc  # kept: Sugar's delete empties it
    finally:
        for module, record_id in reversed(created):
            live_sugar.module(module).update(record_id, {"deleted": 1}, check_exists=False)
