"""Make Sugar match the spec: execute a plan's changes in dependency order.

Order: custom fields → roles (and their rights) → security groups → users → memberships →
accounts, so that everything an object refers to exists before it. Only changes are sent: a plan
without changes sends no write at all (the second apply of the same spec is read-only).

Before the first write, everything that could stop the run for a reason known in advance is
checked (blockers such as a missing extension or SecurityGroups module, unusable password
sources), so a bad spec or a misconfigured Sugar applies nothing. During the run, the first
terminal error stops it with :class:`ApplyFailed` naming the object; the client has already
retried transient failures. Creates carry client-generated ids (``new_with_id``), so a retried
create can never duplicate a record.

Secrets: passwords are hashed here and sent as ``user_hash`` in the list form of
``name_value_list`` (the only form Sugar stores); Sugar echoes the hash back, and that response is
never logged or kept. Generated passwords go to a 0600 file (:class:`PasswordFile`) only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.sugar import query as q
from connectors.sugar.client import SugarClient
from connectors.sugar.exceptions import SugarError, WriteNotStored
from sugar_bridge.provision.exceptions import ApplyFailed, PasswordError, PlanBlocked
from sugar_bridge.provision.passwords import (
    HashScheme,
    PasswordFile,
    SecretSink,
    generate_password,
    resolve_password,
    user_hash,
)
from sugar_bridge.provision.plan import Item, Plan, canon, plan
from sugar_bridge.provision.spec import SugarSpec

log = logging.getLogger(__name__)

Progress = Callable[[Item], None]

LINKS: dict[tuple[str, str], tuple[str, str]] = {
    # (container kind, member kind) → (Sugar module of the container, link name)
    ("role", "user"): ("ACLRoles", "users"),
    ("group", "user"): ("SecurityGroups", "users"),
    ("group", "role"): ("SecurityGroups", "aclroles"),
}


@dataclass
class ApplyResult:
    """What apply did: the plan it executed, counts per kind and action, the password file."""

    plan: Plan
    applied: list[Item] = field(default_factory=list)
    password_file: Path | None = None
    passwords_written: int = 0

    @property
    def changed(self) -> bool:
        """True when at least one write was made."""
        return bool(self.applied)

    def summary(self) -> dict[str, dict[str, int]]:
        """kind → action → number of items applied."""
        out: dict[str, dict[str, int]] = {}
        for item in self.applied:
            per_kind = out.setdefault(item.kind, {})
            per_kind[item.action] = per_kind.get(item.action, 0) + 1
        return out


@dataclass
class _Ids:
    """Name → Sugar id of the objects the run refers to (known ones plus those it creates)."""

    users: dict[str, str] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)

    def of(self, kind: str, name: str) -> str:
        table = {"user": self.users, "role": self.roles, "group": self.groups}[kind]
        found = table.get(name) or table.get(name.lower())
        if found is None:
            raise WriteNotStored(f"{kind} {name!r} does not exist in Sugar")
        return found


def apply(
    client: SugarClient,
    spec: SugarSpec,
    *,
    prune: bool = False,
    passwords_file: Path,
    progress: Progress | None = None,
    on_secret: SecretSink | None = None,
    hash_scheme: HashScheme | None = None,
    current: Plan | None = None,
) -> ApplyResult:
    """Plan (unless ``current`` is given) and apply the changes; see the module docstring.

    ``passwords_file`` is where generated passwords go (created 0600, only if one is generated);
    ``on_secret`` receives every clear password and hash so the caller can mask them in logs.
    Sugar methods: the reads of :func:`plan`, then ``bridge_ensure_custom_field``,
    ``set_entry``/``set_entries`` (ACLRoles, SecurityGroups, Users, Accounts),
    ``bridge_set_role_actions``, ``set_relationship``, ``get_entry_list`` (user name check,
    account read-back).
    """
    the_plan = current if current is not None else plan(client, spec, prune=prune)
    if the_plan.blockers:
        raise PlanBlocked(the_plan.blockers)
    result = ApplyResult(plan=the_plan)
    changes = the_plan.changes
    if not changes:
        log.info("Sugar already matches the spec: nothing to apply")
        return result

    passwords = _resolve_passwords(spec, changes, on_secret)
    password_file = PasswordFile(passwords_file)
    ids = _known_ids(client, spec, the_plan)

    accounts = [item for item in changes if item.kind == "account"]
    try:
        for item in changes:
            if item.kind == "account":
                continue
            try:
                _apply_item(
                    client, spec, item, ids, passwords, password_file, hash_scheme, on_secret
                )
            except (SugarError, PasswordError) as exc:
                raise ApplyFailed(item, exc, len(result.applied)) from exc
            result.applied.append(item)
            if progress is not None:
                progress(item)
        if accounts:
            _apply_accounts(client, spec, accounts, ids, result, progress)
    except ApplyFailed as failed:
        if password_file.count:
            # The passwords of users created before the failure must not be lost.
            raise ApplyFailed(
                failed.item, failed.cause, failed.applied, password_file.path
            ) from failed.cause
        raise
    finally:
        result.password_file = password_file.path if password_file.count else None
        result.passwords_written = password_file.count
    return result


def _resolve_passwords(
    spec: SugarSpec, changes: list[Item], on_secret: SecretSink | None
) -> dict[str, str | None]:
    """Read every env/file password needed by the users to create, before any write."""
    users = {user.user_name: user for user in spec.users}
    out: dict[str, str | None] = {}
    for item in changes:
        if item.kind != "user" or item.action != "create":
            continue
        source = users[item.key].password
        if source is None:
            continue
        value = resolve_password(source, item.key)
        if value is not None and on_secret is not None:
            on_secret(value)
        out[item.key] = value
    return out


def _known_ids(client: SugarClient, spec: SugarSpec, the_plan: Plan) -> _Ids:
    ids = _Ids()
    for item in the_plan.items:
        if item.sugar_id is None:
            continue
        if item.kind == "user":
            ids.users[item.key] = item.sugar_id
        elif item.kind == "role":
            ids.roles[item.key] = item.sugar_id
        elif item.kind == "security_group":
            ids.groups[item.key] = item.sugar_id
    # Accounts may be assigned to protected users (admin), which the plan has no item for.
    missing = [
        name
        for name in {a.assigned_user for a in spec.accounts if a.assigned_user}
        if name not in ids.users and name in spec.protected_users
    ]
    for name in missing:
        for record in client.module("Users").list(
            query=q.eq("users.user_name", name), fields=["id", "user_name"]
        ):
            ids.users[name] = record["id"]
    return ids


def _apply_item(
    client: SugarClient,
    spec: SugarSpec,
    item: Item,
    ids: _Ids,
    passwords: dict[str, str | None],
    password_file: PasswordFile,
    hash_scheme: HashScheme | None,
    on_secret: SecretSink | None,
) -> None:
    log.info("%s %s %s", item.action, item.kind, item.key)
    if item.kind == "custom_field":
        _ensure_field(client, item)
    elif item.kind == "role":
        ids.roles[item.key] = _save(client, "ACLRoles", item)
    elif item.kind == "role_rights":
        _set_rights(client, item, ids)
    elif item.kind == "security_group":
        ids.groups[item.key] = _save(client, "SecurityGroups", item)
    elif item.kind == "user":
        if item.action == "create":
            ids.users[item.key] = _create_user(
                client, spec, item, passwords, password_file, hash_scheme, on_secret
            )
        else:
            client.module("Users").update(_require_id(item), item.values)
    elif item.kind == "membership":
        _membership(client, item, ids)


def _require_id(item: Item) -> str:
    if item.sugar_id is None:
        raise WriteNotStored(f"{item.kind} {item.key!r} has no Sugar id")
    return item.sugar_id


def _save(client: SugarClient, module: str, item: Item) -> str:
    """Create or update a role/group (``set_entry``); returns its id."""
    if item.action == "create":
        return client.module(module).create(item.values)
    sugar_id = _require_id(item)
    if item.values:
        client.module(module).update(sugar_id, item.values)
    return sugar_id


def _ensure_field(client: SugarClient, item: Item) -> None:
    """``bridge_ensure_custom_field`` (called only when the field differs or is missing)."""
    answer = client.call_extension(
        "bridge_ensure_custom_field",
        module_name=item.values["module_name"],
        field=item.values["field"],
        views=item.values["views"],
    )
    if not isinstance(answer, dict) or "name" not in answer:
        raise WriteNotStored(f"bridge_ensure_custom_field gave an unexpected answer for {item.key}")


def _set_rights(client: SugarClient, item: Item, ids: _Ids) -> None:
    """``bridge_set_role_actions`` with the modules whose rights differ."""
    role_id = ids.of("role", item.key)
    answer = client.call_extension("bridge_set_role_actions", role_id=role_id, rights=item.values)
    unknown = answer.get("unknown") if isinstance(answer, dict) else None
    if unknown:
        raise WriteNotStored(f"Sugar does not know these module actions: {', '.join(unknown)}")


def _create_user(
    client: SugarClient,
    spec: SugarSpec,
    item: Item,
    passwords: dict[str, str | None],
    password_file: PasswordFile,
    hash_scheme: HashScheme | None,
    on_secret: SecretSink | None,
) -> str:
    """Create a user (``set_entry`` Users, list form) with its password, if it has one.

    The user name is looked up first (``get_entry_list`` on ``users.user_name``): Sugar answers a
    duplicate user name with an HTTP 301 and an empty body instead of an error.
    """
    users = client.module("Users")
    existing = users.list(query=q.eq("users.user_name", item.key), fields=["id", "user_name"])
    if existing:
        raise WriteNotStored(
            f"user {item.key!r} appeared in Sugar since the plan was made (id {existing[0]['id']})"
        )
    values = dict(item.values)
    user = next(u for u in spec.users if u.user_name == item.key)
    if user.password is not None:
        password = passwords.get(item.key)
        if password is None:  # "generate": written to the 0600 file before Sugar sees it
            password = generate_password()
            if on_secret is not None:
                on_secret(password)
            password_file.add(item.key, password)
        hashed = user_hash(password, hash_scheme)
        if on_secret is not None:
            on_secret(hashed)
        values["user_hash"] = hashed
    return users.create(values)


def _membership(client: SugarClient, item: Item, ids: _Ids) -> None:
    """``set_relationship`` (add, or ``delete: 1`` to remove) on the container's link."""
    assert item.link is not None
    container_kind, container, member_kind, member = item.link
    module, link = LINKS[(container_kind, member_kind)]
    container_id = ids.of(container_kind, container)
    accessor = client.module(module)
    if item.action == "add":
        accessor.link(container_id, link, [ids.of(member_kind, member)])
    else:
        accessor.unlink(container_id, link, [_require_id(item)])


def _apply_accounts(
    client: SugarClient,
    spec: SugarSpec,
    items: list[Item],
    ids: _Ids,
    result: ApplyResult,
    progress: Progress | None,
) -> None:
    """Upsert the accounts with ``set_entries`` (creates with client ids), then read them back.

    set_entries reports no per-row error, so the read-back (``get_entries``) is the only proof a
    write stuck: a value that did not stick stops the run with ApplyFailed.
    """
    rows: list[dict[str, Any]] = []
    for item in items:
        values = dict(item.values)
        assigned = values.pop("assigned_user_name", None)
        if assigned is not None:
            values["assigned_user_id"] = ids.of("user", str(assigned))
        if item.action == "update":
            values["id"] = _require_id(item)
        rows.append(values)
    accounts = client.module("Accounts")
    try:
        saved_ids = accounts.save_many(rows)
    except SugarError as exc:
        raise ApplyFailed(items[0], exc, len(result.applied)) from exc
    fields = sorted({name for row in rows for name in row if name != "id"} | {"id"})
    try:
        stored = accounts.get_many(saved_ids, fields=fields)
    except SugarError as exc:
        raise ApplyFailed(items[0], exc, len(result.applied)) from exc
    for item, sugar_id, row in zip(items, saved_ids, rows, strict=True):
        record = stored.get(sugar_id)
        problem = _not_stored(spec, row, record)
        if problem:
            raise ApplyFailed(item, WriteNotStored(problem), len(result.applied))
        item.sugar_id = sugar_id
        result.applied.append(item)
        if progress is not None:
            progress(item)


def _not_stored(spec: SugarSpec, row: dict[str, Any], record: dict[str, Any] | None) -> str:
    if record is None:
        return "the account is not in Sugar after set_entries"
    wrong = []
    for name, value in row.items():
        if name == "id":
            continue
        declared = spec.field("Accounts", name)
        ftype = declared.type if declared else "varchar"
        if canon(record.get(name), ftype) != canon(value, ftype):
            wrong.append(name)
    return f"Sugar did not store {', '.join(sorted(wrong))}" if wrong else ""
