"""A campaign log with rows (recordings 21_*, record_campaign_log.py) replayed into the sandbox.

One sequence, in file-name order, into one fresh sandbox: a campaign, two targets, the 'targeted'
rows EmailMan saves, then Sugar's open-tracking image fetched twice (``GET index.php?entryPoint=
image``: one 'viewed' row inserted without ``date_modified``, then its hits bumped), then the
Sugar source's reads. Ids are paired as the answers come; the timestamps Sugar stamps "now"
(``date_modified``, the viewed row's ``activity_date``) are paired the same way, and a later
query carries the sandbox's. Which rows have a ``date_modified`` at all is compared exactly
(the general comparison takes any two date strings as equal).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from tests.sugar_bridge.sandbox.helpers import raw_call
from tests.sugar_bridge.sandbox.test_conformance import (
    RECORDINGS_7150,
    SESSION_PLACEHOLDER,
    World,
    compare_reply,
    replay_sequence,
)

NAMES = sorted(p.stem for p in RECORDINGS_7150.glob("21_*.json"))
STAMPED = ("date_modified", "activity_date")


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((RECORDINGS_7150 / f"{name}.json").read_text("utf-8"))
    return data


def _entries(body: Any) -> list[dict[str, Any]]:
    if isinstance(body, dict) and isinstance(body.get("entry_list"), list):
        return [e.get("name_value_list") or {} for e in body["entry_list"]]
    return []


def _value(entry: dict[str, Any], key: str) -> str:
    return str((entry.get(key) or {}).get("value", ""))


def _pair_dates(recorded: Any, actual: Any, out: dict[str, str]) -> list[str]:
    """Pair the recorded and actual stamps of the same rows; the rows whose stamp is blank on
    one side only are problems."""
    problems = []
    for i, (r, a) in enumerate(zip(_entries(recorded), _entries(actual), strict=False)):
        for key in STAMPED:
            r_v, a_v = _value(r, key), _value(a, key)
            if bool(r_v) != bool(a_v):
                problems.append(f"entry_list[{i}].{key}: recorded {r_v!r}, got {a_v!r}")
            elif r_v and r_v not in out and r_v != a_v:
                out[r_v] = a_v
    return problems


def _replay(w: World, name: str, idmap: dict[str, str], datemap: dict[str, str]) -> list[str]:
    rec = _load(name)
    text = json.dumps(rec["request"])
    for recorded, ours in {**idmap, **datemap}.items():
        text = text.replace(recorded, ours)
    request = json.loads(text)
    if request.get("http") == "GET":
        reply = requests.get(
            w.sandbox.base_url + request["path"], params=request["params"], timeout=30
        )
        got = {
            "status": reply.status_code,
            "content_type": reply.headers.get("Content-Type", ""),
            "length": len(reply.content),
        }
        return [] if got == rec["response"] else [f"recorded {rec['response']}, got {got}"]
    rest_data = json.dumps(request["rest_data"]).replace(SESSION_PLACEHOLDER, w.admin)
    reply = raw_call(w.sandbox.url, request["method"], rest_data, timeout=30)
    problems = _pair_dates(rec["response"]["body"], reply.body, datemap)
    recorded = json.loads(
        _swap(json.dumps(rec["response"]["body"]), {k: v for k, v in datemap.items()})
    )
    return problems + compare_reply(name, rec, reply, idmap, recorded)


def _swap(text: str, mapping: dict[str, str]) -> str:
    for old, new in mapping.items():
        text = text.replace(old, new)
    return text


def test_the_sequence_is_recorded() -> None:
    assert len(NAMES) >= 9
    gets = [n for n in NAMES if _load(n)["request"].get("http") == "GET"]
    assert [_load(n)["request"]["params"]["entryPoint"] for n in gets] == ["image", "image"]
    listed = _entries(_load(next(n for n in NAMES if "by_date_modified" in n))["response"]["body"])
    # What the Sugar source must cope with: Sugar's own response rows carry no date_modified.
    assert [(_value(e, "activity_type"), bool(_value(e, "date_modified"))) for e in listed] == [
        ("viewed", False),
        ("targeted", True),
        ("targeted", True),
    ]
    assert _value(listed[0], "hits") == "2"  # the second open bumped the same row
    for n in NAMES:
        if "rest_data" in _load(n)["request"]:
            assert _load(n)["request"]["rest_data"]["session"] == SESSION_PLACEHOLDER


@pytest.mark.parametrize("name", NAMES)
def test_the_campaign_log_exchange_is_reproduced(name: str) -> None:
    idmap: dict[str, str] = {}
    datemap: dict[str, str] = {}
    problems = replay_sequence(name, NAMES, lambda w, step: _replay(w, step, idmap, datemap))
    assert problems == [], f"{name}: {problems}"
