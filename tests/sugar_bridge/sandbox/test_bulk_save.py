"""``bridge_save_records`` on the sandbox, through the client: the extension's contract.

The same contract is checked on the real SuiteCRM by
``tests/connectors/sugar/extension/test_live_bulk_save.py`` and replayed from its recordings
(prefix 16) by ``test_conformance.py``.
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from connectors.sugar.client import SugarClient
from connectors.sugar.exceptions import AccessDenied, InvalidCall, SugarApiError, WriteNotStored
from connectors.sugar.extension.bulk import BulkSupport, bulk_support, related_ids, save_records
from sugar_bridge.sandbox import AodIndex, Faults, Latency, Sandbox, md5_hex


def _client(sb: Sandbox, user: str = "admin", password: str | None = None) -> SugarClient:
    return SugarClient(
        sb.base_url,
        user,
        password or sb.admin_password,
        max_retries=4,
        backoff=0.01,
        backoff_cap=0.05,
    )


@pytest.fixture
def sandbox() -> Any:
    with Sandbox() as sb:
        yield sb


def test_creates_updates_and_answers_what_was_stored(sandbox: Sandbox) -> None:
    with _client(sandbox) as client:
        first = save_records(
            client,
            "Accounts",
            [{"name": "Alpha & Co", "account_type": "Customer"}, {"name": "Beta"}],
            ["name", "account_type"],
        )
        assert [r.saved for r in first.records] == [True, True]
        assert [r.created for r in first.records] == [True, True]
        alpha = first.records[0]
        assert alpha.stored == {"id": alpha.id, "name": "Alpha & Co", "account_type": "Customer"}
        assert first.index_deferred is False

        again = save_records(
            client, "Accounts", [{"id": alpha.id, "name": "Alpha Ltd"}], ["name", "date_modified"]
        )
        (updated,) = again.records
        assert (updated.saved, updated.created) == (True, False)
        assert updated.stored is not None
        assert updated.stored["name"] == "Alpha Ltd"
        assert updated.stored["date_modified"]
        stored = client.module("Accounts").get(alpha.id, ["name", "account_type"])
        assert stored is not None
        assert stored["name"] == "Alpha Ltd"


def test_unknown_id_is_refused_and_the_other_rows_are_saved(sandbox: Sandbox) -> None:
    """set_entries answers success for an unknown id and stores nothing; the extension says so."""
    ghost = str(uuid.uuid4())
    with _client(sandbox) as client:
        answer = save_records(
            client, "Accounts", [{"id": ghost, "name": "Ghost"}, {"name": "Real"}], ["name"]
        )
        ghost_answer, real = answer.records
        assert ghost_answer.saved is False
        assert ghost_answer.error is not None
        assert ghost_answer.error.startswith("1006 ")
        assert ghost_answer.stored is None
        assert real.saved
        assert real.stored == {"id": real.id, "name": "Real"}
        assert client.module("Accounts").get(ghost) is None


def test_a_replayed_create_updates_instead_of_duplicating(sandbox: Sandbox) -> None:
    rid = str(uuid.uuid4())
    row = {"id": rid, "new_with_id": True, "name": "Once"}
    with _client(sandbox) as client:
        for expected_created in (True, False):
            body = client.call_extension(
                "bridge_save_records", module_name="Accounts", records=[row], select_fields=["id"]
            )
            assert body["records"][0]["created"] is expected_created
            assert body["records"][0]["saved"] is True
        assert client.module("Accounts").count() == 1


def test_lost_answers_are_retried_without_duplicates() -> None:
    faults = Faults(
        methods=frozenset({"bridge_save_records"}),
        at_calls={1: "http500", 2: "drop"},
        when="after",
    )
    with Sandbox(faults=faults) as sb, _client(sb) as client:
        answer = save_records(client, "Accounts", [{"name": f"A{i}"} for i in range(5)], ["name"])
        assert all(r.saved for r in answer.records)
        assert client.stats.retries == 2
        assert client.module("Accounts").count() == 5


def test_refuses_modules_with_other_semantics_too_many_records_and_non_writers(
    sandbox: Sandbox,
) -> None:
    with _client(sandbox) as client:
        for module in ("Users", "Contacts"):
            with pytest.raises(SugarApiError) as refused:
                save_records(client, module, [{"last_name": "X"}])
            assert refused.value.number == 1005
        with pytest.raises(WriteNotStored, match="at most 500"):
            save_records(client, "Accounts", [{"name": str(i)} for i in range(501)])
        with pytest.raises(InvalidCall):
            save_records(client, "accounts; drop", [{"name": "x"}])
        client.module("Users").create(
            {
                "user_name": "rep",
                "last_name": "Rep",
                "status": "Active",
                "employee_status": "Active",
                "user_hash": md5_hex("pw"),
            }
        )
    with _client(sandbox, "rep", "pw") as rep:
        # Not an admin: the bulk write works (set_entries' rights), bridge_info does not.
        answer = save_records(rep, "Accounts", [{"name": "By the rep"}], ["name"])
        assert answer.records[0].saved
        with pytest.raises(AccessDenied):
            rep.call_extension("bridge_info")
        support = bulk_support(rep)
        assert support.available is False
        assert "not an admin" in support.reason


def test_bulk_support_reads_bridge_info(sandbox: Sandbox) -> None:
    with _client(sandbox) as client:
        assert bulk_support(client) == BulkSupport(
            True, "extension 1.5.0 saves in bulk", False, "1.5.0", related_ids=True
        )
        sandbox.set_aod(True)
        assert bulk_support(client).aod_enabled is True

    class Older:
        username = "admin"

        def __init__(self, info: dict[str, Any]) -> None:
            self.info = info

        def call_extension(self, method: str, **params: Any) -> Any:
            return self.info

    old = bulk_support(Older({"extension_version": "1.2.0", "api_level": 1}))  # type: ignore[arg-type]
    assert old.available is False
    assert "1.2.0 has no bridge_save_records" in old.reason
    assert old.aod_enabled is None
    # 1.3.0 saves in bulk but has no bridge_get_related_ids: members are paged.
    info = {"extension_version": "1.3.0", "api_level": 1, "aod_enabled": False}
    v13 = bulk_support(Older(info))  # type: ignore[arg-type]
    assert (v13.available, v13.related_ids) == (True, False)


def test_related_ids_are_the_members_get_relationships_lists(sandbox: Sandbox) -> None:
    """``bridge_get_related_ids``: every live member at once, each once, in id order; a ghost id,
    a deleted account, an unknown link or list give nothing more; admins only."""
    with _client(sandbox) as client:
        made = save_records(client, "Accounts", [{"name": f"M{n}"} for n in range(5)])
        ids = [r.id for r in made.records]
        lists = client.module("ProspectLists")
        list_id = lists.create({"name": "Segment: Champions", "list_type": "default"})
        lists.link(list_id, "accounts", [*ids, ids[0], str(uuid.uuid4())])
        save_records(client, "Accounts", [{"id": ids[4], "deleted": 1}])
        paged = {r["id"] for r in lists.related(list_id, "accounts", fields=["id"], page_size=2)}
        assert related_ids(client, "ProspectLists", list_id, "accounts") == paged == set(ids[:4])
        answer = client.call_extension(
            "bridge_get_related_ids",
            module_name="ProspectLists",
            module_id=list_id,
            link_field_name="accounts",
        )
        assert answer == {"ids": sorted(ids[:4])}
        assert related_ids(client, "ProspectLists", list_id, "Accounts") == set()  # link case
        assert related_ids(client, "ProspectLists", str(uuid.uuid4()), "accounts") == set()
        client.module("Users").create(
            {
                "user_name": "rep",
                "last_name": "Rep",
                "status": "Active",
                "employee_status": "Active",
                "user_hash": md5_hex("pw"),
            }
        )
    with _client(sandbox, "rep", "pw") as rep, pytest.raises(AccessDenied):
        related_ids(rep, "ProspectLists", list_id, "accounts")


def test_aod_on_defers_indexing_to_the_job_and_sessions_do_not_queue() -> None:
    """With AOD on, set_entries saves take the index lock one by one; bridge_save_records leaves
    the records to Sugar's index job: they are not searchable until it runs, then they are."""
    aod = AodIndex(per_save=0.05, contended=0.05)
    with Sandbox(aod=aod, latency=Latency(per_update=0.005, per_create=0.005)) as sb:
        with _client(sb) as client:
            answer = save_records(client, "Accounts", [{"name": f"N{i}"} for i in range(4)])
        assert answer.index_deferred is True
        ids = [r.id for r in answer.records]
        assert not any(sb.searchable("Accounts", i) for i in ids)
        assert sb.run_index_job() == 4
        assert all(sb.searchable("Accounts", i) for i in ids)
        assert sb.run_index_job() == 0

        def bulk(n: int) -> None:
            with _client(sb) as c:
                save_records(c, "Accounts", [{"name": f"S{n} {i}"} for i in range(5)])

        started = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(bulk, range(4)))
        together = time.monotonic() - started
    # 20 saves under the lock would take >= 20 x 50 ms; deferred, they do not queue on it.
    assert together < 0.6, together
