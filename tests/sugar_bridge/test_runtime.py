"""The edge (:class:`sugar_bridge.runtime.Runtime`): one warehouse policy, one config, one date."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from etl.db import create_engine_for, current_revision, head_revision, upgrade
from etl.exceptions import WarehouseNotCurrent
from sugar_bridge.cli.app import app
from sugar_bridge.config import ProjectConfig
from sugar_bridge.exceptions import ConfigError, WarehouseMissing
from sugar_bridge.runtime import Runtime
from sugar_bridge.settings import load_settings

# Every command that only reads the warehouse; none may create or migrate it.
READ_ONLY_COMMANDS = [
    ["status"],
    ["etl", "rejects"],
    ["report", "--as-of", "2026-11-23"],
    ["analytics", "clv", "--as-of", "2026-11-23"],
    ["segments", "unmatched"],
]


def _files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*"))


@pytest.mark.parametrize("command", READ_ONLY_COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_read_only_commands_in_an_empty_folder_create_nothing(
    command: list[str], tmp_path: Path
) -> None:
    before = _files(tmp_path)  # the test runs in tmp_path, with every setting at its default
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())  # Rich wraps long lines
    assert "no warehouse yet at data/warehouse.db" in text
    assert "run `sugar-bridge sync` (or `sugar-bridge db upgrade`) first" in text
    assert _files(tmp_path) == before
    assert not (tmp_path / "data").exists()


def test_informational_commands_show_what_they_can_and_create_nothing(tmp_path: Path) -> None:
    current = CliRunner().invoke(app, ["db", "current"])
    assert current.exit_code == 0, current.output
    assert "none (empty)" in current.output
    schedule = CliRunner().invoke(app, ["scheduler", "next"])
    assert schedule.exit_code == 0, schedule.output
    assert "not running" in schedule.output
    assert _files(tmp_path) == []


def test_read_only_commands_never_migrate_an_older_warehouse(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    engine = create_engine_for(url)
    upgrade(engine, "0004")
    runtime = Runtime(load_settings(warehouse_url=url))
    with pytest.raises(WarehouseNotCurrent, match="run `sugar-bridge db upgrade`"):
        runtime.connect_warehouse("read")
    assert current_revision(engine) == "0004"
    with runtime.warehouse("write") as migrated:  # a write command migrates, as before
        assert current_revision(migrated) == head_revision()
    engine.dispose()


def test_read_only_command_on_an_older_warehouse_says_what_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    engine = create_engine_for(url)
    upgrade(engine, "0004")
    monkeypatch.setenv("SUGAR_BRIDGE_WAREHOUSE_URL", url)
    result = CliRunner().invoke(app, ["status"])
    assert result.exit_code == 1
    assert "run `sugar-bridge db upgrade`" in " ".join(result.output.split())
    assert current_revision(engine) == "0004"
    engine.dispose()


def test_an_empty_database_is_no_warehouse_for_a_read(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    create_engine_for(url).connect().close()  # the file exists, without any table
    with pytest.raises(WarehouseMissing, match="an empty database"):
        Runtime(load_settings(warehouse_url=url)).connect_warehouse("read")


@pytest.mark.parametrize(
    ("zone", "expected"),
    [("UTC", date(2026, 12, 5)), ("Europe/Paris", date(2026, 12, 6)),
     ("America/Los_Angeles", date(2026, 12, 5))],
)  # fmt: skip
def test_today_and_as_of_are_in_the_configured_time_zone(zone: str, expected: date) -> None:
    late_evening_utc = datetime(2026, 12, 5, 23, 30, tzinfo=UTC)  # already the 6th in Paris
    runtime = Runtime(load_settings(timezone=zone), clock=lambda: late_evening_utc)
    assert runtime.today() == expected
    assert runtime.parse_as_of(None) == expected
    assert runtime.parse_as_of("2026-01-31") == date(2026, 1, 31)


def test_a_bad_as_of_or_time_zone_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="--as-of: not a date"):
        Runtime(load_settings()).parse_as_of("31/01/2026")
    with pytest.raises(ConfigError, match="unknown time zone 'Mars/Olympus'"):
        load_settings(timezone="Mars/Olympus")


def test_push_overrides_from_settings_are_merged_once(monkeypatch: pytest.MonkeyPatch) -> None:
    config = ProjectConfig.model_validate({"push": {"sessions": 2, "batch_size": 10}})
    plain = Runtime(load_settings(), config)
    assert (plain.push_config.sessions, plain.push_config.batch_size) == (2, 10)
    assert plain.push_config is config.push  # nothing set: the section as written
    runtime = Runtime(load_settings(sugar_sessions=4), config)
    merged = runtime.push_config
    assert (merged.sessions, merged.batch_size) == (4, 10)  # the setting wins; the rest stays
    assert runtime.push_config is merged

    # The sync's push step uses that very object.
    from sugar_bridge import pipeline
    from sugar_bridge.push import push as push_module

    seen: list[Any] = []

    def fake_push(engine: Any, make_client: Any, config: Any, **kwargs: Any) -> Any:
        seen.append(config)
        raise RuntimeError("stop here")

    monkeypatch.setattr(push_module, "push_segments", fake_push)
    ctx = pipeline.StepContext(runtime, None, date(2026, 11, 23), False, 1, None)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="stop here"):
        pipeline.push_stage(ctx)
    assert len(seen) == 1
    assert seen[0] is merged


def test_load_defaults_resolved_in_one_place(tmp_path: Path) -> None:
    settings = load_settings(default_currency="chf")
    assert Runtime(settings).load_defaults().currency == "CHF"
    config = ProjectConfig.model_validate(
        {"sources": {"default_currency": "USD", "batch_lines": 7}}
    )
    runtime = Runtime(settings, config)
    assert (runtime.load_defaults().currency, runtime.load_defaults().batch_lines) == ("USD", 7)
    unread = runtime.load_defaults(from_config=False)
    assert (unread.currency, unread.batch_lines) == ("CHF", 50_000)


def test_the_config_file_is_optional_unless_named(tmp_path: Path) -> None:
    # No file at the default path: every section takes its defaults.
    assert Runtime(load_settings()).config == ProjectConfig()
    named = Runtime(load_settings(config=tmp_path / "missing.yaml"))
    with pytest.raises(ConfigError, match="config file not found"):
        _ = named.config
    with pytest.raises(ConfigError, match="the sugar: section is needed"):
        Runtime(load_settings()).require_config_file("sugar")


def test_a_day_after_today_is_refused_unless_allowed() -> None:
    evening = datetime(2026, 12, 5, 21, 0, tzinfo=UTC)
    runtime = Runtime(load_settings(timezone="Europe/Paris"), clock=lambda: evening)
    assert runtime.parse_as_of("2026-12-05") == date(2026, 12, 5)
    with pytest.raises(ConfigError, match=r"--as-of 2026-12-06 is after today \(2026-12-05"):
        runtime.parse_as_of("2026-12-06")
    assert runtime.parse_as_of("2027-01-01", allow_future=True) == date(2027, 1, 1)


def test_backdated_is_judged_in_both_time_zones() -> None:
    # 23:30 UTC on the 5th: already the 6th in Paris (the settings), still the 5th for a
    # schedule in UTC. The 5th is not backdated (the schedule's night), the 6th not refused.
    late = datetime(2026, 12, 5, 23, 30, tzinfo=UTC)
    config = ProjectConfig.model_validate({"schedule": {"timezone": "UTC"}})
    runtime = Runtime(load_settings(timezone="Europe/Paris"), config, clock=lambda: late)
    assert runtime.is_backdated(date(2026, 12, 5)) is False
    assert runtime.is_backdated(date(2026, 12, 6)) is False
    assert runtime.is_backdated(date(2026, 12, 4)) is True
    with pytest.raises(ConfigError, match="after today"):
        runtime.is_backdated(date(2026, 12, 7))
