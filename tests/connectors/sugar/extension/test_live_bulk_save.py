"""``bridge_save_records`` on the real SuiteCRM: a normal save, with AOD's indexing deferred.

What the extension's bulk save must do, checked where it runs:

- everything a save does: the answer's values equal a ``get_entries`` read-back (so the push may
  skip the read-back), ``date_modified`` and ``modified_user_id`` move, a custom field is stored,
  an audited field's change is in the audit table (Accounts audit ``phone_office``), an unknown
  id is refused (1006) and a replayed create updates;
- with AOD search indexing on, no per-save indexing: no ``AOD_IndexEvent`` for the records and
  AOD's search does not find them; after Sugar's own index job runs the way the site's cron runs
  it (the job queued, then ``cron.php`` as the web server's user), search finds every one. So a
  site must schedule Sugar's cron (README, "Bulk writes and Sugar's cron").

The second part switches the Sugar's AOD setting on for its duration (``.ci/suitecrm.sh aod``,
then back as it was) and needs the Sugar's files: ``SUGAR_LIVE_SUITECRM_ROOT`` (CI sets it).
Isolation: accounts and the custom field carry a per-run token and are removed at the end.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.sugar import query as q
from connectors.sugar.client import SugarClient
from connectors.sugar.extension.bulk import bulk_support, related_ids, save_records
from tests.conftest import REPO
from tests.live.support import remove_fields

pytestmark = pytest.mark.live

TOKEN = f"sbbulk{secrets.token_hex(3)}"
FIELD = f"{TOKEN}_c"

# AOD's own search (what SuiteCRM's global search runs with the Lucene engine): record ids found.
_SEARCH_PHP = r"""
define('sugarEntry', true);
require_once 'include/entryPoint.php';
$index = BeanFactory::getBean('AOD_Index')->getIndex();
$found = array();
foreach ($index->find($argv[1]) as $hit) { $found[] = $hit->record_id; }
echo json_encode($found);
"""
# Rows of Sugar's audit table for one account's field.
_AUDIT_PHP = r"""
define('sugarEntry', true);
require_once 'include/entryPoint.php';
$db = DBManagerFactory::getInstance();
echo (int) $db->getOne('SELECT COUNT(*) FROM accounts_audit WHERE parent_id = '
    . $db->quoted($argv[1]) . ' AND field_name = ' . $db->quoted($argv[2]));
"""
# Queues Sugar's "Perform Lucene Index" job (aodIndexUnindexed) as its scheduler does when due.
_QUEUE_PHP = r"""
define('sugarEntry', true);
require_once 'include/entryPoint.php';
require_once 'include/SugarQueue/SugarJobQueue.php';
$job = BeanFactory::newBean('SchedulersJobs');
$job->name = 'Perform Lucene Index (sugar-bridge live test)';
$job->target = 'function::aodIndexUnindexed';
$job->assigned_user_id = '1';
$queue = new SugarJobQueue();
echo $queue->submitJob($job);
"""


def _root() -> Path:
    root = os.environ.get("SUGAR_LIVE_SUITECRM_ROOT")
    if not root or not (Path(root) / "cron.php").is_file() or shutil.which("php") is None:
        pytest.skip("SUGAR_LIVE_SUITECRM_ROOT (the Sugar's files) and php are needed")
    return Path(root)


def _as_web_user(root: Path, args: list[str]) -> str:
    """Run ``args`` in Sugar's root as the owner of its files (the web server's user): files the
    run creates (index locks, cache) must stay writable for Apache."""
    owner = root.owner()
    runner = [] if os.geteuid() != 0 or owner == "root" else ["runuser", "-u", owner, "--"]
    done = subprocess.run(
        [*runner, *args], cwd=root, capture_output=True, text=True, timeout=300, check=True
    )
    return done.stdout


def _php(root: Path, code: str, *args: str) -> str:
    """A PHP snippet run in Sugar's root as the web user. From a file, not ``php -r``: Sugar's
    entry point refuses the ``PHP_SELF`` of ``-r`` ("Standard input code": "Bad data passed in")."""
    with tempfile.NamedTemporaryFile("w", suffix=".php", prefix="sugar-bridge-") as script:
        script.write("<?php\n" + code)
        script.flush()
        os.chmod(script.name, 0o644)
        return _as_web_user(root, ["php", "-f", script.name, "--", *args])


def search(root: Path, term: str) -> set[str]:
    """Ids of the records AOD's Lucene search finds for ``term``."""
    out = _php(root, _SEARCH_PHP, term)
    return set(json.loads(out[out.index("[") :] or "[]"))


def run_index_job(root: Path) -> None:
    """Sugar's index job, the way the site's cron runs it: the job is queued (as the scheduler
    queues it when due) and ``cron.php`` runs the queue. The throttle file is removed first: cron
    refuses to run twice within ``cron.min_cron_interval`` (30 s)."""
    _php(root, _QUEUE_PHP)
    (root / "cache" / "modules" / "Schedulers" / "lastrun").unlink(missing_ok=True)
    _as_web_user(root, ["php", "-f", "cron.php"])


def set_aod(root: Path, mode: str) -> None:
    """``.ci/suitecrm.sh aod on|off`` for this Sugar, and PHP's opcache let to see it (2 s)."""
    env = os.environ | {"SUGAR_BRIDGE_SUITECRM_DIR": str(root.parent)}
    subprocess.run(
        ["bash", str(REPO / ".ci" / "suitecrm.sh"), "aod", mode],
        env=env,
        check=True,
        capture_output=True,
    )
    time.sleep(3)


@pytest.fixture(scope="module")
def accounts(live_sugar: SugarClient) -> Iterator[list[str]]:
    """This run's account ids (added by the tests), marked deleted at the end, and the custom
    field the first test makes, removed."""
    ids: list[str] = []
    try:
        yield ids
    finally:
        if ids:
            save_records(live_sugar, "Accounts", [{"id": i, "deleted": 1} for i in ids])
        remove_fields(live_sugar, "Accounts", [FIELD])


def test_a_bulk_save_is_a_save_and_its_answer_is_the_read_back(
    live_sugar: SugarClient, accounts: list[str]
) -> None:
    live_sugar.call_extension(
        "bridge_ensure_custom_field",
        module_name="Accounts",
        field={"name": FIELD, "type": "varchar", "label": f"Bulk {TOKEN}"},
        views=[],
    )
    fields = ["name", "industry", "account_type", FIELD, "date_modified", "modified_user_id"]
    rows = [
        {"name": f"{TOKEN} O'Neil & Sons", "industry": "Technology", FIELD: "<b>one</b>"},
        {"name": f"{TOKEN} Beta", "account_type": "Customer", FIELD: "two"},
    ]
    created = save_records(live_sugar, "Accounts", rows, fields)
    accounts.extend(r.id for r in created.records)
    assert [(r.saved, r.created) for r in created.records] == [(True, True), (True, True)]
    read = live_sugar.module("Accounts").get_many(accounts, fields=[*fields, "id"])
    for answer in created.records:
        assert answer.stored == read[answer.id]
    first = created.records[0].stored
    assert first is not None
    assert first["name"] == f"{TOKEN} O'Neil & Sons"
    assert first[FIELD] == "<b>one</b>"
    assert first["modified_user_id"] == live_sugar.user_id

    time.sleep(1.1)  # date_modified has whole seconds
    ghost = "00000000-0000-4000-8000-00000000b01c"
    update = save_records(
        live_sugar,
        "Accounts",
        [{"id": accounts[0], "industry": "Retail"}, {"id": ghost, "name": f"{TOKEN} ghost"}],
        fields,
    )
    changed, refused = update.records
    assert changed.saved
    assert not changed.created
    assert changed.stored is not None
    assert changed.stored["industry"] == "Retail"
    assert changed.stored["date_modified"] > first["date_modified"]
    assert not refused.saved
    assert refused.error is not None
    assert refused.error.startswith("1006 ")
    assert live_sugar.module("Accounts").get(ghost) is None

    replay = live_sugar.call_extension(
        "bridge_save_records",
        module_name="Accounts",
        records=[{"id": accounts[1], "new_with_id": True, "name": f"{TOKEN} Beta"}],
        select_fields=["id"],
    )
    assert replay["records"][0]["saved"] is True
    assert replay["records"][0]["created"] is False
    found = live_sugar.module("Accounts").list(q.like_prefix("accounts.name", TOKEN), ["id"])
    assert sorted(r["id"] for r in found) == sorted(accounts)


#: Markup Sugar's save cleans (SugarBean::cleanBean → purify_html on every text field): scripts,
#: frames, event handlers, a link back into Sugar with a query (SuiteCRM's URIFilter), entities.
MARKUP = [
    "<script>alert(1)</script>Plain & <b>bold</b>",
    "<iframe src='http://example.com/x'></iframe><a href='http://example.com/?a=1&b=2'>x</a>",
    '<img src=x onerror=alert(1)><a href="index.php?module=Users&action=Logout">out</a>',
    "O'Neil &amp; Sons <i>&lt;ltd&gt;</i> <style>p{}</style> é ü ß",
]


def test_a_bulk_save_cleans_markup_exactly_as_set_entries(
    live_sugar: SugarClient, accounts: list[str]
) -> None:
    """Extension 1.4.0 keeps HTMLPurifier's definitions in memory for the call (one file read,
    not one per field and save): the values stored must be those of a ``set_entries`` save,
    for every record of the batch (the later ones are cleaned by the kept definitions)."""
    fields = ["name", "description", "billing_address_street"]
    rows = [
        {"name": f"{TOKEN} markup {n} {value}", "description": value,
         "billing_address_street": value}
        for n, value in enumerate(MARKUP * 2)
    ]  # fmt: skip
    bulk = save_records(live_sugar, "Accounts", rows, fields)
    accounts.extend(r.id for r in bulk.records)
    plain = live_sugar.module("Accounts").save_many(rows, check_exists=False)
    accounts.extend(plain)
    read = live_sugar.module("Accounts").get_many(
        [*(r.id for r in bulk.records), *plain], fields=[*fields, "id"]
    )
    for answer, other in zip(bulk.records, plain, strict=True):
        assert answer.saved
        assert {f: read[answer.id][f] for f in fields} == {f: read[other][f] for f in fields}
        assert answer.stored is not None
        assert {f: answer.stored[f] for f in fields} == {f: read[other][f] for f in fields}
    assert "script" not in read[bulk.records[0].id]["description"]


def test_related_ids_are_what_get_relationships_lists(
    live_sugar: SugarClient, accounts: list[str]
) -> None:
    """``bridge_get_related_ids`` (1.4.0) answers a target list's live members at once: the
    ids ``get_relationships`` pages through, a deleted account and a ghost id left out."""
    made = save_records(live_sugar, "Accounts", [{"name": f"{TOKEN} member {n}"} for n in range(4)])
    ids = [r.id for r in made.records]
    accounts.extend(ids)
    lists = live_sugar.module("ProspectLists")
    list_id = lists.create({"name": f"{TOKEN} Segment: Champions", "list_type": "default"})
    try:
        lists.link(list_id, "accounts", [*ids, "00000000-0000-4000-8000-00000000b01d"])
        save_records(live_sugar, "Accounts", [{"id": ids[3], "deleted": 1}])
        paged = {r["id"] for r in lists.related(list_id, "accounts", fields=["id"], page_size=2)}
        assert related_ids(live_sugar, "ProspectLists", list_id, "accounts") == paged
        assert paged == set(ids[:3])
        assert related_ids(live_sugar, "ProspectLists", list_id, "Accounts") == set()
    finally:
        lists.update(list_id, {"deleted": 1})


def test_a_bulk_update_is_audited(live_sugar: SugarClient, accounts: list[str]) -> None:
    """The bean's save writes Sugar's audit trail (Accounts audit ``phone_office``)."""
    root = _root()
    answer = save_records(live_sugar, "Accounts", [{"name": f"{TOKEN} Audited"}])
    record_id = answer.records[0].id
    accounts.append(record_id)
    assert _php(root, _AUDIT_PHP, record_id, "phone_office").strip().endswith("0")
    for phone in ("+33 1 00 00 00 01", "+33 1 00 00 00 02"):
        assert save_records(live_sugar, "Accounts", [{"id": record_id, "phone_office": phone}])
    assert _php(root, _AUDIT_PHP, record_id, "phone_office").strip().endswith("2")


def test_bulk_saves_are_indexed_by_sugars_job_not_per_save(
    live_sugar: SugarClient, accounts: list[str]
) -> None:
    root = _root()
    before = bulk_support(live_sugar)
    assert before.available, before.reason
    try:
        if not before.aod_enabled:
            set_aod(root, "on")
        assert bulk_support(live_sugar).aod_enabled is True
        term = f"{TOKEN}idx"
        answer = save_records(
            live_sugar, "Accounts", [{"name": f"{term} {n}"} for n in range(3)], ["name"]
        )
        ids = [r.id for r in answer.records]
        accounts.extend(ids)
        assert answer.index_deferred is True
        assert all(r.saved for r in answer.records)
        events = live_sugar.module("AOD_IndexEvent")
        indexed = q.in_("aod_indexevent.record_id", ids)
        assert events.count(indexed) == 0, "a bulk save must not index per save"
        assert search(root, term) == set()

        run_index_job(root)
        assert events.count(indexed) == 3
        assert search(root, term) == set(ids)
    finally:
        if not before.aod_enabled:
            set_aod(root, "off")
