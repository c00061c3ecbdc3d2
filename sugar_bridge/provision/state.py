"""What Sugar currently holds, as plain data: read once per plan, compared with the spec.

:func:`read_state` is the only place provisioning reads Sugar; everything it returns is plain
Python (decoded strings, ids, sets of ids), so the diff (:mod:`sugar_bridge.provision.plan`) is a
pure function that tests can drive without a server.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from connectors.sugar import query as q
from connectors.sugar.client import SugarClient
from connectors.sugar.exceptions import (
    AccessDenied,
    ExtensionMissing,
    NoSuchModule,
    SugarApiError,
    UnknownMethod,
)
from sugar_bridge.provision.spec import SugarSpec

log = logging.getLogger(__name__)

USER_FIELDS = [
    "id",
    "user_name",
    "first_name",
    "last_name",
    "email1",
    "title",
    "department",
    "status",
    "employee_status",
    "is_admin",
]
ACCOUNT_CORE_FIELDS = [
    "id",
    "name",
    "account_type",
    "industry",
    "phone_office",
    "email1",
    "website",
    "description",
    "billing_address_street",
    "billing_address_city",
    "billing_address_state",
    "billing_address_postalcode",
    "billing_address_country",
    "shipping_address_street",
    "shipping_address_city",
    "shipping_address_state",
    "shipping_address_postalcode",
    "shipping_address_country",
    "assigned_user_id",
]


@dataclass
class ExtensionInfo:
    """What ``bridge_info`` said, or why it could not be asked."""

    installed: bool
    version: str = ""
    api_level: int = 0
    security_groups: bool | None = None
    modules: list[str] = field(default_factory=list)
    problem: str = ""
    #: bridge_info answered error 40: the session is not an admin's, so whether the extension is
    #: installed is unknown (it answers admins only).
    access_denied: bool = False


@dataclass
class NamedRecord:
    """A role or a security group as read: id, name, description and member ids."""

    id: str
    name: str
    description: str
    user_ids: set[str] = field(default_factory=set)
    role_ids: set[str] = field(default_factory=set)


@dataclass
class SugarState:
    """Sugar's current state, restricted to what the spec talks about (plus all users)."""

    api_user_id: str = ""
    api_user_name: str = ""
    is_admin: bool = True
    extension: ExtensionInfo = field(default_factory=lambda: ExtensionInfo(installed=False))
    has_security_groups: bool = True
    #: user_name → user record (decoded values); all users, so prune can see the unmanaged ones.
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    roles: dict[str, NamedRecord] = field(default_factory=dict)
    #: role name → module → action → level (from bridge_get_role_actions; empty without it).
    role_rights: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    groups: dict[str, NamedRecord] = field(default_factory=dict)
    #: module → field name → get_module_fields entry (custom fields only).
    custom_fields: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    #: module → set of every field name the module has (to know what exists at all).
    module_field_names: dict[str, set[str]] = field(default_factory=dict)
    #: external id → account record (core fields and the declared custom fields).
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: external ids that match more than one account (never guessed).
    ambiguous_accounts: dict[str, list[str]] = field(default_factory=dict)

    def user_name_of(self, user_id: str) -> str | None:
        """The user name of a user id, if the user exists."""
        for name, record in self.users.items():
            if record.get("id") == user_id:
                return name
        return None


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def read_extension_info(client: SugarClient) -> ExtensionInfo:
    """Ask the bridge extension who it is (``bridge_info``); a missing extension is not an error."""
    try:
        info = client.call_extension("bridge_info")
    except (ExtensionMissing, UnknownMethod) as exc:
        return ExtensionInfo(installed=False, problem=str(exc))
    except AccessDenied:
        return ExtensionInfo(
            installed=False, problem="bridge_info needs an admin session", access_denied=True
        )
    if not isinstance(info, dict):
        return ExtensionInfo(installed=False, problem="bridge_info gave an unexpected answer")
    return ExtensionInfo(
        installed=True,
        version=str(info.get("extension_version", "")),
        api_level=int(info.get("api_level") or 0),
        security_groups=(
            bool(info["security_groups"]) if info.get("security_groups") is not None else None
        ),
        modules=[str(m) for m in info.get("modules") or []],
    )


def read_state(client: SugarClient, spec: SugarSpec) -> SugarState:
    """Read what the spec needs from Sugar (reads only; no write is ever sent from here).

    Sugar methods: ``bridge_info`` (extension), ``get_available_modules``, ``get_entry_list``
    (Users, ACLRoles, SecurityGroups, Accounts), ``get_relationships`` (members of the declared
    roles and groups), ``get_module_fields`` (custom fields), ``bridge_get_role_actions`` (rights).
    """
    state = SugarState(
        api_user_id=client.user_id, api_user_name=client.username, is_admin=client.is_admin
    )
    state.extension = read_extension_info(client)
    if state.extension.security_groups is not None:
        state.has_security_groups = state.extension.security_groups
    else:
        state.has_security_groups = "SecurityGroups" in client.available_modules()

    for record in client.module("Users").iter_records(fields=USER_FIELDS):
        name = str(record.get("user_name") or "")
        if name:
            state.users[name] = record

    _read_custom_fields(client, spec, state)
    _read_roles(client, spec, state)
    if state.has_security_groups and spec.security_groups:
        _read_groups(client, spec, state)
    if spec.accounts:
        _read_accounts(client, spec, state)
    return state


def _read_custom_fields(client: SugarClient, spec: SugarSpec, state: SugarState) -> None:
    """The fields of every module the spec touches (Sugar method ``get_module_fields``)."""
    modules = set(spec.custom_fields)
    if spec.accounts:
        modules.add("Accounts")
    for module in sorted(modules):
        try:
            fields = client.module(module).fields()
        except NoSuchModule:
            state.module_field_names[module] = set()
            state.custom_fields[module] = {}
            continue
        state.module_field_names[module] = set(fields.module_fields)
        state.custom_fields[module] = {
            name: dict(definition)
            for name, definition in fields.module_fields.items()
            if name.endswith("_c")
        }


def _read_roles(client: SugarClient, spec: SugarSpec, state: SugarState) -> None:
    """The declared roles, their users and rights (``get_entry_list``, ``get_relationships``,
    the extension's ``bridge_get_role_actions``)."""
    declared = {role.name.lower(): role.name for role in spec.roles}
    roles = client.module("ACLRoles")
    for record in roles.iter_records(fields=["id", "name", "description"]):
        name = str(record.get("name") or "")
        key = declared.get(name.lower())
        if key is None:
            continue
        if key in state.roles:
            log.warning("two ACL roles are named %r; using the first one", name)
            continue
        role = NamedRecord(id=record["id"], name=name, description=record.get("description") or "")
        role.user_ids = {r["id"] for r in roles.related(role.id, "users", fields=["id"])}
        state.roles[key] = role
        if state.extension.installed:
            try:
                rights = client.call_extension("bridge_get_role_actions", role_id=role.id)
            except SugarApiError as exc:
                log.warning("cannot read the rights of role %r: %s", name, exc)
                continue
            if isinstance(rights, dict):
                state.role_rights[key] = {
                    str(module): {str(a): int(v or 0) for a, v in actions.items()}
                    for module, actions in rights.items()
                    if isinstance(actions, dict)
                }


def _read_groups(client: SugarClient, spec: SugarSpec, state: SugarState) -> None:
    """The declared security groups, their users and roles (``get_entry_list``,
    ``get_relationships``)."""
    declared = {group.name.lower(): group.name for group in spec.security_groups}
    groups = client.module("SecurityGroups")
    for record in groups.iter_records(fields=["id", "name", "description"]):
        name = str(record.get("name") or "")
        key = declared.get(name.lower())
        if key is None or key in state.groups:
            continue
        group = NamedRecord(id=record["id"], name=name, description=record.get("description") or "")
        group.user_ids = {r["id"] for r in groups.related(group.id, "users", fields=["id"])}
        group.role_ids = {r["id"] for r in groups.related(group.id, "aclroles", fields=["id"])}
        state.groups[key] = group


def _read_accounts(client: SugarClient, spec: SugarSpec, state: SugarState) -> None:
    """The declared accounts by external id, 50 ids a query (``get_entry_list``)."""
    key_field = spec.account_key_field
    if key_field not in state.module_field_names.get("Accounts", set()):
        # The key field does not exist yet (it is created by this plan): no account can match,
        # and a query naming the missing column would fail on the server.
        return
    known = state.module_field_names["Accounts"]
    custom = sorted({name for account in spec.accounts for name in account.custom} & known)
    fields = [*ACCOUNT_CORE_FIELDS, key_field, *custom]
    ids = sorted({account.external_id for account in spec.accounts})
    accounts = client.module("Accounts")
    for chunk in _chunks(ids, 50):
        query = q.in_(f"accounts_cstm.{key_field}", chunk)
        for record in accounts.iter_records(query=query, fields=fields):
            external_id = str(record.get(key_field) or "")
            if external_id in state.accounts:
                first = state.accounts[external_id]["id"]
                state.ambiguous_accounts.setdefault(external_id, [first]).append(record["id"])
                continue
            state.accounts[external_id] = record
