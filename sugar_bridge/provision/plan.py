"""The diff between the spec and Sugar: one :class:`Item` per object, in apply order.

:func:`diff` is pure (spec + :class:`~sugar_bridge.provision.state.SugarState` → :class:`Plan`);
:func:`plan` reads Sugar first. The scheduler's drift check calls ``plan(client, spec)`` and looks
at ``Plan.has_changes``.

Comparison rules (why a second apply finds nothing to do):
- values read from Sugar are HTML-entity decoded by the client; both sides are put in a canonical
  form for their type (``"12.500000"`` equals ``12.5`` for a decimal, ``"1"`` equals ``true``);
- only what the spec says is compared: an optional field left out of the YAML is not managed;
- a change of the email of an existing user or account is reported as a note ("cannot update
  via API"), never as a change (giving one to a record without any is a change): Sugar answers
  such a write with the new value but does not store it (recording
  ``02_user_get_entry_after_email_update``; the same holds for accounts on SuiteCRM 7.14.6), so
  treating it as a change would make every plan dirty forever;
- custom fields are compared on what ``get_module_fields`` shows (type, label, options, required,
  and default/len when the spec sets them); views and help text are not readable back, so they are
  only sent when the field is created or changed for another reason. A type change is a blocker,
  not a change: the extension refuses it (error 1001), as Studio does, since the column holds data;
- a user's ``employee_status`` follows its ``status`` (:func:`employee_status_for`): SuiteCRM 7.15
  refuses every session of a user whose employee_status is not 'Active', and a user created over
  the API has none unless it is sent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from connectors.sugar.client import SugarClient
from sugar_bridge.provision.spec import (
    ACL_ACTIONS,
    ACL_WORDS,
    Account,
    CustomField,
    SugarSpec,
    User,
)
from sugar_bridge.provision.state import NamedRecord, SugarState, read_state

Kind = Literal[
    "custom_field", "role", "role_rights", "security_group", "user", "membership", "account"
]
Action = Literal[
    "create", "update", "unchanged", "add", "remove", "prune", "would-prune", "blocked"
]
#: Actions that are changes (a write when applied).
CHANGE_ACTIONS: frozenset[str] = frozenset({"create", "update", "add", "remove", "prune"})
#: Apply order: what an object refers to exists before it.
KIND_ORDER: tuple[Kind, ...] = (
    "custom_field",
    "role",
    "role_rights",
    "security_group",
    "user",
    "membership",
    "account",
)
MIN_API_LEVEL = 1

#: Sugar's ``employee_status_dom`` values the bridge writes: an active user is an 'Active'
#: employee (SuiteCRM 7.15's ``User::isEnabled()`` requires it for every API and web session);
#: a deactivated one whose employee_status still says 'Active' (or nothing) becomes 'Terminated'.
EMPLOYEE_ACTIVE = "Active"
EMPLOYEE_TERMINATED = "Terminated"

# Sugar's field for each user / account attribute of the spec.
USER_MAP: dict[str, str] = {
    "first_name": "first_name",
    "last_name": "last_name",
    "email": "email1",
    "title": "title",
    "department": "department",
    "status": "status",
    "is_admin": "is_admin",
}
ACCOUNT_MAP: dict[str, str] = {
    "name": "name",
    "type": "account_type",
    "industry": "industry",
    "phone": "phone_office",
    "email": "email1",
    "website": "website",
    "description": "description",
}
ADDRESS_MAP: dict[str, str] = {
    "street": "street",
    "city": "city",
    "state": "state",
    "postal_code": "postalcode",
    "country": "country",
}
# get_module_fields reports some types under Studio's names.
SUGAR_TYPE_ALIASES: dict[str, str] = {
    "datetimecombo": "datetime",
    "float": "decimal",
    "textarea": "text",
    "integer": "int",
    "checkbox": "bool",
}


@dataclass(frozen=True)
class FieldChange:
    """One attribute that differs: Sugar's value → the spec's value (canonical forms)."""

    name: str
    old: Any
    new: Any


@dataclass
class Item:
    """One object of the plan and what apply would do to it."""

    kind: Kind
    key: str
    action: Action
    changes: list[FieldChange] = field(default_factory=list)
    note: str = ""
    sugar_id: str | None = None
    #: Sugar field → value to write (create/update), rights to set, or the field definition.
    values: dict[str, Any] = field(default_factory=dict)
    #: membership: (container kind, container name, member kind, member name).
    link: tuple[str, str, str, str] | None = None
    #: A human name shown beside the key (an account's name).
    title: str = ""

    @property
    def is_change(self) -> bool:
        """True when applying this item writes something."""
        return self.action in CHANGE_ACTIONS


@dataclass
class Plan:
    """The diff, in apply order, plus what blocks it and what cannot be changed over the API."""

    items: list[Item] = field(default_factory=list)
    blockers: list[str] = field(default_factory=list)
    prune: bool = False

    @property
    def changes(self) -> list[Item]:
        """The items that write something when applied."""
        return [item for item in self.items if item.is_change]

    @property
    def has_changes(self) -> bool:
        """True when Sugar does not match the spec (changes to make, or blockers)."""
        return bool(self.changes or self.blockers)

    @property
    def notes(self) -> list[Item]:
        """Items carrying a note (e.g. "cannot update via API")."""
        return [item for item in self.items if item.note]

    def counts(self) -> dict[str, int]:
        """Number of items per action."""
        out: dict[str, int] = {}
        for item in self.items:
            out[item.action] = out.get(item.action, 0) + 1
        return out

    def by_kind(self, kind: Kind) -> list[Item]:
        """The items of one kind."""
        return [item for item in self.items if item.kind == kind]


# --- canonical values ---------------------------------------------------------------------------
def canon(value: Any, ftype: str = "varchar") -> str:
    """A value in the canonical text form used to compare the spec with Sugar."""
    if value is None:
        return ""
    ftype = SUGAR_TYPE_ALIASES.get(ftype, ftype)
    if ftype == "bool" or isinstance(value, bool):
        if isinstance(value, str):
            return "1" if value.strip().lower() in ("1", "true", "on", "yes") else "0"
        return "1" if value else "0"
    if ftype in ("int", "decimal", "currency", "float"):
        text = str(value).strip()
        if text == "":
            return ""
        try:
            number = Decimal(text)
        except InvalidOperation:
            return text
        if ftype == "int":
            return str(int(number))
        normalized = number.normalize()
        return str(format(normalized, "f")) if normalized != 0 else "0"
    if ftype == "datetime":
        if isinstance(value, dt.datetime):
            if value.tzinfo is not None:
                value = value.astimezone(dt.UTC).replace(tzinfo=None)
            return str(value.strftime("%Y-%m-%d %H:%M:%S"))
        text = str(value).strip().replace("T", " ")
        return text[:19] + (":00" if len(text) == 16 else "")
    if ftype == "date":
        if isinstance(value, dt.date):
            return value.isoformat()[:10]
        return str(value).strip()[:10]
    return str(value).strip()


def to_sugar(value: Any, ftype: str = "varchar") -> Any:
    """A spec value in the form Sugar's set_entry takes (DB formats in UTC, 1/0 for bools)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return 1 if value else 0
    if isinstance(value, dt.datetime | dt.date) or ftype in ("datetime", "date"):
        return canon(value, ftype)
    if isinstance(value, Decimal):
        return str(value)
    return value


def _compare(
    desired: dict[str, tuple[Any, str]], current: dict[str, Any]
) -> tuple[list[FieldChange], dict[str, Any]]:
    """Changes and values to write for ``{sugar_field: (spec value, type)}`` against a record."""
    changes: list[FieldChange] = []
    values: dict[str, Any] = {}
    for name, (value, ftype) in desired.items():
        old, new = canon(current.get(name), ftype), canon(value, ftype)
        if old != new:
            changes.append(FieldChange(name, old, new))
            values[name] = to_sugar(value, ftype)
    return changes, values


# --- the diff -----------------------------------------------------------------------------------
def diff(spec: SugarSpec, state: SugarState, *, prune: bool = False) -> Plan:
    """Compare the spec with Sugar's state; pure (no I/O). Items come in apply order."""
    result = Plan(prune=prune)
    result.blockers = _blockers(spec, state)
    items = [
        *_custom_field_items(spec, state),
        *_role_items(spec, state),
        *_group_items(spec, state),
        *_user_items(spec, state, prune),
        *_membership_items(spec, state),
        *_account_items(spec, state),
    ]
    items.sort(key=lambda item: KIND_ORDER.index(item.kind))
    result.items = items
    return result


def plan(client: SugarClient, spec: SugarSpec, *, prune: bool = False) -> Plan:
    """Read Sugar (reads only) and diff it with the spec. ``plan.has_changes`` = drift."""
    return diff(spec, read_state(client, spec), prune=prune)


def _needs_extension(spec: SugarSpec) -> list[str]:
    needs = []
    if any(role.rights for role in spec.roles):
        needs.append("role rights")
    if any(spec.custom_fields.values()):
        needs.append("custom fields")
    return needs


def _blockers(spec: SugarSpec, state: SugarState) -> list[str]:
    blockers: list[str] = []
    not_admin = not state.is_admin or state.extension.access_denied
    if not_admin:
        # bridge_info answers error 40 to a non-admin session: the extension may well be there,
        # so this is the one thing to say about it (not "the extension is not installed").
        who = f"the API user {state.api_user_name}" if state.api_user_name else "the API user"
        blockers.append(
            f"{who} is not a Sugar administrator: provisioning needs an admin (Users need admin "
            "rights to create users and the extension refuses non-admins); set "
            "SUGAR_BRIDGE_SUGAR_USERNAME to an admin"
        )
    # With a non-admin session whether the extension is installed is unknown: said above.
    needs = _needs_extension(spec) if not not_admin else []
    if needs and not state.extension.installed:
        blockers.append(
            f"the sugar-bridge server extension is not installed on this Sugar, and the spec "
            f"declares {' and '.join(needs)}, which the stock v4_1 API cannot set: build it with "
            "`sugar-bridge extension build` and install it through Admin → Module Loader"
        )
    elif needs and state.extension.api_level < MIN_API_LEVEL:
        blockers.append(
            f"the sugar-bridge server extension is too old (api_level "
            f"{state.extension.api_level}, need {MIN_API_LEVEL}): install the current package"
        )
    if spec.security_groups and not state.has_security_groups:
        blockers.append(
            f"this Sugar has no SecurityGroups module (plain SugarCRM CE has none; SuiteCRM "
            f"does), and the spec declares {len(spec.security_groups)} security group(s): "
            "remove sugar.security_groups and the users' security_groups to provision it"
        )
    for external_id, ids in sorted(state.ambiguous_accounts.items()):
        blockers.append(
            f"account external id {external_id!r} matches {len(ids)} accounts in Sugar "
            f"({', '.join(ids)}): merge them or clear the field on all but one"
        )
    if spec.accounts:
        key = spec.account_key_field
        declared = spec.field("Accounts", key) is not None
        exists = key in state.module_field_names.get("Accounts", set())
        if not declared and not exists:
            blockers.append(
                f"accounts are keyed by the custom field Accounts.{key}, which neither exists "
                "in Sugar nor is declared in sugar.custom_fields.Accounts"
            )
    blockers.extend(_type_change_blockers(spec, state))
    if state.extension.installed:
        # Modules with module-level actions: what the rights read back list, else what
        # bridge_info lists (a fresh Sugar without any declared role yet).
        known = {m for rights in state.role_rights.values() for m in rights}
        known = known or set(state.extension.modules)
        for role in spec.roles:
            for module in role.rights:
                if known and module not in known:
                    blockers.append(
                        f"role {role.name!r}: Sugar has no module {module!r} with access rights "
                        "(module names are case-sensitive)"
                    )
    return blockers


def _sugar_type(definition: dict[str, Any]) -> str:
    """A get_module_fields type under the spec's name (``datetimecombo`` → ``datetime`` ...)."""
    sugar_type = str(definition.get("type", ""))
    return SUGAR_TYPE_ALIASES.get(sugar_type, sugar_type)


def _type_change_blockers(spec: SugarSpec, state: SugarState) -> list[str]:
    """Custom fields whose type differs from Sugar's: the extension refuses such a change
    (error 1001, "its type cannot be changed"), as Studio does, since the column holds data."""
    blockers = []
    for module, fields in spec.custom_fields.items():
        current_fields = state.custom_fields.get(module, {})
        for spec_field in fields:
            current = current_fields.get(spec_field.name)
            if current is None or _sugar_type(current) == spec_field.type:
                continue
            blockers.append(
                f"custom field {module}.{spec_field.name} is of type {_sugar_type(current)} in "
                f"Sugar and the spec says {spec_field.type}: Sugar cannot change the type of an "
                f"existing field (the extension refuses it). Declare the new type under a new "
                f"field name (and move the data), or change the field in Studio (Admin → Studio → "
                f"{module} → Fields) and put its type back in the spec"
            )
    return blockers


def _field_definition(spec_field: CustomField) -> dict[str, Any]:
    """The ``field`` argument of ``bridge_ensure_custom_field``."""
    definition: dict[str, Any] = {
        "name": spec_field.name,
        "type": spec_field.type,
        "label": spec_field.label,
        "required": spec_field.required,
        "default": None if spec_field.default is None else to_sugar(spec_field.default),
        "help": spec_field.help,
    }
    if spec_field.len is not None:
        definition["len"] = spec_field.len
    if spec_field.precision is not None:
        definition["precision"] = spec_field.precision
    if spec_field.options is not None:
        definition["options"] = dict(spec_field.options)
    return definition


def _sugar_options(raw: Any) -> dict[str, str]:
    """get_module_fields options (``{key: {name, value}}`` or ``[]``) → ``{key: label}``."""
    out: dict[str, str] = {}
    if isinstance(raw, dict):
        for key, item in raw.items():
            label = item.get("value", "") if isinstance(item, dict) else item
            out[str(key)] = str(label)
    elif isinstance(raw, list):
        for item in raw:
            if isinstance(item, dict) and "name" in item:
                out[str(item["name"])] = str(item.get("value", ""))
    return out


def _custom_field_items(spec: SugarSpec, state: SugarState) -> Iterator[Item]:
    for module, fields in spec.custom_fields.items():
        current_fields = state.custom_fields.get(module, {})
        for spec_field in fields:
            key = f"{module}.{spec_field.name}"
            values = {"module_name": module, "field": _field_definition(spec_field)}
            values["views"] = list(spec_field.views)
            current = current_fields.get(spec_field.name)
            if current is None:
                yield Item("custom_field", key, "create", values=values)
                continue
            if _sugar_type(current) != spec_field.type:
                change = FieldChange("type", _sugar_type(current), spec_field.type)
                note = "a field's type cannot be changed: use a new field name, or Studio"
                yield Item("custom_field", key, "blocked", [change], note, values=values)
                continue
            changes = _custom_field_changes(spec_field, current)
            action: Action = "update" if changes else "unchanged"
            yield Item("custom_field", key, action, changes=changes, values=values)


def _custom_field_changes(spec_field: CustomField, current: dict[str, Any]) -> list[FieldChange]:
    changes: list[FieldChange] = []
    label = str(current.get("label", "")).strip().rstrip(":").strip()
    if label != spec_field.label:
        changes.append(FieldChange("label", label, spec_field.label))
    if bool(int(current.get("required") or 0)) != spec_field.required:
        changes.append(
            FieldChange("required", bool(int(current.get("required") or 0)), spec_field.required)
        )
    if spec_field.options is not None:
        options = _sugar_options(current.get("options"))
        if "" not in spec_field.options and options.get("", None) == "":
            options.pop("")  # Studio adds an empty choice to every dropdown
        if options != spec_field.options:
            changes.append(FieldChange("options", options, dict(spec_field.options)))
    if "default" in spec_field.model_fields_set:
        old = canon(current.get("default_value", current.get("default")), spec_field.type)
        new = canon(spec_field.default, spec_field.type)
        if old != new:
            changes.append(FieldChange("default", old, new))
    if spec_field.len is not None and str(current.get("len", "")) not in ("", str(spec_field.len)):
        changes.append(FieldChange("len", str(current.get("len")), str(spec_field.len)))
    return changes


def _named_item(kind: Kind, name: str, description: str, current: NamedRecord | None) -> Item:
    """Create, update or keep a named record (role, security group): its description, and its
    name when it differs only by case (records are matched by name case-insensitively)."""
    if current is None:
        return Item(kind, name, "create", values={"name": name, "description": description})
    desired = {"description": (description, "text")}
    if current.name != name:
        desired["name"] = (name, "varchar")
    changes, write = _compare(desired, {"description": current.description, "name": current.name})
    action: Action = "update" if changes else "unchanged"
    return Item(kind, name, action, changes, sugar_id=current.id, values=write)


def _role_items(spec: SugarSpec, state: SugarState) -> Iterator[Item]:
    for role in spec.roles:
        current = state.roles.get(role.name)
        yield _named_item("role", role.name, role.description, current)
        if not role.rights:
            continue
        if not state.extension.installed:
            note = (
                "needs an admin session (the extension answers admins only)"
                if state.extension.access_denied
                else "needs the sugar-bridge extension"
            )
            yield Item("role_rights", role.name, "blocked", note=note)
            continue
        wanted = {module: rights.levels() for module, rights in role.rights.items()}
        existing = state.role_rights.get(role.name, {}) if current is not None else {}
        changes = []
        to_set: dict[str, dict[str, int]] = {}
        for module, actions in wanted.items():
            for action_name in ACL_ACTIONS:
                if action_name not in actions:
                    continue
                level = actions[action_name]
                old = existing.get(module, {}).get(action_name)
                if old != level:
                    changes.append(
                        FieldChange(
                            f"{module}.{action_name}",
                            _word(old) if current is not None else None,
                            _word(level),
                        )
                    )
                    to_set[module] = actions
        if current is None:
            yield Item("role_rights", role.name, "create", changes, values=to_set)
        else:
            action: Action = "update" if changes else "unchanged"
            yield Item(
                "role_rights", role.name, action, changes, sugar_id=current.id, values=to_set
            )


def _word(level: int | None) -> str | None:
    if level is None:
        return None
    return ACL_WORDS.get(level, str(level))


def _group_items(spec: SugarSpec, state: SugarState) -> Iterator[Item]:
    for group in spec.security_groups:
        if not state.has_security_groups:
            yield Item(
                "security_group", group.name, "blocked", note="no SecurityGroups module in Sugar"
            )
            continue
        current = state.groups.get(group.name)
        yield _named_item("security_group", group.name, group.description, current)


def _email_note(changes: list[FieldChange], values: dict[str, Any]) -> str:
    """Drop an email change of an existing record (Sugar does not store it) and say so.

    Sugar answers ``set_entry`` with the new ``email1`` but keeps the old address, for users
    (recording 02_user_get_entry_after_email_update) and, as checked on SuiteCRM 7.14.6, for
    accounts too. Giving an address to a record that has none does work (checked on the same
    server), so only a *change* of an existing address is reported. Reporting it as a change
    would make every plan dirty and every apply fail its read-back.
    """
    email_change = next((c for c in changes if c.name == "email1"), None)
    if email_change is None or not email_change.old:
        return ""
    changes.remove(email_change)
    values.pop("email1", None)
    return (
        f"email differs ({email_change.old} → {email_change.new}): cannot update "
        "via API (Sugar keeps the address given at creation); change it in Sugar's screens"
    )


def _user_desired(user: User) -> dict[str, tuple[Any, str]]:
    desired: dict[str, tuple[Any, str]] = {
        "status": (user.status, "varchar"),
        "is_admin": (user.is_admin, "bool"),
    }
    for attr, sugar_field in USER_MAP.items():
        if attr in user.model_fields_set and attr not in ("status", "is_admin"):
            desired[sugar_field] = (getattr(user, attr), "varchar")
    desired["last_name"] = (user.last_name, "varchar")
    return desired


def employee_status_for(status: str, current: str) -> str | None:
    """The ``employee_status`` to write for a user whose ``status`` is (or becomes) ``status``,
    given the one Sugar holds (``""`` for none); None when it is right as it is.

    Active users need 'Active' (SuiteCRM 7.15 refuses the sessions of anyone else). A deactivated
    user whose employee_status still says 'Active', or nothing, becomes 'Terminated'; any other
    value ('Leave of Absence', 'Terminated', an HR-specific one) is HR's and stays, so the plan
    of an inactive user never flaps.
    """
    if status == "Active":
        return None if current == EMPLOYEE_ACTIVE else EMPLOYEE_ACTIVE
    return EMPLOYEE_TERMINATED if current in ("", EMPLOYEE_ACTIVE) else None


def _employee_status_change(
    status: str,
    record: dict[str, Any],
    changes: list[FieldChange],
    values: dict[str, Any],
    declared: str | None = None,
) -> None:
    """Add the employee_status that ``status`` needs (or the ``declared`` one, which export
    writes for inactive users to keep their plan quiet), if Sugar's differs (see above)."""
    current = str(record.get("employee_status") or "").strip()
    if declared is not None:
        wanted = declared.strip() if declared.strip() != current else None
    else:
        wanted = employee_status_for(status, current)
    if wanted is not None:
        changes.append(FieldChange("employee_status", current, wanted))
        values["employee_status"] = wanted


def _user_items(spec: SugarSpec, state: SugarState, prune: bool) -> Iterator[Item]:
    by_lower = {name.lower(): name for name in state.users}
    declared = set()
    for user in spec.users:
        sugar_name = by_lower.get(user.user_name.lower())
        declared.add(user.user_name.lower())
        desired = _user_desired(user)
        if sugar_name is None:
            values: dict[str, Any] = {"user_name": user.user_name}
            values.update({name: to_sugar(v, t) for name, (v, t) in desired.items()})
            # Sent at creation: without it SuiteCRM 7.15 lets the user log in and then refuses
            # every call of its session (error 11), and the web login too.
            values["employee_status"] = (
                user.employee_status
                if user.employee_status is not None
                else employee_status_for(user.status, "")
            )
            note = "password set at creation" if user.password is not None else ""
            yield Item("user", user.user_name, "create", values=values, note=note)
            continue
        current = state.users[sugar_name]
        changes, values = _compare(desired, current)
        _employee_status_change(user.status, current, changes, values, user.employee_status)
        note = _email_note(changes, values)
        action: Action = "update" if changes else "unchanged"
        yield Item("user", user.user_name, action, changes, note, current["id"], values)

    protected = {name.lower() for name in spec.protected_users}
    for name, record in sorted(state.users.items()):
        lower = name.lower()
        if lower in declared or lower in protected or record.get("id") == state.api_user_id:
            continue
        if str(record.get("status") or "") != "Active":
            continue
        action = "prune" if prune else "would-prune"
        changes = [FieldChange("status", "Active", "Inactive")]
        values = {"status": "Inactive"}
        _employee_status_change("Inactive", record, changes, values)
        yield Item(
            "user",
            name,
            action,
            changes,
            note="not in the spec: deactivated by apply --prune (users are never deleted)",
            sugar_id=record["id"],
            values=values,
        )


def _membership_items(spec: SugarSpec, state: SugarState) -> Iterator[Item]:
    users_by_lower = {name.lower(): rec for name, rec in state.users.items()}

    def user_id(name: str) -> str | None:
        record = users_by_lower.get(name.lower())
        return None if record is None else str(record["id"])

    def members_diff(
        container_kind: str,
        container: str,
        current_ids: set[str] | None,
        wanted: set[str],
        member_kind: str,
        id_of: dict[str, str | None],
        name_of: dict[str, str],
    ) -> Iterator[Item]:
        existing = current_ids or set()
        for member in sorted(wanted):
            mid = id_of.get(member)
            key = f"{container_kind} {container} ← {member_kind} {member}"
            link = (container_kind, container, member_kind, member)
            if mid is not None and mid in existing:
                yield Item("membership", key, "unchanged", link=link)
            else:
                yield Item("membership", key, "add", link=link)
        wanted_ids = {id_of.get(m) for m in wanted}
        for mid in sorted(existing - {i for i in wanted_ids if i}):
            member = name_of.get(mid, mid)
            key = f"{container_kind} {container} ← {member_kind} {member}"
            yield Item(
                "membership",
                key,
                "remove",
                link=(container_kind, container, member_kind, member),
                sugar_id=mid,
                note="not in the spec",
            )

    user_ids = {u.user_name: user_id(u.user_name) for u in spec.users}
    user_names = {str(rec["id"]): name for name, rec in state.users.items()}
    for role_name, wanted in spec.role_members().items():
        current = state.roles.get(role_name)
        yield from members_diff(
            "role",
            role_name,
            current.user_ids if current else None,
            wanted,
            "user",
            dict(user_ids),
            user_names,
        )
    if not state.has_security_groups:
        return
    role_ids: dict[str, str | None] = {
        r.name: (state.roles[r.name].id if r.name in state.roles else None) for r in spec.roles
    }
    role_names = {rec.id: name for name, rec in state.roles.items()}
    for group in spec.security_groups:
        current_group = state.groups.get(group.name)
        yield from members_diff(
            "group",
            group.name,
            current_group.user_ids if current_group else None,
            spec.group_members().get(group.name, set()),
            "user",
            dict(user_ids),
            user_names,
        )
        # Roles attached to a group: only the declared roles are known by name, so undeclared
        # roles found on the group are removed by id.
        yield from members_diff(
            "group",
            group.name,
            current_group.role_ids if current_group else None,
            set(group.roles),
            "role",
            role_ids,
            role_names,
        )


def _account_desired(spec: SugarSpec, account: Account, state: SugarState) -> dict[str, Any]:
    desired: dict[str, tuple[Any, str]] = {"name": (account.name, "varchar")}
    for attr, sugar_field in ACCOUNT_MAP.items():
        if attr in account.model_fields_set and attr != "name":
            desired[sugar_field] = (getattr(account, attr), "varchar")
    for prefix in ("billing_address", "shipping_address"):
        address = getattr(account, prefix)
        if address is None:
            continue
        for attr, suffix in ADDRESS_MAP.items():
            if attr in address.model_fields_set:
                desired[f"{prefix}_{suffix}"] = (getattr(address, attr), "varchar")
    for name, value in account.custom.items():
        declared = spec.field("Accounts", name)
        desired[name] = (value, declared.type if declared else "varchar")
    return desired


def _account_items(spec: SugarSpec, state: SugarState) -> Iterator[Item]:
    users_by_lower = {name.lower(): rec for name, rec in state.users.items()}
    for account in spec.accounts:
        desired = _account_desired(spec, account, state)
        current = state.accounts.get(account.external_id)
        assigned = account.assigned_user
        if current is None:
            values = {name: to_sugar(v, t) for name, (v, t) in desired.items()}
            values[spec.account_key_field] = account.external_id
            item = Item("account", account.external_id, "create", values=values, title=account.name)
            if assigned is not None:
                item.values["assigned_user_name"] = assigned  # resolved to an id by apply
            yield item
            continue
        changes, values = _compare(desired, current)
        note = _email_note(changes, values)
        if assigned is not None:
            target = users_by_lower.get(assigned.lower())
            current_name = state.user_name_of(str(current.get("assigned_user_id") or ""))
            if target is None or target.get("id") != current.get("assigned_user_id"):
                changes.append(FieldChange("assigned_user", current_name or "", assigned))
                values["assigned_user_name"] = assigned
        action: Action = "update" if changes else "unchanged"
        yield Item(
            "account",
            account.external_id,
            action,
            changes,
            note,
            sugar_id=current["id"],
            values=values,
            title=account.name,
        )
