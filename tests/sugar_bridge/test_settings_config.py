"""Settings and the config loader: errors name the file, the line and the path."""

from __future__ import annotations

from pathlib import Path

import pytest

from sugar_bridge.config import load_config
from sugar_bridge.exceptions import ConfigError
from sugar_bridge.settings import load_settings


def test_default_warehouse_is_sqlite_under_data_dir() -> None:
    settings = load_settings()
    assert settings.warehouse_url_value == "sqlite:///data/warehouse.db"
    assert settings.sugar_verify_tls is True


def test_password_never_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUGAR_BRIDGE_SUGAR_PASSWORD", "s3cret-Pa55")
    monkeypatch.setenv("SUGAR_BRIDGE_WAREHOUSE_URL", "mysql+pymysql://u:dbpw-123@h/w")
    settings = load_settings()
    assert "s3cret-Pa55" not in repr(settings)
    assert "dbpw-123" not in repr(settings)
    assert "dbpw-123" not in settings.warehouse_url_display


def test_invalid_setting_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUGAR_BRIDGE_SUGAR_SESSIONS", "zero")
    with pytest.raises(ConfigError, match="SUGAR_BRIDGE_SUGAR_SESSIONS"):
        load_settings()


def test_empty_warehouse_url_means_the_embedded_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    # `SUGAR_BRIDGE_WAREHOUSE_URL=` left empty in an env file (was a raw SQLAlchemy traceback).
    monkeypatch.setenv("SUGAR_BRIDGE_WAREHOUSE_URL", " ")
    settings = load_settings()
    assert settings.warehouse_url is None
    assert settings.warehouse_url_value == "sqlite:///data/warehouse.db"


def test_unparseable_warehouse_url_is_a_config_error_without_its_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SUGAR_BRIDGE_WAREHOUSE_URL", "pg//user:dbpw-123 at host")
    with pytest.raises(ConfigError, match=r"SUGAR_BRIDGE_WAREHOUSE_URL.*not a database URL") as err:
        load_settings()
    assert "dbpw-123" not in str(err.value)


def test_missing_sugar_url_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="SUGAR_BRIDGE_SUGAR_URL"):
        load_settings().require_sugar()


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("sugar:\n  users: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.yaml:\d+: YAML syntax error"):
        load_config(path)


def test_unknown_section_names_line_and_path(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("sugar: {}\n\nnot_a_section:\n  x: 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"c\.yaml:3: not_a_section: Extra inputs"):
        load_config(path)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_push_sessions_is_a_maximum_the_push_adapts_below() -> None:
    """``push.sessions`` is the most the push may use (issue 15): it starts with one session and
    adds more only while Sugar's throughput rises, and stays at one where AOD indexes each save
    under its lock (benchmarks/README.md, "Sessions and AOD"). The settings' pool size for other
    batch work stays 1; the push config and the example config allow up to 4."""
    from sugar_bridge.push.config import PushConfig

    assert PushConfig().sessions == 4
    assert PushConfig().adaptive is True
    assert load_settings().sugar_sessions == 1
    example = Path(__file__).resolve().parents[2] / "config" / "sugar-bridge.yaml"
    assert load_config(example).push.sessions == 4
