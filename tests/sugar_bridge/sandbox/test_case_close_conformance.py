"""When a case was closed, as the CI's SuiteCRM 7.15.0 tells it (recordings 22_*,
record_case_close.py), replayed into the sandbox; and the Import-like seeding the demo uses.

Sugar stamps ``date_modified`` now whatever a save gives (the general comparison takes any two
date strings as equal, so the values are checked here). On the CI's bundle closing a case dies
with HTTP 500 after the row is saved (AOP's closure hook needs a class the bundle's vendor/ does
not have: ``Flavor.case_close_dies``, replayed with ``CI_BUNDLE_7_15``); an official release
closes it, and so does the sandbox's 7.15 flavour.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from sugar_bridge.sandbox import Sandbox
from sugar_bridge.sandbox.flavor import CI_BUNDLE_7_15, SUITECRM_7_14, SUITECRM_7_15, Flavor
from tests.sugar_bridge.sandbox.helpers import raw_call
from tests.sugar_bridge.sandbox.test_campaign_log_conformance import _replay
from tests.sugar_bridge.sandbox.test_conformance import RECORDINGS_7150, World

NAMES = sorted(p.stem for p in RECORDINGS_7150.glob("22_*.json"))


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((RECORDINGS_7150 / f"{name}.json").read_text("utf-8"))
    return data


def _case(body: Any) -> dict[str, str]:
    nvl = body["entry_list"][0]["name_value_list"]
    return {k: str(v["value"]) for k, v in nvl.items()}


def test_what_the_recordings_establish() -> None:
    created, closed = (_case(_load(n)["response"]["body"]) for n in NAMES if "get_entry" in n)
    assert created["date_entered"] == "2026-01-05 10:00:00"  # kept as given
    assert created["date_modified"] > "2026-12-01"  # the given 2026-01-06 11:00:00 ignored
    close = _load(next(n for n in NAMES if "close_set_entry" in n))["response"]
    assert (close["status"], close["body"]) == (500, "")
    assert (closed["state"], closed["status"]) == ("Closed", "Closed_Closed")  # saved anyway
    assert closed["date_modified"] > created["date_modified"]


@pytest.mark.parametrize("name", NAMES)
def test_the_case_close_exchange_is_reproduced(name: str) -> None:
    steps = [n for n in NAMES if n <= name]
    idmap: dict[str, str] = {}
    datemap: dict[str, str] = {}
    with Sandbox(flavor=CI_BUNDLE_7_15) as sandbox:
        w = World(sandbox)
        w.admin = w.login("admin", sandbox.admin_password)
        problems: list[str] = []
        for step in steps:
            problems = _replay(w, step, idmap, datemap)
            if problems and step != name:
                pytest.fail(f"{step} (before {name}): {problems}")
        assert problems == [], f"{name}: {problems}"
        if "get_entry" in name:
            (case,) = sandbox.store.rows("SELECT date_entered, date_modified FROM cases")
            assert case["date_entered"] == "2026-01-05 10:00:00"
            assert case["date_modified"] != "2026-01-06 11:00:00"


@pytest.mark.parametrize("flavor", [SUITECRM_7_14, SUITECRM_7_15], ids=["7.14", "7.15"])
def test_a_sandbox_closes_a_case_without_dying(flavor: Flavor) -> None:
    """Only the CI's bundle dies there: 7.14 and an official 7.15.0 close the case."""
    with Sandbox(flavor=flavor) as sandbox:
        w = World(sandbox)
        session = w.login("admin", sandbox.admin_password)
        nvl = [{"name": "name", "value": "x"}, {"name": "state", "value": "Closed"}]
        data = json.dumps({"session": session, "module_name": "Cases", "name_value_list": nvl})
        assert raw_call(sandbox.url, "set_entry", data, timeout=30).status == 200


def test_imported_records_keep_their_dates_and_close_without_dying() -> None:
    with Sandbox() as sandbox:
        (case,) = sandbox.import_records(
            "Cases",
            [
                {
                    "id": "5d3c1e7a-0000-4000-8000-000000000001",
                    "name": "Dead pixels",
                    "state": "Closed",
                    "status": "Closed_Closed",
                    "date_entered": "2026-01-05 10:00:00",
                    "date_modified": "2026-01-09 16:30:00",
                }
            ],
        )
        (row,) = sandbox.store.rows("SELECT * FROM cases WHERE id = ?", (case,))
    assert (row["state"], row["date_entered"], row["date_modified"]) == (
        "Closed",
        "2026-01-05 10:00:00",
        "2026-01-09 16:30:00",
    )
