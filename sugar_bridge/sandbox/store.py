"""The sandbox's state: SQLite tables named and shaped like Sugar's.

One connection guarded by a re-entrant lock (the HTTP server is threaded; SQLite writes are
serialised anyway). File-backed for the CLI, ``:memory:`` for tests. Every method here works on
*stored* values; HTML encoding and the API's answer shapes are the server's business.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sugar_bridge.sandbox.exceptions import SandboxError
from sugar_bridge.sandbox.modules import (
    ACL_ACTION_DEFAULTS,
    ACL_MODULES,
    JOIN_TABLES,
    MODULES,
    FieldDef,
    LinkDef,
    ModuleDef,
)
from sugar_bridge.sandbox.quirks import GuidFactory

log = logging.getLogger(__name__)

Row = dict[str, Any]


#: The sandbox's clock (seconds since the epoch). A test replaying a recorded sequence pins it,
#: so that what happened within one second on the real Sugar does in the sandbox too (the order
#: of records by ``date_modified, id`` depends on it).
clock: Callable[[], float] = time.time


def now_db() -> str:
    """Current UTC time in Sugar's DB format (``clock``'s)."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(clock()))


def _sleep_sql(seconds: object) -> int:
    # MySQL's SLEEP() passes Sugar's filter and hangs the server; the sandbox accepts it (so the
    # query shape is reproduced) but does not sleep: a test must not hang for it.
    return 0


class Store:
    """Sugar-shaped SQLite state. ``path=None`` keeps everything in memory."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = str(path) if path is not None else ":memory:"
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self.conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        # MySQL functions a Sugar query may use that SQLite lacks.
        self.conn.create_function("SLEEP", 1, _sleep_sql)
        self.conn.create_function("NOW", 0, now_db)
        self.conn.create_function(
            "CONCAT", -1, lambda *a: "".join("" if x is None else str(x) for x in a)
        )
        self.conn.create_function("UTC_TIMESTAMP", 0, now_db)
        self.conn.create_function("CURDATE", 0, lambda: now_db()[:10])
        self.conn.create_function("UTC_DATE", 0, lambda: now_db()[:10])
        self.new_id = GuidFactory()
        self._custom_cache: dict[str, list[FieldDef]] | None = None
        with self.lock:
            self._create_schema()

    # --- plumbing --------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection."""
        with self.lock:
            self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic unit of writes (BEGIN … COMMIT, ROLLBACK on error)."""
        with self.lock:
            self.conn.execute("BEGIN")
            try:
                yield
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def rows(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[Row]:
        """Run a SELECT and return plain dicts (also handy in tests)."""
        with self.lock:
            return [dict(r) for r in self.conn.execute(sql, params).fetchall()]

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> int:
        """Run one statement; return the number of rows changed."""
        with self.lock:
            return self.conn.execute(sql, params).rowcount

    def _create_schema(self) -> None:
        """Create what is missing, so a database file written by an older sandbox gains the
        modules added since (every statement is IF NOT EXISTS; the ACL actions of a module are
        seeded once)."""
        stmts: list[str] = []
        for module in MODULES.values():
            cols = []
            for f in module.db_columns:
                if f.name == "id":
                    cols.append("id TEXT COLLATE NOCASE PRIMARY KEY")
                elif f.name == "deleted":
                    cols.append("deleted INTEGER NOT NULL DEFAULT 0")
                else:
                    cols.append(f"{f.name} {f.sql_type}")
            # WITHOUT ROWID: a scan runs in primary-key order, like InnoDB's clustered index, so
            # "no usable ORDER BY" answers in the same order as Sugar on MariaDB.
            stmts.append(
                f"CREATE TABLE IF NOT EXISTS {module.table} ({', '.join(cols)}) WITHOUT ROWID"
            )
            if "name" in {f.name for f in module.db_columns}:
                # Sugar's idx_<table>_name: a LIKE 'prefix%' filter walks it (rows by name).
                stmts.append(
                    f"CREATE INDEX IF NOT EXISTS idx_{module.table}_name ON {module.table} (name)"
                )
            shipped = [f for f in module.fields if f.source == "custom_fields"]
            if shipped:
                # SuiteCRM ships custom fields (jjwg_maps_*) on some modules: their <table>_cstm
                # exists from the start and every saved record gets a row there.
                cstm_cols = ", ".join(f"{f.name} {f.sql_type}" for f in shipped)
                stmts.append(
                    f"CREATE TABLE IF NOT EXISTS {module.table}_cstm (id_c TEXT COLLATE NOCASE"
                    f" PRIMARY KEY, {cstm_cols}) WITHOUT ROWID"
                )
        for table, extra_cols in JOIN_TABLES.items():
            cols = [
                "id TEXT PRIMARY KEY",
                "date_modified TEXT",
                "deleted INTEGER NOT NULL DEFAULT 0",
            ]
            ints = ("access_override", "primary_address", "noninheritable")
            cols += [f"{c} {'INTEGER' if c in ints else 'TEXT'}" for c in extra_cols]
            stmts.append(f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(cols)})")
        stmts.append(
            "CREATE TABLE IF NOT EXISTS fields_meta_data (id TEXT PRIMARY KEY, name TEXT, vname"
            " TEXT, comments TEXT,"
            " help TEXT, custom_module TEXT, type TEXT, len INTEGER, required INTEGER DEFAULT 0,"
            " default_value TEXT, date_modified TEXT, deleted INTEGER DEFAULT 0, audited INTEGER"
            " DEFAULT 0, massupdate INTEGER DEFAULT 0, duplicate_merge INTEGER DEFAULT 0,"
            " reportable INTEGER DEFAULT 1, importable TEXT, ext1 TEXT, ext2 TEXT, ext3 TEXT,"
            " ext4 TEXT)"
        )
        # What Studio writes to files in a real Sugar (labels, dropdown lists, layouts).
        stmts.append(
            "CREATE TABLE IF NOT EXISTS sandbox_labels (module TEXT, name TEXT, label TEXT,"
            " PRIMARY KEY (module, name))"
        )
        stmts.append(
            "CREATE TABLE IF NOT EXISTS sandbox_dropdowns (name TEXT PRIMARY KEY, options TEXT)"
        )
        stmts.append(
            "CREATE TABLE IF NOT EXISTS sandbox_layouts (module TEXT, view TEXT, field TEXT,"
            " PRIMARY KEY (module, view, field))"
        )
        stmts.append(
            "CREATE INDEX IF NOT EXISTS idx_pl_prospects ON prospect_lists_prospects"
            " (prospect_list_id, related_id)"
        )
        stmts.append("CREATE INDEX IF NOT EXISTS idx_eabr ON email_addr_bean_rel (bean_id)")
        stmts.append(
            "CREATE INDEX IF NOT EXISTS idx_aclaction_category_name ON acl_actions (category, name)"
        )
        for table, (left, right) in (
            ("accounts_contacts", ("account_id", "contact_id")),
            ("accounts_opportunities", ("account_id", "opportunity_id")),
        ):
            stmts.append(f"CREATE INDEX IF NOT EXISTS idx_{table} ON {table} ({left}, {right})")
        with self.transaction():
            for stmt in stmts:
                self.conn.execute(stmt)
            self._seed_acl_actions()

    def _seed_acl_actions(self) -> None:
        ts = now_db()
        seeded = {
            r[0] for r in self.conn.execute("SELECT DISTINCT category FROM acl_actions").fetchall()
        }
        for category in ACL_MODULES:
            if category in seeded:
                continue
            for action, default in ACL_ACTION_DEFAULTS.items():
                self.conn.execute(
                    "INSERT INTO acl_actions (id, date_entered, date_modified, modified_user_id,"
                    " created_by, name, category, acltype, aclaccess, deleted)"
                    " VALUES (?, ?, ?, '1', '1', ?, ?, 'module', ?, 0)",
                    (self.new_id(), ts, ts, action, category, default),
                )

    # --- fields -----------------------------------------------------------------------------

    def custom_fields(self, module: ModuleDef) -> list[FieldDef]:
        """Custom fields added at run time (fields_meta_data), with labels and dropdown options."""
        with self.lock:
            if self._custom_cache is None:
                cache: dict[str, list[FieldDef]] = {}
                for r in self.rows(
                    "SELECT f.*, l.label AS label FROM fields_meta_data f LEFT JOIN"
                    " sandbox_labels l"
                    " ON l.module = f.custom_module AND l.name = f.vname WHERE f.deleted = 0"
                    " ORDER BY f.name"
                ):
                    options: dict[str, str] = {}
                    if r["ext1"]:
                        dd = self.rows(
                            "SELECT options FROM sandbox_dropdowns WHERE name = ?", (r["ext1"],)
                        )
                        if dd:
                            options = json.loads(dd[0]["options"])
                    precision = int(r["ext2"]) if r["ext2"] not in (None, "") else None
                    cache.setdefault(r["custom_module"], []).append(
                        FieldDef(
                            name=r["name"],
                            type=r["type"],
                            label=r["label"] or r["vname"],
                            # Sugar reports an enum's len as a number, the others' as text.
                            len=(
                                ""
                                if r["len"] is None
                                else (int(r["len"]) if r["type"] == "enum" else str(r["len"]))
                            ),
                            required=bool(r["required"]),
                            options=options,
                            source="custom_fields",
                            default=r["default_value"],
                            precision=precision,
                        )
                    )
                self._custom_cache = cache
            return list(self._custom_cache.get(module.name, []))

    def invalidate_fields(self) -> None:
        """Forget the cached custom field definitions (Sugar's vardef cache clear)."""
        with self.lock:
            self._custom_cache = None

    def fields(self, module: ModuleDef) -> dict[str, FieldDef]:
        """All fields of a module: static vardefs then the custom ones."""
        out = module.field_map()
        for f in self.custom_fields(module):
            out[f.name] = f
        return out

    def has_cstm(self, module: ModuleDef) -> bool:
        """Whether ``<table>_cstm`` exists (Sugar joins it once a module has custom fields)."""
        with self.lock:
            return (
                self.conn.execute(
                    "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?",
                    (f"{module.table}_cstm",),
                ).fetchone()
                is not None
            )

    def cstm_columns(self, module: ModuleDef) -> set[str]:
        """Columns of ``<table>_cstm`` (empty when it does not exist)."""
        with self.lock:
            return {
                r["name"]
                for r in self.conn.execute(f"PRAGMA table_info({module.table}_cstm)").fetchall()
            }

    # --- records ----------------------------------------------------------------------------

    def from_clause(self, module: ModuleDef) -> str:
        """``FROM accounts LEFT JOIN accounts_cstm …`` as Sugar builds it."""
        t = module.table
        if self.has_cstm(module):
            return f"{t} LEFT JOIN {t}_cstm ON {t}.id = {t}_cstm.id_c"
        return t

    def get(
        self, module: ModuleDef, record_id: str, *, include_deleted: bool = False
    ) -> Row | None:
        """One stored record (core and custom columns), or None."""
        t = module.table
        cstm = f", {t}_cstm.*" if self.has_cstm(module) else ""
        sql = f"SELECT {t}.*{cstm} FROM {self.from_clause(module)} WHERE {t}.id = ?"
        if not include_deleted:
            sql += f" AND {t}.deleted = 0"
        found = self.rows(sql, (record_id,))
        return found[0] if found else None

    def exists(self, module: ModuleDef, record_id: str) -> bool:
        """Whether a live record with this id exists."""
        return bool(
            self.rows(f"SELECT 1 FROM {module.table} WHERE id = ? AND deleted = 0", (record_id,))
        )

    def exists_any(self, module: ModuleDef, record_id: str) -> bool:
        """Whether a row with this id exists at all (deleted or not)."""
        return bool(self.rows(f"SELECT 1 FROM {module.table} WHERE id = ?", (record_id,)))

    def insert(self, module: ModuleDef, record_id: str, core: Row, custom: Row) -> None:
        """Insert a record (and its ``_cstm`` row when the module has a custom table)."""
        values = {"id": record_id, "deleted": 0, **core}
        cols = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        with self.lock:
            self.conn.execute(
                f"INSERT INTO {module.table} ({cols}) VALUES ({marks})", list(values.values())
            )
            if self.has_cstm(module):
                self._upsert_cstm(module, record_id, custom)

    def update(self, module: ModuleDef, record_id: str, core: Row, custom: Row) -> None:
        """Update the given columns of a record."""
        with self.lock:
            if core:
                sets = ", ".join(f"{c} = ?" for c in core)
                self.conn.execute(
                    f"UPDATE {module.table} SET {sets} WHERE id = ?", [*core.values(), record_id]
                )
            if self.has_cstm(module):
                self._upsert_cstm(module, record_id, custom)

    def _upsert_cstm(self, module: ModuleDef, record_id: str, custom: Row) -> None:
        t = f"{module.table}_cstm"
        if not self.conn.execute(f"SELECT 1 FROM {t} WHERE id_c = ?", (record_id,)).fetchone():
            self.conn.execute(f"INSERT INTO {t} (id_c) VALUES (?)", (record_id,))
        if custom:
            sets = ", ".join(f"{c} = ?" for c in custom)
            self.conn.execute(
                f"UPDATE {t} SET {sets} WHERE id_c = ?", [*custom.values(), record_id]
            )

    def select(
        self,
        module: ModuleDef,
        where: str,
        order: Sequence[tuple[str, str]],
        offset: int,
        limit: int | None,
        *,
        include_deleted: bool,
        extra_where: str = "",
        extra_params: Sequence[Any] = (),
    ) -> tuple[list[Row], int]:
        """Rows for get_entry_list: raw ``where`` SQL (already filtered/translated) and the total.

        Raises ``sqlite3.Error`` when the WHERE is broken SQL (the server turns that into HTTP 500).
        """
        t = module.table
        cstm = f", {t}_cstm.*" if self.has_cstm(module) else ""
        conds = []
        if where.strip():
            conds.append(f"({where})")
        if not include_deleted:
            conds.append(f"{t}.deleted = 0")
        if extra_where:
            conds.append(extra_where)
        where_sql = f" WHERE {' AND '.join(conds)}" if conds else ""
        # Without usable terms there is no ORDER BY at all (the scan order, as in Sugar); with
        # terms, the id breaks ties so pages stay stable.
        order_sql = ", ".join(f"{col} {direction}" for col, direction in order)
        order_sql = f" ORDER BY {order_sql}, {t}.id" if order_sql else ""
        base = f"FROM {self.from_clause(module)}{where_sql}"
        with self.lock:
            total = self.conn.execute(f"SELECT COUNT(*) {base}", list(extra_params)).fetchone()[0]
            sql = f"SELECT {t}.*{cstm} {base}{order_sql}"
            params = list(extra_params)
            if limit is not None:
                sql += " LIMIT ? OFFSET ?"
                params += [limit, offset]
            elif offset:
                sql += " LIMIT -1 OFFSET ?"
                params.append(offset)
            rows = [dict(r) for r in self.conn.execute(sql, params).fetchall()]
        return rows, int(total)

    # --- relationships ----------------------------------------------------------------------

    def link_rows(self, link: LinkDef, self_id: str) -> list[Row]:
        """Live rows of an m2m join table for one record."""
        conds = " AND ".join(
            [f"{link.self_col} = ?", "deleted = 0", *(f"{c} = ?" for c in link.extra)]
        )
        return self.rows(
            f"SELECT * FROM {link.table} WHERE {conds}", [self_id, *link.extra.values()]
        )

    def add_link(self, link: LinkDef, self_id: str, other_id: str) -> None:
        """Add one m2m row. An existing live row is kept; its relationship columns reset to 0/NULL
        the way Sugar's re-save of the row does (acl_roles_actions.access_override becomes 0)."""
        conds = " AND ".join(
            [
                f"{link.self_col} = ?",
                f"{link.other_col} = ?",
                "deleted = 0",
                *(f"{c} = ?" for c in link.extra),
            ]
        )
        params = [self_id, other_id, *link.extra.values()]
        with self.lock:
            existing = self.conn.execute(
                f"SELECT id FROM {link.table} WHERE {conds}", params
            ).fetchone()
            if existing:
                if link.table == "acl_roles_actions":
                    self.conn.execute(
                        "UPDATE acl_roles_actions SET access_override = 0, date_modified = ?"
                        " WHERE id = ?",
                        (now_db(), existing["id"]),
                    )
                return
            values = {
                "id": self.new_id(),
                "date_modified": now_db(),
                "deleted": 0,
                link.self_col: self_id,
                link.other_col: other_id,
                **link.extra,
            }
            cols = ", ".join(values)
            marks = ", ".join("?" for _ in values)
            self.conn.execute(
                f"INSERT INTO {link.table} ({cols}) VALUES ({marks})", list(values.values())
            )

    def remove_link(self, link: LinkDef, self_id: str, other_id: str) -> None:
        """Soft-delete an m2m row (Sugar sets deleted = 1)."""
        conds = " AND ".join(
            [
                f"{link.self_col} = ?",
                f"{link.other_col} = ?",
                "deleted = 0",
                *(f"{c} = ?" for c in link.extra),
            ]
        )
        self.execute(
            f"UPDATE {link.table} SET deleted = 1, date_modified = ? WHERE {conds}",
            [now_db(), self_id, other_id, *link.extra.values()],
        )

    # --- email addresses --------------------------------------------------------------------

    def primary_email(self, module: ModuleDef, record_id: str) -> str:
        """The primary email address of a record ('' when none)."""
        found = self.rows(
            "SELECT ea.email_address FROM email_addr_bean_rel r JOIN email_addresses ea"
            " ON ea.id = r.email_address_id AND ea.deleted = 0"
            " WHERE r.bean_id = ? AND r.bean_module = ? AND r.deleted = 0"
            " ORDER BY r.primary_address DESC LIMIT 1",
            (record_id, module.name),
        )
        return str(found[0]["email_address"]) if found else ""

    def email_rows(self, module: ModuleDef, record_id: str) -> list[Row]:
        """The email_addresses rows linked to a record, with primary_address."""
        return self.rows(
            "SELECT ea.*, r.primary_address AS primary_address FROM email_addr_bean_rel r"
            " JOIN email_addresses ea ON ea.id = r.email_address_id AND ea.deleted = 0"
            " WHERE r.bean_id = ? AND r.bean_module = ? AND r.deleted = 0 ORDER BY ea.id",
            (record_id, module.name),
        )

    def set_primary_email(self, module: ModuleDef, record_id: str, address: str) -> None:
        """Make ``address`` the record's primary email (replacing the previous primary)."""
        ts = now_db()
        with self.lock:
            self.conn.execute(
                "UPDATE email_addr_bean_rel SET deleted = 1, date_modified = ? WHERE bean_id = ?"
                " AND bean_module = ? AND primary_address = 1 AND deleted = 0",
                (ts, record_id, module.name),
            )
            if not address:
                return
            found = self.conn.execute(
                "SELECT id FROM email_addresses WHERE email_address_caps = ? AND deleted = 0",
                (address.upper(),),
            ).fetchone()
            if found:
                addr_id = found["id"]
            else:
                addr_id = self.new_id()
                self.conn.execute(
                    "INSERT INTO email_addresses (id, email_address, email_address_caps,"
                    " invalid_email,"
                    " opt_out, date_created, date_modified, deleted) VALUES (?, ?, ?, 0, 0, ?,"
                    " ?, 0)",
                    (addr_id, address, address.upper(), ts, ts),
                )
            self.conn.execute(
                "INSERT INTO email_addr_bean_rel (id, email_address_id, bean_id, bean_module,"
                " primary_address, date_modified, deleted) VALUES (?, ?, ?, ?, 1, ?, 0)",
                (self.new_id(), addr_id, record_id, module.name, ts),
            )

    # --- users and ACL ----------------------------------------------------------------------

    def user_by_name(self, user_name: str) -> Row | None:
        """The live user with this user_name (case-insensitive, as in MySQL)."""
        found = self.rows("SELECT * FROM users WHERE user_name = ? AND deleted = 0", (user_name,))
        return found[0] if found else None

    def acl_action_ids(self, category: str) -> dict[str, str]:
        """Module-type ACL action ids of a category, by action name."""
        return {
            r["name"]: r["id"]
            for r in self.rows(
                "SELECT id, name FROM acl_actions WHERE category = ? AND acltype = 'module' AND"
                " deleted = 0",
                (category,),
            )
        }

    def role_levels(self, role_id: str) -> dict[str, dict[str, int]]:
        """A role's stored levels per module and action (0 when not set, as ACLRole reports)."""
        stored = {
            (r["category"], r["name"]): r["access_override"]
            for r in self.rows(
                "SELECT a.category, a.name, ra.access_override FROM acl_roles_actions ra JOIN"
                " acl_actions a"
                " ON a.id = ra.action_id WHERE ra.role_id = ? AND ra.deleted = 0",
                (role_id,),
            )
        }
        out: dict[str, dict[str, int]] = {}
        for r in self.rows(
            "SELECT category, name FROM acl_actions WHERE acltype = 'module' AND deleted = 0"
            " ORDER BY category"
        ):
            level = stored.get((r["category"], r["name"]))
            out.setdefault(r["category"], {})[r["name"]] = int(level) if level is not None else 0
        return out

    def set_role_level(self, role_id: str, action_id: str, level: int) -> bool:
        """``ACLRole::setAction``: store ``level`` for the role/action; return whether it
        changed."""
        with self.lock:
            row = self.conn.execute(
                "SELECT id, access_override FROM acl_roles_actions WHERE role_id = ? AND"
                " action_id = ?"
                " AND deleted = 0",
                (role_id, action_id),
            ).fetchone()
            # An unset level (no row, or NULL as stock set_relationship leaves it) reads as 0.
            stored = (
                0 if row is None or row["access_override"] is None else int(row["access_override"])
            )
            if stored == level:
                return False
            if row is not None:
                self.conn.execute(
                    "UPDATE acl_roles_actions SET access_override = ?, date_modified = ? WHERE"
                    " id = ?",
                    (level, now_db(), row["id"]),
                )
                return True
            self.conn.execute(
                "INSERT INTO acl_roles_actions (id, role_id, action_id, access_override,"
                " date_modified,"
                " deleted) VALUES (?, ?, ?, ?, ?, 0)",
                (self.new_id(), role_id, action_id, level, now_db()),
            )
            return True

    def user_levels(self, user_id: str, category: str) -> dict[str, list[int]]:
        """Levels set (not NULL, not 0) on the user's roles, direct and through security groups."""
        rows = self.rows(
            "SELECT a.name, ra.access_override FROM acl_roles_actions ra"
            " JOIN acl_actions a ON a.id = ra.action_id AND a.category = ? AND a.acltype = 'module'"
            " WHERE ra.deleted = 0 AND ra.access_override IS NOT NULL AND ra.access_override != 0"
            " AND ra.role_id IN ("
            "   SELECT role_id FROM acl_roles_users WHERE user_id = ? AND deleted = 0"
            "   UNION SELECT sr.role_id FROM securitygroups_acl_roles sr JOIN"
            " securitygroups_users su"
            "   ON su.securitygroup_id = sr.securitygroup_id AND su.deleted = 0"
            "   WHERE su.user_id = ? AND sr.deleted = 0)",
            (category, user_id, user_id),
        )
        out: dict[str, list[int]] = {}
        for r in rows:
            out.setdefault(r["name"], []).append(int(r["access_override"]))
        return out

    # --- custom fields ----------------------------------------------------------------------

    def add_custom_column(self, module: ModuleDef, f: FieldDef) -> None:
        """``ALTER TABLE <table>_cstm ADD <field>`` (creating the custom table first if needed)."""
        t = f"{module.table}_cstm"
        with self.lock:
            if not self.has_cstm(module):
                self.conn.execute(
                    f"CREATE TABLE {t} (id_c TEXT COLLATE NOCASE PRIMARY KEY) WITHOUT ROWID"
                )
            if f.name not in self.cstm_columns(module):
                self.conn.execute(f"ALTER TABLE {t} ADD COLUMN {f.name} {f.sql_type}")

    def meta_row(self, module: ModuleDef, name: str) -> Row | None:
        """The fields_meta_data row of a custom field."""
        found = self.rows(
            "SELECT * FROM fields_meta_data WHERE custom_module = ? AND name = ? AND deleted = 0",
            (module.name, name),
        )
        return found[0] if found else None

    def layout_fields(self, module: ModuleDef, view: str) -> set[str]:
        """Fields placed on a layout by the extension."""
        return {
            r["field"]
            for r in self.rows(
                "SELECT field FROM sandbox_layouts WHERE module = ? AND view = ?",
                (module.name, view),
            )
        }

    # --- convenience for tests and the CLI ---------------------------------------------------

    def accounts_overview(
        self, segment: str | None = None, limit: int = 100, module_name: str = "Accounts"
    ) -> list[Row]:
        """Live accounts (or, ``module_name`` Contacts, contacts: the persons the push sends
        there) with the segment/lifecycle custom fields when they exist (name order).

        ``segment`` is a dropdown key (``at_risk``) or its label (``At risk``). Raises
        ``SandboxError`` when a segment filter is asked for and there is no segment field.
        """
        module = MODULES[module_name]
        table = module.table
        custom = [
            c
            for c in ("external_id_c", "segment_c", "lifecycle_stage_c", "rfm_score_c")
            if c in self.cstm_columns(module)
        ]
        name = (
            f"TRIM(COALESCE({table}.first_name, '') || ' ' || COALESCE({table}.last_name, ''))"
            if module_name == "Contacts"
            else f"{table}.name"
        )
        cols = ", ".join([f"{table}.id", f"{name} AS name", *(f"{table}_cstm.{c}" for c in custom)])
        sql = f"SELECT {cols} FROM {self.from_clause(module)} WHERE {table}.deleted = 0"
        params: list[Any] = []
        if segment is not None:
            if "segment_c" not in custom:
                raise SandboxError(f"the sandbox has no segment_c field on {module_name} yet")
            # Users type what Sugar shows them ("At risk"); the column stores the dropdown key.
            segment_field = next(
                (f for f in self.custom_fields(module) if f.name == "segment_c"), None
            )
            labels = segment_field.options if segment_field is not None else {}
            key = next((k for k, label in labels.items() if label == segment), segment)
            sql += f" AND {table}_cstm.segment_c = ?"
            params.append(key)
        sql += f" ORDER BY name, {table}.id LIMIT ?"
        params.append(limit)
        return self.rows(sql, params)

    def count(self, table: str, where: str = "1=1", params: Iterable[Any] = ()) -> int:
        """``SELECT COUNT(*) FROM table WHERE …``."""
        return int(
            self.rows(f"SELECT COUNT(*) AS n FROM {table} WHERE {where}", list(params))[0]["n"]
        )
