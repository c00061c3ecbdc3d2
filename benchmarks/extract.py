"""The Sugar source at scale (issue 16): a full extraction, then a night without changes.

``python -m benchmarks extract [--size small|medium|large]`` measures against the sandbox;
``--live`` against the SuiteCRM of ``SUGAR_LIVE_URL`` / ``_USERNAME`` / ``_PASSWORD`` whose files
are at ``SUGAR_LIVE_SUITECRM_ROOT`` (the CI's, ``.ci/suitecrm.sh``). The records are inserted
straight into Sugar's database with SQL (creating 100 k records through the API would take
hours on a 2-core SuiteCRM), under ids starting with ``bench-``, and deleted again at the end.

Figures: records/s of the full extraction (every record read, merged and committed page by
page into a SQLite warehouse with its watermark), then of an incremental run with nothing
changed (it must read only the overlap's records and write none), then of one after editing
``edits`` records.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import Result

SIZES = {"small": 2_000, "medium": 20_000, "large": 100_000}
#: module -> (table, columns besides the common ones, a value per column)
MAIN = {
    "Accounts": ("accounts", {"name": "Bench account {n}", "industry": "Energy"}),
    "Contacts": ("contacts", {"first_name": "Ada", "last_name": "Bench {n}"}),
    "Leads": ("leads", {"last_name": "Bench lead {n}", "status": "New", "lead_source": "Web Site"}),
    "Opportunities": (
        "opportunities",
        {"name": "Bench deal {n}", "sales_stage": "Prospecting", "amount": "1000"},
    ),
    "Cases": ("cases", {"name": "Bench case {n}", "state": "Open", "status": "Open_New"}),
    "Calls": ("calls", {"name": "Bench call {n}", "direction": "Inbound", "status": "Held"}),
}
PREFIX = "bench-"


def _ids(module: str, n: int) -> list[str]:
    # 36 characters (Sugar's char(36)); "bench-" marks them for the clean-up
    return [f"{PREFIX}{module[:4].lower()}-{i:08d}".ljust(36, "0") for i in range(n)]


def _rows(module: str, n: int, when: datetime) -> list[dict[str, Any]]:
    _, extra = MAIN[module]
    rows = []
    # spread over the 30 days before ``when``, as a CRM's records are (a few share a second)
    step = 30 * 86_400 / n
    for i, record_id in enumerate(_ids(module, n)):
        stamp = (when - timedelta(seconds=int((n - i) * step))).strftime("%Y-%m-%d %H:%M:%S")
        row: dict[str, Any] = {
            "id": record_id,
            "date_entered": stamp,
            "date_modified": stamp,
            "modified_user_id": "1",
            "created_by": "1",
            "deleted": 0,
            "assigned_user_id": "1",
        }
        row.update({k: v.replace("{n}", str(i)) for k, v in extra.items()})
        rows.append(row)
    return rows


# --- the live SuiteCRM's database --------------------------------------------------------------


def _suitecrm_db(root: Path) -> Any:
    import pymysql

    text = (root / "config.php").read_text(encoding="utf-8")

    def value(key: str) -> str:
        match = re.search(rf"'{key}' => '([^']*)'", text)
        if match is None:
            raise RuntimeError(f"{root}/config.php: no {key}")
        return match.group(1)

    return pymysql.connect(
        host=value("db_host_name"),
        port=int(value("db_port") or 3306),
        user=value("db_user_name"),
        password=value("db_password"),
        database=value("db_name"),
        autocommit=True,
    )


def _insert_live(conn: Any, n: int, when: datetime) -> None:
    with conn.cursor() as cur:
        for module, (table, _) in MAIN.items():
            rows = _rows(module, n, when)
            columns = list(rows[0])
            sql = (
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                f"({', '.join(['%s'] * len(columns))})"
            )
            for start in range(0, len(rows), 5_000):
                cur.executemany(
                    sql, [tuple(r[c] for c in columns) for r in rows[start : start + 5_000]]
                )


def _edit_live(conn: Any, edits: int, when: datetime) -> None:
    stamp = when.strftime("%Y-%m-%d %H:%M:%S")
    with conn.cursor() as cur:
        ids = _ids("Contacts", edits)
        cur.executemany(
            "UPDATE contacts SET last_name = %s, date_modified = %s WHERE id = %s",
            [(f"Bench edited {i}", stamp, record_id) for i, record_id in enumerate(ids)],
        )


def _delete_live(conn: Any) -> None:
    with conn.cursor() as cur:
        for table, _ in MAIN.values():
            cur.execute(f"DELETE FROM {table} WHERE id LIKE %s", (PREFIX + "%",))


# --- the sandbox's store -----------------------------------------------------------------------


def _insert_sandbox(db: Path, n: int, when: datetime) -> None:
    import sqlite3

    with sqlite3.connect(db) as conn:
        for module, (table, _) in MAIN.items():
            rows = _rows(module, n, when)
            known = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
            columns = [c for c in rows[0] if c in known]
            conn.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                f"({', '.join(['?'] * len(columns))})",
                [tuple(r[c] for c in columns) for r in rows],
            )


def _edit_sandbox(db: Path, edits: int, when: datetime) -> None:
    import sqlite3

    stamp = when.strftime("%Y-%m-%d %H:%M:%S")
    with sqlite3.connect(db) as conn:
        conn.executemany(
            "UPDATE contacts SET last_name = ?, date_modified = ? WHERE id = ?",
            [
                (f"Bench edited {i}", stamp, record_id)
                for i, record_id in enumerate(_ids("Contacts", edits))
            ],
        )


# --- the run ------------------------------------------------------------------------------------


def _extract(
    client: Any, url: str, full: bool, page_size: int, read_method: str
) -> tuple[float, Any]:
    from connectors.sugar.crm import SugarSourceConfig
    from etl.crm import extract_crm
    from etl.db import create_engine_for

    engine = create_engine_for(url)
    config = SugarSourceConfig(page_size=page_size, read_method=read_method)  # type: ignore[arg-type]
    started = time.perf_counter()
    info = extract_crm(engine, client, config, full=full, modules=list(MAIN))
    seconds = time.perf_counter() - started
    engine.dispose()
    return seconds, info


def run(
    size: str,
    *,
    live: bool = False,
    edits: int = 100,
    workdir: Path | None = None,
    page_size: int = 1000,
    read_method: str = "auto",
) -> Result:
    """Full extraction, no-change incremental, and an incremental after ``edits`` edits;
    ``read_method`` "stock" reads with get_entry_list even where the extension is."""
    from connectors.sugar.client import SugarClient
    from etl.db import create_engine_for, upgrade

    n = SIZES[size]
    result = Result("extract" + (" --live" if live else ""), size)
    tmp = Path(tempfile.mkdtemp(prefix="bench-extract-", dir=workdir))
    url = f"sqlite:///{tmp / 'warehouse.db'}"
    upgrade(create_engine_for(url))
    # An hour ago: the overlap (5 min) then holds none of them.
    when = datetime.now(UTC).replace(tzinfo=None, microsecond=0) - timedelta(hours=1)
    sandbox = None
    conn = None
    try:
        if live:
            root = Path(os.environ["SUGAR_LIVE_SUITECRM_ROOT"])
            conn = _suitecrm_db(root)
            _delete_live(conn)
            started = time.perf_counter()
            _insert_live(conn, n, when)
            result.add("SQL insert into SuiteCRM", time.perf_counter() - started, "s")
            client = SugarClient(
                os.environ["SUGAR_LIVE_URL"],
                os.environ["SUGAR_LIVE_USERNAME"],
                os.environ["SUGAR_LIVE_PASSWORD"],
            )
        else:
            from sugar_bridge.sandbox import Sandbox

            db = tmp / "sandbox.db"
            sandbox = Sandbox(db_path=db)
            sandbox.start()
            _insert_sandbox(db, n, when)
            client = SugarClient(sandbox.base_url, "admin", sandbox.admin_password)
        with client:
            seconds, info = _extract(client, url, True, page_size, read_method)
            result.add("records in Sugar (6 modules)", info.read, "records")
            result.add("full extraction", seconds, "s")
            result.add("full extraction rate", info.read / seconds, "records/s")
            methods = sorted({m.method for m in info.modules if m.method})
            result.note(f"read with {', '.join(methods)}")
            result.headline("full extraction", f"{info.read / seconds:,.0f} records/s")
            seconds, info = _extract(client, url, False, page_size, read_method)
            result.add("no-change night: time", seconds, "s")
            result.add("no-change night: records read", info.read, "records")
            result.add("no-change night: rows written", info.changed, "rows")
            result.headline(
                "no-change night", f"{info.read} read, {info.changed} written in {seconds:.1f} s"
            )
            edited_at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
            if live:
                _edit_live(conn, edits, edited_at)
            else:
                _edit_sandbox(tmp / "sandbox.db", edits, edited_at)
            seconds, info = _extract(client, url, False, page_size, read_method)
            result.add(f"after {edits} edits: time", seconds, "s")
            result.add(f"after {edits} edits: rows written", info.changed, "rows")
    finally:
        if conn is not None:
            _delete_live(conn)
            conn.close()
        if sandbox is not None:
            sandbox.close()
    result.note(
        f"{n:,} records per module x {len(MAIN)} modules; page_size {page_size}; warehouse SQLite"
    )
    return result
