"""The push's nightly reads (recordings 24_*, record_push_reads.py) replayed into the sandbox.

One sequence, in file-name order, into one fresh sandbox with the example config's custom
fields on Accounts (the recorder's SuiteCRM had them): a full read in keyset pages, a rep's
edit and a deletion, then the changed-only read (``date_modified >= W``, ``deleted=1``). Ids are
the recorder's own (``new_with_id``); the timestamps a later query carries are the ones an
earlier answer gave, paired with the sandbox's the same way (test_crm_extract_conformance.py).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from sugar_bridge.sandbox import store as sandbox_store
from tests.sugar_bridge.push.conftest import FIELDS
from tests.sugar_bridge.sandbox.helpers import ReplayClock, raw_call
from tests.sugar_bridge.sandbox.test_conformance import (
    RECORDINGS_7150,
    SESSION_PLACEHOLDER,
    World,
    compare_reply,
    replay_sequence,
)
from tests.sugar_bridge.sandbox.test_crm_extract_conformance import _dates

NAMES = sorted(p.stem for p in RECORDINGS_7150.glob("24_*.json"))


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((RECORDINGS_7150 / f"{name}.json").read_text("utf-8"))
    return data


def _fields(w: World) -> None:
    wanted = {"external_id_c", "segment_c"}
    for spec in FIELDS:
        if spec["name"] in wanted:
            raw_call(
                w.sandbox.extension_url,
                "bridge_ensure_custom_field",
                json.dumps(
                    {
                        "session": w.admin,
                        "module_name": "Accounts",
                        "field": spec,
                        "views": ["detailview"],
                    }
                ),
                timeout=30,
            )


def _replay(w: World, name: str, datemap: dict[str, str], clock: ReplayClock) -> list[str]:
    rec = _load(name)
    if "_edited_by_a_rep" in name:
        clock.now += 2  # the recorder waited a second before the edit: so does the replay
    text = json.dumps(rec["request"]["rest_data"]).replace(SESSION_PLACEHOLDER, w.admin)
    for recorded, ours in datemap.items():
        text = text.replace(recorded, ours)
    reply = raw_call(w.sandbox.url, rec["request"]["method"], text, timeout=30)
    problems = compare_reply(name, rec, reply, {})
    _dates(rec["response"]["body"], reply.body, datemap)
    return problems


def test_the_push_reads_are_recorded() -> None:
    queries = [str(_load(n)["request"]["rest_data"].get("query", "")) for n in NAMES]
    assert any("accounts.date_modified >=" in q for q in queries)
    assert any("accounts.id >" in q for q in queries)
    deleted = {_load(n)["request"]["rest_data"].get("deleted") for n in NAMES}
    assert {0, 1} <= deleted
    for n in NAMES:
        assert _load(n)["request"]["rest_data"]["session"] == SESSION_PLACEHOLDER


@pytest.mark.parametrize("name", NAMES)
def test_the_push_read_is_reproduced(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # SuiteCRM saved the three accounts in one second (a tie the keyset read must break by id
    # after date_modified = W): the sandbox's clock stands still as well.
    datemap: dict[str, str] = {}
    clock = ReplayClock()
    monkeypatch.setattr(sandbox_store, "clock", clock)
    problems = replay_sequence(
        name, NAMES, lambda w, step: _replay(w, step, datemap, clock), setup=_fields
    )
    assert problems == [], f"{name}: {problems}"
