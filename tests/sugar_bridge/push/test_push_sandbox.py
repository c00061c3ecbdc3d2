"""The push against the sandbox Sugar: diff-based writes, read-back, lists, follow-ups."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select, update

from connectors.sugar.exceptions import SugarError
from etl.schema import analytics_run, dim_customer, etl_run, push_log, push_match_issue, push_run
from sugar_bridge.push import store
from sugar_bridge.push.config import PushConfig
from sugar_bridge.push.exceptions import MissingFieldsError
from sugar_bridge.push.push import match_accounts, push_segments
from sugar_bridge.sandbox import AodIndex, Latency, Sandbox
from tests.sugar_bridge.push.conftest import Warehouse, client_for, factory, push_config

WRITE_METHODS = (
    "set_entry",
    "set_entries",
    "set_relationship",
    "set_relationships",
    "bridge_save_records",
)
#: push.write_method → the Sugar method that writes the accounts.
ACCOUNT_WRITES = {"auto": "bridge_save_records", "set_entries": "set_entries"}


def write_calls(sb: Sandbox) -> int:
    return sum(sb.stats.calls[m] for m in WRITE_METHODS)


def seed(wh: Warehouse, sb: Sandbox, n: int = 20) -> None:
    """n customers; three already have an account (by external id, email, name), two are
    ambiguous (one name, two accounts)."""
    segments = ["Champions", "Loyal", "At risk", "Can't lose them"]
    for i in range(n):
        wh.add_customer(
            f"C{i:03d}",
            f"Customer {i} GmbH",
            f"c{i}@example.com",
            rfm_segment=segments[i % len(segments)],
            n_orders=i + 1,
            city="Lyon" if i % 2 else None,
            country="France" if i % 2 else None,
        )
    wh.add_customer("DUP", "Twin Company", None)
    wh.analyse()
    with client_for(sb) as client:
        accounts = client.module("Accounts")
        accounts.create({"name": "Old name", "external_id_c": "C000"})
        accounts.create({"name": "By mail", "email1": "C1@Example.com"})
        accounts.create({"name": "customer 2"})
        accounts.create({"name": "Twin Company"})
        accounts.create({"name": "Twin company"})
    sb.stats.reset()


def accounts_by_external_id(sb: Sandbox) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    with client_for(sb) as client:
        for rec in client.module("Accounts").iter_records(fields=None):
            out.setdefault(str(rec.get("external_id_c") or ""), []).append(rec)
    return out


def list_members(sb: Sandbox) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    with client_for(sb) as client:
        lists = client.module("ProspectLists")
        for rec in lists.iter_records(fields=["id", "name"]):
            members = lists.related(rec["id"], "accounts", fields=["id", "external_id_c"])
            out[rec["name"]] = {str(m.get("external_id_c") or m["id"]) for m in members}
    return out


@pytest.mark.parametrize("method", ["auto", "set_entries"])
def test_first_push_writes_all_second_nothing_one_change_one_write(
    warehouse: Warehouse, sandbox: Sandbox, method: str
) -> None:
    """Both write paths: the extension's bulk method (the default) and plain set_entries."""
    seed(warehouse, sandbox)
    config = push_config(write_method=method)
    account_writes = ACCOUNT_WRITES[method]
    info = push_segments(warehouse.engine, factory(sandbox), config, as_of=warehouse.as_of)
    assert info.status == "ok", info
    assert (info.customers, info.matched, info.ambiguous) == (21, 3, 1)
    assert (info.created, info.updated, info.failed) == (17, 3, 0)
    assert info.verified == 20
    by_ext = accounts_by_external_id(sandbox)
    assert all(len(v) == 1 for k, v in by_ext.items() if k), "no duplicate account"
    acc = by_ext["C003"][0]
    assert acc["segment_c"] == "cant_lose_them"
    assert acc["account_type"] == "Customer"
    assert acc["p_alive_c"] in ("0.8765", 0.8765)
    assert acc["last_order_at_c"] == "2026-10-01"
    assert by_ext["C001"][0]["name"] == "By mail"  # matched by email, external id added
    with warehouse.engine.connect() as conn:
        methods = dict(
            conn.execute(
                select(dim_customer.c.source_customer_id, dim_customer.c.match_method)
            ).all()
        )
        issues = conn.execute(select(push_match_issue)).mappings().all()
    assert methods["C000"] == "external_id"
    assert methods["C001"] == "email"
    assert methods["C002"] == "name"
    assert methods["C005"] == "created"
    # a created account carries the order system's town and country when known; an existing
    # account's address is left alone
    assert by_ext["C005"][0]["billing_address_city"] == "Lyon"
    assert by_ext["C005"][0]["billing_address_country"] == "France"
    assert not by_ext["C004"][0].get("billing_address_city")
    assert not by_ext["C001"][0].get("billing_address_city")  # matched by e-mail, not created
    assert methods["DUP"] is None
    assert [(i["reason"], len(i["candidates"])) for i in issues] == [("ambiguous", 2)]
    members = list_members(sandbox)
    assert members["Segment: At risk"] == {f"C{i:03d}" for i in range(2, 20, 4)}
    assert "Segment: Lost" not in members  # an empty list is created only when needed

    # Second night, nothing changed: no write at all.
    sandbox.stats.reset()
    again = push_segments(warehouse.engine, factory(sandbox), config, as_of=warehouse.as_of)
    assert again.status == "ok"
    assert (again.created, again.updated, again.unchanged) == (0, 0, 20)
    assert write_calls(sandbox) == 0
    assert sandbox.stats.total_writes == 0
    # Each list's members read in one request per link (extension 1.4.0), not paged bean by bean.
    links = len(config.target_lists.links)
    assert sandbox.stats.calls["bridge_get_related_ids"] == len(members) * links
    assert sandbox.stats.calls["get_relationships"] == 0

    # One customer changed (not its segment): exactly one record written, in one call.
    warehouse.set("C007", n_orders=99)
    warehouse.analyse()
    sandbox.stats.reset()
    third = push_segments(warehouse.engine, factory(sandbox), config, as_of=warehouse.as_of)
    assert (third.updated, third.unchanged, third.sugar_writes) == (1, 19, 1)
    assert sandbox.stats.calls[account_writes] == 1
    assert write_calls(sandbox) == 1
    assert sandbox.stats.writes[account_writes] == 1
    assert accounts_by_external_id(sandbox)["C007"][0]["n_orders_c"] in (99, "99")

    # --full resends every account, but the stamp of the last change moves only where a value
    # changed: here none did (the same night again).
    stamps = {k: v[0]["segment_updated_c"] for k, v in accounts_by_external_id(sandbox).items()}
    sandbox.stats.reset()
    full = push_segments(
        warehouse.engine, factory(sandbox), config, as_of=warehouse.as_of, full=True
    )
    assert (full.updated, full.unchanged) == (20, 0)
    assert sandbox.stats.updated == 20
    after = {k: v[0]["segment_updated_c"] for k, v in accounts_by_external_id(sandbox).items()}
    assert after == stamps

    with warehouse.engine.connect() as conn:
        runs = conn.execute(select(push_run.c.status, push_run.c.updated)).all()
        logged = conn.execute(
            select(push_log.c.old_values, push_log.c.new_values).where(
                push_log.c.run_id == third.run_id, push_log.c.operation == "update"
            )
        ).one()
    assert [r.status for r in runs] == ["ok"] * 4
    assert logged.old_values == {"n_orders_c": "8"}
    assert logged.new_values["n_orders_c"] == "99"


def test_dry_run_writes_nothing_and_reports_transitions(
    warehouse: Warehouse, sandbox: Sandbox
) -> None:
    seed(warehouse, sandbox, n=8)
    config = push_config()
    push_segments(warehouse.engine, factory(sandbox), config, as_of=warehouse.as_of)
    warehouse.set("C000", rfm_segment="At risk")
    warehouse.set("C001", rfm_segment="At risk")
    warehouse.analyse()
    sandbox.stats.reset()
    info = push_segments(
        warehouse.engine, factory(sandbox), config, as_of=warehouse.as_of, dry_run=True
    )
    assert write_calls(sandbox) == 0
    assert info.dry_run
    assert info.updated == 2
    assert info.transitions == {"Champions → At risk": 1, "Loyal → At risk": 1}
    assert info.list_added == 2
    assert info.list_removed == 2
    assert info.tasks_created == 2  # planned: two calls for "At risk"
    assert {s["operation"] for s in info.sample} == {"update"}
    assert info.sample[0]["changes"]["segment_c"][1] == "at_risk"
    # the real push afterwards still sees the change
    real = push_segments(warehouse.engine, factory(sandbox), config, as_of=warehouse.as_of)
    assert real.updated == 2


def test_silently_dropped_write_is_detected_and_retried(
    warehouse: Warehouse, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(warehouse, sandbox, n=6)
    config = push_config(target_lists={"enabled": False}, followups=[])
    push_segments(warehouse.engine, factory(sandbox), config, as_of=warehouse.as_of)
    warehouse.set("C004", clv_12m=999.99, n_orders=42)
    warehouse.analyse()

    # The server answers success but ignores clv_12m_c (like an unknown field).
    original = sandbox.api._pairs

    def dropping(nvl: Any) -> list[tuple[str, Any, bool]]:
        return [p for p in original(nvl) if p[0] != "clv_12m_c"]

    monkeypatch.setattr(sandbox.api, "_pairs", dropping)
    info = push_segments(warehouse.engine, factory(sandbox), config, as_of=warehouse.as_of)
    assert (info.status, info.failed, info.updated) == ("partial", 1, 0)
    with warehouse.engine.connect() as conn:
        err = conn.execute(
            select(push_log.c.error).where(
                push_log.c.run_id == info.run_id, push_log.c.status == "failed"
            )
        ).scalar_one()
    assert "clv_12m_c: Sugar has '1234.50', sent '999.99'" in err
    # n_orders_c stuck, so only the dropped field is resent next time
    monkeypatch.setattr(sandbox.api, "_pairs", original)
    sandbox.stats.reset()
    retry = push_segments(warehouse.engine, factory(sandbox), config, as_of=warehouse.as_of)
    assert (retry.status, retry.updated, retry.failed) == ("ok", 1, 0)
    # A custom currency is answered with 6 decimals, as SuiteCRM 7.15.0 does (decimal(26,6)).
    assert accounts_by_external_id(sandbox)["C004"][0]["clv_12m_c"] == "999.990000"
    with warehouse.engine.connect() as conn:
        sent = conn.execute(
            select(push_log.c.new_values).where(push_log.c.run_id == retry.run_id)
        ).scalar_one()
    assert set(sent) == {"clv_12m_c", "segment_updated_c"}


@pytest.mark.parametrize("method", ["auto", "set_entries"])
def test_followups_of_a_night_are_created_in_one_bulk_call(
    warehouse: Warehouse, sandbox: Sandbox, method: str
) -> None:
    """With the extension's bulk method, the night's follow-ups of one module go out in one
    bridge_save_records call, proven by its answer (no set_entry, no read-back); without it, one
    set_entry and one read-back each."""
    seed(warehouse, sandbox, n=12)
    config = push_config(target_lists={"enabled": False}, write_method=method)
    push_segments(warehouse.engine, factory(sandbox), config, as_of=warehouse.as_of)
    for i in range(12):
        warehouse.set(f"C{i:03d}", lifecycle_stage="declining", n_orders=50 + i)
    warehouse.analyse()
    sandbox.stats.reset()
    info = push_segments(warehouse.engine, factory(sandbox), config, as_of=warehouse.as_of)
    assert (info.status, info.tasks_created, info.tasks_failed) == ("ok", 12, 0)
    with client_for(sandbox) as client:
        tasks = client.module("Tasks").list(fields=["id", "name", "parent_id"])
    assert len(tasks) == 12
    assert len({t["parent_id"] for t in tasks}) == 12
    calls = sandbox.stats.calls
    if method == "auto":
        assert calls["set_entry"] == 0
        assert calls["get_entry"] == 0
        # accounts: 12 changed, in batches of 7 (2 calls); tasks: 1 call
        assert calls["bridge_save_records"] == 3
    else:
        assert calls["set_entry"] == 12
        assert calls["bridge_save_records"] == 0


def test_a_run_that_fails_after_writing_keeps_its_transitions_for_the_rerun(
    warehouse: Warehouse, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The accounts' new values are written (and their snapshot with them), then the run fails
    before its follow-up step: the rerun sees no change in the values, yet still creates the
    task of the transition (registered before the write), once."""
    import sugar_bridge.push.push as push_module

    seed(warehouse, sandbox, n=8)
    config = push_config(target_lists={"enabled": False})
    push_segments(warehouse.engine, factory(sandbox), config, as_of=warehouse.as_of)
    warehouse.set("C000", rfm_segment="Lost", lifecycle_stage="declining")
    warehouse.analyse()

    def broken(*args: Any, **kwargs: Any) -> None:
        raise SugarError("Sugar went away after the accounts were written")

    with monkeypatch.context() as patch:
        patch.setattr(push_module, "_followups", broken)
        with pytest.raises(SugarError):
            push_segments(warehouse.engine, factory(sandbox), config, as_of=warehouse.as_of)
    assert accounts_by_external_id(sandbox)["C000"][0]["lifecycle_stage_c"] == "declining"
    rerun = push_segments(warehouse.engine, factory(sandbox), config, as_of=warehouse.as_of)
    assert (rerun.status, rerun.updated, rerun.tasks_created) == ("ok", 0, 1)
    again = push_segments(warehouse.engine, factory(sandbox), config, as_of=warehouse.as_of)
    assert again.tasks_created == 0
    with client_for(sandbox) as client:
        tasks = client.module("Tasks").list(fields=["id", "name", "description"])
    assert len(tasks) == 1
    assert "Active → Declining" in tasks[0]["description"]


def test_lists_follow_segments_and_transition_creates_one_task(
    warehouse: Warehouse, sandbox: Sandbox
) -> None:
    seed(warehouse, sandbox, n=8)
    config = push_config()
    first = push_segments(warehouse.engine, factory(sandbox), config, as_of=warehouse.as_of)
    assert first.tasks_created == 0  # no history yet: nobody "entered" a stage
    warehouse.set("C000", rfm_segment="Lost", lifecycle_stage="declining")
    warehouse.set("C002", lifecycle_stage="declining")  # already "At risk"
    warehouse.analyse()
    second = push_segments(warehouse.engine, factory(sandbox), config, as_of=warehouse.as_of)
    assert second.status == "ok"
    assert (second.list_added, second.list_removed) == (1, 1)
    members = list_members(sandbox)
    assert "C000" in members["Segment: Lost"]
    assert "C000" not in members["Segment: Champions"]
    assert second.tasks_created == 2
    by_ext = accounts_by_external_id(sandbox)
    with client_for(sandbox) as client:
        tasks = list(
            client.module("Accounts").related(
                by_ext["C000"][0]["id"],
                "tasks",
                fields=["id", "name", "description", "date_due", "parent_id"],
            )
        )
    assert len(tasks) == 1
    assert tasks[0]["name"] == "Relancer Old name"  # the account's name in Sugar
    assert "Active → Declining" in tasks[0]["description"]
    assert tasks[0]["date_due"] == "2026-12-01 09:00:00"
    # the same state again: no second task, no write
    sandbox.stats.reset()
    third = push_segments(warehouse.engine, factory(sandbox), config, as_of=warehouse.as_of)
    assert third.tasks_created == 0
    assert write_calls(sandbox) == 0
    # entering "At risk" gives a call
    warehouse.set("C001", rfm_segment="At risk")
    warehouse.analyse()
    fourth = push_segments(warehouse.engine, factory(sandbox), config, as_of=warehouse.as_of)
    assert fourth.tasks_created == 1
    with client_for(sandbox) as client:
        calls = client.module("Calls").list(fields=["id", "name", "parent_id", "status"])
    assert [c["name"] for c in calls] == ["Call By mail (At risk)"]


def test_match_command_and_missing_fields(warehouse: Warehouse, sandbox: Sandbox) -> None:
    seed(warehouse, sandbox, n=4)
    info = match_accounts(warehouse.engine, factory(sandbox), push_config())
    assert (info.matched, info.ambiguous, info.unmatched) == (3, 1, 1)
    assert info.by_method == {"external_id": 1, "email": 1, "name": 1}
    assert write_calls(sandbox) == 0
    issues = store.read_match_issues(warehouse.engine)
    assert [i["source_customer_id"] for i in issues] == ["DUP"]
    bad = push_config(
        fields={"rfm_segment": "no_such_field_c", "lifecycle_stage": "lifecycle_stage_c"}
    )
    with pytest.raises(MissingFieldsError, match="no_such_field_c"):
        push_segments(warehouse.engine, factory(sandbox), bad, as_of=warehouse.as_of)
    assert store.last_runs(warehouse.engine, 1)[0]["status"] == "failed"


def test_batches_overlap_over_the_session_pool(warehouse: Warehouse, sandbox: Sandbox) -> None:
    """Two sessions write two batches at once: the write step takes one batch's server time."""
    for i in range(8):
        warehouse.add_customer(f"C{i:03d}", f"Customer {i}", None)
    warehouse.analyse()
    # Two sessions from the start (not adapted), on the set_entries path this test counts.
    config = push_config(
        sessions=2,
        adaptive=False,
        write_method="set_entries",
        batch_size=4,
        followups=[],
        target_lists={"enabled": False},
    )
    push_segments(warehouse.engine, factory(sandbox), config, as_of=warehouse.as_of)
    for i in range(8):
        warehouse.set(f"C{i:03d}", n_orders=100 + i)
    warehouse.analyse()
    sandbox.latency = Latency(per_update=0.25)  # 1 s of server time per batch of 4
    info = push_segments(warehouse.engine, factory(sandbox), config, as_of=warehouse.as_of)
    assert info.updated == 8
    assert sandbox.stats.calls["set_entries"] == 4  # 2 batches per push
    assert info.timings["write"] < 1.8, info.timings  # one after the other would take >= 2 s


def test_default_stays_at_one_session_on_a_sugar_with_aod(
    warehouse: Warehouse, sandbox: Sandbox
) -> None:
    """Where each save takes AOD's index lock (AOD on, set_entries: the sandbox's model of the
    lock, benchmarks/README.md "Sessions and AOD"), 2 sessions queue on it (and so write slower
    than 1: the model's cost, tests/sugar_bridge/sandbox/test_aod.py), so the default (adaptive)
    config stays at one session there and its saves never wait for the lock."""
    for i in range(8):
        warehouse.add_customer(f"C{i:03d}", f"Customer {i}", None)
    warehouse.analyse()
    common: dict[str, Any] = {
        "batch_size": 4,
        "followups": [],
        "target_lists": {"enabled": False},
        "write_method": "set_entries",
    }
    two = push_config(sessions=2, adaptive=False, **common)
    default = PushConfig.model_validate(
        push_config(**common).model_dump(exclude={"sessions", "adaptive"})
    )
    assert default.adaptive
    assert default.sessions == 4
    push_segments(warehouse.engine, factory(sandbox), default, as_of=warehouse.as_of)
    sandbox.latency = Latency(per_update=0.01)
    sandbox.set_aod(AodIndex(per_save=0.03, contended=0.06))
    assert sandbox.index is not None
    contended: dict[int, int] = {}
    for n, config in enumerate((default, two)):
        for i in range(8):
            warehouse.set(f"C{i:03d}", n_orders=100 + 10 * n + i)
        warehouse.analyse()
        before = sandbox.index.contended_saves
        info = push_segments(warehouse.engine, factory(sandbox), config, as_of=warehouse.as_of)
        assert info.updated == 8
        used = info.writes["sessions"]["chosen"]
        contended[used] = sandbox.index.contended_saves - before
        if config is default:
            assert used == 1
            assert info.writes["sessions"]["steps"] == [
                {"level": 1, "reason": info.writes["sessions"]["reason"], "records_per_s": None}
            ]
            assert "AOD indexing on" in info.writes["sessions"]["reason"]
    # one session never waits for the lock; two do (8 saves of 30 ms each, 4 per session)
    assert contended[1] == 0
    assert contended[2] > 0, contended


@pytest.mark.parametrize(("aod", "expected"), [(None, 1), (True, 1), (False, 2)])
def test_sessions_auto_may_add_sessions_only_when_aod_is_off(
    warehouse: Warehouse,
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    aod: bool | None,
    expected: int,
) -> None:
    """``push.sessions: auto`` asks the Sugar (``aod_indexing``): more than one session allowed
    when AOD is off, one when on or unknown (the sandbox has no AOD_IndexEvent module)."""
    import sugar_bridge.push.push as push_module
    from connectors.sugar.extension.bulk import BulkSupport

    # A Sugar whose extension does not report AOD (older than 1.3.0): the push asks the records.
    monkeypatch.setattr(
        push_module, "bulk_support", lambda client: BulkSupport(False, "extension 1.2.0")
    )
    if aod is not None:
        monkeypatch.setattr(push_module, "aod_indexing", lambda client: aod)
    for i in range(8):
        warehouse.add_customer(f"C{i:03d}", f"Customer {i}", None)
    warehouse.analyse()
    config = push_config(
        sessions="auto",
        batch_size=2,
        followups=[],
        target_lists={"enabled": False},
    )
    info = push_segments(warehouse.engine, factory(sandbox), config, as_of=warehouse.as_of)
    assert info.created == 8
    sessions = info.writes["sessions"]
    # AOD on or unknown: never more than one session; off: the adaptive controller may add
    # sessions up to push.sessions (how many it does depends on the throughput it measures)
    assert (sessions["maximum"] > 1) == (expected > 1)
    used = max(step["level"] for step in sessions["steps"])
    assert used <= sessions["maximum"]
    # one login for the reads, one per writing session opened; a level of 2 opens a second
    # session only when a batch starts while the first one is busy
    assert 1 <= sessions["opened"] <= used
    assert sandbox.stats.calls["login"] == 1 + sessions["opened"]
    with pytest.raises(ValueError, match="sessions"):
        push_config(sessions="many")


def test_unmatched_policies_and_first_push_rules(warehouse: Warehouse, sandbox: Sandbox) -> None:
    seed(warehouse, sandbox, n=4)  # C003 ("Can't lose them") has no account; DUP is ambiguous
    rules = [
        {
            "name": "welcome",
            "column": "rfm_segment",
            "enters": ["Can't lose them"],
            "on_first_push": True,
            "subject": "Welcome {{ account_name }}",
        }
    ]
    common: dict[str, Any] = {"target_lists": {"enabled": False}, "followups": rules}

    report = push_config(match={"unmatched": "report"}, **common)
    info = push_segments(warehouse.engine, factory(sandbox), report, as_of=warehouse.as_of)
    assert (info.created, info.updated, info.unmatched, info.tasks_created) == (0, 3, 1, 0)
    issues = {
        i["source_customer_id"]: i["reason"] for i in store.read_match_issues(warehouse.engine)
    }
    assert issues == {"C003": "no_account", "DUP": "ambiguous"}

    skip = push_config(match={"unmatched": "skip"}, **common)
    push_segments(warehouse.engine, factory(sandbox), skip, as_of=warehouse.as_of)
    issues = {
        i["source_customer_id"]: i["reason"] for i in store.read_match_issues(warehouse.engine)
    }
    assert issues == {"DUP": "ambiguous"}
    assert "C003" not in accounts_by_external_id(sandbox)

    create = push_config(**common)
    info = push_segments(warehouse.engine, factory(sandbox), create, as_of=warehouse.as_of)
    assert (info.created, info.tasks_created) == (1, 1)  # the new account's first push
    with client_for(sandbox) as client:
        names = [t["name"] for t in client.module("Tasks").list(fields=["id", "name"])]
    assert names == ["Welcome Customer 3 GmbH"]


def test_a_degenerate_model_fit_never_reaches_sugar_silently(
    warehouse: Warehouse, sandbox: Sandbox
) -> None:
    seed(warehouse, sandbox, n=8)
    config = push_config()
    push_segments(warehouse.engine, factory(sandbox), config, as_of=warehouse.as_of)
    model_fields = ("p_alive_c", "clv_12m_c")
    before = {
        k: [v[0][f] for f in model_fields] for k, v in accounts_by_external_id(sandbox).items()
    }
    for i in range(8):
        warehouse.set(f"C{i:03d}", p_alive=0.01, clv_12m=1.5, rfm_segment="Lost")
    warehouse.analyse()
    with warehouse.engine.begin() as conn:  # the latest run's fit was at the edge
        conn.execute(
            update(analytics_run)
            .where(
                analytics_run.c.run_id == select(func.max(analytics_run.c.run_id)).scalar_subquery()
            )
            .values(
                models={
                    "model": "bgnbd",
                    "bgnbd": {"params": {"a": 3.1e5, "b": 6.8e6}, "degenerate": ["a", "b"]},
                    "penalized": 0.001,
                }
            )
        )
    info = push_segments(warehouse.engine, factory(sandbox), config, as_of=warehouse.as_of)
    after = accounts_by_external_id(sandbox)
    assert {k: [v[0][f] for f in model_fields] for k, v in after.items()} == before  # kept
    assert {v[0]["segment_c"] for k, v in after.items() if k.startswith("C")} == {"lost"}
    assert info.warnings == [
        "the bgnbd fit of the latest analytics run is degenerate (a, b): "
        "clv_12m_c, p_alive_c not pushed"
    ]
    with warehouse.engine.connect() as conn:
        details = conn.execute(
            select(etl_run.c.details).where(etl_run.c.run_id == info.run_id)
        ).scalar()
    assert details["warnings"] == info.warnings


def test_the_model_warning_reads_the_run_the_push_sends(warehouse: Warehouse) -> None:
    degenerate = {"model": "bgnbd", "bgnbd": {"degenerate": ["a", "b"]}, "penalized": 0.001}
    sound = {"model": "mbgnbd", "mbgnbd": {"degenerate": []}}
    warehouse.add_customer("C001", "One")
    warehouse.analyse()
    last = select(func.max(analytics_run.c.run_id)).scalar_subquery()
    with warehouse.engine.begin() as conn:  # the current run's fit is sound
        conn.execute(
            update(analytics_run).where(analytics_run.c.run_id == last).values(models=sound)
        )
    assert store.clv_warning(warehouse.engine) is None
    warehouse.analyse()
    with warehouse.engine.begin() as conn:  # a later, backdated run's is not: it is not sent
        conn.execute(
            update(analytics_run)
            .where(analytics_run.c.run_id == last)
            .values(models=degenerate, kind="backdated")
        )
    assert store.clv_warning(warehouse.engine) is None
    with warehouse.engine.begin() as conn:  # once it is the current run, it is
        conn.execute(
            update(analytics_run).where(analytics_run.c.run_id == last).values(kind="current")
        )
    assert store.clv_warning(warehouse.engine) == (
        "the bgnbd fit of the latest analytics run is degenerate (a, b)"
    )


def _set_run_currency(warehouse: Warehouse, currency: str) -> None:
    with warehouse.engine.begin() as conn:
        conn.execute(
            update(analytics_run)
            .where(
                analytics_run.c.run_id == select(func.max(analytics_run.c.run_id)).scalar_subquery()
            )
            .values(currency=currency)
        )


def test_amounts_in_another_currency_than_sugars_are_held_back(
    warehouse: Warehouse, sandbox: Sandbox
) -> None:
    seed(warehouse, sandbox, n=4)
    money = ("clv_12m_c", "avg_order_amount_c")
    _set_run_currency(warehouse, "EUR")
    first = push_segments(warehouse.engine, factory(sandbox), push_config(), as_of=warehouse.as_of)
    assert first.currency == "EUR"
    assert first.warnings == []
    before = {k: [v[0][f] for f in money] for k, v in accounts_by_external_id(sandbox).items()}
    # The reporting currency changes to USD: the amounts would show as euros in Sugar.
    for i in range(4):
        warehouse.set(f"C{i:03d}", clv_12m=9999.0, avg_order_amount=777.0, rfm_segment="Lost")
    warehouse.analyse()
    _set_run_currency(warehouse, "USD")
    info = push_segments(warehouse.engine, factory(sandbox), push_config(), as_of=warehouse.as_of)
    after = accounts_by_external_id(sandbox)
    assert {k: [v[0][f] for f in money] for k, v in after.items()} == before  # kept
    assert {v[0]["segment_c"] for k, v in after.items() if k.startswith("C")} == {"lost"}
    assert info.currency == "USD"
    assert info.warnings == [
        "the amounts are in USD, Sugar's money fields in EUR (the currency of the last push): "
        "clv_12m_c, avg_order_amount_c not pushed"
    ]
    # Said explicitly (push.currency: USD, the labels changed with it): they are pushed.
    usd = push_config(currency="USD")
    info = push_segments(warehouse.engine, factory(sandbox), usd, as_of=warehouse.as_of)
    assert info.warnings == []
    assert {v[0]["clv_12m_c"] for k, v in accounts_by_external_id(sandbox).items()
            if k.startswith("C")} == {"9999.000000"}  # fmt: skip
