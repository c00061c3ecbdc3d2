"""Owners: who a record the push writes (an account, a contact) and its follow-ups belong to.

The rules of ``push.owners`` (:class:`~sugar_bridge.push.config.OwnersConfig`) are evaluated in
order for a :class:`Party` — what the rules look at, for any kind of record:

1. a key account's manager (``sugar.accounts[].assigned_user``, by external id);
2. territory rules (country / city / postcode prefix of the billing address) to a user, or a
   round-robin over the *active* users of a role or a security group, read from Sugar (the one
   with the fewest records so far gets the next, so the shares stay even night after night);
3. the default user, else the API user.

A record that already has an owner in Sugar keeps it: a rep's reassignment is never undone. A
follow-up goes to the rule's owner, else the account's owner when that user is active, else the
owner the rules choose — so a follow-up without an owner cannot be made.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from connectors.sugar.client import SugarClient
from sugar_bridge.push.config import OwnerRule, OwnersConfig, PushConfig
from sugar_bridge.push.exceptions import OwnerError

log = logging.getLogger(__name__)

USER_FIELDS = ["id", "user_name", "status"]


@dataclass(frozen=True)
class SugarUser:
    """A Sugar user as the owner rules need it."""

    id: str
    user_name: str
    active: bool


@dataclass
class Directory:
    """Sugar's users, and the members of the roles and groups the rules share records among."""

    users: dict[str, SugarUser] = field(default_factory=dict)  # lower-case user name -> user
    role_members: dict[str, list[str]] = field(default_factory=dict)  # lower-case name -> ids
    group_members: dict[str, list[str]] = field(default_factory=dict)
    api_user: SugarUser | None = None

    def by_id(self, user_id: str) -> SugarUser | None:
        """The user with this id (None when unknown)."""
        return next((u for u in self.users.values() if u.id == user_id), None)


def read_directory(client: SugarClient, config: PushConfig) -> Directory:
    """Users (``get_entry_list`` on Users) and, for the round-robin rules, the members of their
    roles (ACLRoles, link ``users``) and security groups (SecurityGroups, link ``users``)."""
    directory = Directory()
    for rec in client.module("Users").iter_records(fields=USER_FIELDS):
        name = str(rec.get("user_name") or "")
        if name:
            directory.users[name.lower()] = SugarUser(
                str(rec["id"]), name, str(rec.get("status") or "") == "Active"
            )
    api_id = client.user_id
    directory.api_user = directory.by_id(api_id) or SugarUser(api_id, client.username, True)
    roles = {
        r.round_robin.role for r in config.owners.rules if r.round_robin and r.round_robin.role
    }
    groups = {
        r.round_robin.security_group
        for r in config.owners.rules
        if r.round_robin and r.round_robin.security_group
    }
    for module, wanted, members in (
        ("ACLRoles", roles, directory.role_members),
        ("SecurityGroups", groups, directory.group_members),
    ):
        if not wanted:
            continue
        mod = client.module(module)
        keys = {w.lower() for w in wanted}
        for rec in mod.iter_records(fields=["id", "name"]):
            key = str(rec.get("name") or "").lower()
            if key in keys and key not in members:
                members[key] = [r["id"] for r in mod.related(str(rec["id"]), "users")]
    return directory


@dataclass(frozen=True)
class Party:
    """What the owner rules look at: any record the push writes (account, contact)."""

    external_id: str = ""
    country: str = ""
    city: str = ""
    postcode: str = ""
    owner_id: str = ""  # its owner in Sugar now ("" = none)


@dataclass(frozen=True)
class Assignment:
    """An owner and the rule that chose it."""

    user: SugarUser
    reason: str  # kept | key_account | rules[i] | default | api_user
    kept: bool = False


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


class OwnerPolicy:
    """Assigns owners by the ``push.owners`` rules (see the module docstring)."""

    def __init__(
        self, config: PushConfig, directory: Directory, current_owners: Iterable[str] = ()
    ) -> None:
        self.config = config
        self.owners: OwnersConfig = config.owners
        self.directory = directory
        # Records each user owns now: the round-robin gives the next one to the least loaded.
        self.load: Counter[str] = Counter(o for o in current_owners if o)
        self.assigned: Counter[str] = Counter()  # reason -> records assigned by this run
        self._check()

    def _user(self, name: str, where: str) -> SugarUser:
        user = self.directory.users.get(name.lower())
        if user is None:
            raise OwnerError(f"push.{where}: no user {name!r} in Sugar")
        if not user.active:
            raise OwnerError(f"push.{where}: user {name!r} is not active in Sugar")
        return user

    def _check(self) -> None:
        """Every user named exists and is active, every round-robin has someone: else nothing
        is written (OwnerError before the first write)."""
        for where, name in self.owners.user_names():
            self._user(name, f"owners.{where}")
        for followup in self.config.followups:
            if followup.owner:
                self._user(followup.owner, f"followups[{followup.name}].owner")
        for i, rule in enumerate(self.owners.rules):
            if rule.round_robin is not None and not self._pool(rule):
                robin = rule.round_robin
                what = f"role {robin.role!r}" if robin.role else f"group {robin.security_group!r}"
                raise OwnerError(f"push.owners.rules[{i}].round_robin: {what} has no active user")

    def _pool(self, rule: OwnerRule) -> list[SugarUser]:
        robin = rule.round_robin
        assert robin is not None
        if robin.role:
            ids = self.directory.role_members.get(robin.role.lower(), [])
        else:
            ids = self.directory.group_members.get((robin.security_group or "").lower(), [])
        users = [self.directory.by_id(i) for i in ids]
        return sorted((u for u in users if u and u.active), key=lambda u: u.user_name.lower())

    @staticmethod
    def _matches(rule: OwnerRule, party: Party) -> bool:
        if rule.country and _norm(party.country) not in {_norm(c) for c in rule.country}:
            return False
        if rule.city and _norm(party.city) not in {_norm(c) for c in rule.city}:
            return False
        postcode = party.postcode.replace(" ", "")
        return not rule.postcode_prefix or any(
            postcode.startswith(p.replace(" ", "")) for p in rule.postcode_prefix if p
        )

    def choose(self, party: Party) -> Assignment:
        """The owner the rules give ``party``, whoever owns it now (counts the assignment)."""
        found = self._choose(party)
        self.load[found.user.id] += 1
        self.assigned[found.reason] += 1
        return found

    def _choose(self, party: Party) -> Assignment:
        if self.owners.key_accounts and party.external_id:
            manager = self.owners.key_account_managers.get(party.external_id)
            if manager:
                return Assignment(
                    self._user(manager, "owners (key account manager)"), "key_account"
                )
        for i, rule in enumerate(self.owners.rules):
            if not self._matches(rule, party):
                continue
            if rule.user:
                return Assignment(self._user(rule.user, f"owners.rules[{i}].user"), f"rules[{i}]")
            pool = self._pool(rule)
            best = min(pool, key=lambda u: (self.load[u.id], u.user_name.lower()))
            return Assignment(best, f"rules[{i}]")
        if self.owners.default:
            return Assignment(self._user(self.owners.default, "owners.default"), "default")
        assert self.directory.api_user is not None
        return Assignment(self.directory.api_user, "api_user")

    def owner_of(self, party: Party) -> Assignment:
        """``party``'s owner: the one it has in Sugar (kept), else the rules' choice."""
        if party.owner_id:
            user = self.directory.by_id(party.owner_id)
            return Assignment(user or SugarUser(party.owner_id, "", False), "kept", kept=True)
        return self.choose(party)

    def followup_owner(
        self, party: Party, account_owner: Assignment, rule_owner: str | None
    ) -> SugarUser:
        """Who a follow-up goes to: the rule's owner, else the account's owner when active,
        else the owner the rules choose for the account."""
        if rule_owner:
            return self._user(rule_owner, "followups.owner")
        if account_owner.user.active:
            return account_owner.user
        return self._choose(party).user

    def name_of(self, user_id: str) -> str:
        """A user's name ("" when unknown)."""
        user = self.directory.by_id(user_id)
        return user.user_name if user else ""
