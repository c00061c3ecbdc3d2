"""``bridge_read_changed`` (extension 1.5.0) as SuiteCRM 7.15 answered it, replayed in the sandbox.

Recordings 23_* (record_read_changed.py): one sequence, in file-name order, into one fresh
sandbox, ids and timestamps paired as the answers come (the keyset cursor of a later request is
a date an earlier answer gave), as test_crm_extract_conformance.py replays the 20_* sequence.
The recordings also hold the proof that the extension answers what get_entry_list answers for
the same records: compared here without any sandbox.
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
)
from tests.sugar_bridge.sandbox.test_crm_extract_conformance import _dates

NAMES = sorted(p.stem for p in RECORDINGS_7150.glob("23_*.json"))


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((RECORDINGS_7150 / f"{name}.json").read_text("utf-8"))
    return data


def _entries(name: str) -> list[Any]:
    entries: list[Any] = _load(name)["response"]["body"]["entry_list"]
    return entries


def test_the_extension_answered_what_get_entry_list_answered() -> None:
    """On the real SuiteCRM: the same records, in the same order, with the same values (a
    deleted contact, a contact's account and e-mail, a lead's account name, a deal's account)."""
    pages = _entries("23_06_contacts_read_changed_page_1") + _entries(
        "23_07_contacts_read_changed_page_2"
    )
    stock = _entries("23_05_contacts_get_entry_list")
    assert len(stock) == 3
    assert pages == stock
    first, deleted = stock[0]["name_value_list"], stock[1]["name_value_list"]
    assert first["email1"]["value"].endswith("@read.example")
    assert first["account_id"]["value"]
    assert deleted["deleted"]["value"] == "1"
    assert _entries("23_12_leads_read_changed") == _entries("23_11_leads_get_entry_list")
    lead = _entries("23_12_leads_read_changed")[0]["name_value_list"]
    assert lead["account_name"]["value"] != "typed by hand"  # the account's own name
    assert _entries("23_14_opportunities_read_changed") == _entries(
        "23_13_opportunities_get_entry_list"
    )
    assert _load("23_15_read_changed_bad_position")["response"]["body"]["number"] == 1008
    for name in NAMES:
        assert _load(name)["request"]["rest_data"]["session"] == SESSION_PLACEHOLDER


def _replay(
    w: World, name: str, idmap: dict[str, str], datemap: dict[str, str], clock: ReplayClock
) -> list[str]:
    rec = _load(name)
    if name.startswith("23_08_"):
        # the recorder waited before the lead and the deal: 05:34:21 -> 05:34:23; the steps
        # before all fell in one second (the deleted contact sorts before a later id)
        clock.now += 2
    text = json.dumps(rec["request"]["rest_data"]).replace(SESSION_PLACEHOLDER, w.admin)
    for recorded, ours in {**idmap, **datemap}.items():
        text = text.replace(recorded, ours)
    extension = rec["request"].get("endpoint") == "extension"
    url = w.sandbox.extension_url if extension else w.sandbox.url
    reply = raw_call(url, rec["request"]["method"], text, timeout=30)
    problems = compare_reply(name, rec, reply, idmap)
    _dates(rec["response"]["body"], reply.body, datemap)
    return problems


@pytest.mark.parametrize("name", NAMES)
def test_the_read_changed_exchange_is_reproduced(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    idmap: dict[str, str] = {}
    datemap: dict[str, str] = {}
    clock = ReplayClock()
    monkeypatch.setattr(sandbox_store, "clock", clock)
    problems = replay_sequence(name, NAMES, lambda w, step: _replay(w, step, idmap, datemap, clock))
    assert problems == [], f"{name}: {problems}"
