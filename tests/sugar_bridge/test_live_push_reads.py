"""A night reads from a real SuiteCRM only what changed (issue 15): an edit and a deletion made
in Sugar between two nights are seen.

Runs only when SUGAR_LIVE_URL, SUGAR_LIVE_USERNAME (an admin) and SUGAR_LIVE_PASSWORD are set.
Provisions its own custom fields on Accounts (``sbr<run>_*_c``), pushes three companies, then:
a night that reads only what changed since the last read writes nothing; a rep sets one
account's segment by hand and deletes another; the next night (still a changed-only read) reads
both again, puts the pushed segment back and recreates the deleted account. Everything it made
is marked deleted at the end and its fields removed.
"""

from __future__ import annotations

import secrets
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from connectors.sugar import query as q
from connectors.sugar.client import SugarClient
from etl.db import create_engine_for, upgrade
from sugar_bridge.provision.apply import apply
from sugar_bridge.provision.spec import SugarSpec
from sugar_bridge.push.config import PushConfig
from sugar_bridge.push.push import push_segments
from tests.live.support import LiveClients, delete_records, remove_fields
from tests.sugar_bridge.push.conftest import SEGMENT_OPTIONS, Warehouse

pytestmark = pytest.mark.live


def _fields(s: str) -> list[dict[str, Any]]:
    return [
        {"name": f"sbr{s}_ext_c", "type": "varchar", "len": 64, "label": "SBR External ID"},
        {
            "name": f"sbr{s}_segment_c",
            "type": "enum",
            "label": "SBR Segment",
            "options": SEGMENT_OPTIONS,
        },
        {"name": f"sbr{s}_orders_c", "type": "int", "label": "SBR Orders"},
    ]


def _config(s: str) -> PushConfig:
    drop = (
        "lifecycle_stage",
        "rfm_score",
        "clv_12m",
        "p_alive",
        "avg_order_amount",
        "last_order_at",
        "preferred_payment_method",
        "avg_payment_delay_days",
    )
    return PushConfig.model_validate(
        {
            "match": {"external_id_field": f"sbr{s}_ext_c"},
            "fields": {
                "rfm_segment": {
                    "field": f"sbr{s}_segment_c",
                    "type": "enum",
                    "values": {label: key for key, label in SEGMENT_OPTIONS.items()},
                },
                "n_orders": {"field": f"sbr{s}_orders_c", "type": "int"},
                **dict.fromkeys(drop),
            },
            "updated_field": None,
            # No overlap: what other live tests deleted minutes ago is not this test's to count.
            "read_overlap_minutes": 0,
            "target_lists": {"enabled": False},
            "followups": [],
        }
    )


def test_an_edit_and_a_deletion_in_sugar_are_seen_by_a_changed_only_night(
    live_sugar: SugarClient, tmp_path: Path
) -> None:
    s = secrets.token_hex(3)
    ext, segment = f"sbr{s}_ext_c", f"sbr{s}_segment_c"
    engine = create_engine_for(f"sqlite:///{tmp_path / 'warehouse.db'}")
    upgrade(engine)
    accounts = live_sugar.module("Accounts")
    try:
        apply(
            live_sugar,
            SugarSpec.model_validate({"custom_fields": {"Accounts": _fields(s)}}),
            passwords_file=tmp_path / "pw.tsv",
        )
        wh = Warehouse(engine, as_of=date(2026, 11, 24))
        for i, seg in enumerate(["Champions", "Loyal", "At risk"]):
            wh.add_customer(f"SBR{s}-C{i}", f"SBR Company {s} {i}", None, rfm_segment=seg)
        wh.analyse()
        config = _config(s)
        made = LiveClients()
        first = push_segments(engine, made, config, as_of=wh.as_of)
        assert (first.status, first.created) == ("ok", 3), first.error

        def ours() -> dict[str, dict[str, Any]]:
            found = accounts.list(
                q.like_prefix(f"accounts_cstm.{ext}", f"SBR{s}-"), fields=[ext, segment]
            )
            return {str(r[ext]): r for r in found}

        # The next night reads what changed since (or everything, when the first read found
        # no account at all: a Sugar without any); the one after it, only what changed.
        for _ in range(2):
            made.clear()
            second = push_segments(engine, made, config, as_of=wh.as_of)
            assert (second.unchanged, made.writes) == (3, 0)
        assert second.reads["Accounts"]["mode"] == "changed", second.reads

        # A rep sets a segment by hand and deletes another account (a later second than the
        # push's writes: Sugar's date_modified is to the second).
        time.sleep(1.1)
        before = ours()
        accounts.update(str(before[f"SBR{s}-C0"]["id"]), {segment: "lost"})
        delete_records(live_sugar, "Accounts", [str(before[f"SBR{s}-C1"]["id"])])
        made.clear()
        third = push_segments(engine, made, config, as_of=wh.as_of)
        reads = third.reads["Accounts"]
        assert reads["mode"] == "changed", reads
        assert (reads["edited"], reads["deleted"]) == (1, 1), reads
        assert (third.status, third.updated, third.created) == ("ok", 1, 1), third.error
        after = ours()
        assert after[f"SBR{s}-C0"][segment] == "champions"  # the pushed value, put back
        assert after[f"SBR{s}-C1"]["id"] != before[f"SBR{s}-C1"]["id"]  # recreated
        assert after[f"SBR{s}-C1"][segment] == "loyal"
        assert after[f"SBR{s}-C2"]["id"] == before[f"SBR{s}-C2"]["id"]

        made.clear()
        fourth = push_segments(engine, made, config, as_of=wh.as_of)
        assert (fourth.unchanged, made.writes) == (3, 0)
    finally:
        engine.dispose()
        found = accounts.list(q.like_prefix(f"accounts_cstm.{ext}", f"SBR{s}-"), fields=["id"])
        delete_records(live_sugar, "Accounts", [str(r["id"]) for r in found])
        remove_fields(live_sugar, "Accounts", [f["name"] for f in _fields(s)])
