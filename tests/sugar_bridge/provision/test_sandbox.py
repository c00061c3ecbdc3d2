"""Provisioning against the Sugar sandbox: fresh apply, idempotence (zero writes), drift, prune,
membership removal, bad specs applying nothing, passwords kept out of logs and output."""

from __future__ import annotations

import hashlib
import json
import logging
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from connectors.sugar import query as q
from connectors.sugar.client import SugarClient
from connectors.sugar.exceptions import AccessDenied, ExtensionMissing, InvalidLogin, SugarError
from etl.db import create_engine_for
from etl.history import last_runs
from sugar_bridge.config import load_config
from sugar_bridge.provision.apply import apply
from sugar_bridge.provision.exceptions import ApplyFailed, PasswordError, PlanBlocked
from sugar_bridge.provision.export import export
from sugar_bridge.provision.plan import plan
from sugar_bridge.provision.spec import SugarSpec
from sugar_bridge.sandbox import SUITECRM_7_15, Faults, Sandbox
from tests.conftest import REPO

SMALL: dict[str, Any] = {
    "custom_fields": {
        "Accounts": [
            {"name": "external_id_c", "type": "varchar", "len": 64, "label": "External ID"},
            {
                "name": "segment_c",
                "type": "enum",
                "label": "Segment",
                "options": {"champions": "Champions", "at_risk": "At risk", "lost": "Lost"},
            },
            {"name": "clv_12m_c", "type": "currency", "label": "CLV 12 months", "precision": 2},
            {"name": "p_alive_c", "type": "decimal", "label": "P(alive)", "precision": 4},
            {"name": "n_orders_c", "type": "int", "label": "Orders"},
            {"name": "last_order_at_c", "type": "date", "label": "Last order"},
            {"name": "segment_updated_c", "type": "datetime", "label": "Segment updated"},
        ]
    },
    "roles": [
        {
            "name": "Sales Rep",
            "description": "Reps: own accounts",
            "rights": {
                "Accounts": {
                    "access": "enabled",
                    "view": "all",
                    "list": "all",
                    "edit": "owner",
                    "delete": "none",
                }
            },
        },
        {
            "name": "Reviewer",
            "rights": {
                "Accounts": {
                    "access": "enabled",
                    "view": "all",
                    "list": "all",
                    "edit": "none",
                    "delete": "none",
                }
            },
        },
    ],
    "security_groups": [
        {
            "name": "Sales Team",
            "description": "Sales",
            "members": ["rep1", "rep2"],
            "roles": ["Sales Rep"],
        },
    ],
    "users": [
        {
            "user_name": "rep1",
            "first_name": "Rep",
            "last_name": "One",
            "email": "rep1@example.com",
            "title": "Account Executive",
            "roles": ["Sales Rep"],
            "password": {"env": "REP1_PW"},
        },
        {"user_name": "rep2", "last_name": "Two", "roles": ["Sales Rep"], "password": "generate"},
        {
            "user_name": "prof",
            "first_name": "Paul",
            "last_name": "Mercier",
            "roles": ["Reviewer"],
            "password": "generate",
        },
    ],
    "accounts": [
        {
            "external_id": "KA-1",
            "name": "O'Brien & Sons",
            "type": "Customer",
            "industry": "Transportation",
            "billing_address": {"city": "Lyon", "country": "France"},
            "assigned_user": "rep1",
            "custom": {
                "segment_c": "at_risk",
                "clv_12m_c": 1234.5,
                "p_alive_c": 0.8125,
                "n_orders_c": 7,
                "last_order_at_c": "2026-10-01",
                "segment_updated_c": "2026-11-24 02:00:00",
            },
        },
        {"external_id": "KA-2", "name": 'Medianet "Conference" Systems', "assigned_user": "admin"},
    ],
}
REP1_PW = "Rep1-Secret-Pw!42"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as box:
        yield box


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[SugarClient]:
    with SugarClient(sandbox.base_url, "admin", sandbox.admin_password, max_retries=0) as c:
        yield c


@pytest.fixture(autouse=True)
def _rep1_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REP1_PW", REP1_PW)


def _spec(data: dict[str, Any] | None = None) -> SugarSpec:
    return SugarSpec.model_validate(data or SMALL)


def _login(sandbox: Sandbox, user: str, password: str) -> None:
    with SugarClient(sandbox.base_url, user, password, max_retries=0) as c:
        assert c.user_id


def test_fresh_apply_then_second_apply_sends_no_write(
    sandbox: Sandbox, client: SugarClient, tmp_path: Path
) -> None:
    spec = _spec()
    first = apply(client, spec, passwords_file=tmp_path / "pw.tsv")
    summary = first.summary()
    assert summary["custom_field"] == {"create": 7}
    assert summary["role"] == {"create": 2}
    assert summary["user"] == {"create": 3}
    assert summary["account"] == {"create": 2}
    assert summary["membership"] == {"add": 6}

    # Everything is there, decoded as written (quotes and ampersands come back HTML-escaped).
    accounts = client.module("Accounts")
    (ka1,) = accounts.list(
        query=q.eq("accounts_cstm.external_id_c", "KA-1"),
        fields=["name", "segment_c", "clv_12m_c", "assigned_user_id"],
    )
    assert ka1["segment_c"] == "at_risk"
    assert ka1["name"] == "O'Brien & Sons"

    writes_before = client.stats.writes
    server_writes = sandbox.stats.total_writes
    second_plan = plan(client, spec)
    assert not second_plan.has_changes, [(i.kind, i.key, i.changes) for i in second_plan.changes]
    second = apply(client, spec, passwords_file=tmp_path / "pw2.tsv")
    assert second.applied == []
    assert client.stats.writes == writes_before
    assert sandbox.stats.total_writes == server_writes
    assert not (tmp_path / "pw2.tsv").exists()


def test_example_config_applies_and_is_idempotent(client: SugarClient, tmp_path: Path) -> None:
    spec = load_config(REPO / "config" / "sugar-bridge.yaml").sugar
    result = apply(client, spec, passwords_file=tmp_path / "pw.tsv")
    assert result.passwords_written == len(spec.users)
    writes = client.stats.writes
    again = plan(client, spec)
    assert not again.has_changes, [(i.kind, i.key, i.changes) for i in again.changes]
    assert client.stats.writes == writes


def test_created_users_can_log_in_and_passwords_file_is_private(
    sandbox: Sandbox, client: SugarClient, tmp_path: Path
) -> None:
    target = tmp_path / "secrets" / "pw.tsv"
    result = apply(client, _spec(), passwords_file=target)
    assert result.password_file == target
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    lines = [ln.split("\t") for ln in target.read_text().splitlines() if not ln.startswith("#")]
    generated = dict(lines)
    assert set(generated) == {"rep2", "prof"}  # rep1's comes from the environment
    _login(sandbox, "rep1", REP1_PW)
    for user, password in generated.items():
        _login(sandbox, user, password)
    with pytest.raises(InvalidLogin):
        _login(sandbox, "rep2", "wrong-password")


def test_drift_after_a_manual_change_shows_in_plan(client: SugarClient, tmp_path: Path) -> None:
    spec = _spec()
    apply(client, spec, passwords_file=tmp_path / "pw.tsv")
    users = client.module("Users")
    (rep1,) = users.list(query=q.eq("users.user_name", "rep1"), fields=["id"])
    users.update(rep1["id"], {"title": "Intern"})
    (ka1,) = client.module("Accounts").list(
        query=q.eq("accounts_cstm.external_id_c", "KA-1"), fields=["id"]
    )
    client.module("Accounts").update(ka1["id"], {"segment_c": "lost", "clv_12m_c": 1})
    drift = plan(client, spec)
    changes = {(i.kind, i.key, c.name): (c.old, c.new) for i in drift.changes for c in i.changes}
    assert changes == {
        ("user", "rep1", "title"): ("Intern", "Account Executive"),
        ("account", "KA-1", "segment_c"): ("lost", "at_risk"),
        ("account", "KA-1", "clv_12m_c"): ("1", "1234.5"),
    }
    apply(client, spec, passwords_file=tmp_path / "pw2.tsv")
    assert not plan(client, spec).has_changes


def test_email_change_is_reported_once_not_forever(client: SugarClient, tmp_path: Path) -> None:
    spec = _spec()
    apply(client, spec, passwords_file=tmp_path / "pw.tsv")
    data = yaml.safe_load(yaml.safe_dump(SMALL))
    data["users"][0]["email"] = "rep1.new@example.com"
    changed = _spec(data)
    the_plan = plan(client, changed)
    assert not the_plan.has_changes
    assert any("cannot update via API" in i.note for i in the_plan.notes)


def test_prune_deactivates_but_never_deletes(client: SugarClient, tmp_path: Path) -> None:
    spec = _spec()
    apply(client, spec, passwords_file=tmp_path / "pw.tsv")
    users = client.module("Users")
    extra = users.create({"user_name": "leaver", "last_name": "Leaver", "status": "Active"})
    quiet = plan(client, spec)
    assert not quiet.has_changes
    assert [(i.key, i.action) for i in quiet.items if "prune" in i.action] == [
        ("leaver", "would-prune")
    ]
    result = apply(client, spec, prune=True, passwords_file=tmp_path / "pw2.tsv")
    assert [(i.kind, i.key, i.action) for i in result.applied] == [("user", "leaver", "prune")]
    record = users.get(extra, fields=["status", "user_name"])
    assert record is not None
    assert record["status"] == "Inactive"
    admin = users.list(query=q.eq("users.user_name", "admin"), fields=["status"])
    assert admin[0]["status"] == "Active"
    assert not plan(client, spec, prune=True).has_changes


def test_membership_removal(client: SugarClient, tmp_path: Path) -> None:
    apply(client, _spec(), passwords_file=tmp_path / "pw.tsv")
    data = yaml.safe_load(yaml.safe_dump(SMALL))
    data["security_groups"][0]["members"] = ["rep1"]
    data["users"][1]["roles"] = []
    smaller = _spec(data)
    the_plan = plan(client, smaller)
    removed = sorted(i.key for i in the_plan.changes)
    assert removed == ["group Sales Team ← user rep2", "role Sales Rep ← user rep2"]
    assert {i.action for i in the_plan.changes} == {"remove"}
    apply(client, smaller, passwords_file=tmp_path / "pw2.tsv")
    groups = client.module("SecurityGroups")
    (team,) = groups.list(query=q.eq("securitygroups.name", "Sales Team"), fields=["id"])
    members = {r["user_name"] for r in groups.related(team["id"], "users", fields=["user_name"])}
    assert members == {"rep1"}
    assert not plan(client, smaller).has_changes


def test_unusable_password_source_applies_nothing(
    sandbox: Sandbox, client: SugarClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REP1_PW")
    before = client.stats.writes
    with pytest.raises(PasswordError, match="REP1_PW is not set"):
        apply(client, _spec(), passwords_file=tmp_path / "pw.tsv")
    assert client.stats.writes == before
    assert plan(client, _spec()).by_kind("custom_field")[0].action == "create"


def test_export_then_plan_shows_no_change(client: SugarClient, tmp_path: Path) -> None:
    apply(client, _spec(), passwords_file=tmp_path / "pw.tsv")
    exported = export(client)
    spec = SugarSpec.model_validate(yaml.safe_load(exported.to_yaml())["sugar"])
    assert {u.user_name for u in spec.users} == {"rep1", "rep2", "prof"}
    assert {a.external_id for a in spec.accounts} == {"KA-1", "KA-2"}
    again = plan(client, spec)
    assert not again.has_changes, [(i.kind, i.key, i.changes) for i in again.changes]


def _cli_env(monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox, tmp_path: Path) -> Path:
    config = tmp_path / "sugar-bridge.yaml"
    config.write_text(yaml.safe_dump({"sugar": SMALL}, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("SUGAR_BRIDGE_CONFIG", str(config))
    monkeypatch.setenv("SUGAR_BRIDGE_SUGAR_URL", sandbox.base_url)
    monkeypatch.setenv("SUGAR_BRIDGE_SUGAR_PASSWORD", sandbox.admin_password)
    monkeypatch.setenv("SUGAR_BRIDGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SUGAR_BRIDGE_LOG_LEVEL", "DEBUG")
    return config


def test_cli_plan_apply_and_no_secret_in_output_or_logs(
    sandbox: Sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from sugar_bridge.cli.app import app

    _cli_env(monkeypatch, sandbox, tmp_path)
    runner = CliRunner()
    caplog.set_level(logging.DEBUG)
    planned = runner.invoke(app, ["provision", "plan", "--detailed-exitcode"])
    assert planned.exit_code == 2, planned.output
    applied = runner.invoke(app, ["provision", "apply", "--yes"])
    assert applied.exit_code == 0, applied.output
    assert "Apply complete" in applied.output
    files = list((tmp_path / "data").glob("provision-passwords-*.tsv"))
    assert len(files) == 1
    assert str(files[0].name) in applied.output.replace("\n", "")
    in_sync = runner.invoke(app, ["provision", "plan", "--detailed-exitcode"])
    assert in_sync.exit_code == 0, in_sync.output
    runs = last_runs(create_engine_for(f"sqlite:///{tmp_path / 'data' / 'warehouse.db'}"))
    assert [(r.job, r.status, r.rows_loaded) for r in runs] == [("provision", "ok", 23)]
    again = runner.invoke(app, ["provision", "apply", "--yes"])
    assert again.exit_code == 0
    assert "No changes" in again.output

    generated = [
        ln.split("\t")[1] for ln in files[0].read_text().splitlines() if not ln.startswith("#")
    ]
    secrets = [REP1_PW, hashlib.md5(REP1_PW.encode()).hexdigest(), sandbox.admin_password]
    for password in generated:
        secrets += [password, hashlib.md5(password.encode()).hexdigest()]
    captured = capsys.readouterr()
    everything = "\n".join(
        [planned.output, applied.output, in_sync.output, again.output, captured.out, captured.err]
        + [r.getMessage() for r in caplog.records]
        + [str(r.args) for r in caplog.records]
    )
    # The DEBUG logs of the client and of apply were captured (else this test proves nothing).
    assert "create user rep2" in everything
    assert "set_entry" in everything
    assert "$2b$" not in everything
    assert "$2y$" not in everything
    for secret in secrets:
        assert secret not in everything


def test_cli_plan_json_and_whole_field_names_in_a_pipe(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sugar_bridge.cli.app import app

    _cli_env(monkeypatch, sandbox, tmp_path)
    monkeypatch.setenv("SUGAR_BRIDGE_LOG_LEVEL", "INFO")
    monkeypatch.setenv("COLUMNS", "60")  # a narrow terminal beside the pipe: ignored there
    runner = CliRunner()
    planned = runner.invoke(app, ["provision", "plan", "--json"])
    assert planned.exit_code == 0, planned.output
    document = json.loads(planned.stdout)
    assert list(document) == ["has_changes", "prune", "counts", "blockers", "items"]
    assert document["has_changes"] is True
    assert document["blockers"] == []
    fields = {i["key"]: i for i in document["items"] if i["kind"] == "custom_field"}
    assert fields["Accounts.segment_updated_c"]["action"] == "create"
    assert all(set(i) >= {"kind", "key", "action", "changes", "note"} for i in document["items"])
    assert sandbox.admin_password not in planned.output

    table = runner.invoke(app, ["provision", "plan"])
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    for name in ("Accounts.segment_updated_c", "Accounts.last_order_at_c", "Sales Rep"):
        assert any(name in line for line in lines), name  # on one line, not broken mid-word


def test_cli_bad_spec_applies_nothing(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sugar_bridge.cli.app import app

    config = _cli_env(monkeypatch, sandbox, tmp_path)
    broken = dict(SMALL, users=[dict(SMALL["users"][0], roles=["Sales Rep", "Ghost"])])
    config.write_text(yaml.safe_dump({"sugar": broken}), encoding="utf-8")
    before = sandbox.stats.total_writes
    result = CliRunner().invoke(app, ["provision", "apply", "--yes"])
    assert result.exit_code == 2, result.output
    assert "sugar.users[0].roles[1]" in result.output
    assert sandbox.stats.total_writes == before


def test_apply_stops_at_first_terminal_error_then_converges(
    sandbox: Sandbox, client: SugarClient, tmp_path: Path
) -> None:
    spec = _spec()
    # Every set_relationship fails (HTTP 500, no retry): apply stops at the first membership.
    sandbox.set_faults(
        Faults(rate=1.0, kinds=("http500",), methods=frozenset({"set_relationship"}))
    )
    with pytest.raises(ApplyFailed) as caught:
        apply(client, spec, passwords_file=tmp_path / "pw.tsv")
    failed = caught.value
    assert failed.item.kind == "membership"
    assert "apply stopped at membership" in str(failed)
    assert failed.password_file == tmp_path / "pw.tsv"  # generated passwords are not lost
    assert str(tmp_path / "pw.tsv") in str(failed)
    assert plan(client, spec).by_kind("account")[0].action == "create"  # nothing after it

    sandbox.set_faults(None)
    result = apply(client, spec, passwords_file=tmp_path / "pw2.tsv")
    assert {i.kind for i in result.applied} == {"membership", "account"}
    assert not plan(client, spec).has_changes
    users = client.module("Users").list(query=q.like_prefix("users.user_name", "rep"))
    assert sorted(u["user_name"] for u in users) == ["rep1", "rep2"]  # no duplicate


def test_missing_extension_refuses_before_any_write(
    client: SugarClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_extension(method: str, **params: Any) -> Any:
        raise ExtensionMissing("not installed", method=method)

    monkeypatch.setattr(client, "call_extension", no_extension)
    before = client.stats.writes
    the_plan = plan(client, _spec())
    assert any("extension is not installed" in b for b in the_plan.blockers)
    with pytest.raises(PlanBlocked, match="nothing was applied"):
        apply(client, _spec(), passwords_file=tmp_path / "pw.tsv")
    assert client.stats.writes == before


def test_user_name_taken_since_the_plan_is_not_sent_to_sugar(
    client: SugarClient, tmp_path: Path
) -> None:
    stale = plan(client, _spec())
    client.module("Users").create({"user_name": "rep1", "last_name": "Someone"})
    with pytest.raises(ApplyFailed, match=r"rep1.*appeared in Sugar since the plan"):
        apply(client, _spec(), passwords_file=tmp_path / "pw.tsv", current=stale)
    users = client.module("Users").list(query=q.eq("users.user_name", "rep1"), fields=["id"])
    assert len(users) == 1


def test_cli_export_then_plan_is_in_sync(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sugar_bridge.cli.app import app

    _cli_env(monkeypatch, sandbox, tmp_path)
    runner = CliRunner()
    assert runner.invoke(app, ["provision", "apply", "--yes"]).exit_code == 0
    exported = tmp_path / "exported.yaml"
    result = runner.invoke(app, ["provision", "export", "--out", str(exported)])
    assert result.exit_code == 0, result.output
    assert "sugar:" in exported.read_text(encoding="utf-8")
    monkeypatch.setenv("SUGAR_BRIDGE_CONFIG", str(exported))
    in_sync = runner.invoke(app, ["provision", "plan", "--detailed-exitcode"])
    assert in_sync.exit_code == 0, in_sync.output


def test_sugar_without_security_groups_is_refused_clearly(
    client: SugarClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = client.call_extension

    def plain_sugarcrm_ce(method: str, **params: Any) -> Any:
        answer = real(method, **params)
        if method == "bridge_info":
            answer = dict(answer, security_groups=False, suitecrm_version=None)
        return answer

    monkeypatch.setattr(client, "call_extension", plain_sugarcrm_ce)
    before = client.stats.writes
    the_plan = plan(client, _spec())
    (blocker,) = the_plan.blockers
    assert "no SecurityGroups module" in blocker
    assert "1 security group(s)" in blocker
    assert {i.action for i in the_plan.by_kind("security_group")} == {"blocked"}
    with pytest.raises(PlanBlocked):
        apply(client, _spec(), passwords_file=tmp_path / "pw.tsv")
    assert client.stats.writes == before
    # Without security groups in the spec, the same Sugar is provisioned fine.
    data = yaml.safe_load(yaml.safe_dump(SMALL))
    data.pop("security_groups")
    apply(client, _spec(data), passwords_file=tmp_path / "pw.tsv")
    assert not plan(client, _spec(data)).has_changes


def test_plan_reads_survive_null_answers(sandbox: Sandbox, tmp_path: Path) -> None:
    # A well-formed read answered null is a server hiccup: the client retries it (bounded).
    spec = _spec()
    with SugarClient(
        sandbox.base_url, "admin", sandbox.admin_password, max_retries=2, sleep=lambda _: None
    ) as reader:
        clean = plan(reader, spec)
        sandbox.set_faults(Faults(at_calls={1: "null", 3: "null", 4: "null"}))
        retries_before = reader.stats.retries
        flaky = plan(reader, spec)
        assert reader.stats.retries - retries_before == 3
        assert reader.stats.errors == {}
    assert [(i.kind, i.key, i.action) for i in flaky.changes] == [
        (i.kind, i.key, i.action) for i in clean.changes
    ]
    assert clean.has_changes


# --- SuiteCRM 7.15: sessions need employee_status 'Active' ----------------------------------------


def _session_works(sandbox: Sandbox, user: str, password: str) -> str:
    """Log in as ``user`` and call get_user_id with its own session (not the login answer)."""
    with SugarClient(sandbox.base_url, user, password, max_retries=0) as c:
        return str(c.call("get_user_id"))


def _users(client: SugarClient) -> dict[str, dict[str, Any]]:
    fields = ["id", "user_name", "status", "employee_status"]
    return {u["user_name"]: u for u in client.module("Users").list(fields=fields)}


def test_cli_provisioned_users_can_use_their_session_on_suitecrm_7_15(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sugar_bridge.cli.app import app

    assert sandbox.flavor is SUITECRM_7_15  # the default: as strict as the supported SuiteCRM
    _cli_env(monkeypatch, sandbox, tmp_path)
    applied = CliRunner().invoke(app, ["provision", "apply", "--yes"])
    assert applied.exit_code == 0, applied.output
    (passwords,) = (tmp_path / "data").glob("provision-passwords-*.tsv")
    generated = dict(
        ln.split("\t") for ln in passwords.read_text().splitlines() if not ln.startswith("#")
    )
    credentials = {"rep1": REP1_PW, **generated}
    assert set(credentials) == {"rep1", "rep2", "prof"}
    ids = {name: record["id"] for name, record in sandbox_users(sandbox).items()}
    for user, password in credentials.items():
        assert _session_works(sandbox, user, password) == ids[user]


def sandbox_users(sandbox: Sandbox) -> dict[str, dict[str, Any]]:
    rows = sandbox.store.rows("SELECT id, user_name, status, employee_status FROM users")
    return {str(r["user_name"]): r for r in rows}


def test_users_are_created_as_active_employees(client: SugarClient, tmp_path: Path) -> None:
    apply(client, _spec(), passwords_file=tmp_path / "pw.tsv")
    users = _users(client)
    assert {n: users[n]["employee_status"] for n in ("rep1", "rep2", "prof")} == {
        "rep1": "Active",
        "rep2": "Active",
        "prof": "Active",
    }


def test_plan_repairs_users_without_employee_status(
    sandbox: Sandbox, client: SugarClient, tmp_path: Path
) -> None:
    # What an older bridge (or any set_entry on Users) left: users locked out on 7.15.
    apply(client, _spec(), passwords_file=tmp_path / "pw.tsv")
    sandbox.store.execute("UPDATE users SET employee_status = NULL WHERE user_name <> 'admin'")
    with pytest.raises(SugarError):
        _session_works(sandbox, "rep1", REP1_PW)
    repair = plan(client, _spec())
    changes = {(i.key, c.name): (c.old, c.new) for i in repair.changes for c in i.changes}
    assert changes == {
        ("rep1", "employee_status"): ("", "Active"),
        ("rep2", "employee_status"): ("", "Active"),
        ("prof", "employee_status"): ("", "Active"),
    }
    apply(client, _spec(), passwords_file=tmp_path / "pw2.tsv", current=repair)
    assert _session_works(sandbox, "rep1", REP1_PW) == _users(client)["rep1"]["id"]
    assert not plan(client, _spec()).has_changes


def test_cli_plan_shows_the_employee_status_repair(
    sandbox: Sandbox, client: SugarClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sugar_bridge.cli.app import app

    apply(client, _spec(), passwords_file=tmp_path / "pw.tsv")
    sandbox.store.execute("UPDATE users SET employee_status = NULL WHERE user_name = 'rep2'")
    _cli_env(monkeypatch, sandbox, tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    planned = CliRunner().invoke(app, ["provision", "plan", "--detailed-exitcode"])
    assert planned.exit_code == 2, planned.output
    assert "employee_status: ∅ → Active" in planned.output


def _with_status(status: str, user_name: str = "prof") -> SugarSpec:
    data = yaml.safe_load(yaml.safe_dump(SMALL))
    for user in data["users"]:
        if user["user_name"] == user_name:
            user["status"] = status
    return _spec(data)


def test_deactivated_user_becomes_terminated_and_leave_of_absence_is_left_alone(
    sandbox: Sandbox, client: SugarClient, tmp_path: Path
) -> None:
    apply(client, _spec(), passwords_file=tmp_path / "pw.tsv")
    inactive = _with_status("Inactive")
    the_plan = plan(client, inactive)
    (item,) = the_plan.changes
    assert [(c.name, c.old, c.new) for c in item.changes] == [
        ("status", "Active", "Inactive"),
        ("employee_status", "Active", "Terminated"),
    ]
    apply(client, inactive, passwords_file=tmp_path / "pw2.tsv")
    prof = _users(client)["prof"]
    assert (prof["status"], prof["employee_status"]) == ("Inactive", "Terminated")
    assert not plan(client, inactive).has_changes

    # HR put them on leave: that is theirs to say, and no plan flaps over it.
    client.module("Users").update(prof["id"], {"employee_status": "Leave of Absence"})
    assert not plan(client, inactive).has_changes
    exported = export(client)
    respec = SugarSpec.model_validate(yaml.safe_load(exported.to_yaml())["sugar"])
    assert {u.user_name: u.status for u in respec.users}["prof"] == "Inactive"
    assert not plan(client, respec).has_changes

    # Back to Active: both fields again.
    reactivated = plan(client, _spec())
    (item,) = reactivated.changes
    assert [(c.name, c.old, c.new) for c in item.changes] == [
        ("status", "Inactive", "Active"),
        ("employee_status", "Leave of Absence", "Active"),
    ]


def test_prune_terminates_the_employee_too(client: SugarClient, tmp_path: Path) -> None:
    apply(client, _spec(), passwords_file=tmp_path / "pw.tsv")
    users = client.module("Users")
    leaver = users.create(
        {"user_name": "leaver", "last_name": "L", "status": "Active", "employee_status": "Active"}
    )
    on_leave = users.create(
        {"user_name": "away", "last_name": "A", "employee_status": "Leave of Absence"}
    )
    result = apply(client, _spec(), prune=True, passwords_file=tmp_path / "pw2.tsv")
    assert sorted((i.key, i.values["status"]) for i in result.applied) == [
        ("away", "Inactive"),
        ("leaver", "Inactive"),
    ]
    after = _users(client)
    assert (after["leaver"]["status"], after["leaver"]["employee_status"]) == (
        "Inactive",
        "Terminated",
    )
    assert (after["away"]["status"], after["away"]["employee_status"]) == (
        "Inactive",
        "Leave of Absence",
    )
    assert users.get(leaver) is not None
    assert users.get(on_leave) is not None
    assert not plan(client, _spec(), prune=True).has_changes


def test_export_round_trip_keeps_employee_status_quiet(client: SugarClient, tmp_path: Path) -> None:
    apply(client, _with_status("Inactive"), passwords_file=tmp_path / "pw.tsv")
    exported = export(client)
    spec = SugarSpec.model_validate(yaml.safe_load(exported.to_yaml())["sugar"])
    assert {u.user_name: u.status for u in spec.users} == {
        "rep1": "Active",
        "rep2": "Active",
        "prof": "Inactive",
    }
    again = plan(client, spec)
    assert not again.has_changes, [(i.kind, i.key, i.changes) for i in again.changes]


# --- blockers: type changes, non-admin API user, exit codes ---------------------------------------


def _retyped() -> SugarSpec:
    data = yaml.safe_load(yaml.safe_dump(SMALL))
    for spec_field in data["custom_fields"]["Accounts"]:
        if spec_field["name"] == "n_orders_c":
            spec_field["type"] = "decimal"
    return _spec(data)


def test_custom_field_type_change_is_a_blocker_and_apply_applies_nothing(
    sandbox: Sandbox, client: SugarClient, tmp_path: Path
) -> None:
    apply(client, _spec(), passwords_file=tmp_path / "pw.tsv")
    # Drift that apply would fix if the plan were not blocked.
    client.module("Users").update(_users(client)["rep1"]["id"], {"title": "Intern"})
    retyped = _retyped()
    the_plan = plan(client, retyped)
    (blocker,) = the_plan.blockers
    assert "Accounts.n_orders_c is of type int in Sugar and the spec says decimal" in blocker
    assert "new field name" in blocker
    assert "Studio" in blocker
    assert [i.key for i in the_plan.items if i.action == "blocked"] == ["Accounts.n_orders_c"]
    before = sandbox.stats.total_writes
    with pytest.raises(PlanBlocked, match="n_orders_c"):
        apply(client, retyped, passwords_file=tmp_path / "pw2.tsv")
    assert sandbox.stats.total_writes == before
    assert sandbox.store.rows("SELECT type FROM fields_meta_data WHERE name = 'n_orders_c'") == [
        {"type": "int"}
    ]
    # The spec as it was still applies (and fixes the drift).
    apply(client, _spec(), passwords_file=tmp_path / "pw3.tsv")
    assert not plan(client, _spec()).has_changes


def test_cli_plan_exits_1_when_blocked_with_or_without_detailed_exitcode(
    sandbox: Sandbox, client: SugarClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sugar_bridge.cli.app import app

    apply(client, _spec(), passwords_file=tmp_path / "pw.tsv")
    config = _cli_env(monkeypatch, sandbox, tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    data = yaml.safe_load(yaml.safe_dump(SMALL))
    for spec_field in data["custom_fields"]["Accounts"]:
        if spec_field["name"] == "n_orders_c":
            spec_field["type"] = "decimal"
    config.write_text(yaml.safe_dump({"sugar": data}), encoding="utf-8")
    runner = CliRunner()
    for args in (["provision", "plan"], ["provision", "plan", "--detailed-exitcode"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 1, (args, result.output)
        assert "n_orders_c is of type int" in result.output
        assert "Blocked:" in result.output
        assert "No changes" not in result.output
    before = sandbox.stats.total_writes
    applied = runner.invoke(app, ["provision", "apply", "--yes"])
    assert applied.exit_code == 1, applied.output
    assert "nothing was applied" in applied.output
    assert sandbox.stats.total_writes == before


def test_non_admin_api_user_is_told_it_is_not_an_admin(
    sandbox: Sandbox, client: SugarClient, tmp_path: Path
) -> None:
    client.module("Users").create(
        {
            "user_name": "clerk",
            "last_name": "Clerk",
            "employee_status": "Active",
            "user_hash": hashlib.md5(b"clerk-pw").hexdigest(),
        }
    )
    with SugarClient(sandbox.base_url, "clerk", "clerk-pw", max_retries=0) as clerk:
        with pytest.raises(AccessDenied):
            clerk.call_extension("bridge_info")  # what the extension answers a non-admin
        the_plan = plan(clerk, _spec())
        before = sandbox.stats.total_writes
        with pytest.raises(PlanBlocked):
            apply(clerk, _spec(), passwords_file=tmp_path / "pw.tsv", current=the_plan)
        assert sandbox.stats.total_writes == before
    (blocker,) = [b for b in the_plan.blockers if "administrator" in b]
    assert blocker.startswith(
        "the API user clerk is not a Sugar administrator: provisioning needs an admin (Users "
        "need admin rights to create users and the extension refuses non-admins)"
    )
    assert not any("not installed" in b for b in the_plan.blockers)
    assert {i.note for i in the_plan.by_kind("role_rights")} == {
        "needs an admin session (the extension answers admins only)"
    }


# --- export keeps the precision of decimal and currency fields ----------------------------------


def _exported_fields(client: SugarClient) -> dict[str, dict[str, Any]]:
    exported = export(client)
    return {f["name"]: f for f in exported.section["custom_fields"]["Accounts"]}


def test_export_keeps_the_precision_of_decimal_and_currency_fields(
    client: SugarClient, tmp_path: Path
) -> None:
    apply(client, _spec(), passwords_file=tmp_path / "pw.tsv")
    fields = _exported_fields(client)
    assert fields["p_alive_c"]["precision"] == 4  # as declared
    # Currency columns always have Sugar's own 6 decimals (TemplateCurrency), whatever was asked.
    assert fields["clv_12m_c"]["precision"] == 6
    assert "precision" not in fields["n_orders_c"]
    # Applying the export to an empty Sugar recreates the decimal with its precision.
    exported = SugarSpec.model_validate(yaml.safe_load(export(client).to_yaml())["sugar"])
    assert not plan(client, exported).has_changes
    with (
        Sandbox() as other,
        SugarClient(other.base_url, "admin", other.admin_password, max_retries=0) as fresh,
    ):
        adopted = exported.model_copy(update={"users": [], "security_groups": [], "accounts": []})
        apply(fresh, adopted, passwords_file=tmp_path / "pw2.tsv")
        assert _exported_fields(fresh)["p_alive_c"]["precision"] == 4


def test_export_without_the_reader_method_says_precision_was_skipped(
    client: SugarClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    apply(client, _spec(), passwords_file=tmp_path / "pw.tsv")
    real = client.call_extension

    def extension_1_0(method: str, **params: Any) -> Any:
        if method == "bridge_get_custom_fields":  # unknown to extension 1.0.0
            raise ExtensionMissing("does not know this method", method=method)
        return real(method, **params)

    monkeypatch.setattr(client, "call_extension", extension_1_0)
    exported = export(client)
    fields = {f["name"]: f for f in exported.section["custom_fields"]["Accounts"]}
    assert "precision" not in fields["p_alive_c"]
    (note,) = [s for s in exported.skipped if "precision" in s]
    assert "precision of Accounts decimal fields" in note
    assert "no bridge_get_custom_fields, added in 1.2.0" in note


def test_export_round_trip_of_users_deactivated_by_something_else(
    client: SugarClient, tmp_path: Path
) -> None:
    # Deactivated before the bridge managed employee_status (or in Sugar's screens): Inactive,
    # with employee_status still 'Active' or none. Export then plan must show no change.
    apply(client, _spec(), passwords_file=tmp_path / "pw.tsv")
    users = client.module("Users")
    users.create(
        {"user_name": "old1", "last_name": "Old", "status": "Inactive", "employee_status": "Active"}
    )
    users.create({"user_name": "old2", "last_name": "Older", "status": "Inactive"})
    exported = export(client)
    by_name = {u["user_name"]: u for u in exported.section["users"]}
    assert by_name["old1"]["employee_status"] == "Active"
    assert by_name["old2"]["employee_status"] == ""
    assert "employee_status" not in by_name["rep1"]  # Active users: never written
    spec = SugarSpec.model_validate(yaml.safe_load(exported.to_yaml())["sugar"])
    again = plan(client, spec)
    assert not again.has_changes, [(i.kind, i.key, i.changes) for i in again.changes]
