"""Customers who moved between Sugar modules since the last push: a company now typed as a
person (``push.persons``), or back.

The push then writes the customer into its new module (matched or created there); its old
record stays in Sugar, the reps' record, but the figures the push once put there would go
stale (a segment, a lifecycle stage, a CLV nobody updates any more). So the push **empties its
mapped fields on the old record** ("retires" it), verified by read-back like any write. The old
record's external id, name, owner and everything else stay; it leaves the segment lists (the
lists' step, which holds only each customer's current record); its open follow-ups are left to
their owners. The snapshot then holds the emptied values, so a retired record is written once,
and a customer who moves back gets its figures again on the next push (a diff against empty).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence, Set
from datetime import datetime

from sqlalchemy import Engine

from connectors.sugar.client import SugarClient
from sugar_bridge.push import store
from sugar_bridge.push.diff import FieldSpec
from sugar_bridge.push.store import LogEntry
from sugar_bridge.push.sugar_io import Expect, RowResult, WriteRow

log = logging.getLogger(__name__)

#: The ``push_log.operation`` of an old record's mapped fields emptied.
RETIRE = "retire"


def retire_moved(
    engine: Engine,
    client: SugarClient,
    home: Mapping[int, str],
    modules: Sequence[str],
    current: Set[str],
    specs_of: Callable[[str], Sequence[FieldSpec]],
    write: Callable[[SugarClient, list[WriteRow], str], list[RowResult]],
    *,
    run_id: int,
    now: datetime,
    dry_run: bool,
    batch_size: int,
) -> tuple[int, int]:
    """Empty the mapped fields of every record the push once wrote for a customer whose
    current module (``home``: customer_key → module, one of ``modules``) is another one, and
    that is not the current record of any customer (``current``: record ids matched or created).
    ``specs_of(module)`` are the
    module's mapped fields; ``write`` writes and verifies a batch (the push's write path).
    Returns (records retired, records that failed); a dry run counts what it would retire."""
    retired = failed = 0
    for module in modules:
        # Retired: a record no customer has as its current record, whose customers (all of
        # them, should several have been written there) now live in another module.
        moved = {
            record_id: min(keys)
            for record_id, keys in store.snapshot_customers(engine, module).items()
            if record_id not in current and all(key in home and home[key] != module for key in keys)
        }
        if not moved:
            continue
        specs = {s.field: s for s in specs_of(module)}
        snapshot = store.load_snapshot(engine, module)
        rows: list[WriteRow] = []
        old: dict[str, dict[str, str | None]] = {}
        for record_id, key in sorted(moved.items()):
            pushed = {f: p.value for f, p in snapshot.get(record_id, {}).items() if f in specs}
            if not any(pushed.values()):
                continue  # already retired
            old[record_id] = dict(pushed)
            rows.append(
                WriteRow(
                    key,
                    record_id,
                    dict.fromkeys(pushed, ""),
                    {f: Expect("", specs[f].kind, specs[f].precision) for f in pushed},
                )
            )
        if not rows:
            continue
        log.warning(
            "push: %d %s record(s) belong to customers now pushed to another module: %s their "
            "pushed fields (%s)",
            len(rows),
            module,
            "would empty" if dry_run else "emptying",
            ", ".join(sorted({f for r in rows for f in r.values})),
        )
        if dry_run:
            retired += len(rows)
            continue
        for start in range(0, len(rows), batch_size):
            results = write(client, rows[start : start + batch_size], module)
            entries = []
            for res in results:
                record_id = str(res.row.account_id)
                if res.ok:
                    retired += 1
                else:
                    failed += 1
                entries.append(
                    LogEntry(
                        RETIRE,
                        "ok" if res.ok else "failed",
                        record_id,
                        res.row.customer_key,
                        old[record_id],
                        dict(res.row.values),
                        res.error,
                        res.stuck if res.found else None,
                        module,
                    )
                )
            store.write_log(engine, run_id, entries, now)
    return retired, failed
