"""The commercial policy against the sandbox Sugar: rules that fire on state, the per-owner cap
ordered by value, recent buyers left alone, owners for every account and follow-up, texts in the
configured locale."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from etl.schema import dim_customer, push_followup
from sugar_bridge.config import load_config
from sugar_bridge.exceptions import ConfigError
from sugar_bridge.push.config import PushConfig
from sugar_bridge.push.exceptions import OwnerError
from sugar_bridge.push.followups import Trigger, select_capped
from sugar_bridge.push.push import push_segments
from sugar_bridge.sandbox import Sandbox
from tests.sugar_bridge.push.conftest import Warehouse, client_for, factory

REPS = ("t.bernard", "s.lefevre", "k.nguyen")


def users(sb: Sandbox) -> dict[str, str]:
    """Sales reps in a "Sales Rep" role (one of them inactive), a manager and a key account
    manager: user name -> id."""
    ids: dict[str, str] = {}
    with client_for(sb) as client:
        mod = client.module("Users")
        for name, status in [
            ("t.bernard", "Active"),
            ("s.lefevre", "Active"),
            ("k.nguyen", "Active"),
            ("gone.rep", "Inactive"),
            ("c.moreau", "Active"),
        ]:
            ids[name] = mod.create(
                {
                    "user_name": name,
                    "last_name": name,
                    "status": status,
                    "employee_status": "Active",
                }
            )
        roles = client.module("ACLRoles")
        role = roles.create({"name": "Sales Rep", "description": "reps"})
        roles.link(role, "users", [ids[n] for n in (*REPS, "gone.rep")])
    sb.stats.reset()
    return ids


def policy_config(**overrides: Any) -> PushConfig:
    data: dict[str, Any] = {
        "batch_size": 50,
        "target_lists": {"enabled": False},
        "owners": {
            "key_account_managers": {"KEY-1": "c.moreau"},
            "rules": [
                {"country": ["Germany"], "user": "k.nguyen"},
                {"round_robin": {"role": "Sales Rep"}},
            ],
        },
        "followup_limits": {"per_owner_per_day": 3},
        "followups": [
            {"name": "relancer", "is": ["declining", "lost"]},
            {"name": "key-lost", "is": ["lost"], "key_account": True, "module": "Calls"},
        ],
    }
    data.update(overrides)
    return PushConfig.model_validate(data)


def seed(wh: Warehouse, n: int = 12) -> None:
    """n declining customers (CLV 100 × i), a key account that is lost, two active ones, a
    German one and a declining customer who bought 5 days ago."""
    for i in range(n):
        wh.add_customer(
            f"C{i:03d}",
            f"Customer {i}",
            lifecycle_stage="declining",
            clv_12m=100.0 * i,
            recency_days=200,
        )
    wh.add_customer("KEY-1", "Key Account SA", lifecycle_stage="lost", clv_12m=5000.0)
    wh.add_customer("A1", "Active one", lifecycle_stage="active", recency_days=3)
    wh.add_customer("A2", "Active two", lifecycle_stage="active")
    wh.add_customer("DE", "Berlin GmbH", country="Germany", lifecycle_stage="lost", clv_12m=1.0)
    wh.add_customer("RECENT", "Just bought", lifecycle_stage="declining", recency_days=5)
    wh.analyse()


def tasks(sb: Sandbox, module: str = "Tasks") -> list[dict[str, Any]]:
    with client_for(sb) as client:
        return client.module(module).list(
            fields=["id", "name", "description", "assigned_user_id", "parent_id", "status"]
        )


def accounts(sb: Sandbox) -> dict[str, dict[str, Any]]:
    with client_for(sb) as client:
        return {
            str(r.get("external_id_c")): r
            for r in client.module("Accounts").iter_records(
                fields=["id", "name", "assigned_user_id", "external_id_c"]
            )
        }


def test_night_one_is_the_capped_backlog_every_one_owned_and_night_two_adds_none(
    warehouse: Warehouse, sandbox: Sandbox
) -> None:
    ids = users(sandbox)
    seed(warehouse)
    config = policy_config()
    night1 = push_segments(warehouse.engine, factory(sandbox), config, as_of=warehouse.as_of)
    assert night1.status == "ok"
    # Every account has an owner: the key account its manager, the German one its territory's,
    # the others shared among the *active* reps of the role (never the inactive one).
    owners = {ext: a["assigned_user_id"] for ext, a in accounts(sandbox).items()}
    assert owners["KEY-1"] == ids["c.moreau"]
    assert owners["DE"] == ids["k.nguyen"]
    assert "" not in owners.values()
    assert ids["gone.rep"] not in owners.values()
    robin = [o for e, o in owners.items() if e not in ("KEY-1", "DE")]
    per_rep = sorted(robin.count(ids[r]) for r in REPS)
    assert per_rep[-1] - per_rep[0] <= 1 + 1  # even shares (k.nguyen also has the German one)
    assert night1.owners["assigned"] == len(owners)
    # State rules fire on night one: 12 declining + the lost German + the lost key account
    # (twice: relancer and key-lost), the recent buyer not at all.
    fired = night1.followups["fired"]
    assert fired == 12 + 1 + 2
    assert night1.followups["held_back"] == {"recent_buyer": 1}
    made = tasks(sandbox) + tasks(sandbox, "Calls")
    assert len(made) == night1.tasks_created
    per_owner: dict[str, int] = {}
    for t in made:
        per_owner[t["assigned_user_id"]] = per_owner.get(t["assigned_user_id"], 0) + 1
    assert "" not in per_owner
    assert max(per_owner.values()) <= 3  # the cap, per owner
    assert night1.followups["unowned"] == 0
    assert night1.tasks_created + night1.tasks_waiting == fired
    assert night1.tasks_waiting > 0
    # The most valuable first: every reps' chosen customers are worth more than their waiting.
    by_name = {t["name"]: t for t in made}
    assert "Follow up Customer 11" in by_name
    assert "Follow up Customer 0" not in by_name
    calls = tasks(sandbox, "Calls")
    assert [c["assigned_user_id"] for c in calls] == [ids["c.moreau"]]
    # Night two, same states: nothing for the open ones, the waiting ones come now (cap again).
    night2 = push_segments(warehouse.engine, factory(sandbox), config, as_of=warehouse.as_of)
    assert night2.followups["held_back"]["open"] == night1.tasks_created
    assert night2.tasks_created == 0  # the same night (as_of): the owners' caps are used up
    nextday = warehouse.as_of + timedelta(days=1)
    night3 = push_segments(warehouse.engine, factory(sandbox), config, as_of=nextday)
    assert night3.tasks_created == night1.tasks_waiting
    assert night3.tasks_waiting == 0
    night4 = push_segments(warehouse.engine, factory(sandbox), config, as_of=nextday)
    assert (night4.tasks_created, night4.followups["fired"]) == (0, 0)
    everything = [("Tasks", t) for t in tasks(sandbox)] + [
        ("Calls", c) for c in tasks(sandbox, "Calls")
    ]
    assert len(everything) == fired
    assert len({(m, t["parent_id"]) for m, t in everything}) == fired  # never twice


def test_a_follow_up_closed_in_sugar_lets_the_rule_fire_again_after_the_cool_down(
    warehouse: Warehouse, sandbox: Sandbox
) -> None:
    users(sandbox)
    warehouse.add_customer("C1", "Declining Co", lifecycle_stage="declining", recency_days=90)
    warehouse.analyse()
    config = policy_config(followups=[{"name": "relancer", "is": ["declining"]}])
    assert (
        push_segments(
            warehouse.engine, factory(sandbox), config, as_of=warehouse.as_of
        ).tasks_created
        == 1
    )
    (task,) = tasks(sandbox)
    with client_for(sandbox) as client:
        client.module("Tasks").update(task["id"], {"status": "Completed"})
        closed = client.module("Tasks").get(task["id"], fields=["date_modified"])
    assert closed is not None
    closed_on = datetime.strptime(closed["date_modified"], "%Y-%m-%d %H:%M:%S").date()
    resting = push_segments(
        warehouse.engine, factory(sandbox), config, as_of=closed_on + timedelta(days=29)
    )
    assert resting.tasks_created == 0
    assert resting.followups["closed_in_sugar"] == 1
    assert resting.followups["held_back"] == {"cooling_down": 1}
    again = push_segments(
        warehouse.engine, factory(sandbox), config, as_of=closed_on + timedelta(days=30)
    )
    assert again.tasks_created == 1
    assert len(tasks(sandbox)) == 2
    # A deleted follow-up counts as closed too.
    with client_for(sandbox) as client:
        for t in tasks(sandbox):
            if t["status"] != "Completed":
                client.module("Tasks").update(t["id"], {"deleted": 1})
    later = push_segments(
        warehouse.engine, factory(sandbox), config.model_copy(update={"followups": [
            config.followups[0].model_copy(update={"cooldown_days": 0})
        ]}), as_of=closed_on + timedelta(days=31)
    )  # fmt: skip
    assert later.followups["closed_in_sugar"] == 1
    assert later.tasks_created == 1


def test_a_crash_after_registration_never_makes_a_second_follow_up(
    warehouse: Warehouse, sandbox: Sandbox
) -> None:
    users(sandbox)
    warehouse.add_customer("C1", "Declining Co", lifecycle_stage="declining", recency_days=90)
    warehouse.analyse()
    config = policy_config(followups=[{"name": "relancer", "is": ["declining"]}])
    push_segments(warehouse.engine, factory(sandbox), config, as_of=warehouse.as_of)
    # As if the answer of the create had been lost: registered, not confirmed.
    with warehouse.engine.begin() as conn:
        conn.execute(update(push_followup).values(status="pending"))
    sandbox.stats.reset()
    retry = push_segments(warehouse.engine, factory(sandbox), config, as_of=warehouse.as_of)
    assert retry.followups["fired"] == 0  # the registration holds the rule: no new one
    assert len(tasks(sandbox)) == 1  # the retry found the record and made none
    assert sandbox.stats.calls["set_entry"] == sandbox.stats.calls["bridge_save_records"] == 0
    with warehouse.engine.connect() as conn:
        assert conn.execute(select(push_followup.c.status)).scalars().all() == ["created"]


def test_a_reps_owner_is_kept_and_the_follow_up_goes_to_them(
    warehouse: Warehouse, sandbox: Sandbox
) -> None:
    ids = users(sandbox)
    warehouse.add_customer("C1", "Rep's Co", lifecycle_stage="active")
    warehouse.analyse()
    config = policy_config(followups=[{"name": "relancer", "is": ["declining"]}])
    push_segments(warehouse.engine, factory(sandbox), config, as_of=warehouse.as_of)
    account = accounts(sandbox)["C1"]
    with client_for(sandbox) as client:
        client.module("Accounts").update(account["id"], {"assigned_user_id": ids["c.moreau"]})
    warehouse.set("C1", lifecycle_stage="declining", recency_days=120)
    warehouse.analyse()
    night = push_segments(warehouse.engine, factory(sandbox), config, as_of=warehouse.as_of)
    assert (night.owners["kept"], night.owners["assigned"]) == (1, 0)
    assert accounts(sandbox)["C1"]["assigned_user_id"] == ids["c.moreau"]
    (task,) = tasks(sandbox)
    assert task["assigned_user_id"] == ids["c.moreau"]
    assert night.followups["sample"][0]["owner"] == "c.moreau"
    with warehouse.engine.connect() as conn:
        assert conn.execute(select(dim_customer.c.owner_name)).scalar_one() == "c.moreau"


def test_an_owner_rule_naming_a_user_sugar_lacks_writes_nothing(
    warehouse: Warehouse, sandbox: Sandbox
) -> None:
    users(sandbox)
    seed(warehouse, n=2)
    config = policy_config(owners={"default": "nobody.here"})
    with pytest.raises(OwnerError, match=r"owners\.default: no user 'nobody\.here'"):
        push_segments(warehouse.engine, factory(sandbox), config, as_of=warehouse.as_of)
    assert accounts(sandbox) == {}
    inactive = policy_config(owners={"rules": [{"city": ["Lyon"], "user": "gone.rep"}]})
    with pytest.raises(OwnerError, match="not active"):
        push_segments(warehouse.engine, factory(sandbox), inactive, as_of=warehouse.as_of)


def test_texts_in_french_with_babel_formats(warehouse: Warehouse, sandbox: Sandbox) -> None:
    users(sandbox)
    warehouse.add_customer(
        "C1",
        "Société Dupont",
        lifecycle_stage="declining",
        recency_days=90,
        n_orders=1234,
        clv_12m=1234.5,
        avg_order_amount=99.9,
        p_alive=0.372,
        last_order_at=datetime(2026, 8, 5),
    )
    warehouse.analyse()
    config = policy_config(followups=[{"name": "relancer", "is": ["declining"]}])
    push_segments(
        warehouse.engine, factory(sandbox), config, as_of=warehouse.as_of, locale="fr_FR",
        currency="EUR",
    )  # fmt: skip
    (task,) = tasks(sandbox)
    assert task["name"] == "Relancer Société Dupont"
    text = task["description"]
    for part in ("en déclin", "1\u202f234 commandes", "5 août 2026", "1\u202f234,50\u00a0€"):
        assert part in text, (part, text)
    assert "orders" not in text  # no English words
    assert "1,234" not in text  # nor English separators


def test_transitions_over_the_cap_wait_and_are_created_later_while_still_true(
    warehouse: Warehouse, sandbox: Sandbox
) -> None:
    users(sandbox)
    for i in range(5):
        warehouse.add_customer(f"C{i}", f"Customer {i}", lifecycle_stage="active", clv_12m=i)
    warehouse.analyse()
    config = policy_config(
        owners={"default": "c.moreau"},
        followup_limits={"per_owner_per_day": 2},
        followups=[{"name": "declining", "enters": ["declining"]}],
    )
    push_segments(warehouse.engine, factory(sandbox), config, as_of=warehouse.as_of)
    for i in range(5):
        warehouse.set(f"C{i}", lifecycle_stage="declining", recency_days=100)
    warehouse.analyse()
    night = push_segments(warehouse.engine, factory(sandbox), config, as_of=warehouse.as_of)
    assert (night.tasks_created, night.tasks_waiting) == (2, 3)
    assert {t["name"] for t in tasks(sandbox)} == {"Follow up Customer 4", "Follow up Customer 3"}
    warehouse.set("C0", lifecycle_stage="active")  # no longer declining: its wait ends
    warehouse.analyse()
    nextday = warehouse.as_of + timedelta(days=1)
    later = push_segments(warehouse.engine, factory(sandbox), config, as_of=nextday)
    assert (later.tasks_created, later.tasks_waiting) == (2, 0)
    assert len(tasks(sandbox)) == 4
    with warehouse.engine.connect() as conn:
        statuses = sorted(conn.execute(select(push_followup.c.status)).scalars())
    assert statuses == ["created"] * 4 + ["dropped"]


def _trigger(owner: str, value: float, account: str) -> Trigger:
    rule = policy_config().followups[0]
    return Trigger(rule, account, 1, "", "declining", 1, {}, owner, owner, (value,))


def test_the_cap_counts_what_the_night_already_made() -> None:
    triggers = [_trigger("a", v, f"x{v}") for v in (1, 5, 3)] + [_trigger("b", 2, "y")]
    chosen, waiting = select_capped(triggers, 2, {"a": 1})
    assert [t.account_id for t in chosen] == ["x5", "y"]
    assert [t.account_id for t in waiting] == ["x3", "x1"]


def test_rules_first_take_the_slots_before_more_valuable_customers_of_other_rules() -> None:
    relancer, at_risk = policy_config().followups[0], policy_config().followups[0]
    at_risk = at_risk.model_copy(update={"name": "at-risk"})
    relancer = relancer.model_copy(update={"name": "relancer"})

    def trig(rule: Any, value: float, account: str) -> Trigger:
        return Trigger(rule, account, 1, "", "declining", 1, {}, "a", "a", (value,))

    triggers = [trig(relancer, 900, "rich"), trig(relancer, 500, "mid"), trig(at_risk, 10, "slip")]
    chosen, waiting = select_capped(triggers, 2, {})
    assert [t.account_id for t in chosen] == ["rich", "mid"]  # by value alone
    chosen, waiting = select_capped(triggers, 2, {}, rules_first=["at-risk"])
    assert [t.account_id for t in chosen] == ["slip", "rich"]
    assert [t.account_id for t in waiting] == ["mid"]
    # a rule's own cap leaves the other rules their share
    at_risk = at_risk.model_copy(update={"per_owner_per_day": 1})
    more = [trig(at_risk, v, f"slip{v}") for v in (10, 20, 30)] + triggers[:2]
    chosen, waiting = select_capped(more, 3, {}, rules_first=["at-risk"])
    assert [t.account_id for t in chosen] == ["slip30", "rich", "mid"]
    assert [t.account_id for t in waiting] == ["slip20", "slip10"]


def test_rules_first_names_existing_rules() -> None:
    with pytest.raises(ValueError, match="rules_first: no follow-up rule named nope"):
        PushConfig.model_validate(
            policy_config().model_dump() | {"followup_limits": {"rules_first": ["nope"]}}
        )


def test_config_names_unknown_users_roles_and_rules(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "sugar:\n"
        "  users:\n"
        "    - {user_name: t.bernard, last_name: B, roles: [Sales Rep]}\n"
        "  roles:\n"
        "    - {name: Sales Rep}\n"
        "push:\n"
        "  owners:\n"
        "    rules:\n"
        "      - {country: [France], user: t.bernrad}\n"
        "      - {round_robin: {role: Sales Reps}}\n"
        "    default: t.bernard\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert f"{path}:9: push.owners.rules[0].user: unknown user 't.bernrad'" in message
    assert "push.owners.rules[1].round_robin.role: unknown role 'Sales Reps'" in message
    path.write_text(
        "push:\n  followups:\n    - {name: x, enters: [lost], is: [lost]}\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError, match="not both"):
        load_config(path)
    path.write_text(
        "sugar:\n"
        "  users: [{user_name: t.bernard, last_name: B}]\n"
        "  accounts: [{external_id: KA-1, name: K, assigned_user: t.bernard}]\n"
        "analytics: {lifecycle: {recent_buyer_days: 45}}\n"
        "push:\n  followups: [{name: lost, is: [lost]}]\n",
        encoding="utf-8",
    )
    config = load_config(path)
    assert config.push.owners.key_account_managers == {"KA-1": "t.bernard"}
    assert config.push.recent_buyer_days == 45


def test_the_example_config_loads_with_its_policy() -> None:
    config = load_config(Path(__file__).resolve().parents[3] / "config" / "sugar-bridge.yaml")
    assert [r.on_state for r in config.push.followups] == [True, True, True]
    assert config.push.owners.key_account_managers["KA-0001"] == "t.bernard"
    assert config.push.owners.default == "c.moreau"
