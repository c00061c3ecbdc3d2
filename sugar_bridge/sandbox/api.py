"""The v4_1 methods (and the bridge extension's) as the sandbox answers them.

Each public method of ``SugarApi`` named like a Sugar method takes the PHP parameters (bound by
``server.py`` from the named or positional ``rest_data``) and returns the JSON body, or raises one
of the ``ApiAnswer`` signals for Sugar's other answers (error object, HTTP 500, ``null``, 301).
Behaviour follows the recordings of a real SuiteCRM 7.14.6; comments name the quirk reproduced.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sugar_bridge.sandbox import quirks
from sugar_bridge.sandbox.exceptions import (
    DatabaseFailure,
    NullAnswer,
    PhpFatal,
    Redirect,
    SugarFault,
    access_denied,
    invalid_login,
    invalid_session,
    no_module,
)
from sugar_bridge.sandbox.flavor import DEFAULT_FLAVOR, Flavor, user_is_enabled
from sugar_bridge.sandbox.modules import (
    ACL_MODULES,
    AUTO_NUMBER,
    END_FROM_DURATION,
    MODULES,
    PERSON_MODULES,
    SALES_STAGE_PROBABILITY,
    FieldDef,
    LinkDef,
    ModuleDef,
)
from sugar_bridge.sandbox.passwords import bcrypt_available, check_hash, md5_hex
from sugar_bridge.sandbox.store import Row, Store, now_db

log = logging.getLogger(__name__)

REQUIRED = object()

# PHP signatures (parameter order matters for positional rest_data; REQUIRED ones missing → 500).
Signature = tuple[tuple[str, Any], ...]
SIGNATURES: dict[str, Signature] = {
    "login": (("user_auth", REQUIRED), ("application_name", ""), ("name_value_list", [])),
    "logout": (("session", REQUIRED),),
    "get_user_id": (("session", REQUIRED),),
    "get_server_info": (),
    "get_entry": (
        ("session", REQUIRED),
        ("module_name", REQUIRED),
        ("id", REQUIRED),
        ("select_fields", []),
        ("link_name_to_fields_array", []),
        ("track_view", False),
    ),
    "get_entries": (
        ("session", REQUIRED),
        ("module_name", REQUIRED),
        ("ids", REQUIRED),
        ("select_fields", []),
        ("link_name_to_fields_array", []),
        ("track_view", False),
    ),
    "get_entry_list": (
        ("session", REQUIRED),
        ("module_name", REQUIRED),
        ("query", ""),
        ("order_by", ""),
        ("offset", 0),
        ("select_fields", []),
        ("link_name_to_fields_array", []),
        ("max_results", 0),
        ("deleted", 0),
        ("favorites", False),
    ),
    "get_entries_count": (
        ("session", REQUIRED),
        ("module_name", REQUIRED),
        ("query", ""),
        ("deleted", 0),
    ),
    "set_entry": (
        ("session", REQUIRED),
        ("module_name", REQUIRED),
        ("name_value_list", REQUIRED),
        ("track_view", False),
    ),
    "set_entries": (
        ("session", REQUIRED),
        ("module_name", REQUIRED),
        ("name_value_lists", REQUIRED),
    ),
    "get_module_fields": (("session", REQUIRED), ("module_name", REQUIRED), ("fields", [])),
    "set_relationship": (
        ("session", REQUIRED),
        ("module_name", REQUIRED),
        ("module_id", REQUIRED),
        ("link_field_name", REQUIRED),
        ("related_ids", REQUIRED),
        ("name_value_list", []),
        ("delete", 0),
    ),
    "set_relationships": (
        ("session", REQUIRED),
        ("module_names", REQUIRED),
        ("module_ids", REQUIRED),
        ("link_field_names", REQUIRED),
        ("related_ids", REQUIRED),
        ("name_value_lists", []),
        ("delete_array", []),
    ),
    "get_relationships": (
        ("session", REQUIRED),
        ("module_name", REQUIRED),
        ("module_id", REQUIRED),
        ("link_field_name", REQUIRED),
        ("related_module_query", ""),
        ("related_fields", []),
        ("related_module_link_name_to_fields_array", []),
        ("deleted", 0),
        ("order_by", ""),
        ("offset", 0),
        ("limit", False),
    ),
    "get_available_modules": (("session", REQUIRED), ("filter", "default")),
}

ADMIN_ONLY_WRITE_MODULES = frozenset({"Users", "ACLRoles", "ACLActions", "SecurityGroups"})
_SESSION_CHARS = "0123456789abcdefghijklmnopqrstuv"
# Modules whose role rights the sandbox enforces for non-admin users.
ACL_ENFORCED = frozenset(ACL_MODULES) - ADMIN_ONLY_WRITE_MODULES
_WARNING = "Access to this object is denied since it has been deleted or does not exist"


@dataclass
class Session:
    """A PHP session of the REST API."""

    id: str
    user_id: str
    ip: str
    last_used: float
    # Role levels per module and action, read at login: Sugar caches ACLs in the PHP session,
    # so rights changed later reach a user at the next login (observed live).
    acl: dict[str, dict[str, list[int]]] = field(default_factory=dict)


@dataclass
class CallContext:
    """Per-request facts in and out of a method call."""

    ip: str = "127.0.0.1"
    cookie_session: str | None = None
    set_cookie: str | None = None
    session: Session | None = None
    created: int = 0
    updated: int = 0
    links: int = 0


@dataclass
class Stats:
    """Calls and writes per method (thread-safe). ``writes`` = records created or updated plus
    relationship rows changed by that method."""

    calls: Counter[str] = field(default_factory=Counter)
    writes: Counter[str] = field(default_factory=Counter)
    created: int = 0
    updated: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, method: str, ctx: CallContext) -> None:
        """Count one call."""
        with self._lock:
            self.calls[method] += 1
            n = ctx.created + ctx.updated + ctx.links
            if n:
                self.writes[method] += n
            self.created += ctx.created
            self.updated += ctx.updated

    def fault(self, kind: str) -> None:
        """Count one injected fault."""
        with self._lock:
            self.faults[kind] += 1

    @property
    def total_calls(self) -> int:
        """All calls."""
        return sum(self.calls.values())

    @property
    def total_writes(self) -> int:
        """All writes."""
        return sum(self.writes.values())

    def reset(self) -> None:
        """Start counting from zero (e.g. after seeding a test)."""
        with self._lock:
            self.calls.clear()
            self.writes.clear()
            self.faults.clear()
            self.created = 0
            self.updated = 0


def _nv(name: str, value: Any) -> dict[str, Any]:
    return {"name": name, "value": value}


def _truthy(value: Any) -> bool:
    """PHP truthiness of a decoded JSON value."""
    if isinstance(value, str):
        return value not in ("", "0")
    return bool(value)


class DiesAfterSave(Exception):
    """PHP dies in an after_save hook: the record is saved, the answer is HTTP 500 (empty)."""


class SugarApi:
    """The methods. All state is in ``store`` (records) and ``sessions`` (PHP sessions)."""

    def __init__(
        self, store: Store, *, session_ttl: float | None = None, flavor: Flavor = DEFAULT_FLAVOR
    ) -> None:
        self.store = store
        self.session_ttl = session_ttl
        self.flavor = flavor
        self.sessions: dict[str, Session] = {}
        self._sessions_lock = threading.Lock()
        self.bcrypt_ok = bcrypt_available()
        #: set while import_records saves (Sugar's Import keeps a given date_modified)
        self.keep_date_modified = False

    # --- sessions ---------------------------------------------------------------------------

    def expire_all_sessions(self) -> None:
        """Destroy every session (what Debian's sessionclean does to idle ones)."""
        with self._sessions_lock:
            self.sessions.clear()

    def expire_session(self, session_id: str | None) -> None:
        """Destroy one session."""
        if session_id:
            with self._sessions_lock:
                self.sessions.pop(session_id, None)

    def _new_session_id(self) -> str:
        return "".join(secrets.choice(_SESSION_CHARS) for _ in range(26))

    def _auth(self, ctx: CallContext, session_id: Any) -> Session:
        """validate_authenticated: known, not idle too long, same /24 as at login, and on
        SuiteCRM 7.15 a user that ``User::isEnabled()`` accepts."""
        if not isinstance(session_id, str) or not session_id:
            raise invalid_session()
        with self._sessions_lock:
            sess = self.sessions.get(session_id)
            if sess is None:
                raise invalid_session()
            now = time.monotonic()
            if self.session_ttl is not None and now - sess.last_used > self.session_ttl:
                del self.sessions[session_id]
                raise invalid_session()
            if sess.ip.rsplit(".", 1)[0] != ctx.ip.rsplit(".", 1)[0]:
                # Sugar destroys the session on an IP mismatch (it is gone for the owner too).
                del self.sessions[session_id]
                raise invalid_session()
            sess.last_used = now
        if self.flavor.session_needs_enabled_user:
            found = self.store.rows(
                "SELECT status, employee_status FROM users WHERE id = ?", (sess.user_id,)
            )
            if not found or not user_is_enabled(found[0]):
                # 7.15: the session of a user without employee_status 'Active' (what set_entry
                # on Users leaves unless told) is refused and destroyed like any invalid one.
                self.expire_session(sess.id)
                raise invalid_session()
        ctx.session = sess
        return sess

    def _user(self, sess: Session) -> Row:
        found = self.store.rows("SELECT * FROM users WHERE id = ?", (sess.user_id,))
        if not found:
            raise invalid_session()
        return found[0]

    def _is_admin(self, sess: Session) -> bool:
        return bool(self._user(sess).get("is_admin"))

    def _module(self, name: Any) -> ModuleDef:
        if name is None:
            # PHP: require_once of an empty bean file → fatal error.
            raise PhpFatal()
        module = MODULES.get(name) if isinstance(name, str) else None
        if module is None:
            raise no_module()
        return module

    # --- ACL ----------------------------------------------------------------------------------

    def _acl_level(self, sess: Session, module: ModuleDef, action: str) -> int | None:
        """The effective level a non-admin user has (None = default: allowed)."""
        levels = sess.acl.get(module.name, {})
        access = levels.get("access")
        if access and max(access) < 89:
            return -98
        got = levels.get(action)
        # SuiteCRM's default is additive: the most permissive role wins.
        return max(got) if got else None

    def _check_acl(
        self, sess: Session, module: ModuleDef, action: str, record: Row | None = None
    ) -> None:
        if self._is_admin(sess):
            return
        if module.name in ADMIN_ONLY_WRITE_MODULES and action in ("edit", "delete"):
            raise access_denied()
        if module.name not in ACL_ENFORCED:
            return
        level = self._acl_level(sess, module, action)
        if level is None or level >= 89:
            return
        if level in (75, 80) and record is not None:
            if sess.user_id in (record.get("assigned_user_id"), record.get("created_by")):
                return
            raise access_denied()
        if level in (75, 80):
            return
        raise access_denied()

    def _owner_filter(self, sess: Session, module: ModuleDef, action: str) -> str:
        """WHERE fragment limiting a list to the user's own records (owner-level rights)."""
        if self._is_admin(sess) or module.name not in ACL_ENFORCED:
            return ""
        level = self._acl_level(sess, module, action)
        if level in (75, 80):
            uid = sess.user_id.replace("'", "''")
            t = module.table
            return f"({t}.assigned_user_id = '{uid}' OR {t}.created_by = '{uid}')"
        return ""

    # --- reading ------------------------------------------------------------------------------

    def _user_full_name(self, user_id: Any) -> str:
        if not user_id:
            return ""
        found = self.store.rows("SELECT first_name, last_name FROM users WHERE id = ?", (user_id,))
        if not found:
            return ""
        return " ".join(p for p in (found[0]["first_name"], found[0]["last_name"]) if p)

    def _row_of(self, module_name: str, record_id: Any) -> Row | None:
        if not record_id:
            return None
        found = self.store.rows(
            f"SELECT * FROM {MODULES[module_name].table} WHERE id = ?", (record_id,)
        )
        return found[0] if found else None

    def _name_of(self, module_name: Any, record_id: Any) -> str:
        module = MODULES.get(str(module_name))
        if module is None or not record_id or "name" not in module.field_map():
            return ""
        if module.field_map()["name"].source != "db":
            if module.name in PERSON_MODULES:
                return self._person_name(
                    self._row_of(module.name, record_id) or {}, salutation=False
                )
            return self._user_full_name(record_id) if module.name == "Users" else ""
        found = self.store.rows(f"SELECT name FROM {module.table} WHERE id = ?", (record_id,))
        return str(found[0]["name"] or "") if found else ""

    def _linked_account(self, module: ModuleDef, row: Row) -> Row | None:
        """The live account a record reaches through its ``accounts`` link (first one)."""
        link = module.link_map().get("accounts")
        if link is None or link.kind != "m2m":
            return None
        found = self.store.rows(
            f"SELECT a.id, a.name FROM {link.table} j JOIN accounts a ON a.id = j.{link.other_col}"
            f" AND a.deleted = 0 WHERE j.{link.self_col} = ? AND j.deleted = 0"
            " ORDER BY j.date_modified, j.id LIMIT 1",
            (row["id"],),
        )
        return found[0] if found else None

    def _person_name(self, row: Row, *, salutation: bool) -> str:
        parts = [row.get("salutation") if salutation else None]
        parts += [row.get("first_name"), row.get("last_name")]
        return " ".join(str(p) for p in parts if p)

    def _computed(
        self, module: ModuleDef, f: FieldDef, row: Row, listing: bool = False
    ) -> str | bool:
        name = f.name
        if module.name in PERSON_MODULES and name in ("name", "full_name"):
            return self._person_name(row, salutation=name == "full_name" or not listing)
        if name in ("account_name", "account_id") and module.name in ("Contacts", "Opportunities"):
            account = self._linked_account(module, row)
            if account is None:
                return ""
            return str(account["id"] if name == "account_id" else account["name"] or "")
        if f.constant is not None:
            return f.constant
        if name in ("currency_name", "currency_symbol") and row.get("currency_id") == "-99":
            # The system currency (config.php's default_currency_*).
            return "US Dollars" if name == "currency_name" else "$"
        if name == "report_to_name":
            return self._person_name(
                self._row_of(module.name, row.get("reports_to_id")) or {}, salutation=False
            )
        if name == "account_name" and module.name == "Cases":
            return self._name_of("Accounts", row.get("account_id"))
        if name == "contact_name":
            return self._person_name(
                self._row_of("Contacts", row.get("contact_id")) or {}, salutation=False
            )
        if name in ("modified_by_name",):
            return self._user_full_name(row.get("modified_user_id"))
        if name == "created_by_name":
            return self._user_full_name(row.get("created_by"))
        if name == "assigned_user_name":
            return self._user_full_name(row.get("assigned_user_id"))
        if name == "email1":
            return self.store.primary_email(module, row["id"])
        if name in ("full_name", "name") and module.name == "Users":
            return " ".join(p for p in (row.get("first_name"), row.get("last_name")) if p)
        if name == "entry_count" and module.name == "ProspectLists":
            n = self.store.count(
                "prospect_lists_prospects", "prospect_list_id = ? AND deleted = 0", [row["id"]]
            )
            return str(n)
        if name == "parent_name":
            if module.name == "Accounts":
                return self._name_of("Accounts", row.get("parent_id"))
            return self._name_of(row.get("parent_type"), row.get("parent_id"))
        if name == "campaign_name":
            return self._name_of("Campaigns", row.get("campaign_id"))
        if name == "reports_to_name":
            return self._user_full_name(row.get("reports_to_id"))
        return ""

    def _read(self, module: ModuleDef, f: FieldDef, row: Row, listing: bool = False) -> str | bool:
        """The value get_entry returns for a field: a string, HTML-encoded (a few non-db
        bools answer a JSON boolean)."""
        if f.sensitive:
            return ""
        if f.source == "non-db":
            computed = self._computed(module, f, row, listing)
            return computed if isinstance(computed, bool) else quirks.encode_on_read(computed)
        if module.name == "Leads" and f.name == "account_name" and row.get("account_id"):
            # Lead::fill_in_additional_*_fields: the related account's name replaces the text.
            related = self._name_of("Accounts", row["account_id"])
            if related:
                return quirks.encode_on_read(related)
        value = row.get(f.name)
        if value is None:
            return ""
        if f.db_type == "double":
            return quirks.php_float_text(quirks.php_floatval(value))
        scale = f.db_scale
        if f.type in ("decimal", "currency", "float") and scale is not None:
            return f"{quirks.php_floatval(value):.{scale}f}"
        if (
            isinstance(value, float)
            and value.is_integer()
            and f.type not in ("decimal", "currency", "float")
        ):
            value = int(value)
        return quirks.encode_on_read(str(value))

    def _entry(
        self, module: ModuleDef, row: Row, select_fields: Any, *, listing: bool = False
    ) -> dict[str, Any]:
        fields = self.store.fields(module)
        names = (
            [n for n in select_fields if isinstance(n, str)]
            if isinstance(select_fields, list)
            else []
        )
        wanted = [fields[n] for n in names if n in fields] if names else list(fields.values())
        nvl = {}
        for f in wanted:
            value = self._read(module, f, row, listing)
            if value == "" and f.omit_empty:
                continue
            nvl[f.name] = _nv(f.name, value)
        return {"id": row["id"], "module_name": module.name, "name_value_list": nvl}

    @staticmethod
    def _warning_entry(module: ModuleDef, record_id: Any) -> dict[str, Any]:
        return {
            "id": record_id,
            "module_name": module.name,
            "name_value_list": [_nv("warning", _WARNING), _nv("deleted", "1")],
        }

    def _link_output(self, module: ModuleDef, row: Row, spec: Any) -> dict[str, Any]:
        """One relationship_list element for link_name_to_fields_array."""
        out: list[dict[str, Any]] = []
        for item in spec if isinstance(spec, list) else []:
            if not isinstance(item, dict):
                continue
            link = module.link_map().get(str(item.get("name")))
            if link is None:
                continue
            field_names = [str(v) for v in item.get("value", []) if isinstance(v, str)]
            records: list[dict[str, Any]] = []
            if link.kind == "email":
                for er in self.store.email_rows(module, row["id"]):
                    values = {
                        n: _nv(
                            n,
                            quirks.encode_on_read(
                                str(er.get(n, "") if er.get(n) is not None else "")
                            ),
                        )
                        for n in field_names
                    }
                    records.append({"link_value": values})
            else:
                related = MODULES[link.related_module]
                rows, _ = self._related_rows(module, row["id"], link, "", [], 0, None, False)
                for rr in rows:
                    entry = self._entry(related, rr, field_names)
                    records.append({"link_value": entry["name_value_list"]})
            if records:
                out.append({"name": link.name, "records": records})
        return {"link_list": out}

    def _list_rows(
        self,
        sess: Session,
        module: ModuleDef,
        where: str,
        order: Sequence[tuple[str, str]],
        offset: int,
        limit: int,
        deleted: Any,
        *,
        owner_filter: bool = True,
    ) -> tuple[list[Row], int]:
        """A page of the rows the session may list, and their total (get_entry_list,
        get_entries_count). SQL that the query makes invalid is Sugar's 500 'Database failure'."""
        try:
            return self.store.select(
                module,
                where,
                order,
                offset,
                limit,
                include_deleted=_truthy(deleted),
                extra_where=self._owner_filter(sess, module, "list") if owner_filter else "",
            )
        except sqlite3.Error as exc:
            log.info("sandbox: query failed (%s); answering 500 like Sugar", exc)
            raise DatabaseFailure() from exc

    def _related_rows(
        self,
        module: ModuleDef,
        record_id: str,
        link: LinkDef,
        where: str,
        order: Sequence[tuple[str, str]],
        offset: int,
        limit: int | None,
        include_deleted: bool,
    ) -> tuple[list[Row], int]:
        related = MODULES[link.related_module]
        rt = related.table
        if link.kind == "parent":
            extra = f"{rt}.parent_type = ? AND {rt}.parent_id = ?"
            params: list[Any] = [module.name, record_id]
        elif link.kind == "parent_self":
            extra = (
                f"{rt}.id IN (SELECT parent_id FROM {module.table} WHERE id = ? AND"
                " parent_type = ?)"
            )
            params = [record_id, related.name]
        elif link.kind == "fk":
            extra = f"{rt}.{link.other_col} = ?"
            params = [record_id]
        elif link.kind == "fk_self":
            extra = f"{rt}.id IN (SELECT {link.self_col} FROM {module.table} WHERE id = ?)"
            params = [record_id]
        elif link.kind == "email":
            extra = (
                f"{rt}.id IN (SELECT email_address_id FROM email_addr_bean_rel WHERE bean_id = ?"
                " AND bean_module = ? AND deleted = 0)"
            )
            params = [record_id, module.name]
        else:
            conds = " AND ".join(
                [f"{link.self_col} = ?", "deleted = 0", *(f"{c} = ?" for c in link.extra)]
            )
            extra = f"{rt}.id IN (SELECT {link.other_col} FROM {link.table} WHERE {conds})"
            params = [record_id, *link.extra.values()]
        return self.store.select(
            related,
            where,
            order,
            offset,
            limit,
            include_deleted=include_deleted,
            extra_where=extra,
            extra_params=params,
        )

    def _order_terms(self, module: ModuleDef, order_by: Any) -> list[tuple[str, str]]:
        fields = self.store.fields(module)
        stored = {n for n, f in fields.items() if f.source != "non-db"}
        terms = quirks.order_by_terms(str(order_by or ""), stored)
        t = module.table
        return [
            (f"{t}_cstm.{n}" if fields[n].source == "custom_fields" else f"{t}.{n}", d)
            for n, d in terms
        ]

    def _where(self, query: Any, order_by: Any = "") -> str:
        """checkQuery (the weak filter → 40) then the MySQL → SQLite literal translation."""
        q = str(query or "")
        if not quirks.query_passes_filter(q) or not quirks.query_passes_filter(str(order_by or "")):
            raise access_denied()
        return quirks.mysql_where_to_sqlite(q)

    # --- sessions: login / logout / get_user_id / get_server_info -----------------------------

    def login(
        self,
        ctx: CallContext,
        user_auth: Any,
        application_name: Any = "",
        name_value_list: Any = None,
    ) -> Any:
        """``login``: md5 hex password (or the plain one with encryption PLAIN); active users
        only."""
        if not isinstance(user_auth, dict):
            raise invalid_login()
        user_name = str(user_auth.get("user_name") or "")
        password = str(user_auth.get("password") or "")
        if str(user_auth.get("encryption", "")).upper() == "PLAIN":
            password = md5_hex(password)
        user = self.store.user_by_name(user_name) if user_name else None
        if (
            user is None
            or user.get("status") != "Active"
            or not check_hash(password, user.get("user_hash"), self.bcrypt_ok)
        ):
            raise invalid_login()
        with self._sessions_lock:
            # rest.php resumes the PHPSESSID cookie's session: a client that keeps cookies gets the
            # SAME session id back from a second login.
            sid = (
                ctx.cookie_session
                if ctx.cookie_session in self.sessions
                else self._new_session_id()
            )
            self.sessions[sid] = Session(
                id=sid,
                user_id=user["id"],
                ip=ctx.ip,
                last_used=time.monotonic(),
                acl={m: self.store.user_levels(user["id"], m) for m in ACL_ENFORCED},
            )
        ctx.set_cookie = sid
        admin = bool(user.get("is_admin"))
        nvl = {
            "user_id": user["id"],
            "user_name": user["user_name"],
            "user_language": "en_us",
            "user_currency_id": None,
            "user_is_admin": admin,
            "user_default_team_id": None,
            "user_default_dateformat": "m/d/Y",
            "user_default_timeformat": "H:i",
            "user_number_separator": ",",
            "user_decimal_separator": ".",
            "mobile_max_list_entries": None,
            "mobile_max_subpanel_entries": None,
            "user_currency_name": "US Dollars",
        }
        return {
            "id": sid,
            "module_name": "Users",
            "name_value_list": {k: _nv(k, v) for k, v in nvl.items()},
        }

    def logout(self, ctx: CallContext, session: Any) -> Any:
        """``logout``: ``null`` on success."""
        sess = self._auth(ctx, session)
        self.expire_session(sess.id)
        return None

    def get_user_id(self, ctx: CallContext, session: Any) -> Any:
        """``get_user_id``: the user id as a bare JSON string."""
        return self._auth(ctx, session).user_id

    def get_server_info(self, ctx: CallContext) -> Any:
        """``get_server_info``: needs no session."""
        return {
            "flavor": "CE",
            "version": self.flavor.sugar_version,
            "suitecrm_version": self.flavor.suitecrm_version,
            "gmt_time": now_db(),
        }

    # --- reads --------------------------------------------------------------------------------

    def get_entry(
        self,
        ctx: CallContext,
        session: Any,
        module_name: Any,
        id: Any,
        select_fields: Any = None,
        link_name_to_fields_array: Any = None,
        track_view: Any = False,
    ) -> Any:
        """``get_entry``: one record, or the 'deleted or does not exist' warning entry."""
        return self.get_entries(
            ctx, session, module_name, [id], select_fields, link_name_to_fields_array
        )

    def get_entries(
        self,
        ctx: CallContext,
        session: Any,
        module_name: Any,
        ids: Any,
        select_fields: Any = None,
        link_name_to_fields_array: Any = None,
        track_view: Any = False,
    ) -> Any:
        """``get_entries``: records by id; unknown/deleted ids give warning entries, not errors."""
        sess = self._auth(ctx, session)
        module = self._module(module_name)
        self._check_acl(sess, module, "view")
        entries: list[dict[str, Any]] = []
        rels: list[dict[str, Any]] = []
        for rid in ids if isinstance(ids, list) else [ids]:
            row = self.store.get(module, str(rid)) if isinstance(rid, str | int) else None
            if row is None:
                entries.append(self._warning_entry(module, rid))
                continue
            entries.append(self._entry(module, row, select_fields or []))
            if link_name_to_fields_array:
                rels.append(self._link_output(module, row, link_name_to_fields_array))
        return {"entry_list": entries, "relationship_list": rels}

    def get_entry_list(
        self,
        ctx: CallContext,
        session: Any,
        module_name: Any,
        query: Any = "",
        order_by: Any = "",
        offset: Any = 0,
        select_fields: Any = None,
        link_name_to_fields_array: Any = None,
        max_results: Any = 0,
        deleted: Any = 0,
        favorites: Any = False,
    ) -> Any:
        """``get_entry_list``: raw-SQL ``query``, bare-name ``order_by``, paging, quirky counts."""
        sess = self._auth(ctx, session)
        module = self._module(module_name)
        where = self._where(query, order_by)
        self._check_acl(sess, module, "list")
        limit = quirks.php_intval(max_results)
        if limit <= 0:
            limit = 20  # list_max_entries_per_page
        start = quirks.php_intval(offset) if offset not in ("", None) else 0
        if start < 0:
            start = 0
        order = self._order_terms(module, order_by)
        rows, total = self._list_rows(sess, module, where, order, start, limit, deleted)
        entries = [self._entry(module, r, select_fields or [], listing=True) for r in rows]
        rels = (
            [self._link_output(module, r, link_name_to_fields_array) for r in rows]
            if link_name_to_fields_array
            else []
        )
        return {
            "result_count": len(entries),
            # A string when rows match, the integer 0 when none do.
            "total_count": str(total) if total else 0,
            "next_offset": start + len(entries),
            "entry_list": entries,
            "relationship_list": rels,
        }

    def get_entries_count(
        self, ctx: CallContext, session: Any, module_name: Any, query: Any = "", deleted: Any = 0
    ) -> Any:
        """``get_entries_count``: ``{"result_count": "<n>"}`` (a string)."""
        sess = self._auth(ctx, session)
        module = self._module(module_name)
        where = self._where(query)
        self._check_acl(sess, module, "list")
        # Seen live: the count ignores owner-only list rights (get_entry_list applies them).
        _, total = self._list_rows(sess, module, where, [], 0, 0, deleted, owner_filter=False)
        return {"result_count": str(total)}

    def get_module_fields(
        self, ctx: CallContext, session: Any, module_name: Any, fields: Any = None
    ) -> Any:
        """``get_module_fields``: vardefs incl. custom fields; empty selections come back as
        ``[]``."""
        self._auth(ctx, session)
        module = self._module(module_name)
        wanted = (
            {f for f in fields if isinstance(f, str)}
            if isinstance(fields, list) and fields
            else None
        )
        module_fields: dict[str, Any] = {}
        for f in self.store.fields(module).values():
            if wanted is not None and f.name not in wanted:
                continue
            entry: dict[str, Any] = {
                "name": f.name,
                "type": f.type,
                "group": f.group,
                "id_name": f.id_name,
                "label": f.label,
                "required": int(f.required),
                "options": {k: _nv(k, v) for k, v in f.options.items()} if f.options else [],
                "related_module": f.related_module,
                "calculated": False,
                "len": f.len,
            }
            if f.default is not None:
                entry["default_value"] = f.default
            entry.update(f.api_extra)
            module_fields[f.name] = entry
        link_fields: dict[str, Any] = {}
        for lk in module.links:
            if wanted is not None and lk.name not in wanted:
                continue
            link_fields[lk.name] = {
                "name": lk.name,
                "type": "link",
                "group": "",
                "id_name": "",
                "relationship": lk.relationship,
                "module": lk.related_module if lk.bean_name else "",
                "bean_name": lk.bean_name,
            }
        return {
            "module_name": module.name,
            "table_name": module.table,
            "module_fields": module_fields or [],
            "link_fields": link_fields or [],
        }

    def get_available_modules(self, ctx: CallContext, session: Any, filter: Any = "default") -> Any:
        """``get_available_modules``: module keys with the caller's per-action access."""
        sess = self._auth(ctx, session)
        admin = self._is_admin(sess)
        out = []
        for module in MODULES.values():
            acls = []
            for action in ("edit", "delete", "list", "view", "import", "export"):
                if admin:
                    allowed = True
                else:
                    level = self._acl_level(sess, module, action)
                    allowed = level is None or level > 0
                    if module.name in ADMIN_ONLY_WRITE_MODULES and action in ("edit", "delete"):
                        allowed = False
                acls.append({"action": action, "access": allowed})
            out.append(
                {
                    "module_key": module.name,
                    "module_label": module.label,
                    "favorite_enabled": False,
                    "acls": acls,
                }
            )
        return {"modules": out}

    def get_relationships(
        self,
        ctx: CallContext,
        session: Any,
        module_name: Any,
        module_id: Any,
        link_field_name: Any,
        related_module_query: Any = "",
        related_fields: Any = None,
        related_module_link_name_to_fields_array: Any = None,
        deleted: Any = 0,
        order_by: Any = "",
        offset: Any = 0,
        limit: Any = False,
    ) -> Any:
        """``get_relationships``: related records over a (case-sensitive) link; paged by
        offset/limit."""
        sess = self._auth(ctx, session)
        module = self._module(module_name)
        self._check_acl(sess, module, "view")
        empty: dict[str, Any] = {"entry_list": [], "relationship_list": []}
        link = module.link_map().get(str(link_field_name))
        if (
            link is None
            or not isinstance(module_id, str)
            or not self.store.exists(module, module_id)
        ):
            return empty  # wrong-case link names give an empty list, not an error
        related = MODULES[link.related_module]
        where = self._where(related_module_query, order_by)
        n = quirks.php_intval(limit) if limit not in (False, None, "") else 0
        try:
            rows, _ = self._related_rows(
                module,
                module_id,
                link,
                where,
                self._order_terms(related, order_by),
                max(quirks.php_intval(offset), 0),
                n if n > 0 else None,
                _truthy(deleted),
            )
        except sqlite3.Error as exc:
            raise DatabaseFailure() from exc
        if related_fields:
            entries = [self._entry(related, r, related_fields) for r in rows]
        else:
            # Unlike get_entry_list, an empty field list here returns no field at all.
            entries = [
                {"id": r["id"], "module_name": related.name, "name_value_list": []} for r in rows
            ]
        rels = (
            [self._link_output(related, r, related_module_link_name_to_fields_array) for r in rows]
            if related_module_link_name_to_fields_array
            else []
        )
        return {"entry_list": entries, "relationship_list": rels}

    # --- writes -------------------------------------------------------------------------------

    @staticmethod
    def _pairs(name_value_list: Any) -> list[tuple[str, Any, bool]]:
        """(name, value, via_array) per item, as SugarWebServiceImplv3_1::set_entry reads them.

        Items that are ``{name, value}`` arrays bypass the 'sensitive' and 'not the current user'
        guards (they test the array KEY, which is then a number): that is why only the list form
        can set ``user_hash``.
        """
        items: list[tuple[Any, Any]]
        if isinstance(name_value_list, list):
            items = list(enumerate(name_value_list))
        elif isinstance(name_value_list, dict):
            items = list(name_value_list.items())
        else:
            raise PhpFatal()
        out: list[tuple[str, Any, bool]] = []
        for key, value in items:
            if isinstance(value, dict):
                if "name" in value:
                    out.append((str(value["name"]), value.get("value"), True))
            elif isinstance(key, str):
                out.append((key, value, False))
        return out

    def _store_value(self, f: FieldDef, value: Any) -> Any:
        if value is None:
            return None
        if f.type in ("int", "decimal", "currency", "float") and isinstance(value, str):
            # Seen live: "" empties a number field, and "," (the thousands separator) is
            # dropped: "1,234" is stored as 1234.
            value = value.replace(",", "").strip()
            if not value:
                return None
        if f.type == "int":
            return quirks.php_intval(value)
        if f.type == "bool":
            return 1 if _truthy(value) else 0
        if f.type in ("decimal", "currency", "float"):
            if f.db_scale is None:
                return quirks.php_floatval(value)
            # MariaDB rounds an exact decimal half away from zero: 3.25 at one decimal is 3.3.
            return quirks.decimal_text(value, f.db_scale)
        if f.type == "date" and not isinstance(value, bool):
            return quirks.sugar_date(value)
        if f.type in ("datetime", "datetimecombo") and not isinstance(value, bool):
            return quirks.sugar_datetime(value)
        if isinstance(value, bool):
            return "1" if value else "0"
        if isinstance(value, list | dict):
            return ""
        return quirks.clean_on_save(str(value), custom=f.source == "custom_fields")

    @staticmethod
    def _echo_value(f: FieldDef, value: Any) -> Any:
        if f.echo_bool:
            return _truthy(value)
        if f.type == "int" and f.source == "custom_fields":
            return quirks.php_intval(value)
        if f.type == "currency" and value is not None:
            # Seen live: "17500" is echoed 17500, "15000.5" 15000.5.
            number = quirks.php_floatval(value)
            return int(number) if number.is_integer() else number
        if f.type == "decimal" and value is not None:
            return quirks.php_floatval(value)
        if isinstance(value, str):
            return quirks.encode_echo(value)
        return value

    def _save(
        self, ctx: CallContext, sess: Session, module: ModuleDef, name_value_list: Any
    ) -> tuple[str, dict[str, Any]]:
        """One record's save as set_entry/set_entries do it; returns (id, echo)."""
        pairs = self._pairs(name_value_list)
        fields = self.store.fields(module)
        values: dict[str, Any] = {}
        new_with_id = False
        for name, value, via_array in pairs:
            if name == "new_with_id":
                new_with_id = _truthy(value)
                continue
            if value is None and name != "id":
                # Seen live (SuiteCRM 7.14.6): a JSON null leaves the field as it was; only ""
                # clears it.
                continue
            f = fields.get(name)
            if f is None and name != "id":
                continue  # unknown fields are dropped silently (and not echoed)
            if f is not None and f.sensitive and not via_array:
                continue  # the object form cannot set user_hash
            values[name] = value
        record_id = values.get("id")
        if record_id not in (None, ""):
            if not isinstance(record_id, str) or not quirks.is_valid_id(record_id):
                raise NullAnswer()  # SuiteValidator rejects the id: body null, nothing saved
        else:
            record_id = None
            values.pop("id", None)
        admin = self._is_admin(sess)
        if not admin and module.name in ADMIN_ONLY_WRITE_MODULES:
            raise access_denied()
        existing = self.store.get(module, record_id) if record_id else None
        action = "delete" if _truthy(values.get("deleted")) else "edit"
        self._check_acl(sess, module, action, existing)
        echo = {
            n: _nv(n, self._echo_value(fields[n] if n in fields else FieldDef(n, "id"), v))
            for n, v in values.items()
        }
        if record_id and existing is None and not new_with_id:
            # SugarBean::save runs an UPDATE of 0 rows: success is echoed, nothing is stored.
            log.info("sandbox: set_entry with unknown id and no new_with_id: nothing saved")
            return record_id, echo
        if existing is not None and new_with_id:
            # Seen live: a replayed create (new_with_id on an id that exists) INSERTs the id
            # again: HTTP 500 "Database failure", nothing changed.
            raise DatabaseFailure()
        creating = existing is None
        rid = record_id or self.store.new_id()
        if module.name == "Users":
            self._check_user_name(rid, values, creating)
        core: dict[str, Any] = {}
        custom: dict[str, Any] = {}
        email: str | None = None
        for name, value in values.items():
            if name == "id":
                continue
            f = fields[name]
            if f.source == "non-db":
                # Over REST an email CHANGE of an existing record is echoed but not stored
                # (User::save's saveAtUserProfile fails; accounts behave alike); a first
                # address, or one given at creation, is stored.
                if (
                    name == "email1"
                    and isinstance(value, str)
                    and (creating or not self.store.primary_email(module, rid))
                ):
                    email = value
                continue
            target = custom if f.source == "custom_fields" else core
            target[name] = self._store_value(f, value)
        ts = now_db()
        columns = {f.name for f in module.db_columns}
        if "date_modified" in core and not self.keep_date_modified:
            # SugarBean::save stamps now whatever was given (update_date_modified is true over
            # the API; recording 22_01/22_02); only the Import wizard keeps it (import_records).
            core["date_modified"] = ts
            if "date_modified" in echo:
                echo["date_modified"] = _nv("date_modified", ts)
        closing = (
            module.name == "Cases"
            and core.get("state") == "Closed"
            and (existing or {}).get("state") != "Closed"
        )
        if creating:
            for f in fields.values():
                if f.default is not None and f.source != "non-db" and f.name not in values:
                    (custom if f.source == "custom_fields" else core)[f.name] = self._store_value(
                        f, f.default
                    )
                elif (
                    f.required
                    and f.type in ("bool", "int")
                    and f.source == "db"
                    and f.name not in values
                ):
                    # DBManager::insertParams writes a required field even when it is unset, as
                    # its empty value: 0 for a number or a bool (notes.portal_flag reads "0").
                    core.setdefault(f.name, 0)
            for col, val in (
                ("date_entered", ts),
                ("date_modified", ts),
                ("created_by", sess.user_id),
                ("modified_user_id", sess.user_id),
            ):
                if col in columns and col not in core:
                    core[col] = val
            if module.name == "Users":
                core.setdefault("is_admin", 0)
                core.setdefault("status", "Active")
                core.setdefault("sugar_login", 1)
            if module.name == "EmailAddresses" and "email_address" in core:
                core["email_address_caps"] = str(core["email_address"]).upper()
            self._derived_on_save(module, rid, core, creating=True)
            self.store.insert(module, rid, core, custom)
            ctx.created += 1
        else:
            if "date_modified" in columns:
                core["date_modified"] = ts
            if "modified_user_id" in columns:
                core["modified_user_id"] = sess.user_id
            self._derived_on_save(module, rid, core, creating=False)
            self.store.update(module, rid, core, custom)
            ctx.updated += 1
        if email is not None:
            self.store.set_primary_email(module, rid, email)
        if _truthy(values.get("deleted")):
            self._mark_relationships_deleted(module, rid)
        if closing and self.flavor.case_close_dies and not self.keep_date_modified:
            # After the save, in AOP's closure hook (Flavor.case_close_dies): the row stays.
            raise DiesAfterSave()
        return rid, echo

    def import_records(self, module_name: str, rows: Sequence[Mapping[str, Any]]) -> list[str]:
        """Records brought in the way Sugar's Import wizard does it, for seeding history (the
        demo's CRM): each row saved as a new record with its ``id`` (``new_with_id``), its
        ``date_entered`` and its ``date_modified`` kept (modules/Import/Importer.php sets
        ``update_date_modified = false`` for a new record given one) and AOP's case closure
        hook skipped (it returns early for the Import module). Not an API method."""
        module = self._module(module_name)
        admin = self.store.rows("SELECT id FROM users WHERE is_admin = 1 ORDER BY id LIMIT 1")
        sess = Session("import", str(admin[0]["id"]), "127.0.0.1", time.time())
        ctx = CallContext()
        ids = []
        with self.store.lock:
            self.keep_date_modified = True
            try:
                for row in rows:
                    nvl = [{"name": k, "value": v} for k, v in row.items()]
                    nvl.append({"name": "new_with_id", "value": True})
                    ids.append(self._save(ctx, sess, module, nvl)[0])
            finally:
                self.keep_date_modified = False
        return ids

    def _check_user_name(self, rid: str, values: Mapping[str, Any], creating: bool) -> None:
        """User::verify_data: a taken user_name makes User::save redirect (HTTP 301, empty body)."""
        name = values.get("user_name")
        if name is None:
            if creating:
                raise Redirect()
            return
        other = self.store.user_by_name(str(name))
        if other is not None and other["id"] != rid:
            raise Redirect()

    def set_entry(
        self,
        ctx: CallContext,
        session: Any,
        module_name: Any,
        name_value_list: Any,
        track_view: Any = False,
    ) -> Any:
        """``set_entry``: create (no id / new_with_id) or update; echoes the known fields."""
        sess = self._auth(ctx, session)
        module = self._module(module_name)
        with self.store.transaction():
            try:
                rid, echo = self._save(ctx, sess, module, name_value_list)
            except DiesAfterSave:
                died = True
            else:
                died = False
        if died:  # the save is committed (MySQL autocommit), then PHP dies
            raise PhpFatal()
        return {"id": rid, "entry_list": echo}

    def set_entries(
        self, ctx: CallContext, session: Any, module_name: Any, name_value_lists: Any
    ) -> Any:
        """``set_entries``: several saves in one call; answers only ``{ids: [...]}`` in input
        order."""
        sess = self._auth(ctx, session)
        module = self._module(module_name)
        if not isinstance(name_value_lists, list):
            raise PhpFatal()
        ids = []
        died = False
        with self.store.transaction():
            for nvl in name_value_lists:
                try:
                    rid, _ = self._save(ctx, sess, module, nvl)
                except DiesAfterSave:
                    died = True  # the rows saved so far stay, the rest of the batch is not run
                    break
                except SugarFault as fault:
                    if str(fault.number) != "40" or module.name in ADMIN_ONLY_WRITE_MODULES:
                        raise
                    # Seen live: a row the user may not save is skipped without a word; the
                    # others are saved and only their ids are answered.
                    continue
                ids.append(rid)
        if died:
            raise PhpFatal()
        return {"ids": ids}

    def set_relationship(
        self,
        ctx: CallContext,
        session: Any,
        module_name: Any,
        module_id: Any,
        link_field_name: Any,
        related_ids: Any,
        name_value_list: Any = None,
        delete: Any = 0,
    ) -> Any:
        """``set_relationship``: ``created``/``deleted`` count CALLS; unknown ids still say created
        1."""
        sess = self._auth(ctx, session)
        module = self._module(module_name)
        link = module.link_map().get(str(link_field_name))
        if link is None:
            return {"created": 0, "failed": 1, "deleted": 0}
        if not self._is_admin(sess) and (
            module.name in ADMIN_ONLY_WRITE_MODULES
            or link.related_module in ADMIN_ONLY_WRITE_MODULES
        ):
            raise access_denied()
        removing = _truthy(delete)
        ids = related_ids if isinstance(related_ids, list) else [related_ids]
        related = MODULES[link.related_module]
        if isinstance(module_id, str) and self.store.exists(module, module_id):
            with self.store.transaction():
                for other in ids:
                    if not isinstance(other, str) or not self.store.exists(related, other):
                        continue
                    # name_value_list is dropped: none of these links declares relationship fields.
                    self._apply_link(module, module_id, link, related, other, removing)
                    ctx.links += 1
        return {"created": 0 if removing else 1, "failed": 0, "deleted": 1 if removing else 0}

    def set_relationships(
        self,
        ctx: CallContext,
        session: Any,
        module_names: Any,
        module_ids: Any,
        link_field_names: Any,
        related_ids: Any,
        name_value_lists: Any = None,
        delete_array: Any = None,
    ) -> Any:
        """``set_relationships``: several set_relationship calls; the counts are summed."""
        self._auth(ctx, session)
        lists = [module_names, module_ids, link_field_names, related_ids]
        if not all(isinstance(x, list) for x in lists):
            raise PhpFatal()
        deletes = delete_array if isinstance(delete_array, list) else []
        total = {"created": 0, "failed": 0, "deleted": 0}
        for i, (module_name, module_id, link, ids) in enumerate(zip(*lists, strict=False)):
            one = self.set_relationship(
                ctx,
                session,
                module_name,
                module_id,
                link,
                ids,
                [],
                deletes[i] if i < len(deletes) else 0,
            )
            for key in total:
                total[key] += one[key]
        return total

    def _apply_link(
        self,
        module: ModuleDef,
        module_id: str,
        link: LinkDef,
        related: ModuleDef,
        other: str,
        removing: bool,
    ) -> None:
        if link.kind == "parent":
            self._set_parent(related.table, other, module.name, module_id, removing)
        elif link.kind in ("fk", "fk_self", "parent_self"):
            self._apply_column_link(module, module_id, link, related, other, removing)
        elif link.kind == "email":
            if removing:
                self.store.execute(
                    "UPDATE email_addr_bean_rel SET deleted = 1 WHERE bean_id = ? AND"
                    " email_address_id = ?",
                    (module_id, other),
                )
            else:
                self.store.execute(
                    "INSERT INTO email_addr_bean_rel (id, email_address_id, bean_id, bean_module,"
                    " primary_address, date_modified, deleted) VALUES (?, ?, ?, ?, 0, ?, 0)",
                    (self.store.new_id(), other, module_id, module.name, now_db()),
                )
        elif removing:
            self.store.remove_link(link, module_id, other)
        else:
            self.store.add_link(link, module_id, other)

    def _set_parent(
        self, table: str, child: str, parent_type: str, parent: str, removing: bool
    ) -> None:
        """Point the record ``child`` of ``table`` at its parent (parent_type/parent_id), or, when
        ``removing``, clear that pointer if it still names ``parent``."""
        if removing:
            self.store.execute(
                f"UPDATE {table} SET parent_type = NULL, parent_id = NULL WHERE id = ?"
                " AND parent_id = ?",
                (child, parent),
            )
        else:
            self.store.execute(
                f"UPDATE {table} SET parent_type = ?, parent_id = ? WHERE id = ?",
                (parent_type, parent, child),
            )

    def _apply_column_link(
        self,
        module: ModuleDef,
        module_id: str,
        link: LinkDef,
        related: ModuleDef,
        other: str,
        removing: bool,
    ) -> None:
        """A one-to-many relationship kept in a column: cases.account_id (``fk`` from Accounts,
        ``fk_self`` from Cases) or parent_type/parent_id (``parent_self`` from Meetings)."""
        if link.kind == "fk":
            table, col, child, parent = related.table, link.other_col, other, module_id
        else:
            table, col, child, parent = module.table, link.self_col, module_id, other
        if link.kind == "parent_self":
            self._set_parent(table, child, related.name, parent, removing)
        elif removing:
            self.store.execute(
                f"UPDATE {table} SET {col} = NULL WHERE id = ? AND {col} = ?", (child, parent)
            )
        else:
            self.store.execute(f"UPDATE {table} SET {col} = ? WHERE id = ?", (parent, child))

    def _mark_relationships_deleted(self, module: ModuleDef, record_id: str) -> None:
        """What SugarBean::mark_deleted does to the links that drop their rows (see
        ``LinkDef.cleared_on_delete``), and to its e-mail addresses: a deleted Account read with
        ``deleted=1`` answers ``email1`` '' (recording 24_06_accounts_changed_read_deleted_1),
        its ``email_addr_bean_rel`` rows being deleted with it."""
        for link in module.links:
            if link.kind == "email":
                self.store.execute(
                    "UPDATE email_addr_bean_rel SET deleted = 1, date_modified = ? WHERE"
                    " bean_id = ? AND deleted = 0",
                    (now_db(), record_id),
                )
                continue
            if not link.cleared_on_delete:
                continue
            if link.kind == "m2m":
                self.store.execute(
                    f"UPDATE {link.table} SET deleted = 1, date_modified = ? WHERE"
                    f" {link.self_col} = ? AND deleted = 0",
                    (now_db(), record_id),
                )
            elif link.kind == "fk_self":
                self.store.execute(
                    f"UPDATE {module.table} SET {link.self_col} = NULL WHERE id = ?", (record_id,)
                )

    def _derived_on_save(
        self, module: ModuleDef, rid: str, core: dict[str, Any], creating: bool
    ) -> None:
        """Columns a bean's save() fills from others (Opportunity, Meeting, aCase)."""
        current = {} if creating else (self.store.get(module, rid, include_deleted=True) or {})
        merged = {**current, **core}
        if module.name == "Opportunities":
            if not merged.get("currency_id"):
                core["currency_id"] = "-99"
            if merged.get("probability") in (None, "") and merged.get("sales_stage"):
                stage = str(merged["sales_stage"])
                if stage in SALES_STAGE_PROBABILITY:
                    core["probability"] = SALES_STAGE_PROBABILITY[stage]
            if "amount" in core:
                # The system currency (-99) converts at 1.0.
                core["amount_usdollar"] = core["amount"]
        if module.name in END_FROM_DURATION and merged.get("date_start"):
            end = quirks.add_minutes(
                str(merged["date_start"]),
                60 * quirks.php_intval(merged.get("duration_hours") or 0)
                + quirks.php_intval(merged.get("duration_minutes") or 0),
            )
            if end is not None:
                core["date_end"] = end
        column = AUTO_NUMBER.get(module.name)
        if creating and column is not None:
            top = self.store.rows(f"SELECT MAX({column}) AS n FROM {module.table}")[0]["n"]
            core[column] = int(top or 0) + 1

    # --- the bridge extension (custom/service/bridge/rest.php) --------------------------------

    def log_campaign_activity(self, identifier: str, activity: str) -> None:
        """What Sugar's ``log_campaign_activity`` (modules/Campaigns/utils.php) does for a
        target's response (the open-tracking image: ``viewed``): a repeat bumps the row's
        ``hits``; a first one is INSERTed beside the target's ``targeted`` row with SQL, so it
        has no ``date_modified`` (recording 21_06: '' in the listing). No ``targeted`` row for
        the identifier: nothing. Deleted rows count like live ones (the PHP does not look)."""
        with self.store.lock:
            found = self.store.rows(
                "SELECT id FROM campaign_log WHERE target_tracker_key = ? AND activity_type = ?",
                (identifier, activity),
            )
            if found:
                self.store.execute(
                    "UPDATE campaign_log SET hits = hits + 1 WHERE id = ?", (found[0]["id"],)
                )
                return
            targeted = self.store.rows(
                "SELECT * FROM campaign_log WHERE target_tracker_key = ?"
                " AND activity_type = 'targeted'",
                (identifier,),
            )
            if not targeted:
                return
            sent = targeted[0]
            self.store.execute(
                "INSERT INTO campaign_log (id, campaign_id, target_tracker_key, target_id,"
                " target_type, activity_type, activity_date, list_id, marketing_id, hits,"
                " deleted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 0)",
                (
                    self.store.new_id(),
                    sent["campaign_id"],
                    identifier,
                    sent["target_id"],
                    sent["target_type"],
                    activity,
                    now_db(),
                    sent["list_id"],
                    sent["marketing_id"],
                ),
            )

    def method(self, name: str) -> tuple[Callable[..., Any], Signature] | None:
        """The implementation and PHP signature of a v4_1 method, or None when unknown."""
        sig = SIGNATURES.get(name)
        if sig is None:
            return None
        func: Callable[..., Any] = getattr(self, name)
        return func, sig
