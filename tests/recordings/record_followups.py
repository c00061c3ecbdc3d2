"""Record how a follow-up's life reads back from the real Sugar (prefix 18).

The commercial policy (sugar_bridge/push/followups.py) creates Tasks and Calls with client ids,
then, night after night, reads their status with ``get_entries`` to know whether a rep closed
(or deleted) them. Run by hand against a SuiteCRM 7 (admin user), e.g.::

    set -a; . /tmp/sugar-bridge-suitecrm/live.env; set +a
    python tests/recordings/record_followups.py --out tests/recordings/suitecrm-7.15.0

Writes one JSON per exchange like ``record_crm_modules.py``; the files are one sequence in
file-name order (``test_conformance.py`` replays them into one sandbox). Ids are client-generated
and fixed per run (``new_with_id``). The session id is redacted; the account made is deleted by
the last step (recorded too).
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from record_crm_modules import tagged
from recorder import Recorder, run

PREFIX = "18"
FIELDS = ["id", "status", "date_modified"]


def _nvl(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"name": k, "value": v} for k, v in values.items()]


def _get(r: Recorder, name: str, description: str, module: str, ids: list[str]) -> Any:
    return r.record(
        name,
        description,
        "get_entries",
        {
            "module_name": module,
            "ids": ids,
            "select_fields": FIELDS,
            "link_name_to_fields_array": [],
            "track_view": False,
        },
    )


def record_sequence(r: Recorder, tag: str) -> None:
    """A task and a call for an account: open, closed by a rep, deleted; read back each time."""
    account, task, call = (str(uuid.uuid4()) for _ in range(3))
    r.record(
        f"{PREFIX}_01_account_create",
        "set_entry Accounts with a client id: the account the follow-ups are for.",
        "set_entry",
        {"module_name": "Accounts", "name_value_list": _nvl(
            {"id": account, "new_with_id": True, "name": f"{tag} Follow-up Account"}
        )},
    )  # fmt: skip
    r.created.append(("Accounts", account))
    r.record(
        f"{PREFIX}_02_task_create",
        "set_entry Tasks with a client id, assigned to a user, linked to the account (parent): "
        "a follow-up as the push makes it.",
        "set_entry",
        {"module_name": "Tasks", "name_value_list": _nvl({
            "id": task, "new_with_id": True, "name": f"{tag} Relancer", "status": "Not Started",
            "priority": "High", "date_due": "2026-12-13 09:00:00", "date_due_flag": 0,
            "parent_type": "Accounts", "parent_id": account, "assigned_user_id": "1",
        })},
    )  # fmt: skip
    r.created.append(("Tasks", task))
    r.record(
        f"{PREFIX}_03_call_create",
        "set_entry Calls with a client id, Planned, outbound, linked to the account.",
        "set_entry",
        {"module_name": "Calls", "name_value_list": _nvl({
            "id": call, "new_with_id": True, "name": f"{tag} Call", "status": "Planned",
            "direction": "Outbound", "date_start": "2026-12-09 09:00:00",
            "duration_hours": 0, "duration_minutes": 15,
            "parent_type": "Accounts", "parent_id": account, "assigned_user_id": "1",
        })},
    )  # fmt: skip
    r.created.append(("Calls", call))
    _get(
        r,
        f"{PREFIX}_04_get_entries_open_task",
        "get_entries Tasks id, status, date_modified: an open follow-up (Not Started).",
        "Tasks",
        [task],
    )
    r.record(
        f"{PREFIX}_05_task_completed_by_a_rep",
        "set_entry Tasks status Completed: what a rep's 'Close' does to a task.",
        "set_entry",
        {"module_name": "Tasks", "name_value_list": _nvl({"id": task, "status": "Completed"})},
    )
    r.record(
        f"{PREFIX}_06_call_held_by_a_rep",
        "set_entry Calls status Held: a call a rep logged as made.",
        "set_entry",
        {"module_name": "Calls", "name_value_list": _nvl({"id": call, "status": "Held"})},
    )
    _get(
        r,
        f"{PREFIX}_07_get_entries_closed_task",
        "get_entries Tasks: the closed task reads back Completed.",
        "Tasks",
        [task],
    )
    _get(
        r,
        f"{PREFIX}_08_get_entries_held_call",
        "get_entries Calls: the call reads back Held.",
        "Calls",
        [call],
    )
    r.record(
        f"{PREFIX}_09_task_deleted_by_a_rep",
        "set_entry Tasks deleted 1: a rep deletes the follow-up.",
        "set_entry",
        {"module_name": "Tasks", "name_value_list": _nvl({"id": task, "deleted": 1})},
    )
    _get(
        r,
        f"{PREFIX}_10_get_entries_deleted_task",
        "get_entries Tasks of a deleted task: a warning entry (deleted), not an error.",
        "Tasks",
        [task],
    )
    r.record(
        f"{PREFIX}_11_cleanup",
        "set_entries deleted 1 on the call (the account is deleted after, unrecorded).",
        "set_entries",
        {"module_name": "Calls", "name_value_lists": [_nvl({"id": call, "deleted": 1})]},
    )
    r.created.clear()
    r.created.append(("Accounts", account))


def main(argv: list[str] | None = None) -> int:
    """Record the sequence into ``--out`` (its earlier files of the prefix are replaced)."""
    return run(__doc__, [PREFIX], record_sequence, argv, tagged=tagged())


if __name__ == "__main__":
    raise SystemExit(main())
