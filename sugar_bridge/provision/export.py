"""Write Sugar's current state as a spec (the ``sugar:`` section), to adopt an existing instance.

The result is validated as a :class:`SugarSpec` before it is returned, so ``export`` then
``plan`` on the same Sugar shows no change (apart from what cannot be exported: passwords, and
what the spec cannot express, listed in :attr:`Export.skipped`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import ValidationError

from connectors.sugar import query as q
from connectors.sugar.client import SugarClient
from connectors.sugar.exceptions import ExtensionMissing
from sugar_bridge.exceptions import SugarBridgeError
from sugar_bridge.provision.plan import (
    ADDRESS_MAP,
    SUGAR_TYPE_ALIASES,
    _sugar_options,
    employee_status_for,
)
from sugar_bridge.provision.spec import ACL_ACTIONS, ACL_WORDS, SugarSpec
from sugar_bridge.provision.state import (
    ACCOUNT_CORE_FIELDS,
    USER_FIELDS,
    read_extension_info,
)

log = logging.getLogger(__name__)

#: Custom fields SuiteCRM ships (Google Maps integration): not the bridge's to manage.
SHIPPED_FIELD_PREFIXES = ("jjwg_maps_",)
_FIELD_TYPES = {"varchar", "int", "decimal", "currency", "date", "datetime", "enum", "bool", "text"}
_ACCESS_WORDS = {"enabled", "disabled", "default"}
_RIGHT_WORDS = {"all", "group", "owner", "none", "default"}


@dataclass
class Export:
    """The exported ``sugar:`` section (plain data), and what could not be expressed."""

    section: dict[str, Any]
    skipped: list[str] = field(default_factory=list)

    def to_yaml(self) -> str:
        """The section as YAML under a ``sugar:`` key, ready to paste into the config file."""
        header = (
            "# Exported by `sugar-bridge provision export` from the current Sugar state.\n"
            "# Passwords are not exported: add `password: generate` (or {env: VAR}) to users that\n"
            "# should get one when they are created on another instance.\n"
        )
        for line in self.skipped:
            header += f"# skipped: {line}\n"
        body = yaml.safe_dump(
            {"sugar": self.section}, sort_keys=False, allow_unicode=True, width=100
        )
        return header + body


def export(
    client: SugarClient,
    *,
    modules: tuple[str, ...] = ("Accounts",),
    account_key_field: str = "external_id_c",
) -> Export:
    """Read users, roles (with rights), security groups, custom fields and keyed accounts.

    Sugar methods: ``bridge_info``/``bridge_get_role_actions`` (when the extension is there),
    ``get_available_modules``, ``get_entry_list``, ``get_relationships``, ``get_module_fields``.
    """
    skipped: list[str] = []
    extension = read_extension_info(client)
    has_groups = (
        extension.security_groups
        if extension.security_groups is not None
        else "SecurityGroups" in client.available_modules()
    )
    api_user = client.user_id

    users: dict[str, dict[str, Any]] = {}
    protected: list[str] = []
    names_by_id: dict[str, str] = {}
    for record in client.module("Users").iter_records(fields=USER_FIELDS):
        name = str(record.get("user_name") or "")
        if not name:
            continue
        names_by_id[record["id"]] = name
        if record["id"] == api_user:
            protected.append(name)
            continue
        users[name] = _user(record)
    if "admin" in users:
        # The stock administrator is protected rather than managed unless it is the only one.
        protected.append("admin")
        del users["admin"]

    custom_fields: dict[str, list[dict[str, Any]]] = {}
    for module in modules:
        fields = client.module(module).fields().module_fields
        numeric = any(
            name.endswith("_c")
            and not name.startswith(SHIPPED_FIELD_PREFIXES)
            and _type(definition) in ("decimal", "currency")
            for name, definition in fields.items()
        )
        stored = _stored_fields(client, module, extension.installed, skipped) if numeric else {}
        exported = [
            item
            for name, definition in sorted(fields.items())
            if name.endswith("_c") and not name.startswith(SHIPPED_FIELD_PREFIXES)
            for item in [_custom_field(definition, skipped, module, stored.get(name))]
            if item is not None
        ]
        if exported:
            custom_fields[module] = exported

    roles: list[dict[str, Any]] = []
    role_names: dict[str, str] = {}
    acl = client.module("ACLRoles")
    for record in acl.iter_records(fields=["id", "name", "description"]):
        role: dict[str, Any] = {"name": record["name"]}
        if record.get("description"):
            role["description"] = record["description"]
        role_names[record["id"]] = record["name"]
        if extension.installed:
            rights = client.call_extension("bridge_get_role_actions", role_id=record["id"])
            words = _rights(rights if isinstance(rights, dict) else {})
            if words:
                role["rights"] = words
        roles.append(role)
        for member in acl.related(record["id"], "users", fields=["id"]):
            name = names_by_id.get(member["id"], "")
            if name in users:
                users[name].setdefault("roles", []).append(record["name"])
    if not extension.installed and roles:
        skipped.append("role rights (the sugar-bridge extension is not installed)")

    groups: list[dict[str, Any]] = []
    if has_groups:
        sg = client.module("SecurityGroups")
        for record in sg.iter_records(fields=["id", "name", "description"]):
            group: dict[str, Any] = {"name": record["name"]}
            if record.get("description"):
                group["description"] = record["description"]
            members = [
                names_by_id[m["id"]]
                for m in sg.related(record["id"], "users", fields=["id"])
                if names_by_id.get(m["id"]) in users
            ]
            if members:
                group["members"] = sorted(members)
            linked = [
                role_names[r["id"]]
                for r in sg.related(record["id"], "aclroles", fields=["id"])
                if r["id"] in role_names
            ]
            if linked:
                group["roles"] = sorted(linked)
            groups.append(group)

    accounts = _accounts(client, account_key_field, custom_fields, names_by_id, skipped)

    section: dict[str, Any] = {"account_key_field": account_key_field}
    section["protected_users"] = sorted(set(protected))
    if custom_fields:
        section["custom_fields"] = custom_fields
    section["roles"] = roles
    if groups:
        section["security_groups"] = groups
    section["users"] = list(users.values())
    if accounts:
        section["accounts"] = accounts
    try:
        SugarSpec.model_validate(section)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()[:10]
        )
        raise SugarBridgeError(
            f"the exported state is not a valid spec (edit Sugar or the export): {problems}"
        ) from None
    return Export(section=section, skipped=skipped)


def _user(record: dict[str, Any]) -> dict[str, Any]:
    user: dict[str, Any] = {"user_name": record["user_name"]}
    for sugar_field, attr in (("first_name", "first_name"), ("last_name", "last_name")):
        if record.get(sugar_field):
            user[attr] = record[sugar_field]
    user.setdefault("last_name", record["user_name"])
    if record.get("email1"):
        user["email"] = record["email1"]
    for attr in ("title", "department"):
        if record.get(attr):
            user[attr] = record[attr]
    user["status"] = "Inactive" if record.get("status") == "Inactive" else "Active"
    employee_status = str(record.get("employee_status") or "").strip()
    if user["status"] == "Inactive" and employee_status_for("Inactive", employee_status):
        # Left out, the spec would have plan set 'Terminated': keep what Sugar holds, so export
        # then plan shows no change. (An Active user's is never written: plan repairs one that
        # is not 'Active', which SuiteCRM 7.15 needs.)
        user["employee_status"] = employee_status
    user["is_admin"] = str(record.get("is_admin")) in ("1", "true", "True")
    return user


def _type(definition: dict[str, Any]) -> str:
    ftype = str(definition.get("type", ""))
    return SUGAR_TYPE_ALIASES.get(ftype, ftype)


def _stored_fields(
    client: SugarClient, module: str, installed: bool, skipped: list[str]
) -> dict[str, dict[str, Any]]:
    """The module's custom fields as the extension reads them from ``fields_meta_data``
    (``bridge_get_custom_fields``, extension 1.2.0+), for what ``get_module_fields`` does not
    show: the precision of decimal and currency fields. Empty without it (noted in ``skipped``)."""
    if not installed:
        skipped.append(f"precision of {module} decimal fields (the extension is not installed)")
        return {}
    try:
        answer = client.call_extension("bridge_get_custom_fields", module_name=module)
    except ExtensionMissing:
        skipped.append(
            f"precision of {module} decimal fields (the installed extension has no "
            "bridge_get_custom_fields, added in 1.2.0: install the current package to export it)"
        )
        return {}
    if not isinstance(answer, dict):  # [] from PHP when the module has no custom field
        return {}
    return {str(name): value for name, value in answer.items() if isinstance(value, dict)}


def _custom_field(
    definition: dict[str, Any],
    skipped: list[str],
    module: str,
    stored: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    name = str(definition.get("name"))
    ftype = _type(definition)
    if ftype not in _FIELD_TYPES:
        skipped.append(f"{module}.{name} (type {ftype} is not provisioned by the bridge)")
        return None
    out: dict[str, Any] = {
        "name": name,
        "type": ftype,
        "label": str(definition.get("label") or name).strip().rstrip(":").strip() or name,
    }
    if ftype == "varchar" and str(definition.get("len", "")).isdigit():
        out["len"] = int(definition["len"])
    precision = (stored or {}).get("precision")
    if ftype in ("decimal", "currency") and isinstance(precision, int) and 0 <= precision <= 8:
        out["precision"] = precision
    if ftype == "enum":
        options = _sugar_options(definition.get("options"))
        options.pop("", None)
        out["options"] = options
    if str(definition.get("required", "0")) in ("1", "true", "True"):
        out["required"] = True
    default = definition.get("default_value")
    if default not in (None, ""):
        out["default"] = default
    return out


def _rights(rights: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Levels → words; only modules with at least one non-default action."""
    out: dict[str, dict[str, str]] = {}
    for module, actions in sorted(rights.items()):
        if not isinstance(actions, dict):
            continue
        words: dict[str, str] = {}
        for action in ACL_ACTIONS:
            level = int(actions.get(action) or 0)
            if level == 0:
                continue
            word = ACL_WORDS.get(level)
            allowed = _ACCESS_WORDS if action == "access" else _RIGHT_WORDS
            if word in allowed:
                words[action] = word
        if words:
            out[module] = words
    return out


def _accounts(
    client: SugarClient,
    key_field: str,
    custom_fields: dict[str, list[dict[str, Any]]],
    names_by_id: dict[str, str],
    skipped: list[str],
) -> list[dict[str, Any]]:
    """The accounts that carry an external id, as spec entries (Sugar method
    ``get_entry_list``)."""
    declared = {f["name"] for f in custom_fields.get("Accounts", [])}
    if key_field not in declared:
        return []
    custom = sorted(declared - {key_field})
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    query = q.and_(
        q.is_not_null(f"accounts_cstm.{key_field}"), q.ne(f"accounts_cstm.{key_field}", "")
    )
    for record in client.module("Accounts").iter_records(
        query=query, fields=[*ACCOUNT_CORE_FIELDS, key_field, *custom]
    ):
        external_id = str(record.get(key_field) or "").strip()
        if not external_id:
            continue
        if external_id in seen:
            skipped.append(f"account {record['id']} (external id {external_id!r} used twice)")
            continue
        seen.add(external_id)
        account: dict[str, Any] = {"external_id": external_id, "name": record.get("name") or ""}
        for attr, sugar_field in (
            ("type", "account_type"),
            ("industry", "industry"),
            ("phone", "phone_office"),
            ("email", "email1"),
            ("website", "website"),
            ("description", "description"),
        ):
            if record.get(sugar_field):
                account[attr] = record[sugar_field]
        for prefix in ("billing_address", "shipping_address"):
            address = {
                attr: record[f"{prefix}_{suffix}"]
                for attr, suffix in ADDRESS_MAP.items()
                if record.get(f"{prefix}_{suffix}")
            }
            if address:
                account[prefix] = address
        assigned = names_by_id.get(str(record.get("assigned_user_id") or ""))
        if assigned:
            account["assigned_user"] = assigned
        values = {name: record[name] for name in custom if record.get(name) not in (None, "")}
        if values:
            account["custom"] = values
        out.append(account)
    return out
