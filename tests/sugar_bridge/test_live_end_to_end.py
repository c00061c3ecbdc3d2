"""End to end against a real SugarCRM CE / SuiteCRM 7 with the bridge extension installed.

Runs only when SUGAR_LIVE_URL, SUGAR_LIVE_USERNAME (an admin) and SUGAR_LIVE_PASSWORD are set.
Provisions a small spec twice (the second apply must send no write), then pushes a small
warehouse three times: first push (create + update, all read back), a push without change (no
write), one changed customer (one account write and its follow-ups, list membership moved).

Isolation: its own Accounts custom fields (``sbe<run>_*_c``), names, external ids and target-list
names carrying a per-run suffix, so matching never meets the accounts or fields of other runs
(several runs, of several branches, share one live Sugar).
At the end it marks its accounts, lists, tasks, calls and role deleted, deletes its user
(deactivated first) and removes its custom fields, leaving the Sugar as it was.
"""

from __future__ import annotations

import os
import secrets
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from connectors.sugar import query as q
from connectors.sugar.client import SugarClient
from etl.db import create_engine_for, upgrade
from sugar_bridge.provision.apply import apply
from sugar_bridge.provision.plan import plan
from sugar_bridge.provision.spec import SugarSpec
from sugar_bridge.push.config import PushConfig
from sugar_bridge.push.push import push_segments
from tests.live.support import (
    LiveClients,
    delete_records,
    delete_users,
    remove_fields,
    user_ids,
)
from tests.sugar_bridge.push.conftest import SEGMENT_OPTIONS, Warehouse

pytestmark = pytest.mark.live

STAGES = {"new": "New", "active": "Active", "declining": "Declining", "lost": "Lost"}
N_CUSTOMERS = 6


def _spec(suffix: str) -> dict[str, Any]:
    role = f"SBE Role {suffix}"
    return {
        "account_key_field": f"sbe{suffix}_ext_c",
        "protected_users": [os.environ.get("SUGAR_LIVE_USERNAME") or "admin"],
        "custom_fields": {
            "Accounts": [
                {
                    "name": f"sbe{suffix}_ext_c",
                    "type": "varchar",
                    "len": 64,
                    "label": "SBE External ID",
                },
                {
                    "name": f"sbe{suffix}_segment_c",
                    "type": "enum",
                    "label": "SBE Segment",
                    "options": SEGMENT_OPTIONS,
                },
                {
                    "name": f"sbe{suffix}_stage_c",
                    "type": "enum",
                    "label": "SBE Stage",
                    "options": STAGES,
                },
                {
                    "name": f"sbe{suffix}_clv_c",
                    "type": "currency",
                    "label": "SBE CLV",
                    "precision": 2,
                },
                {
                    "name": f"sbe{suffix}_p_alive_c",
                    "type": "decimal",
                    "label": "SBE P",
                    "precision": 4,
                },
                {"name": f"sbe{suffix}_orders_c", "type": "int", "label": "SBE Orders"},
                {"name": f"sbe{suffix}_last_order_c", "type": "date", "label": "SBE Last order"},
                {
                    "name": f"sbe{suffix}_updated_c",
                    "type": "datetime",
                    "label": "SBE Updated",
                    "views": ["detailview"],
                },
            ]
        },
        "roles": [
            {
                "name": role,
                "description": "end-to-end live test",
                "rights": {
                    "Accounts": {"access": "enabled", "view": "all", "list": "all", "edit": "owner"}
                },
            }
        ],
        "users": [
            {
                "user_name": f"sbe{suffix}",
                "last_name": "End To End",
                "roles": [role],
                "password": "generate",
            }
        ],
        "accounts": [
            {
                "external_id": f"SBE{suffix}-0",
                "name": f"SBE Key Account {suffix}",
                "type": "Customer",
                "assigned_user": f"sbe{suffix}",
            }
        ],
    }


def _push_config(suffix: str) -> PushConfig:
    return PushConfig.model_validate(
        {
            "match": {"external_id_field": f"sbe{suffix}_ext_c"},
            "fields": {
                "rfm_segment": {
                    "field": f"sbe{suffix}_segment_c",
                    "type": "enum",
                    "values": {label: key for key, label in SEGMENT_OPTIONS.items()},
                },
                "lifecycle_stage": {"field": f"sbe{suffix}_stage_c", "type": "enum"},
                "clv_12m": {"field": f"sbe{suffix}_clv_c", "type": "currency", "precision": 2},
                "p_alive": {"field": f"sbe{suffix}_p_alive_c", "type": "decimal", "precision": 4},
                "n_orders": {"field": f"sbe{suffix}_orders_c", "type": "int"},
                "last_order_at": {"field": f"sbe{suffix}_last_order_c", "type": "date"},
                # The mappings extend the defaults: those this test's Sugar has no field for go.
                "rfm_score": None,
                "avg_order_amount": None,
                "preferred_payment_method": None,
                "avg_payment_delay_days": None,
            },
            "updated_field": f"sbe{suffix}_updated_c",
            "batch_size": 4,
            "sessions": 2,
            "target_lists": {"name_pattern": f"SBE {suffix} {{segment}}", "segments": []},
            # Owners: the key account to its manager (as the config loader fills it from
            # sugar.accounts), every other account shared among the role's active users.
            "owners": {
                "key_account_managers": {f"SBE{suffix}-0": f"sbe{suffix}"},
                "rules": [{"round_robin": {"role": f"SBE Role {suffix}"}}],
            },
            "followups": [
                {"name": "declining", "is": ["declining"]},  # a state: while declining
                {
                    "name": "at-risk",
                    "column": "rfm_segment",
                    "enters": ["At risk"],
                    "module": "Calls",
                    "subject": "Call {{ account_name }} ({{ new_value }})",
                },
            ],
        }
    )


def _members(client: SugarClient, suffix: str) -> dict[str, set[str]]:
    lists = client.module("ProspectLists")
    out: dict[str, set[str]] = {}
    for rec in lists.list(q.like_prefix("prospect_lists.name", f"SBE {suffix} "), fields=["name"]):
        members = lists.related(rec["id"], "accounts", fields=["id", f"sbe{suffix}_ext_c"])
        out[str(rec["name"])] = {str(m.get(f"sbe{suffix}_ext_c") or m["id"]) for m in members}
    return out


def test_provision_twice_then_push(live_sugar: SugarClient, tmp_path: Path) -> None:
    suffix = secrets.token_hex(3)
    spec = SugarSpec.model_validate(_spec(suffix))
    engine = create_engine_for(f"sqlite:///{tmp_path / 'warehouse.db'}")
    upgrade(engine)
    try:
        # --- provisioning: fresh apply, then a second apply that writes nothing -------------
        first = apply(live_sugar, spec, passwords_file=tmp_path / "pw.tsv")
        assert first.summary()["user"] == {"create": 1}
        assert first.summary()["account"] == {"create": 1}
        writes = live_sugar.stats.writes
        assert not plan(live_sugar, spec).has_changes
        assert apply(live_sugar, spec, passwords_file=tmp_path / "pw2.tsv").applied == []
        assert live_sugar.stats.writes == writes
        users = live_sugar.module("Users")
        user_id = users.list(q.eq("users.user_name", f"sbe{suffix}"), fields=["id"])[0]["id"]

        # --- first push: the key account is updated, the others created; all read back -----
        wh = Warehouse(engine, as_of=date(2026, 11, 24))
        segments = ["Champions", "Loyal", "Lost"]
        for i in range(N_CUSTOMERS):
            wh.add_customer(
                f"SBE{suffix}-{i}",
                f"SBE Customer {suffix} {i}",
                f"sbe{suffix}.{i}@example.test",
                rfm_segment=segments[i % len(segments)],
                n_orders=i + 1,
                clv_12m=1000 + i / 2,  # Sugar answers currency with 6 decimals: 1000.500000
            )
        wh.analyse()
        config = _push_config(suffix)
        made = LiveClients()
        info = push_segments(engine, made, config, as_of=wh.as_of)
        assert info.status == "ok", info.error
        assert (info.created, info.updated, info.failed) == (N_CUSTOMERS - 1, 1, 0)
        assert info.verified == N_CUSTOMERS
        assert info.tasks_created == 0  # nobody declining; no transition on a first push
        assert info.owners["assigned"] == N_CUSTOMERS - 1  # the key account has its owner
        accounts = live_sugar.module("Accounts")
        stored = {
            str(r[f"sbe{suffix}_ext_c"]): r
            for r in accounts.list(
                q.like_prefix(f"accounts_cstm.sbe{suffix}_ext_c", f"SBE{suffix}-"),
                fields=[
                    "name",
                    f"sbe{suffix}_ext_c",
                    f"sbe{suffix}_segment_c",
                    f"sbe{suffix}_clv_c",
                    "assigned_user_id",
                ],
            )
        }
        assert sorted(stored) == sorted(f"SBE{suffix}-{i}" for i in range(N_CUSTOMERS))
        assert stored[f"SBE{suffix}-0"]["name"] == f"SBE Key Account {suffix}"  # not renamed
        # Every account owned: the key account by its manager, the others by the role's user.
        assert {r["assigned_user_id"] for r in stored.values()} == {user_id}
        assert stored[f"SBE{suffix}-0"][f"sbe{suffix}_segment_c"] == "champions"
        assert float(stored[f"SBE{suffix}-1"][f"sbe{suffix}_clv_c"]) == pytest.approx(1000.5)
        members = _members(live_sugar, suffix)
        assert members[f"SBE {suffix} Lost"] == {f"SBE{suffix}-2", f"SBE{suffix}-5"}

        # --- no change: no write at all ------------------------------------------------------
        made.clear()
        again = push_segments(engine, made, config, as_of=wh.as_of)
        assert (again.status, again.updated, again.created, again.unchanged) == (
            "ok",
            0,
            0,
            N_CUSTOMERS,
        )
        assert made.writes == 0

        # --- one customer changes: one account write, its two follow-ups, lists moved -------
        wh.set(f"SBE{suffix}-0", rfm_segment="At risk", lifecycle_stage="declining")
        wh.analyse()
        made.clear()
        third = push_segments(engine, made, config, as_of=wh.as_of)
        assert (third.status, third.updated, third.created, third.failed) == ("ok", 1, 0, 0)
        assert third.tasks_created == 2
        assert third.followups["unowned"] == 0
        key_id = str(stored[f"SBE{suffix}-0"]["id"])
        tasks = list(accounts.related(key_id, "tasks", fields=["assigned_user_id", "name"]))
        calls = list(accounts.related(key_id, "calls", fields=["assigned_user_id"]))
        assert [t["assigned_user_id"] for t in tasks] == [user_id]
        assert [c["assigned_user_id"] for c in calls] == [user_id]
        assert [t["name"] for t in tasks] == [f"Follow up SBE Key Account {suffix}"]
        # The rep sees it in their own list (what "My open tasks" shows): logged in as them.
        password = next(
            line.split("\t", 1)[1].strip()
            for line in (tmp_path / "pw.tsv").read_text("utf-8").splitlines()
            if line.startswith(f"sbe{suffix}\t")
        )
        with SugarClient(os.environ["SUGAR_LIVE_URL"], f"sbe{suffix}", password) as rep:
            mine = rep.module("Tasks").list(
                q.eq("tasks.assigned_user_id", user_id), fields=["id", "parent_id", "status"]
            )
        assert [(t["parent_id"], t["status"]) for t in mine] == [(key_id, "Not Started")]
        # Still declining the next night: the task is open, no second one.
        fourth = push_segments(engine, made, config, as_of=wh.as_of)
        assert (fourth.tasks_created, fourth.followups["held_back"]) == (0, {"open": 1})
        members = _members(live_sugar, suffix)
        assert f"SBE{suffix}-0" in members[f"SBE {suffix} At risk"]
        assert f"SBE{suffix}-0" not in members.get(f"SBE {suffix} Champions", set())
    finally:
        engine.dispose()
        _cleanup(live_sugar, suffix)


def _cleanup(client: SugarClient, suffix: str) -> None:
    accounts = client.module("Accounts")
    ids = [
        str(r["id"])
        for r in accounts.list(q.like_prefix(f"accounts_cstm.sbe{suffix}_ext_c", f"SBE{suffix}-"))
    ]
    for module in ("Tasks", "Calls"):
        related = [
            str(rec["id"])
            for account_id in ids
            for rec in accounts.related(account_id, module.lower(), fields=["id"])
        ]
        delete_records(client, module, related)
    delete_records(client, "Accounts", ids)
    for module, query in (
        ("ProspectLists", q.like_prefix("prospect_lists.name", f"SBE {suffix} ")),
        ("ACLRoles", q.eq("acl_roles.name", f"SBE Role {suffix}")),
    ):
        found = client.module(module).list(query, fields=["id"])
        delete_records(client, module, [str(r["id"]) for r in found])
    delete_users(client, user_ids(client, prefix=f"sbe{suffix}"))
    fields = _spec(suffix)["custom_fields"]["Accounts"]
    remove_fields(client, "Accounts", [f["name"] for f in fields])
