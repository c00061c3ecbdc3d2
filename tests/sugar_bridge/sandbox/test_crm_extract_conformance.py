"""The Sugar source's exchanges (recordings 20_*, record_crm_extract.py) replayed into the sandbox.

One sequence, in file-name order, into one fresh sandbox. Ids are the recorder's own
(``new_with_id``) or paired as the answers come; the timestamps a later query carries (the
keyset cursor) are the ones an earlier answer gave, so they are paired the same way: the
sandbox's ``date_modified`` replaces the recorded one in the requests that follow.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from sugar_bridge.sandbox import store as sandbox_store
from tests.sugar_bridge.sandbox.helpers import ReplayClock, raw_call
from tests.sugar_bridge.sandbox.test_conformance import (
    RECORDINGS_7150,
    SESSION_PLACEHOLDER,
    World,
    compare_reply,
    replay_sequence,
    special_module_fields,
)

NAMES = sorted(p.stem for p in RECORDINGS_7150.glob("20_*.json"))


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((RECORDINGS_7150 / f"{name}.json").read_text("utf-8"))
    return data


def _dates(recorded: Any, actual: Any, out: dict[str, str]) -> None:
    """Pair recorded and actual date_modified values of the same records (by id)."""
    if not (isinstance(recorded, dict) and isinstance(actual, dict)):
        return
    rec_list, act_list = recorded.get("entry_list"), actual.get("entry_list")
    if not (isinstance(rec_list, list) and isinstance(act_list, list)):
        return
    for r, a in zip(rec_list, act_list, strict=False):
        r_dm = (r.get("name_value_list") or {}).get("date_modified", {}).get("value")
        a_dm = (a.get("name_value_list") or {}).get("date_modified", {}).get("value")
        if r_dm and a_dm:
            out.setdefault(r_dm, a_dm)


def _replay(
    w: World, name: str, idmap: dict[str, str], datemap: dict[str, str], clock: ReplayClock
) -> list[str]:
    rec = _load(name)
    if name.startswith("20_04_"):
        # The recorder waits a second before the edit (so the listing's order is defined): so
        # does the replay's clock, or the sandbox's edit would share the creation's second.
        clock.now += 2
    if "_get_module_fields_" in name:
        return special_module_fields(w, rec, name)
    text = json.dumps(rec["request"]["rest_data"]).replace(SESSION_PLACEHOLDER, w.admin)
    for recorded, ours in {**idmap, **datemap}.items():
        text = text.replace(recorded, ours)
    reply = raw_call(w.sandbox.url, rec["request"]["method"], text, timeout=30)
    problems = compare_reply(name, rec, reply, idmap)
    _dates(rec["response"]["body"], reply.body, datemap)
    return problems


def test_the_sequence_is_recorded() -> None:
    methods = {_load(n)["request"]["method"] for n in NAMES}
    assert {"get_entry_list", "get_relationships", "get_module_fields"} <= methods
    queries = [_load(n)["request"]["rest_data"].get("query", "") for n in NAMES]
    assert any("date_modified" in q and "contacts.id >" in q for q in queries)
    for n in NAMES:
        assert _load(n)["request"]["rest_data"]["session"] == SESSION_PLACEHOLDER


@pytest.mark.parametrize("name", NAMES)
def test_the_sugar_source_exchange_is_reproduced(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    idmap: dict[str, str] = {}
    datemap: dict[str, str] = {}
    clock = ReplayClock()
    monkeypatch.setattr(sandbox_store, "clock", clock)
    problems = replay_sequence(
        name,
        NAMES,
        lambda w, step: _replay(w, step, idmap, datemap, clock),
        may_differ=lambda step: "_get_module_fields_" in step,
    )
    assert problems == [], f"{name}: {problems}"
