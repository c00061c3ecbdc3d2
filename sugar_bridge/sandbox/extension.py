"""The bridge extension's methods (``custom/service/bridge/rest.php``) as the sandbox answers them.

They mirror ``connectors/sugar/extension/php/.../SugarWebServiceImplBridge.php``: the same checks,
defaults, error numbers (1001 invalid field, 1002 no such role, 1003 invalid rights, 1004 not a
custom field, 1008 invalid position) and answers, on the sandbox's Sugar-shaped tables
(``fields_meta_data``, ``<table>_cstm``, ``acl_roles_actions``). ``bridge_read_changed`` answers
what the sandbox's own ``get_entry_list`` answers for the same records (which the conformance
tests hold to the real SuiteCRM's), the non-stored fields the PHP does not fill left out.
"""

from __future__ import annotations

import html
import json
import re
import sqlite3
from collections.abc import Callable
from typing import Any

from sugar_bridge.sandbox import quirks
from sugar_bridge.sandbox.api import REQUIRED, CallContext, Session, Signature, SugarApi
from sugar_bridge.sandbox.exceptions import DatabaseFailure, SugarFault, access_denied
from sugar_bridge.sandbox.faults import IndexLock
from sugar_bridge.sandbox.modules import MODULES, FieldDef, ModuleDef
from sugar_bridge.sandbox.store import now_db

EXTENSION_SIGNATURES: dict[str, Signature] = {
    "bridge_info": (("session", REQUIRED),),
    "bridge_ensure_custom_field": (
        ("session", REQUIRED),
        ("module_name", REQUIRED),
        ("field", REQUIRED),
        ("views", []),
    ),
    "bridge_remove_custom_field": (
        ("session", REQUIRED),
        ("module_name", REQUIRED),
        ("field_name", REQUIRED),
    ),
    "bridge_set_role_actions": (("session", REQUIRED), ("role_id", REQUIRED), ("rights", REQUIRED)),
    "bridge_get_role_actions": (("session", REQUIRED), ("role_id", REQUIRED)),
    "bridge_get_custom_fields": (("session", REQUIRED), ("module_name", REQUIRED)),
    "bridge_save_records": (
        ("session", REQUIRED),
        ("module_name", REQUIRED),
        ("records", REQUIRED),
        ("select_fields", []),
    ),
    "bridge_get_related_ids": (
        ("session", REQUIRED),
        ("module_name", REQUIRED),
        ("module_id", REQUIRED),
        ("link_field_name", REQUIRED),
    ),
    "bridge_read_changed": (
        ("session", REQUIRED),
        ("module_name", REQUIRED),
        ("since", REQUIRED),
        ("after_id", REQUIRED),
        ("max_results", REQUIRED),
        ("select_fields", []),
    ),
}
#: Records bridge_read_changed answers at most in one call (MAX_READ_RECORDS).
MAX_READ_RECORDS = 2000
#: Non-stored fields bridge_read_changed answers, as the bean fills them (the PHP's email1,
#: LINK_FILLED and Lead::get_account); other non-stored fields are not answered.
READ_CHANGED_COMPUTED: dict[str, frozenset[str]] = {
    "Contacts": frozenset({"account_id"}),
    "Opportunities": frozenset({"account_id"}),
    "Leads": frozenset({"account_name"}),
}
_SINCE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
EXTENSION_VERSION = "1.5.0"
# The extension's field types → Sugar's (DynamicField widget) type; default lengths (Studio's).
CUSTOM_FIELD_TYPES: dict[str, str] = {
    "varchar": "varchar",
    "int": "int",
    "decimal": "decimal",
    "currency": "currency",
    "date": "date",
    "datetime": "datetimecombo",
    "enum": "enum",
    "bool": "bool",
    "text": "text",
}
DEFAULT_LEN = {"varchar": 255, "int": 11, "decimal": 18, "currency": 26, "enum": 100}
ACL_LEVELS = (90, 89, 80, 75, 0, -98, -99)
VIEWS = ("detailview", "editview", "listview")
_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,55}_c$")
# Names bridge_remove_custom_field accepts (Studio's fields too, whatever their case).
_REMOVABLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,61}_c$")
_ENUM_TYPES = ("enum", "multienum", "radioenum")
#: bridge_save_records: records per call, and the modules it refuses (set_entries gives them
#: semantics a plain bean save has not).
MAX_SAVE_RECORDS = 500
SAVE_REFUSED_MODULES = ("Users", "Employees", "Contacts")
#: Per-record errors of bridge_save_records: (number, name, description).
RECORD_ERRORS: dict[str, tuple[int, str, str]] = {
    "not_found": (
        1006,
        "Bridge: no such record",
        "No record has this id (or it is deleted); nothing was saved",
    ),
    "no_access": (40, "Access Denied", "You do not have access to save this record"),
    "invalid_record": (
        1005,
        "Bridge: invalid record",
        "A record must be an object of field => value with a valid id",
    ),
}


class BridgeExtension:
    """The ``bridge_*`` methods; sessions, modules and the store come from the v4_1 ``api``."""

    def __init__(self, api: SugarApi, index: Callable[[], IndexLock | None] = lambda: None) -> None:
        self.api = api
        self.store = api.store
        # The server's AOD index model (None while AOD is off), read on every call.
        self._index = index

    def method(self, name: str) -> tuple[Callable[..., Any], Signature] | None:
        """The implementation and PHP signature of an extension method, or None when unknown."""
        sig = EXTENSION_SIGNATURES.get(name)
        if sig is None:
            return None
        func: Callable[..., Any] = getattr(self, name)
        return func, sig

    def _admin(self, ctx: CallContext, session: Any) -> Session:
        sess = self.api._auth(ctx, session)
        if not self.api._is_admin(sess):
            raise access_denied()
        return sess

    def bridge_info(self, ctx: CallContext, session: Any) -> Any:
        """``bridge_info``: extension and Sugar versions, modules, whether SecurityGroups exist."""
        self._admin(ctx, session)
        return {
            "extension_version": EXTENSION_VERSION,
            "api_level": 1,
            "flavor": "CE",
            "sugar_version": self.api.flavor.sugar_version,
            "suitecrm_version": self.api.flavor.suitecrm_version,
            "php_version": "8.2.0-sandbox",
            "modules": sorted(MODULES),
            "security_groups": True,
            "aod_enabled": self._index() is not None,
            "save_records_max": MAX_SAVE_RECORDS,
        }

    @staticmethod
    def _invalid_field(why: str) -> SugarFault:
        return SugarFault(1001, "Bridge: invalid field definition", why)

    @staticmethod
    def _invalid_rights(why: str) -> SugarFault:
        return SugarFault(1003, "Bridge: invalid rights", why)

    def _field_spec(
        self, module: ModuleDef, spec: Any, views: Any
    ) -> tuple[FieldDef, list[str], str]:
        """bridgeValidateField of the PHP extension: the same checks, defaults and messages."""
        if not isinstance(spec, dict):
            raise self._invalid_field("field must be an object")
        name = spec.get("name")
        if not isinstance(name, str) or not _FIELD_NAME.match(name):
            raise self._invalid_field("name must match [a-z][a-z0-9_]*_c, at most 58 characters")
        ctype = spec.get("type")
        if not isinstance(ctype, str) or ctype not in CUSTOM_FIELD_TYPES:
            raise self._invalid_field(f"type must be one of {', '.join(CUSTOM_FIELD_TYPES)}")
        stype = CUSTOM_FIELD_TYPES[ctype]
        label = spec.get("label")
        if not isinstance(label, str) or not label.strip() or len(label) > 255:
            raise self._invalid_field("label must be a non-empty string of at most 255 characters")
        if name in module.field_map() and module.field_map()[name].source != "custom_fields":
            raise self._invalid_field(
                f"{name} is a field of {module.name} that is not a custom field"
            )
        length: int | None = DEFAULT_LEN.get(stype)
        if length is not None and spec.get("len") is not None:
            given = spec["len"]
            if isinstance(given, bool) or not isinstance(given, int) or not 1 <= given <= 255:
                raise self._invalid_field("len must be an integer from 1 to 255")
            length = given
        precision: int | None = None
        if stype == "decimal":
            precision = 2
            if spec.get("precision") is not None:
                p = spec["precision"]
                if (
                    isinstance(p, bool)
                    or not isinstance(p, int)
                    or not 0 <= p <= 8
                    or p >= (length or 0)
                ):
                    raise self._invalid_field("precision must be an integer from 0 to 8, below len")
                precision = p
        elif spec.get("precision") is not None and not isinstance(spec["precision"], int):
            raise self._invalid_field("precision must be an integer")
        options: dict[str, str] = {}
        raw_options = spec.get("options")
        if stype == "enum":
            if not isinstance(raw_options, dict) or not raw_options:
                raise self._invalid_field("an enum field needs options {key: label}")
            for key, value in raw_options.items():
                if isinstance(value, dict | list) or len(str(key)) > 100:
                    raise self._invalid_field(
                        "options must map keys (at most 100 characters) to labels"
                    )
                if quirks.clean_on_save(str(key), custom=False) != str(key):
                    raise self._invalid_field("option keys must be plain text")
                options[str(key)] = quirks.clean_on_save(str(value), custom=False)
        elif raw_options not in (None, [], {}):
            raise self._invalid_field("options are only for enum fields")
        default = spec.get("default")
        if default is not None and isinstance(default, dict | list):
            raise self._invalid_field("default must be a string, number, boolean or null")
        if isinstance(default, bool):
            default = "1" if default else "0"
        default_text = "" if default is None else str(default)
        if stype == "enum" and default_text and default_text not in options:
            raise self._invalid_field("default must be one of the options")
        if stype == "bool" and default_text == "":
            default_text = "0"
        required = spec.get("required", False)
        if required is None:
            required = False
        if not isinstance(required, bool) and required not in (0, 1):
            raise self._invalid_field("required must be a boolean")
        help_text = spec.get("help") or ""
        if not isinstance(help_text, str) or len(help_text) > 255:
            raise self._invalid_field("help must be a string of at most 255 characters")
        if views is None:
            views = []
        if not isinstance(views, list):
            raise self._invalid_field("views must be a list")
        clean_views: list[str] = []
        for view in views:
            if not isinstance(view, str) or view not in VIEWS:
                raise self._invalid_field(f"views must be a subset of {', '.join(VIEWS)}")
            if view not in clean_views:
                clean_views.append(view)
        f = FieldDef(
            name=name,
            type=stype,
            label=label,
            len="" if length is None else (length if stype == "enum" else str(length)),
            required=bool(required),
            options=options,
            source="custom_fields",
            # get_module_fields shows default_value only for fields defined with a default.
            default=None if spec.get("default") is None and stype != "bool" else default_text,
            # Sugar answers currency values with 2 decimals (12345.67), decimals with their own.
            precision=precision if stype == "decimal" else (2 if stype == "currency" else None),
        )
        return f, clean_views, help_text

    def bridge_ensure_custom_field(
        self, ctx: CallContext, session: Any, module_name: Any, field: Any, views: Any = None
    ) -> Any:
        """``bridge_ensure_custom_field``: add or update a custom field the way Studio does
        (fields_meta_data row, ``<table>_cstm`` column, label, dropdown, layouts); idempotent.

        Answers like the PHP extension: ``changed`` is true when created or when ``changes``
        (attributes of an existing field that differed) is not empty."""
        self._admin(ctx, session)
        module = self.api._module(module_name)
        f, view_list, help_text = self._field_spec(module, field, views)
        current = self.store.meta_row(module, f.name)
        base = f.name[:-2]
        vname = (
            current["vname"] if current is not None and current["vname"] else f"LBL_{base.upper()}"
        )
        dropdown = None
        if f.type == "enum":
            keep = (
                current is not None
                and current["ext1"]
                and re.match(r"^[A-Za-z0-9_]{1,100}$", current["ext1"])
            )
            dropdown = (
                current["ext1"]
                if keep and current is not None
                else f"{module.name.lower()}_{base}_list"
            )
        changes: list[str] = []
        created = current is None
        with self.store.transaction():
            if current is not None:
                if current["type"] != f.type:
                    raise self._invalid_field(
                        f"field {f.name} exists with type {current['type']};"
                        " its type cannot be changed"
                    )
                if f.len != "" and str(current["len"] or "") != str(f.len):
                    changes.append("len")
                if f.type == "decimal" and str(current["ext2"] or "") != str(f.precision):
                    changes.append("precision")
                if html.unescape(current["default_value"] or "") != html.unescape(f.default or ""):
                    changes.append("default")
                if bool(current["required"]) != f.required:
                    changes.append("required")
                if html.unescape(current["help"] or "") != html.unescape(help_text):
                    changes.append("help")
                if dropdown is not None and (current["ext1"] or "") != dropdown:
                    changes.append("options")
            if dropdown is not None:
                old = self.store.rows(
                    "SELECT options FROM sandbox_dropdowns WHERE name = ?", (dropdown,)
                )
                new_options = json.dumps(dict(f.options))
                if not old or old[0]["options"] != new_options:
                    self.store.execute(
                        "INSERT OR REPLACE INTO sandbox_dropdowns (name, options) VALUES (?, ?)",
                        (dropdown, new_options),
                    )
                    changes.append("options")
            old_label = self.store.rows(
                "SELECT label FROM sandbox_labels WHERE module = ? AND name = ?",
                (module.name, vname),
            )
            if not old_label or old_label[0]["label"] != f.label:
                self.store.execute(
                    "INSERT OR REPLACE INTO sandbox_labels (module, name, label) VALUES (?, ?, ?)",
                    (module.name, vname, f.label),
                )
                changes.append("label")
            values = (
                f.type,
                int(f.len) if str(f.len).isdigit() else None,
                int(f.required),
                f.default,
                help_text,
                dropdown,
                f.precision,
                now_db(),
            )
            if created:
                self.store.execute(
                    "INSERT INTO fields_meta_data (type, len, required, default_value, help, ext1,"
                    " ext2, date_modified, id, name, vname, custom_module, deleted)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
                    (*values, f"{module.name}{f.name}", f.name, vname, module.name),
                )
                self.store.add_custom_column(module, f)
            elif set(changes) - {"label", "options"} or (
                dropdown and current and current["ext1"] != dropdown
            ):
                self.store.execute(
                    "UPDATE fields_meta_data SET type = ?, len = ?, required = ?,"
                    " default_value = ?,"
                    " help = ?, ext1 = ?, ext2 = ?, date_modified = ? WHERE id = ?",
                    (*values, current["id"] if current else ""),
                )
            added = []
            for view in view_list:
                if f.name not in self.store.layout_fields(module, view):
                    self.store.execute(
                        "INSERT INTO sandbox_layouts (module, view, field) VALUES (?, ?, ?)",
                        (module.name, view, f.name),
                    )
                    added.append(view)
        self.store.invalidate_fields()
        unique = [] if created else list(dict.fromkeys(changes))
        if created or unique or added:
            ctx.links += 1
        return {
            "name": f.name,
            "created": created,
            "changed": created or bool(unique),
            "changes": unique,
            "views_added": added,
        }

    def bridge_get_custom_fields(self, ctx: CallContext, session: Any, module_name: Any) -> Any:
        """``bridge_get_custom_fields``: the module's custom fields as stored in
        ``fields_meta_data``, with a decimal's precision (6 for currency, Sugar's column scale);
        ``[]`` when there is none, as PHP encodes an empty array."""
        self._admin(ctx, session)
        module = self.api._module(module_name)
        rows = self.store.rows(
            "SELECT name, type, len, ext2, required FROM fields_meta_data"
            " WHERE custom_module = ? AND deleted = 0 ORDER BY name",
            (module.name,),
        )
        out: dict[str, Any] = {}
        for row in rows:
            precision: int | None = None
            if row["type"] in ("decimal", "float") and row["ext2"] not in (None, ""):
                precision = int(row["ext2"])  # the sandbox keeps it in ext2, Sugar in ext1
            elif row["type"] == "currency":
                precision = 6
            out[row["name"]] = {
                "name": row["name"],
                "type": row["type"],
                "len": None if row["len"] in (None, "") else int(row["len"]),
                "precision": precision,
                "required": bool(row["required"]),
            }
        return out or []

    def bridge_get_related_ids(
        self,
        ctx: CallContext,
        session: Any,
        module_name: Any,
        module_id: Any,
        link_field_name: Any,
    ) -> Any:
        """``bridge_get_related_ids``: the ids of the live records related over a link, in id
        order, all at once (what get_relationships lists); none for a record that does not
        exist or a link it has not (case-sensitive), as get_relationships answers an empty
        list. Admin session."""
        self._admin(ctx, session)
        module = self.api._module(module_name)
        link = module.link_map().get(str(link_field_name))
        if link is None or not isinstance(module_id, str):
            return {"ids": []}
        if not self.store.exists(module, module_id):
            return {"ids": []}
        try:
            rows, _ = self.api._related_rows(module, module_id, link, "", [], 0, None, False)
        except sqlite3.Error as exc:
            raise DatabaseFailure() from exc
        return {"ids": sorted({str(r["id"]) for r in rows})}

    def bridge_read_changed(
        self,
        ctx: CallContext,
        session: Any,
        module_name: Any,
        since: Any,
        after_id: Any,
        max_results: Any,
        select_fields: Any = None,
    ) -> Any:
        """``bridge_read_changed``: the records after (``since``, ``after_id``) in
        ``date_modified, id`` order, deleted ones included, as get_entry_list answers them
        (``deleted=1``, the keyset query), the non-stored fields the PHP does not fill left out.
        Any user who may list the module."""
        sess = self.api._auth(ctx, session)
        module = self.api._module(module_name)
        self.api._check_acl(sess, module, "list")
        since = since if isinstance(since, str) else ""
        after_id = after_id if isinstance(after_id, str) else ""
        limit = quirks.php_intval(max_results) if _numeric(max_results) else 0
        if (
            (since and not _SINCE.match(since))
            or len(after_id) > 36
            or not 1 <= limit <= MAX_READ_RECORDS
        ):
            raise SugarFault(
                1008,
                "Bridge: invalid position",
                'since must be "" or Y-m-d H:i:s, after_id at most 36 characters, '
                "max_results 1 to 2000",
            )
        asked = (
            [f for f in select_fields if isinstance(f, str)]
            if isinstance(select_fields, list)
            else []
        )
        asked += [f for f in ("id", "date_modified") if f not in asked]
        fields = self.store.fields(module)
        computed = READ_CHANGED_COMPUTED.get(module.name, frozenset())
        answered = [
            n
            for n in asked
            if n in fields
            and (fields[n].source != "non-db" or n == "email1" or n in computed)
            and fields[n].type != "link"
        ]
        t = module.table
        where = ""
        if since:
            at = _sql_text(since)
            where = (
                f"{t}.date_modified >= {at}"
                if not after_id
                else f"({t}.date_modified > {at} OR ({t}.date_modified = {at} AND "
                f"{t}.id > {_sql_text(after_id)}))"
            )
        order = [(f"{t}.date_modified", "ASC"), (f"{t}.id", "ASC")]
        rows, _ = self.api._list_rows(sess, module, where, order, 0, limit, 1)
        entries = [self.api._entry(module, r, answered, listing=True) for r in rows]
        return {"result_count": len(entries), "entry_list": entries}

    @staticmethod
    def _not_custom_field(why: str) -> SugarFault:
        return SugarFault(1004, "Bridge: not a custom field", why)

    def bridge_remove_custom_field(
        self, ctx: CallContext, session: Any, module_name: Any, field_name: Any
    ) -> Any:
        """``bridge_remove_custom_field``: what Studio's Delete does — off the layouts, label
        and dropdown list dropped unless another field of the module still uses them,
        fields_meta_data row and ``<table>_cstm`` column removed; a missing field answers
        ``removed: false``; a stock field or a name without ``_c`` is refused (1004)."""
        self._admin(ctx, session)
        module = self.api._module(module_name)
        if not isinstance(field_name, str) or not _REMOVABLE_NAME.match(field_name):
            raise self._not_custom_field("field_name must be a custom field name ending in _c")
        static = module.field_map().get(field_name)
        if static is not None and static.source != "custom_fields":
            raise self._not_custom_field(
                f"{field_name} is a field of {module.name} that is not a custom field"
            )
        row = self.store.meta_row(module, field_name)
        if row is None:
            return {
                "name": field_name,
                "removed": False,
                "label_removed": False,
                "list_removed": False,
            }
        label_removed = list_removed = False
        with self.store.transaction():
            self.store.execute(
                "DELETE FROM sandbox_layouts WHERE module = ? AND field = ?",
                (module.name, field_name),
            )
            if row["vname"] and not self.store.rows(
                "SELECT 1 FROM fields_meta_data WHERE deleted = 0 AND custom_module = ?"
                " AND vname = ? AND id <> ?",
                (module.name, row["vname"], row["id"]),
            ):
                label_removed = (
                    self.store.execute(
                        "DELETE FROM sandbox_labels WHERE module = ? AND name = ?",
                        (module.name, row["vname"]),
                    )
                    > 0
                )
            if (
                row["type"] in _ENUM_TYPES
                and row["ext1"]
                and not self.store.rows(
                    "SELECT 1 FROM fields_meta_data WHERE deleted = 0 AND ext1 = ? AND id <> ?"
                    " AND type IN ('enum', 'multienum', 'radioenum', 'dynamicenum')",
                    (row["ext1"], row["id"]),
                )
            ):
                list_removed = (
                    self.store.execute(
                        "DELETE FROM sandbox_dropdowns WHERE name = ?", (row["ext1"],)
                    )
                    > 0
                )
            # DynamicField::deleteField: the row goes (not marked deleted), then the column.
            self.store.execute("DELETE FROM fields_meta_data WHERE id = ?", (row["id"],))
            if field_name in self.store.cstm_columns(module):
                self.store.execute(f"ALTER TABLE {module.table}_cstm DROP COLUMN {field_name}")
        self.store.invalidate_fields()
        ctx.links += 1
        return {
            "name": field_name,
            "removed": True,
            "label_removed": label_removed,
            "list_removed": list_removed,
        }

    def _role(self, role_id: Any) -> str:
        if (
            not isinstance(role_id, str)
            or not re.match(r"^[A-Za-z0-9_.\-]{1,36}$", role_id)
            or not self.store.exists(MODULES["ACLRoles"], role_id)
        ):
            raise SugarFault(1002, "Bridge: no such role", "No ACL role has this id")
        return role_id

    def bridge_set_role_actions(
        self, ctx: CallContext, session: Any, role_id: Any, rights: Any
    ) -> Any:
        """``bridge_set_role_actions``: ACLRole::setAction per module/action (levels checked
        first, so an invalid one changes nothing); unknown module/action pairs are reported."""
        self._admin(ctx, session)
        rid = self._role(role_id)
        if isinstance(rights, list) and not rights:
            rights = {}  # PHP's empty array
        if not isinstance(rights, dict):
            raise self._invalid_rights("rights must be an object")
        for module_key, actions in rights.items():
            if isinstance(actions, list) and not actions:
                continue
            if not isinstance(actions, dict):
                raise self._invalid_rights(f"rights of {module_key} must be an object")
            for action, level in actions.items():
                if isinstance(level, bool) or not isinstance(level, int) or level not in ACL_LEVELS:
                    levels = ", ".join(str(v) for v in ACL_LEVELS)
                    raise self._invalid_rights(
                        f"{module_key}.{action}: level must be one of {levels}"
                    )
        changed = unchanged = 0
        unknown: list[str] = []
        with self.store.transaction():
            for category, actions in rights.items():
                ids = self.store.acl_action_ids(str(category))
                for action, level in (actions or {}).items():
                    if action not in ids:
                        unknown.append(f"{category}.{action}")
                        continue
                    if self.store.set_role_level(rid, ids[action], level):
                        changed += 1
                    else:
                        unchanged += 1
        ctx.links += changed
        return {"role_id": rid, "changed": changed, "unchanged": unchanged, "unknown": unknown}

    def bridge_get_role_actions(self, ctx: CallContext, session: Any, role_id: Any) -> Any:
        """``bridge_get_role_actions``: module → action → stored level (0 when not set)."""
        self._admin(ctx, session)
        return self.store.role_levels(self._role(role_id))

    # --- dispatch -----------------------------------------------------------------------------

    # --- bridge_save_records ----------------------------------------------------------------------

    def bridge_save_records(
        self,
        ctx: CallContext,
        session: Any,
        module_name: Any,
        records: Any,
        select_fields: Any = None,
    ) -> Any:
        """``bridge_save_records``: each record saved like set_entries saves it (the sandbox's
        ``_save``), with the extension's id rules (an unknown id without ``new_with_id`` is error
        1006, ``new_with_id`` on an existing id updates it), a refused row answered with error 40,
        and the stored values read back per record. With AOD on, the records are left to the
        index job (``IndexLock.defer``) instead of each taking the index lock."""
        sess = self.api._auth(ctx, session)
        module = self.api._module(module_name)
        self.api._check_acl(sess, module, "edit")
        if module.name in SAVE_REFUSED_MODULES:
            raise SugarFault(
                1005,
                "Bridge: invalid records",
                f"{module.name} cannot be saved here: set_entries gives it extra semantics",
            )
        # the PHP: a list (an empty JSON object decodes to an empty array, so it is one too)
        if records == {}:
            records = []
        if not isinstance(records, list) or len(records) > MAX_SAVE_RECORDS:
            raise SugarFault(
                1005,
                "Bridge: invalid records",
                f"records must be a list of at most {MAX_SAVE_RECORDS} objects",
            )
        # the PHP: a select_fields that is not an array counts as none
        fields = [f for f in quirks.php_array_values(select_fields) or [] if isinstance(f, str)]
        index = self._index()
        deferred = index is not None and module.name in index.aod.modules
        out = []
        with self.store.transaction():
            for record in records:
                answer = self._save_record(ctx, sess, module, record, fields)
                if answer["saved"] and deferred and index is not None:
                    index.defer(module.name, str(answer["id"]))
                out.append(answer)
        saved = sum(1 for a in out if a["saved"])
        return {
            "module_name": module.name,
            "aod_enabled": index is not None,
            "index_deferred": index is not None,
            "saved": saved,
            "failed": len(out) - saved,
            "records": out,
        }

    @staticmethod
    def _enum_key(f: FieldDef, value: Any) -> Any:
        """What new_handle_set_entries (and the extension) do to an enum value: a label of the
        field's list that is not also a key becomes its key."""
        if f.type != "enum" or not f.options or isinstance(value, dict | list) or value is None:
            return value
        text = str(value)
        if text in f.options:
            return value
        keys = [k for k, label in f.options.items() if label == text]
        return keys[0] if keys else value

    def _save_record(
        self, ctx: CallContext, sess: Session, module: ModuleDef, record: Any, fields: list[str]
    ) -> dict[str, Any]:
        """One record of bridge_save_records: {id, created, saved, error, entry}."""

        def answer(
            rid: Any, created: bool, error: str | None, *, stored: bool = False
        ) -> dict[str, Any]:
            entry = None
            if stored and fields:
                row = self.store.get(module, str(rid))
                if row is not None:
                    try:
                        self.api._check_acl(sess, module, "view", row)
                        entry = self.api._entry(module, row, fields)
                    except SugarFault:
                        entry = None
            number, name, description = RECORD_ERRORS[error] if error else (0, "", "")
            return {
                "id": rid,
                "created": created,
                "saved": error is None,
                "error": None
                if error is None
                else {"number": number, "name": name, "description": description},
                "entry": entry,
            }

        if not isinstance(record, dict):
            return answer(None, False, "invalid_record")
        rid = record.get("id")
        if rid is not None and (not isinstance(rid, str) or not quirks.is_valid_id(rid)):
            return answer(None, False, "invalid_record")
        with_id = rid is not None and bool(record.get("new_with_id"))
        known = self.store.fields(module)
        values = {
            k: self._enum_key(known[k], v) if k in known else v
            for k, v in record.items()
            if k not in ("id", "new_with_id") and not (k in known and known[k].sensitive)
        }
        existing = self.store.get(module, rid) if rid is not None else None
        if rid is not None and existing is None and not with_id:
            return answer(rid, False, "not_found")
        nvl: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in values.items()]
        if rid is not None:
            nvl.insert(0, {"name": "id", "value": rid})
            if existing is None:
                nvl.insert(1, {"name": "new_with_id", "value": True})
        try:
            saved_id, _ = self.api._save(ctx, sess, module, nvl)
        except SugarFault as fault:
            if str(fault.number) != "40":
                raise
            return answer(rid, False, "no_access")
        deleting = str(values.get("deleted", "")) in ("1", "True", "true")
        return answer(saved_id, existing is None, None, stored=not deleting)


def _numeric(value: Any) -> bool:
    """PHP's is_numeric for what JSON can carry."""
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    return (
        isinstance(value, str)
        and re.fullmatch(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", value) is not None
    )


def _sql_text(value: str) -> str:
    """A SQLite string literal."""
    return "'" + value.replace("'", "''") + "'"
