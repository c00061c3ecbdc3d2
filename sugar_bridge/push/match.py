"""Matching warehouse customers to Sugar accounts, on plain data (no I/O here).

Methods are tried in the configured order (default external id, then normalised email, then
normalised name). A method that finds exactly one free account matches; one that finds several
stops the search and the customer is *ambiguous* — never guessed. The reverse is checked too: two
customers resolving to the same account are both ambiguous. A match recorded earlier is kept as long
as its account still exists and does not carry another customer's external id, so matches are
stable from night to night.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from sugar_bridge.push.config import MatchMethod

UnmatchedReason = Literal["ambiguous", "no_account"]


@dataclass(frozen=True)
class Customer:
    """A warehouse customer as the matcher sees it."""

    customer_key: int
    external_id: str
    name: str | None = None
    email: str | None = None
    sugar_account_id: str | None = None
    match_method: str | None = None
    city: str | None = None  # the order system's, for the billing address of a created account
    country: str | None = None
    customer_type: str | None = None  # b2b | b2c | None, from the orders
    sugar_contact_id: str | None = None  # the Contact matched earlier, for a person


@dataclass(frozen=True)
class Account:
    """A Sugar account as the matcher sees it."""

    id: str
    name: str = ""
    email: str = ""
    external_id: str = ""
    assigned_user_id: str = ""
    city: str = ""  # billing address, for the owner rules' territories
    country: str = ""
    postcode: str = ""


@dataclass(frozen=True)
class Match:
    """Customer ``customer_key`` is account ``account_id``, found by ``method``."""

    customer_key: int
    account_id: str
    method: str
    new: bool  # False when the match was already recorded in the warehouse


@dataclass(frozen=True)
class Unmatched:
    """A customer without an account: none found, or several (``candidates``)."""

    customer_key: int
    reason: UnmatchedReason
    method: str | None = None
    candidates: tuple[str, ...] = ()
    detail: str = ""


@dataclass
class MatchResult:
    """Outcome of :func:`match_customers`."""

    matches: dict[int, Match] = field(default_factory=dict)
    unmatched: dict[int, Unmatched] = field(default_factory=dict)

    @property
    def ambiguous(self) -> list[Unmatched]:
        """The customers that need a person to decide."""
        return [u for u in self.unmatched.values() if u.reason == "ambiguous"]


_NON_WORD = re.compile(r"[^0-9a-z]+")


def normalise_email(email: str | None) -> str:
    """Lower-case, trimmed email; ``""`` for anything that is not an address."""
    text = (email or "").strip().lower()
    return text if "@" in text and " " not in text else ""


def normalise_name(name: str | None, suffixes: Iterable[str] = ()) -> str:
    """Accent-free, case-folded words of a company name, without legal-form words."""
    text = unicodedata.normalize("NFKD", name or "")
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = text.replace("&", " and ")
    drop = {s.casefold() for s in suffixes}
    words = [w for w in _NON_WORD.split(text) if w and w not in drop]
    return " ".join(words)


def _index(keys: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for key, account_id in keys:
        if key:
            out[key].append(account_id)
    return out


def match_customers(
    customers: Sequence[Customer],
    accounts: Sequence[Account],
    order: Sequence[MatchMethod] = ("external_id", "email", "name"),
    name_suffixes: Iterable[str] = (),
) -> MatchResult:
    """Match ``customers`` to ``accounts`` (pure; see the module docstring for the rules)."""
    suffixes = list(name_suffixes)
    by_id = {a.id: a for a in accounts}
    indexes: dict[str, dict[str, list[str]]] = {
        "external_id": _index((a.external_id.strip(), a.id) for a in accounts),
        "email": _index((normalise_email(a.email), a.id) for a in accounts),
        "name": _index((normalise_name(a.name, suffixes), a.id) for a in accounts),
    }

    def key_of(customer: Customer, method: str) -> str:
        if method == "external_id":
            return customer.external_id.strip()
        if method == "email":
            return normalise_email(customer.email)
        return normalise_name(customer.name, suffixes)

    result = MatchResult()
    claimed: dict[str, int] = {}  # account id -> customer holding it through a kept match
    todo: list[Customer] = []
    for customer in customers:
        account = by_id.get(customer.sugar_account_id or "")
        if account is not None and account.external_id.strip() in ("", customer.external_id):
            if account.id in claimed:  # two customers recorded on one account: re-decide both
                todo.append(customer)
                continue
            claimed[account.id] = customer.customer_key
            result.matches[customer.customer_key] = Match(
                customer.customer_key, account.id, customer.match_method or "external_id", False
            )
        else:
            todo.append(customer)

    tentative: dict[int, Match] = {}
    for customer in todo:
        outcome: Match | Unmatched | None = None
        for method in order:
            key = key_of(customer, method)
            if not key:
                continue
            found = indexes[method].get(key, [])
            if method != "external_id":
                # An account that carries another customer's external id is that customer's.
                found = [
                    i for i in found if by_id[i].external_id.strip() in ("", customer.external_id)
                ]
            free = [
                i for i in found if claimed.get(i, customer.customer_key) == customer.customer_key
            ]
            if len(free) == 1:
                outcome = Match(customer.customer_key, free[0], method, True)
            elif len(free) > 1:
                outcome = Unmatched(
                    customer.customer_key,
                    "ambiguous",
                    method,
                    tuple(sorted(free)),
                    f"{len(free)} accounts have the same {method.replace('_', ' ')}",
                )
            elif found:
                outcome = Unmatched(
                    customer.customer_key,
                    "ambiguous",
                    method,
                    tuple(sorted(found)),
                    "the account is already matched to another customer",
                )
            if outcome is not None:
                break
        if isinstance(outcome, Match):
            tentative[customer.customer_key] = outcome
        else:
            result.unmatched[customer.customer_key] = outcome or Unmatched(
                customer.customer_key, "no_account"
            )

    holders: dict[str, list[int]] = defaultdict(list)
    for match in tentative.values():
        holders[match.account_id].append(match.customer_key)
    for account_id, keys in holders.items():
        if len(keys) == 1:
            result.matches[keys[0]] = tentative[keys[0]]
            continue
        for customer_key in keys:
            result.unmatched[customer_key] = Unmatched(
                customer_key,
                "ambiguous",
                tentative[customer_key].method,
                (account_id,),
                f"{len(keys)} customers resolve to the same account",
            )
    return result
