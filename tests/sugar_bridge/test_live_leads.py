"""The prospect score pushed to a real SuiteCRM's Leads (issue 16, ``push.lead_score``).

Runs only when SUGAR_LIVE_URL, SUGAR_LIVE_USERNAME (an admin) and SUGAR_LIVE_PASSWORD are set.
Provisions its own fields (``sbl<run>_*_c``: an external id on Accounts, the score on Leads),
creates six leads, scores them in a small warehouse and pushes through ``push_segments`` as
``segments push`` does:

1. the open leads get their score in percent, read back from Sugar; a lead deleted or converted
   since the extraction is skipped and keeps no value;
2. the same scores again: not one write;
3. a rep edits two leads in Sugar (another field and the status of one, the score itself of the
   other) and one score moves: only that lead is written, the rep's edits stay (the push diffs
   against what it last verified, README "Only what changed");
4. ``--full`` (what the README says to run after a manual edit in Sugar) writes the score over
   the rep's.

Everything it made is marked deleted at the end and its fields removed.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from connectors.sugar import query as q
from connectors.sugar.client import SugarClient
from etl.db import create_engine_for, upgrade
from etl.schema import prospect_score
from sugar_bridge.provision.apply import apply
from sugar_bridge.provision.spec import SugarSpec
from sugar_bridge.push.config import PushConfig
from sugar_bridge.push.push import push_segments
from tests.live.support import delete_records, remove_fields
from tests.sugar_bridge.push.conftest import SEGMENT_OPTIONS, Warehouse

pytestmark = pytest.mark.live

_ENV = ("SUGAR_LIVE_URL", "SUGAR_LIVE_USERNAME", "SUGAR_LIVE_PASSWORD")
LEADS = ("open1", "open2", "edited", "hand", "converted", "deleted")


def _connect() -> SugarClient:
    return SugarClient(
        os.environ["SUGAR_LIVE_URL"],
        os.environ["SUGAR_LIVE_USERNAME"],
        os.environ["SUGAR_LIVE_PASSWORD"],
        verify_tls=os.environ.get("SUGAR_LIVE_VERIFY_TLS", "1") != "0",
        max_retries=2,
    )


@pytest.fixture
def live() -> Iterator[SugarClient]:
    missing = [name for name in _ENV if not os.environ.get(name)]
    if missing:
        pytest.skip(f"live Sugar not configured ({', '.join(missing)} unset)")
    with _connect() as client:
        yield client


def _account_fields(s: str) -> list[dict[str, Any]]:
    return [
        {"name": f"sbl{s}_ext_c", "type": "varchar", "len": 64, "label": "SBL External ID"},
        {
            "name": f"sbl{s}_segment_c",
            "type": "enum",
            "label": "SBL Segment",
            "options": SEGMENT_OPTIONS,
        },
    ]


def _lead_fields(s: str) -> list[dict[str, Any]]:
    return [{"name": f"sbl{s}_score_c", "type": "int", "label": "SBL Prospect score (%)"}]


def _config(s: str) -> PushConfig:
    """Accounts get only the external id and the segment (the other default mappings dropped):
    the leads are what this test is about."""
    drop = (
        "lifecycle_stage",
        "rfm_score",
        "clv_12m",
        "p_alive",
        "n_orders",
        "avg_order_amount",
        "last_order_at",
        "preferred_payment_method",
        "avg_payment_delay_days",
    )
    return PushConfig.model_validate(
        {
            "match": {"external_id_field": f"sbl{s}_ext_c"},
            "fields": {
                "rfm_segment": {
                    "field": f"sbl{s}_segment_c",
                    "type": "enum",
                    "values": {label: key for key, label in SEGMENT_OPTIONS.items()},
                },
                **dict.fromkeys(drop),
            },
            "updated_field": None,
            "target_lists": {"name_pattern": f"SBL {s} {{segment}}", "segments": []},
            "followups": [],
            "lead_score": {"field": f"sbl{s}_score_c", "batch_size": 4},
        }
    )


def _factory(made: list[SugarClient]) -> Callable[[], SugarClient]:
    def make() -> SugarClient:
        client = _connect()
        made.append(client)
        return client

    return make


def _score(wh: Warehouse, scores: dict[str, float]) -> None:
    run_id = wh.analyse()
    with wh.engine.begin() as conn:
        conn.execute(
            insert(prospect_score),
            [
                {"run_id": run_id, "module": "Leads", "record_id": lead, "score": score}
                for lead, score in scores.items()
            ],
        )


def test_lead_scores_are_pushed_to_a_real_sugar(live: SugarClient, tmp_path: Path) -> None:
    s = secrets.token_hex(3)
    field = f"sbl{s}_score_c"
    spec = SugarSpec.model_validate(
        {"custom_fields": {"Accounts": _account_fields(s), "Leads": _lead_fields(s)}}
    )
    engine = create_engine_for(f"sqlite:///{tmp_path / 'warehouse.db'}")
    upgrade(engine)
    leads = live.module("Leads")
    ids: dict[str, str] = {}

    def stored() -> dict[str, Any]:
        found = leads.get_many(list(ids.values()), fields=["id", "last_name", "status", field])
        return {name: found.get(i) for name, i in ids.items()}

    try:
        apply(live, spec, passwords_file=tmp_path / "pw.tsv")
        for name in LEADS:
            ids[name] = leads.create(
                {"first_name": "Lea", "last_name": f"SBL{s} {name}", "status": "New"}
            )
        wh = Warehouse(engine, as_of=date(2026, 11, 24))
        wh.add_customer(f"SBL{s}-C0", f"SBL Company {s}", None, customer_type="B2B")
        scores = {
            ids["open1"]: 0.7349,
            ids["open2"]: 0.051,
            ids["edited"]: 0.3,
            ids["hand"]: 0.12,
            ids["converted"]: 0.5,
            ids["deleted"]: 0.9,
        }
        _score(wh, scores)
        # Since the extraction, one lead was converted and one deleted in Sugar.
        leads.update(ids["converted"], {"status": "Converted"})
        delete_records(live, "Leads", [ids["deleted"]])
        config = _config(s)

        # --- 1. first push: the four open leads, read back --------------------------------
        made: list[SugarClient] = []
        first = push_segments(engine, _factory(made), config, as_of=wh.as_of)
        assert first.status == "ok", (first.error, first.warnings)
        assert first.leads == {
            "scored": 6,
            "unchanged": 0,
            "updated": 4,
            "planned": 0,
            "skipped": 2,
            "failed": 0,
        }
        now = stored()
        assert {n: now[n][field] for n in ("open1", "open2", "edited", "hand")} == {
            "open1": "73",
            "open2": "5",
            "edited": "30",
            "hand": "12",
        }
        assert now["converted"][field] in ("", None)  # left alone
        assert now["deleted"] is None  # gone: get_entries does not return it

        # --- 2. the same scores: not one write --------------------------------------------
        made.clear()
        again = push_segments(engine, _factory(made), config, as_of=wh.as_of)
        assert again.status == "ok"
        assert (again.leads["updated"], again.leads["unchanged"]) == (0, 6 - 2)
        assert sum(c.stats.writes for c in made) == 0

        # --- 3. a rep edits two leads; one score moves ------------------------------------
        leads.update(ids["edited"], {"last_name": f"SBL{s} edited by rep", "status": "In Process"})
        leads.update(ids["hand"], {field: "99"})
        scores[ids["open2"]] = 0.151
        _score(wh, scores)
        made.clear()
        third = push_segments(engine, _factory(made), config, as_of=wh.as_of)
        assert third.status == "ok"
        assert (third.leads["updated"], third.leads["unchanged"]) == (1, 3)
        assert sum(c.stats.writes for c in made) == 1  # one set_entries of one lead
        now = stored()
        assert now["open2"][field] == "15"
        assert now["edited"]["last_name"] == f"SBL{s} edited by rep"  # not overwritten
        assert (now["edited"]["status"], now["edited"][field]) == ("In Process", "30")
        assert now["hand"][field] == "99"  # the rep's value stays until --full or a move

        # --- 4. --full: every score sent again, the rep's hand value replaced ---------------
        full = push_segments(engine, _factory([]), config, as_of=wh.as_of, full=True)
        assert full.status == "ok"
        assert (full.leads["updated"], full.leads["skipped"]) == (4, 2)
        now = stored()
        assert now["hand"][field] == "12"
        assert now["edited"]["last_name"] == f"SBL{s} edited by rep"
    finally:
        engine.dispose()
        _cleanup(live, s, list(ids.values()))


def _cleanup(client: SugarClient, s: str, leads: list[str]) -> None:
    delete_records(client, "Leads", leads)
    ext = f"sbl{s}_ext_c"
    found = client.module("Accounts").list(q.like_prefix(f"accounts_cstm.{ext}", f"SBL{s}-"))
    delete_records(client, "Accounts", [str(r["id"]) for r in found])
    lists = client.module("ProspectLists").list(
        q.like_prefix("prospect_lists.name", f"SBL {s} "), fields=["id"]
    )
    delete_records(client, "ProspectLists", [str(r["id"]) for r in lists])
    remove_fields(client, "Accounts", [f["name"] for f in _account_fields(s)])
    remove_fields(client, "Leads", [f["name"] for f in _lead_fields(s)])
