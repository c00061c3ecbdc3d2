"""Record what a real SuiteCRM tells about *when a case was closed* (issue 16's resolution time).

Run by hand against a SuiteCRM 7 (admin user), e.g.::

    set -a; . /tmp/sugar-bridge-suitecrm/live.env; set +a
    python tests/recordings/record_case_close.py

Writes ``22_<step>_<what>.json`` (one sequence, in file-name order):

1. a case created Open with a past ``date_entered`` and a past ``date_modified``: Sugar keeps
   the first and stamps ``date_modified`` now (``SugarBean::save``: ``update_date_modified`` is
   true over the API; only the Import wizard keeps a given one, modules/Import/Importer.php);
2. the case read back;
3. the case closed (``state`` Closed, ``status`` Closed_Closed) with ``set_entry``: on the CI's
   SuiteCRM 7.15.0 bundle the after_save hook of AOP (``CaseUpdatesHook::closureNotify`` → the
   closure e-mail's template) dies on a class the bundle does not have
   (``Soundasleep\\Html2Text``, html2text 2.x as 7.15.0's composer.lock pins; the bundle's
   vendor/ has html2text 0.5.0, namespaced ``Html2Text``): HTTP 500, empty body — *after* the
   row was saved and *before* ``SugarBean::auditBean`` (called after the after_save hooks), so
   no cases_audit row records the close (an official release has the class and closes it);
4. the case read back: closed, ``date_modified`` the time of the close.

``Cases.state`` and ``status`` are audited (modules/Cases/vardefs.php), but v4_1 has no method
that reads an audit table and the Audit module has no table of its own: what the API offers as
the time of the close is ``date_modified``. The case is marked deleted at the end.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from recorder import Recorder, run

FIELDS = ["id", "name", "state", "status", "date_entered", "date_modified", "deleted"]


def sequence(r: Recorder, tag: str) -> None:
    step = iter(range(1, 100))

    def rec(what: str, description: str, method: str, **params: Any) -> Any:
        return r.record(f"22_{next(step):02d}_{what}", description, method, params)

    case = rec(
        "cases_create_open_dates_given",
        "set_entry Cases: an open case with date_entered and date_modified given (both past).",
        "set_entry",
        module_name="Cases",
        name_value_list=[
            {"name": "name", "value": f"{tag} Dead pixels"},
            {"name": "state", "value": "Open"},
            {"name": "status", "value": "Open_New"},
            {"name": "date_entered", "value": "2026-01-05 10:00:00"},
            {"name": "date_modified", "value": "2026-01-06 11:00:00"},
        ],
    )["id"]
    r.created.append(("Cases", case))
    rec(
        "cases_get_entry_after_create",
        "get_entry Cases: date_entered as given, date_modified now (the given one ignored).",
        "get_entry",
        module_name="Cases",
        id=case,
        select_fields=FIELDS,
        link_name_to_fields_array=[],
        track_view=False,
    )
    time.sleep(1.1)
    rec(
        "cases_close_set_entry",
        "set_entry Cases: close the case (state Closed, status Closed_Closed).",
        "set_entry",
        module_name="Cases",
        name_value_list=[
            {"name": "id", "value": case},
            {"name": "state", "value": "Closed"},
            {"name": "status", "value": "Closed_Closed"},
        ],
    )
    rec(
        "cases_get_entry_after_close",
        "get_entry Cases: the close was saved; date_modified is the time of the close.",
        "get_entry",
        module_name="Cases",
        id=case,
        select_fields=FIELDS,
        link_name_to_fields_array=[],
        track_view=False,
    )


def main(argv: list[str] | None = None) -> int:
    return run(__doc__ or "", ["22"], sequence, argv)


if __name__ == "__main__":
    raise SystemExit(main())
