"""Shared fixtures: paths to the recorded real Sugar exchanges, clean environment."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from connectors.sugar.client import SugarClient

REPO = Path(__file__).resolve().parent.parent
# Real exchanges with a real SuiteCRM, kept in the repository (tests/recordings/README.md).
RECORDINGS_ROOT = REPO / "tests" / "recordings"
RECORDINGS = RECORDINGS_ROOT / "suitecrm-7.14.6"


def load_recording(name: str) -> dict[str, Any]:
    """One recorded exchange with the real SuiteCRM 7.14.6 (``request``/``response``)."""
    path = RECORDINGS / (name if name.endswith(".json") else f"{name}.json")
    if not path.exists():
        pytest.fail(f"recording {path} is missing from the repository (tests/recordings/)")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


LIVE_ENV = ("SUGAR_LIVE_URL", "SUGAR_LIVE_USERNAME", "SUGAR_LIVE_PASSWORD")
# The test servers' URLs (markers mysql and postgres) survive the clean environment.
SERVER_URL_ENV = ("SUGAR_BRIDGE_TEST_MYSQL_URL", "SUGAR_BRIDGE_TEST_POSTGRES_URL")

# SUGAR_BRIDGE_TEST_REQUIRE=live,mysql,postgres (CI): a test with one of these markers that skips
# fails instead, so a run that was meant to reach the real Sugar and the database servers cannot
# pass without them.
REQUIRED_MARKERS = pytest.StashKey[frozenset[str]]()


def pytest_configure(config: pytest.Config) -> None:
    import os

    wanted = os.environ.get("SUGAR_BRIDGE_TEST_REQUIRE", "")
    config.stash[REQUIRED_MARKERS] = frozenset(m.strip() for m in wanted.split(",") if m.strip())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Iterator[None] | Any:
    report = yield
    required = item.config.stash.get(REQUIRED_MARKERS, frozenset())
    if report.skipped and not hasattr(report, "wasxfail"):
        missing = sorted(required & {mark.name for mark in item.iter_markers()})
        if missing:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
            report.outcome = "failed"
            report.longrepr = (
                f"skipped, but SUGAR_BRIDGE_TEST_REQUIRE asks for {', '.join(missing)}: {reason}"
            )
    return report


def live_credentials() -> tuple[str, str, str]:
    """(URL, admin user name, password) of the live Sugar; skips the test when any is unset."""
    import os

    missing = [name for name in LIVE_ENV if not os.environ.get(name)]
    if missing:
        pytest.skip(f"live Sugar not configured ({', '.join(missing)} unset)")
    url, username, password = (os.environ[name] for name in LIVE_ENV)
    return url, username, password


@pytest.fixture(scope="module")
def live_sugar() -> Iterator[SugarClient]:
    """A client of the live Sugar (marker ``live`` tests), one per test module, logged out at the
    end; TLS is verified unless SUGAR_LIVE_VERIFY_TLS=0. Skips when SUGAR_LIVE_* are unset."""
    import os

    from connectors.sugar.client import SugarClient

    url, username, password = live_credentials()
    verify = os.environ.get("SUGAR_LIVE_VERIFY_TLS", "1") != "0"
    with SugarClient(url, username, password, verify_tls=verify, max_retries=2) as client:
        yield client


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's environment or .env; each runs in its own directory."""
    import os

    for key in list(os.environ):
        if key.startswith("SUGAR_BRIDGE_") and key not in SERVER_URL_ENV:
            monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(autouse=True)
def _restore_root_logging() -> Iterator[None]:
    """A CLI command run in-process (CliRunner) points the root logger at that run's captured
    stream, which is closed afterwards: put the root logger back so later tests do not log into
    a closed stream ("--- Logging error ---" in their output)."""
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)
