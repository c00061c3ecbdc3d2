"""The scheduled provisioning drift check: quiet when Sugar matches the spec, a warning when not."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from sugar_bridge.config import load_config
from sugar_bridge.provision.apply import apply
from sugar_bridge.provision.drift import drift_check
from sugar_bridge.runtime import Runtime
from sugar_bridge.sandbox import Sandbox
from sugar_bridge.settings import load_settings
from sugar_bridge.sugar import make_client
from tests.conftest import REPO


def test_drift_check_finds_a_manual_change(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = load_config(REPO / "config" / "sugar-bridge.yaml")
    with Sandbox() as sandbox:
        settings = load_settings(
            data_dir=tmp_path, sugar_url=sandbox.base_url, sugar_password=sandbox.admin_password
        )
        with make_client(settings) as client:
            apply(client, config.sugar, passwords_file=tmp_path / "pw.tsv")
        engine = Runtime(settings).connect_warehouse("write")
        assert not drift_check(settings, config.sugar, engine=engine).drifted
        with make_client(settings) as client:  # someone renames a key account in Sugar
            accounts = client.module("Accounts")
            (account,) = accounts.list(query="accounts.name = 'Autovision Fleet Services'")
            accounts.update(account["id"], {"name": "Autovision (renamed by hand)"})
        with caplog.at_level(logging.WARNING):
            info = drift_check(settings, config.sugar, engine=engine)
    assert info.drifted
    assert info.changes >= 1
    assert "provisioning drift" in caplog.text
