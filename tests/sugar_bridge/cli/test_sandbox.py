"""``sugar-bridge sandbox``: starts in the foreground, prints URL and credentials, stops on Ctrl-C;
``sugar-bridge sandbox accounts`` lists what is in its database."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from sugar_bridge.cli.app import app
from sugar_bridge.sandbox import Sandbox, md5_hex
from tests.sugar_bridge.sandbox.helpers import foreground_sandbox, raw_call


def test_foreground_server_prints_url_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    with foreground_sandbox(tmp_path, "--port", "0") as run:
        match = re.search(r"(http://127\.0\.0\.1:\d+)/service/v4_1/rest\.php", run.text)
        assert match, run.text
        assert "admin" in run.text
        assert "sandbox-admin" in run.text
        assert "SuiteCRM 7.15.0" in run.text  # the default release it plays
        login = raw_call(
            match.group(0),
            "login",
            {"user_auth": {"user_name": "admin", "password": md5_hex("sandbox-admin")}},
        )
        assert len(login.body["id"]) == 26
    assert run.returncode == 0
    assert "sandbox stopped" in run.out
    assert (tmp_path / "sandbox.db").exists()


def test_unknown_suitecrm_release_is_a_config_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["sandbox", "--memory", "--port", "0", "--suitecrm", "7.13"])
    assert result.exit_code == 2, result.output
    assert "--suitecrm takes 7.14, 7.15, 8" in result.output


def test_accounts_lists_the_database_with_segments(tmp_path: Path) -> None:
    _two_accounts(
        tmp_path,
        {"name": "segment_c", "type": "varchar", "label": "Segment"},
        {"Acme": "champions", "Bolt": "lost"},
    )
    runner = CliRunner()
    env = {"COLUMNS": "200"}
    everything = runner.invoke(app, ["sandbox", "accounts", "--data-dir", str(tmp_path)], env=env)
    assert everything.exit_code == 0, everything.output
    assert "Acme" in everything.output
    assert "Bolt" in everything.output
    assert "segment" in everything.output
    champions = runner.invoke(
        app, ["sandbox", "accounts", "--data-dir", str(tmp_path), "--segment", "champions"], env=env
    )
    assert "Acme" in champions.output
    assert "Bolt" not in champions.output
    missing = runner.invoke(app, ["sandbox", "accounts", "--data-dir", str(tmp_path / "none")])
    assert missing.exit_code == 1
    assert "start `sugar-bridge sandbox` first" in missing.output


def test_accounts_segment_filter_takes_the_label_sugar_shows(tmp_path: Path) -> None:
    _two_accounts(
        tmp_path,
        {
            "name": "segment_c",
            "type": "enum",
            "label": "Segment",
            "options": {"at_risk": "At risk", "lost": "Lost"},
        },
        {"Acme": "at_risk", "Bolt": "lost"},
    )
    runner = CliRunner()
    env = {"COLUMNS": "200"}
    for segment in ("At risk", "at_risk"):
        result = runner.invoke(
            app, ["sandbox", "accounts", "--data-dir", str(tmp_path), "--segment", segment], env=env
        )
        assert result.exit_code == 0, result.output
        assert "Acme" in result.output
        assert "Bolt" not in result.output


def test_bad_fault_option_is_a_config_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["sandbox", "--memory", "--fault-rate", "0.5", "--fault-kind", "boom"]
    )
    assert result.exit_code == 2, result.output


def test_accounts_json_is_the_only_output(tmp_path: Path) -> None:
    _two_accounts(
        tmp_path,
        {"name": "segment_c", "type": "varchar", "label": "Segment"},
        {"Acme": "champions", "Bolt": "lost"},
    )
    result = CliRunner().invoke(app, ["sandbox", "accounts", "--data-dir", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert list(document) == ["accounts"]
    by_name = {row["name"]: row for row in document["accounts"]}
    assert by_name["Acme"]["segment_c"] == "champions"
    assert by_name["Bolt"]["segment_c"] == "lost"
    assert all(row["id"] for row in document["accounts"])  # ids too: a script joins on them


def _two_accounts(data_dir: Path, field: dict[str, Any], segments: dict[str, str]) -> None:
    """A file-backed sandbox in ``data_dir`` with the custom field ``field`` and one account per
    name in ``segments`` (name -> segment), written over the API."""
    with Sandbox(data_dir / "sandbox.db") as sb:
        session = raw_call(
            sb.url,
            "login",
            {"user_auth": {"user_name": "admin", "password": md5_hex(sb.admin_password)}},
        ).body["id"]
        raw_call(
            sb.extension_url,
            "bridge_ensure_custom_field",
            {"session": session, "module_name": "Accounts", "field": field},
        )
        raw_call(
            sb.url,
            "set_entries",
            {
                "session": session,
                "module_name": "Accounts",
                "name_value_lists": [
                    {"name": name, "segment_c": segment} for name, segment in segments.items()
                ],
            },
        )


def test_aod_option_turns_the_index_model_on(tmp_path: Path) -> None:
    args = ["--port", "0", "--memory", "--aod", "--aod-index-ms", "300", "--aod-contended-ms", "0"]
    with foreground_sandbox(tmp_path, *args, until="AOD search indexing: on") as run:
        match = re.search(r"(http://127\.0\.0\.1:\d+)/service/v4_1/rest\.php", run.text)
        assert match, run.text
        assert "AOD search indexing: on" in run.text
        session = raw_call(
            match.group(0),
            "login",
            {"user_auth": {"user_name": "admin", "password": md5_hex("sandbox-admin")}},
        ).body["id"]
        started = time.monotonic()
        saved = raw_call(
            match.group(0),
            "set_entry",
            {"session": session, "module_name": "Accounts", "name_value_list": {"name": "A"}},
        )
        assert saved.status == 200
        assert time.monotonic() - started >= 0.3  # the index write of the saved account
    assert run.returncode == 0
