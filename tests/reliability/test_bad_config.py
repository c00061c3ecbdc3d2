"""Reliability: malformed configs through ``sugar-bridge sync`` — each ends in a clear message
(file, line where known, the path in the config) and exit code 2, with nothing done: Sugar is not
contacted and no run is recorded in the warehouse.

The other bad-input suites are not repeated here: the ETL's malformed-input corpus (36 kinds of
bad order rows and files, each rejected with its rule while its neighbours load) is
tests/connectors/orders/test_corpus.py, and the provisioning spec's 37 malformed ``sugar:``
sections through ``provision apply`` are in tests/sugar_bridge/provision/test_spec.py. This file
covers every *other* section of the config, and the settings, on the sync's exit-code path.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sugar_bridge.cli.app import app
from sugar_bridge.config import load_config
from sugar_bridge.sandbox import Sandbox

BASE = """\
sugar:
  roles:
    - name: Sales Rep
      rights:
        Accounts: {view: all, edit: owner}
  users:
    - user_name: rep1
      last_name: One
      roles: [Sales Rep]
      password: generate
sources:
  inputs:
    - name: shop
      type: csv
      path: data/orders
analytics:
  lifecycle:
    new_days: 90
  clv:
    time_unit: weeks
push:
  sessions: 2
  batch_size: 50
  match:
    order: [external_id, email, name]
    unmatched: create
  target_lists:
    name_pattern: "Segment: {segment}"
  followups:
    - name: declining
      column: lifecycle_stage
      enters: [declining]
      subject: "Relancer {{ account_name }}"
schedule:
  sync_cron: "0 2 * * *"
  timezone: Europe/Paris
"""

NO_SOURCES = BASE.replace(BASE[BASE.index("sources:") : BASE.index("analytics:")], "")

# (name, (old, new) edit of BASE or a whole text, text the message must contain)
CASES: list[tuple[str, tuple[str, str] | str, str]] = [
    ("yaml-syntax", ("  sessions: 2\n", "  sessions: [2\n"), ""),
    ("yaml-tab-indent", ("  batch_size: 50\n", "\tbatch_size: 50\n"), ""),
    ("top-level-list", "- sugar\n- sources\n", ""),
    ("unknown-section", ("schedule:\n", "shedule:\n"), "shedule"),
    (
        "sources-unknown-key",
        ("      path: data/orders\n", "      path: data/orders\n      pth: x\n"),
        "sources.inputs[0]",
    ),
    ("sources-unknown-type", ("      type: csv\n", "      type: excel\n"), "sources.inputs[0]"),
    ("sources-missing-path", ("      path: data/orders\n", ""), "sources.inputs[0]"),
    (
        "sources-duplicate-name",
        (
            "      path: data/orders\n",
            "      path: data/orders\n    - name: shop\n      type: csv\n      path: data/more\n",
        ),
        "sources",
    ),
    (
        "sources-inputs-not-a-list",
        (
            "  inputs:\n    - name: shop\n      type: csv\n      path: data/orders\n",
            "  inputs: shop\n",
        ),
        "sources.inputs",
    ),
    (
        "analytics-negative-days",
        ("    new_days: 90\n", "    new_days: -5\n"),
        "analytics.lifecycle.new_days",
    ),
    (
        "analytics-days-not-a-number",
        ("    new_days: 90\n", "    new_days: ninety\n"),
        "analytics.lifecycle.new_days",
    ),
    (
        "analytics-time-unit",
        ("    time_unit: weeks\n", "    time_unit: months\n"),
        "analytics.clv.time_unit",
    ),
    ("analytics-unknown-key", ("  clv:\n", "  clvv:\n"), "analytics"),
    ("push-sessions-zero", ("  sessions: 2\n", "  sessions: 0\n"), "push.sessions"),
    ("push-batch-too-big", ("  batch_size: 50\n", "  batch_size: 100000\n"), "push.batch_size"),
    (
        "push-unknown-match-method",
        ("order: [external_id, email, name]", "order: [external_id, phone]"),
        "push.match.order",
    ),
    (
        "push-unmatched-policy",
        ("    unmatched: create\n", "    unmatched: guess\n"),
        "push.match.unmatched",
    ),
    (
        "push-followup-unknown-column",
        ("      column: lifecycle_stage\n", "      column: mood\n"),
        "push",
    ),
    (
        "push-followup-bad-template",
        (
            '      subject: "Relancer {{ account_name }}"\n',
            '      subject: "Relancer {{ account_name "\n',
        ),
        "push.followups[0]",
    ),
    (
        "push-followup-no-enters",
        ("      enters: [declining]\n", ""),
        "a rule needs enters, is, when or key_account",
    ),
    (
        "push-followup-enters-and-is",
        ("      enters: [declining]\n", "      enters: [declining]\n      is: [lost]\n"),
        "push.followups[0]",
    ),
    (
        "push-owner-unknown-user",
        ("  sessions: 2\n", "  sessions: 2\n  owners: {default: rep2}\n"),
        "push.owners.default: unknown user 'rep2'",
    ),
    (
        "push-owner-unknown-role",
        ("  sessions: 2\n", "  sessions: 2\n  owners: {rules: [{round_robin: {role: Sales}}]}\n"),
        "push.owners.rules[0].round_robin.role: unknown role 'Sales'",
    ),
    (
        "push-followup-owner-unknown",
        ("      enters: [declining]\n", "      enters: [declining]\n      owner: rep9\n"),
        "push.followups[0].owner: unknown user 'rep9'",
    ),
    (
        "push-followup-bad-name",
        ("    - name: declining\n", "    - name: 'de clining!'\n"),
        "push.followups[0].name",
    ),
    (
        "push-duplicate-field",
        (
            "  sessions: 2\n",
            "  sessions: 2\n  fields: {rfm_segment: segment_c, lifecycle_stage: segment_c}\n",
        ),
        "push",
    ),
    (
        "schedule-bad-cron",
        ('  sync_cron: "0 2 * * *"\n', '  sync_cron: "every night"\n'),
        "schedule.sync_cron",
    ),
    (
        "schedule-unknown-timezone",
        ("  timezone: Europe/Paris\n", "  timezone: Mars/Olympus\n"),
        "schedule.timezone",
    ),
    (
        "sugar-unknown-role",
        ("      roles: [Sales Rep]\n", "      roles: [Sales Rep, Ghost]\n"),
        "sugar.users[0].roles[1]",
    ),
    (
        "sugar-duplicate-user",
        (
            "      password: generate\n",
            "      password: generate\n    - user_name: rep1\n      last_name: Again\n",
        ),
        "sugar.users",
    ),
    (
        "sugar-clear-text-password",
        ("      password: generate\n", "      password: Hunter2!\n"),
        "sugar.users[0].password",
    ),
]


def _text(edit: tuple[str, str] | str) -> str:
    if isinstance(edit, str):
        return edit
    old, new = edit
    assert old in BASE, f"case edit does not apply: {old!r}"
    return BASE.replace(old, new, 1)


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    box = Sandbox()
    box.start()
    return box


def _env(monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox, tmp_path: Path, config: Path) -> Path:
    data = tmp_path / "data"
    monkeypatch.setenv("SUGAR_BRIDGE_CONFIG", str(config))
    monkeypatch.setenv("SUGAR_BRIDGE_SUGAR_URL", sandbox.base_url)
    monkeypatch.setenv("SUGAR_BRIDGE_SUGAR_PASSWORD", sandbox.admin_password)
    monkeypatch.setenv("SUGAR_BRIDGE_DATA_DIR", str(data))
    monkeypatch.setenv("COLUMNS", "400")  # Rich wraps at 80 columns otherwise, mid-path
    return data


def test_base_config_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "base.yaml"
    path.write_text(BASE, encoding="utf-8")
    config = load_config(path)
    assert config.push.sessions == 2
    assert len(CASES) >= 20


@pytest.mark.parametrize(("name", "edit", "where"), CASES, ids=[c[0] for c in CASES])
def test_sync_exits_2_on_a_malformed_config_and_does_nothing(
    sandbox: Sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    edit: tuple[str, str] | str,
    where: str,
) -> None:
    config = tmp_path / f"{name}.yaml"
    config.write_text(_text(edit), encoding="utf-8")
    data = _env(monkeypatch, sandbox, tmp_path, config)
    calls = sandbox.stats.total_calls
    result = CliRunner().invoke(app, ["sync"])
    output = result.output.replace("\n", " ")
    assert result.exit_code == 2, result.output
    assert "config error" in output
    assert re.search(rf"{re.escape(config.name)}(:\d+)?", output), output  # names the file
    if where:
        assert where in output, output
    assert "Traceback" not in output
    assert "Hunter2!" not in output  # a clear-text password is never repeated
    assert sandbox.stats.total_calls == calls, "Sugar was contacted"
    assert not (data / "warehouse.db").exists(), "a run was started"


@pytest.mark.parametrize(
    ("name", "unset", "config_text", "expected"),
    [
        ("no-sugar-password", "SUGAR_BRIDGE_SUGAR_PASSWORD", BASE, "password"),
        ("no-sugar-url", "SUGAR_BRIDGE_SUGAR_URL", BASE, "URL"),
        ("no-source", None, NO_SOURCES, "sources"),
        ("config-file-missing", None, None, "does-not-exist.yaml"),
    ],
)
def test_sync_exits_2_on_missing_settings(
    sandbox: Sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    unset: str | None,
    config_text: str | None,
    expected: str,
) -> None:
    config = tmp_path / ("does-not-exist.yaml" if config_text is None else f"{name}.yaml")
    if config_text is not None:
        config.write_text(config_text, encoding="utf-8")
    data = _env(monkeypatch, sandbox, tmp_path, config)
    if unset:
        monkeypatch.delenv(unset)
    calls = sandbox.stats.total_calls
    result = CliRunner().invoke(app, ["sync"])
    assert result.exit_code == 2, result.output
    assert expected.lower() in result.output.lower(), result.output
    assert sandbox.stats.total_calls == calls
    assert not (data / "warehouse.db").exists()
