"""Record target-list membership written in bulk: many ids in one ``set_relationship``, prefix 17.

Run by hand against a SuiteCRM 7 with the extension 1.4.0+ installed (admin user), e.g.::

    set -a; . /tmp/sugar-bridge-suitecrm/live.env; set +a
    python tests/recordings/record_list_members.py --out tests/recordings/suitecrm-7.15.0

What the push's list reconciliation relies on (``sugar_bridge/push/lists.py``): one call adds or
removes many accounts; ``created``/``deleted`` count calls, not rows, and say nothing of ids
that do not exist (so the push reads the members back); adding members again, or an id twice in
one call, stores each member once (idempotent). The accounts and the list have client ids fixed
per run (``new_with_id``), so a replay creates the same ids. Sugar answers members in no defined
order (SuiteCRM 7.15 gave neither the ids' nor the adds' order): the conformance test compares
them as a set. The accounts are marked deleted by the last steps (recorded too), the list by the
recorder's clean-up. The session id is redacted.
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from record_crm_modules import tagged
from recorder import Recorder, run

PREFIX = "17"


def _members(r: Recorder, name: str, description: str, list_id: str) -> Any:
    return r.record(
        name,
        description,
        "get_relationships",
        {
            "module_name": "ProspectLists",
            "module_id": list_id,
            "link_field_name": "accounts",
            "related_module_query": "",
            "related_fields": ["id", "name"],
            "related_module_link_name_to_fields_array": [],
            "deleted": 0,
            "order_by": "",
            "offset": 0,
            "limit": 1000,
        },
    )


def _link(r: Recorder, name: str, description: str, list_id: str, ids: list[str],
          delete: int) -> Any:  # fmt: skip
    return r.record(
        name,
        description,
        "set_relationship",
        {
            "module_name": "ProspectLists",
            "module_id": list_id,
            "link_field_name": "accounts",
            "related_ids": ids,
            "name_value_list": [],
            "delete": delete,
        },
    )


def record_sequence(r: Recorder, tag: str) -> None:
    """Many members added, added again, removed; read back after each (see descriptions)."""
    ids = [str(uuid.uuid4()) for _ in range(8)]
    ghost = str(uuid.uuid4())
    list_id = str(uuid.uuid4())
    made = r.record_extension(
        f"{PREFIX}_01_bulk_create_eight_accounts",
        "bridge_save_records: eight accounts with client ids.",
        "bridge_save_records",
        {
            "module_name": "Accounts",
            "records": [
                {"id": i, "new_with_id": True, "name": f"{tag} Member {n}"}
                for n, i in enumerate(ids)
            ],
            "select_fields": ["id"],
        },
    )
    r.created += [("Accounts", i) for i in ids]
    if not isinstance(made, dict) or made.get("saved") != len(ids):
        raise SystemExit(f"bulk create failed: {made!r}")
    r.record(
        f"{PREFIX}_02_prospectlist_create_with_id",
        "set_entry ProspectLists with a client id (new_with_id): the segment's target list.",
        "set_entry",
        {
            "module_name": "ProspectLists",
            "name_value_list": [
                {"name": "id", "value": list_id},
                {"name": "new_with_id", "value": True},
                {"name": "name", "value": f"{tag} Segment: Champions"},
                {"name": "list_type", "value": "default"},
            ],
        },
    )
    r.created.append(("ProspectLists", list_id))
    _link(
        r,
        f"{PREFIX}_03_add_six_with_a_ghost_and_a_repeat",
        "set_relationship add: six accounts, an id that matches nothing and one id twice, in one "
        "call: answered created 1 (one per call, whatever the rows), failed 0.",
        list_id,
        [*ids[:6], ghost, ids[0]],
        0,
    )
    _members(
        r,
        f"{PREFIX}_04_members_after_add",
        "get_relationships: the six accounts, each once; the ghost id is not a member.",
        list_id,
    )
    _link(
        r,
        f"{PREFIX}_05_add_again_overlapping",
        "set_relationship add again: four members already in the list and the two others: "
        "created 1, no duplicate.",
        list_id,
        [*ids[2:6], *ids[6:]],
        0,
    )
    _members(
        r,
        f"{PREFIX}_06_members_after_add_again",
        "get_relationships: the eight accounts, each once.",
        list_id,
    )
    _link(
        r,
        f"{PREFIX}_07_remove_three_and_a_ghost",
        "set_relationship delete: three members and an id that matches nothing: deleted 1 (one "
        "per call), failed 0.",
        list_id,
        [ids[0], ids[3], ids[7], ghost],
        1,
    )
    _members(
        r,
        f"{PREFIX}_08_members_after_remove",
        "get_relationships: the five accounts left.",
        list_id,
    )
    r.record_extension(
        f"{PREFIX}_09_related_ids_after_remove",
        "bridge_get_related_ids (extension 1.4.0): the same five members, every id in one answer "
        "in id order, without a bean built per member.",
        "bridge_get_related_ids",
        {"module_name": "ProspectLists", "module_id": list_id, "link_field_name": "accounts"},
    )
    r.record_extension(
        f"{PREFIX}_10_bulk_delete_accounts",
        "bridge_save_records deleted 1: the eight accounts marked deleted.",
        "bridge_save_records",
        {
            "module_name": "Accounts",
            "records": [{"id": i, "deleted": 1} for i in ids],
            "select_fields": [],
        },
    )
    _members(
        r,
        f"{PREFIX}_11_members_after_accounts_deleted",
        "get_relationships: deleted accounts are no members any more.",
        list_id,
    )
    r.record_extension(
        f"{PREFIX}_12_related_ids_after_accounts_deleted",
        "bridge_get_related_ids: no ids either.",
        "bridge_get_related_ids",
        {"module_name": "ProspectLists", "module_id": list_id, "link_field_name": "accounts"},
    )


def main(argv: list[str] | None = None) -> int:
    """Record the sequence into ``--out`` (its earlier files of the prefix are replaced)."""
    return run(__doc__, [PREFIX], record_sequence, argv, tagged=tagged())


if __name__ == "__main__":
    raise SystemExit(main())
