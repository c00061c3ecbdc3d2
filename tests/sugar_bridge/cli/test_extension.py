"""``sugar-bridge extension build|check`` (the group module alone, HTTP mocked at the transport)."""

from __future__ import annotations

from pathlib import Path

import pytest
import responses
from typer.testing import CliRunner

from connectors.sugar.extension import API_LEVEL, EXTENSION_VERSION
from sugar_bridge.cli.extension import app
from tests.connectors.sugar.conftest import BASE, EXT, PASSWORD, add

runner = CliRunner()


@pytest.fixture
def sugar_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUGAR_BRIDGE_SUGAR_URL", BASE)
    monkeypatch.setenv("SUGAR_BRIDGE_SUGAR_USERNAME", "admin")
    monkeypatch.setenv("SUGAR_BRIDGE_SUGAR_PASSWORD", PASSWORD)
    monkeypatch.setenv("SUGAR_BRIDGE_SUGAR_MAX_RETRIES", "0")


def test_build_prints_the_zip_path(tmp_path: Path) -> None:
    result = runner.invoke(app, ["build", "--out", str(tmp_path / "dist")])
    assert result.exit_code == 0, result.output
    path = Path("".join(result.output.split()))
    assert path == (tmp_path / "dist" / f"sugar-bridge-extension-{EXTENSION_VERSION}.zip")
    assert path.is_file()


@pytest.mark.usefixtures("sugar_env")
def test_check_ok(mock: responses.RequestsMock) -> None:
    add(mock, "01_login_success")
    mock.add(
        responses.POST,
        EXT,
        json={
            "extension_version": EXTENSION_VERSION,
            "api_level": API_LEVEL,
            "flavor": "CE",
            "sugar_version": "6.5.25",
            "suitecrm_version": "7.14.6",
            "php_version": "8.2.36",
            "modules": ["Accounts"],
            "security_groups": False,
        },
    )
    add(mock, "01_logout")
    result = runner.invoke(app, ["check"])
    assert result.exit_code == 0, result.output
    assert "installed and compatible" in result.output
    assert "7.14.6" in result.output
    assert PASSWORD not in result.output


@pytest.mark.usefixtures("sugar_env")
def test_check_refuses_a_missing_extension(mock: responses.RequestsMock) -> None:
    add(mock, "01_login_success")
    mock.add(responses.POST, EXT, body="Not Found", status=404)
    add(mock, "01_logout")
    result = runner.invoke(app, ["check"])
    assert result.exit_code == 1
    assert "missing" in result.output
    assert "Module Loader" in result.output


@pytest.mark.usefixtures("sugar_env")
def test_check_refuses_an_outdated_extension(mock: responses.RequestsMock) -> None:
    add(mock, "01_login_success")
    mock.add(responses.POST, EXT, json={"extension_version": "0.5.0", "api_level": API_LEVEL})
    add(mock, "01_logout")
    result = runner.invoke(app, ["check"])
    assert result.exit_code == 1
    assert "outdated" in result.output
    assert "0.5.0" in result.output
