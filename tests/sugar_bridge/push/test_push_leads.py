"""The prospect score pushed to the Leads of the sandbox Sugar: diff against the snapshot,
read back, only what changed; leads gone or converted are left alone."""

from __future__ import annotations

from sqlalchemy import insert, select

from etl.schema import prospect_score, push_log, push_snapshot
from sugar_bridge.push.push import push_segments
from sugar_bridge.sandbox import Sandbox
from tests.sugar_bridge.push.conftest import Warehouse, client_for, factory, push_config

FIELD = "prospect_score_c"


def provision_leads(sb: Sandbox) -> None:
    """The Leads field of the example config (sugar.custom_fields.Leads)."""
    with client_for(sb) as client:
        client.call_extension(
            "bridge_ensure_custom_field",
            module_name="Leads",
            field={"name": FIELD, "type": "int", "label": "Prospect score (%)"},
            views=["detailview"],
        )


def leads(sb: Sandbox) -> dict[str, str]:
    """Four leads: two open, one deleted, one converted since the extraction."""
    with client_for(sb) as client:
        module = client.module("Leads")
        out = {
            name: module.create({"last_name": name, "status": "New"})
            for name in ("open1", "open2", "gone", "converted")
        }
        module.update(out["gone"], {"deleted": 1})  # Sugar deletes with set_entry deleted=1
        module.update(out["converted"], {"status": "Converted"})
    return out


def scored(wh: Warehouse, scores: dict[str, float], module: str = "Leads") -> int:
    run_id = wh.analyse()
    with wh.engine.begin() as conn:
        conn.execute(
            insert(prospect_score),
            [
                {"run_id": run_id, "module": module, "record_id": lead, "score": score}
                for lead, score in scores.items()
            ],
        )
    return run_id


def stored(sb: Sandbox, ids: list[str]) -> dict[str, str]:
    with client_for(sb) as client:
        found = client.module("Leads").get_many(ids, fields=["id", FIELD])
    return {i: str(found[i].get(FIELD)) for i in ids if i in found}


def test_scores_go_to_the_leads_once_and_again_only_when_they_move(
    warehouse: Warehouse, sandbox: Sandbox
) -> None:
    provision_leads(sandbox)
    ids = leads(sandbox)
    warehouse.add_customer("C1", "Buyer GmbH", "c1@example.com")
    scores = {ids["open1"]: 0.7349, ids["open2"]: 0.051, ids["gone"]: 0.9, ids["converted"]: 0.5}
    scored(warehouse, scores)
    # Another module's scores (accounts without orders) are not lead scores.
    first = push_segments(warehouse.engine, factory(sandbox), push_config(), as_of=warehouse.as_of)
    assert first.status == "ok", first.warnings
    assert first.leads == {
        "scored": 4,
        "unchanged": 0,
        "updated": 2,
        "planned": 0,
        "skipped": 2,
        "failed": 0,
    }
    assert stored(sandbox, [ids["open1"], ids["open2"]]) == {ids["open1"]: "73", ids["open2"]: "5"}
    with warehouse.engine.connect() as conn:
        snap = dict(
            conn.execute(
                select(push_snapshot.c.account_id, push_snapshot.c.value).where(
                    push_snapshot.c.field == FIELD, push_snapshot.c.module == "Leads"
                )
            ).all()
        )
    assert snap == {ids["open1"]: "73", ids["open2"]: "5"}

    # The same scores again: no lead written.
    sandbox.stats.reset()
    again = push_segments(warehouse.engine, factory(sandbox), push_config(), as_of=warehouse.as_of)
    assert again.leads["updated"] == 0
    assert again.leads["unchanged"] == 2
    assert sandbox.stats.calls["set_entries"] + sandbox.stats.calls["set_entry"] == 0

    # A move below a point is no change; a real one is written, alone.
    scores[ids["open1"]] = 0.7302  # 73.49 % → 73.02 %: still 73
    scores[ids["open2"]] = 0.151
    scored(warehouse, scores)
    sandbox.stats.reset()
    third = push_segments(warehouse.engine, factory(sandbox), push_config(), as_of=warehouse.as_of)
    assert third.leads["updated"] == 1
    assert third.leads["unchanged"] == 1
    assert sandbox.stats.calls["set_entries"] == 1
    assert stored(sandbox, [ids["open2"]]) == {ids["open2"]: "15"}
    with warehouse.engine.connect() as conn:
        logged = conn.execute(
            select(push_log.c.account_id, push_log.c.old_values, push_log.c.new_values).where(
                push_log.c.run_id == third.run_id, push_log.c.account_id == ids["open2"]
            )
        ).one()
    assert logged.old_values == {FIELD: "5"}
    assert logged.new_values == {FIELD: "15"}


def test_a_dry_run_counts_and_writes_nothing(warehouse: Warehouse, sandbox: Sandbox) -> None:
    provision_leads(sandbox)
    ids = leads(sandbox)
    warehouse.add_customer("C1", "Buyer GmbH", "c1@example.com")
    scored(warehouse, {ids["open1"]: 0.4})
    info = push_segments(
        warehouse.engine, factory(sandbox), push_config(), as_of=warehouse.as_of, dry_run=True
    )
    assert info.leads["planned"] == 1
    assert stored(sandbox, [ids["open1"]]) == {ids["open1"]: ""}


def test_without_the_field_in_sugar_a_warning_and_no_write(
    warehouse: Warehouse, sandbox: Sandbox
) -> None:
    ids = leads(sandbox)
    warehouse.add_customer("C1", "Buyer GmbH", "c1@example.com")
    scored(warehouse, {ids["open1"]: 0.4})
    sandbox.stats.reset()
    info = push_segments(warehouse.engine, factory(sandbox), push_config(), as_of=warehouse.as_of)
    assert info.status == "ok"
    assert any("no field prospect_score_c" in w for w in info.warnings)
    assert info.leads["updated"] == 0


def test_no_lead_score_no_lead_call(warehouse: Warehouse, sandbox: Sandbox) -> None:
    warehouse.add_customer("C1", "Buyer GmbH", "c1@example.com")
    scored(warehouse, {"acc-1": 0.3}, module="Accounts")
    sandbox.stats.reset()
    info = push_segments(warehouse.engine, factory(sandbox), push_config(), as_of=warehouse.as_of)
    assert info.leads == {}
    assert sandbox.stats.calls["get_module_fields"] == 1  # the Accounts fields only


def test_lead_score_can_be_switched_off(warehouse: Warehouse, sandbox: Sandbox) -> None:
    provision_leads(sandbox)
    ids = leads(sandbox)
    warehouse.add_customer("C1", "Buyer GmbH", "c1@example.com")
    scored(warehouse, {ids["open1"]: 0.4})
    config = push_config(lead_score={"field": None})
    info = push_segments(warehouse.engine, factory(sandbox), config, as_of=warehouse.as_of)
    assert info.leads == {}
    assert stored(sandbox, [ids["open1"]]) == {ids["open1"]: ""}
