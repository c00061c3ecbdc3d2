"""Record real ``bridge_save_records`` exchanges (the bridge extension's bulk save), prefix 16.

Run by hand against a SuiteCRM 7 with the extension 1.3.0+ installed (admin user), e.g.::

    set -a; . /tmp/sugar-bridge-suitecrm/live.env; set +a
    python tests/recordings/record_bulk_save.py --out tests/recordings/suitecrm-7.15.0

Writes one JSON per exchange like ``record_crm_modules.py`` does, with ``"endpoint":
"extension"`` in the request of the calls sent to ``custom/service/bridge/rest.php``; the files
are one sequence in file-name order (``test_conformance.py`` replays them into one sandbox). The
ids are client-generated, fixed per run (``new_with_id``), so a replay creates the same ids. The
session id is redacted; every account made is marked deleted by the last step (recorded too).
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from record_crm_modules import tagged
from recorder import Recorder, run

PREFIX = "16"
SELECT = ["id", "name", "account_type", "industry", "annual_revenue", "description"]


def record_sequence(r: Recorder, tag: str) -> None:
    """The bulk save's contract, step by step (see each description)."""
    a, b, ghost = (str(uuid.uuid4()) for _ in range(3))
    created = r.record_extension(
        f"{PREFIX}_01_bulk_create_two_accounts",
        "bridge_save_records Accounts: two creates with client ids (new_with_id); each answered "
        "with the values read back from the database after the save (HTML-escaped on the wire "
        "like get_entries), the enum given by its label stored as its key.",
        "bridge_save_records",
        {
            "module_name": "Accounts",
            "records": [
                {
                    "id": a,
                    "new_with_id": True,
                    "name": f"{tag} Bulk O'Neil & Sons",
                    "account_type": "Customer",
                    "industry": "Technology",
                    "annual_revenue": "<b>1M</b>",
                },
                {
                    "id": b,
                    "new_with_id": True,
                    "name": f"{tag} Bulk Beta",
                    "account_type": "Analyst",
                    "description": "line 1\nline 2",
                },
            ],
            "select_fields": SELECT,
        },
    )
    r.created += [("Accounts", a), ("Accounts", b)]
    if not isinstance(created, dict) or created.get("saved") != 2:
        raise SystemExit(f"bulk create failed: {created!r}")
    r.record_extension(
        f"{PREFIX}_02_bulk_update_and_unknown_id",
        "bridge_save_records: an update of an existing account, and an id that matches nothing "
        "without new_with_id: error 1006 for that record alone (set_entries would answer "
        "success and store nothing).",
        "bridge_save_records",
        {
            "module_name": "Accounts",
            "records": [
                {"id": a, "industry": "Retail", "annual_revenue": ""},
                {"id": ghost, "name": f"{tag} Ghost"},
            ],
            "select_fields": SELECT,
        },
    )
    r.record_extension(
        f"{PREFIX}_03_bulk_replayed_create_updates",
        "bridge_save_records: a create replayed (new_with_id on an id that exists, as after a "
        "lost answer) updates the record: created false, no duplicate.",
        "bridge_save_records",
        {
            "module_name": "Accounts",
            "records": [{"id": b, "new_with_id": True, "name": f"{tag} Bulk Beta"}],
            "select_fields": ["id", "name"],
        },
    )
    r.record(
        f"{PREFIX}_04_get_entries_after_bulk",
        "get_entries of the two accounts: the same values the bulk answers gave.",
        "get_entries",
        {
            "module_name": "Accounts",
            "ids": [a, b],
            "select_fields": SELECT,
            "link_name_to_fields_array": [],
            "track_view": False,
        },
    )
    r.record_extension(
        f"{PREFIX}_05_bulk_refuses_users",
        "bridge_save_records Users: refused as a whole (1005): set_entries gives Users semantics "
        "a plain bean save has not.",
        "bridge_save_records",
        {"module_name": "Users", "records": [{"last_name": "x"}], "select_fields": []},
    )
    r.record_extension(
        f"{PREFIX}_06_bulk_no_fields_asked",
        "bridge_save_records without select_fields: saved, no entry in the answer.",
        "bridge_save_records",
        {
            "module_name": "Accounts",
            "records": [{"id": a, "description": "no fields asked"}],
            "select_fields": [],
        },
    )
    r.record_extension(
        f"{PREFIX}_07_bulk_delete",
        "bridge_save_records with deleted 1: marked deleted (mark_deleted), no entry answered.",
        "bridge_save_records",
        {
            "module_name": "Accounts",
            "records": [{"id": a, "deleted": 1}, {"id": b, "deleted": 1}],
            "select_fields": ["id", "name"],
        },
    )
    r.record(
        f"{PREFIX}_08_get_entries_after_bulk_delete",
        "get_entries after the bulk delete: the warning entries of deleted records.",
        "get_entries",
        {
            "module_name": "Accounts",
            "ids": [a, b],
            "select_fields": ["id", "name"],
            "link_name_to_fields_array": [],
            "track_view": False,
        },
    )


def main(argv: list[str] | None = None) -> int:
    """Record the sequence into ``--out`` (its earlier files of the prefix are replaced)."""
    return run(__doc__, [PREFIX], record_sequence, argv, tagged=tagged())


if __name__ == "__main__":
    raise SystemExit(main())
