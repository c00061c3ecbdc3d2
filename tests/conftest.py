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

# The warehouse fixtures (SQLite, MariaDB, PostgreSQL) serve the etl, orders, reliability, push,
# pipeline and scheduler tests alike: one plugin instead of a re-export in each folder.
pytest_plugins = ["tests.etl.fixtures"]
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
# The test servers' URLs (markers mysql, postgres and spider) survive the clean environment.
SERVER_URL_ENV = (
    "SUGAR_BRIDGE_TEST_MYSQL_URL",
    "SUGAR_BRIDGE_TEST_POSTGRES_URL",
    "SUGAR_BRIDGE_TEST_SPIDER_URL",
)

# SUGAR_BRIDGE_TEST_REQUIRE=live,mysql,postgres,spider (CI): a test with one of these markers
# that skips fails instead, so a run that was meant to reach the real Sugar and the database
# servers cannot pass without them.
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
    from tests.live.support import connect

    live_credentials()
    with connect() as client:
        yield client


_LIVE_INVENTORY = pytest.StashKey[str]()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Show the live Sugar's inventory (see ``_live_sugar_left_as_found``) when one was taken."""
    line = config.stash.get(_LIVE_INVENTORY, None)
    if line is not None:
        terminalreporter.write_line(line)


@pytest.fixture(scope="session", autouse=True)
def _live_sugar_left_as_found(request: pytest.FixtureRequest) -> Iterator[None]:
    """Live tests leave the Sugar as they found it: an inventory of the live Sugar (custom fields,
    non-deleted users, roles, groups, target lists, accounts, tasks, calls and, when
    SUGAR_LIVE_SUITECRM_ROOT is set, the labels, dropdown lists, vardef fragments and layout
    fields under its custom/) before the first test and after the last one; the session fails
    listing whatever the second holds that the first did not and that this run created (its
    HTTP exchanges are logged: other runs may share the Sugar, see CreationLog; with
    SUGAR_LIVE_EXCLUSIVE=1, as in CI, whatever is new counts). Does nothing
    when no test marked ``live`` was collected or the live Sugar is not configured."""
    import os
    import time

    if not any(item.get_closest_marker("live") for item in request.session.items):
        yield
        return
    if any(not os.environ.get(name) for name in LIVE_ENV):
        yield
        return
    import requests

    from connectors.sugar.client import SugarClient
    from tests.live.support import CreationLog, left_behind, new_items, take_inventory

    url, username, password = (os.environ[name] for name in LIVE_ENV)
    root = os.environ.get("SUGAR_LIVE_SUITECRM_ROOT")
    sugar_root = Path(root) if root else None
    verify = os.environ.get("SUGAR_LIVE_VERIFY_TLS", "1") != "0"
    with SugarClient(url, username, password, verify_tls=verify, max_retries=2) as client:
        before = take_inventory(client, sugar_root)
    started = time.monotonic()
    log = CreationLog(url)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(requests.Session, "send", log.wrap(requests.Session.send))
        yield
    with SugarClient(url, username, password, verify_tls=verify, max_retries=2) as client:
        after = take_inventory(client, sugar_root)
    # Only what this run created counts: other runs may share the Sugar (see CreationLog),
    # unless SUGAR_LIVE_EXCLUSIVE=1 says none can (CI's own Sugar): then anything new is ours,
    # what Sugar made on its own as a side effect of our calls included.
    owns = None if os.environ.get("SUGAR_LIVE_EXCLUSIVE") == "1" else log.owns
    left = left_behind(before, after, owns)
    mine = new_items(before, after, owns)
    others = {
        kind: len(items) - len(mine.get(kind, []))
        for kind, items in new_items(before, after).items()
        if len(items) > len(mine.get(kind, []))
    }
    counts = ", ".join(f"{k} {v}" for k, v in sorted(after.counts().items()))
    request.config.stash[_LIVE_INVENTORY] = (
        f"live Sugar inventory, before the first live test and after the last "
        f"({time.monotonic() - started:.0f} s apart): {counts} (fingerprint before "
        f"{before.fingerprint()}, after {after.fingerprint()})\nleft behind by this run: "
        + ("; ".join(left) if left else "nothing")
        + (
            "\nnew meanwhile but not created by this run (other runs on the same Sugar): "
            + ", ".join(f"{k} {n}" for k, n in sorted(others.items()))
            if others
            else ""
        )
    )
    if left:
        pytest.fail(
            "the live tests left this behind on the Sugar:\n  " + "\n  ".join(left),
            pytrace=False,
        )


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
    logging.captureWarnings(False)  # make_runtime() routes warnings into the logs
