"""Talking to Sugar for the push: reading accounts and contacts, writing and verifying.

Two ways to write a batch, chosen once per run by the push:

- :func:`write_batch_bulk`, where the bridge extension has ``bridge_save_records`` (1.3.0+): one
  request saves the batch with AOD's per-save indexing deferred to Sugar's index job, and answers
  per record the values as stored (read from the database after the save); a row whose answer
  holds every expected value is proven by it, the others are read back with ``get_entries``;
- :func:`write_batch`, the fallback: ``set_entries``, which answers only ids (never a per-row
  error), so every written batch is read back with ``get_entries`` and compared field by field.

Either way a value counts as stuck only when Sugar showed it stored. The push runs the batches
through ``connectors.sugar.pool.SessionPool`` with an adaptive number of sessions.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.sugar.client import Module, SugarClient
from connectors.sugar.exceptions import SugarError
from connectors.sugar.extension.bulk import save_records
from sugar_bridge.push.match import Account
from sugar_bridge.push.values import Kind, normalise

log = logging.getLogger(__name__)


#: Records per get_entry_list page when the push reads them all. Sugar honours any
#: ``max_results`` (SuiteCRM 7.15 sets ``list_max_entries_per_page`` from it); every request
#: pays Sugar's bootstrap (session, user, language: ~30-50 ms on the CI SuiteCRM), so a night
#: reading 10,000 accounts (or contacts) makes 10 requests instead of 50.
READ_PAGE = 1000


def read_accounts(
    accounts: Module, external_id_field: str, page_size: int = READ_PAGE
) -> list[Account]:
    """Every live account with what matching needs (get_entry_list, paged by id)."""
    fields = [
        "id",
        "name",
        "email1",
        "assigned_user_id",
        external_id_field,
        "billing_address_city",
        "billing_address_country",
        "billing_address_postalcode",
    ]
    out = []
    for rec in accounts.iter_records(fields=fields, order_by="id", page_size=page_size):
        out.append(
            Account(
                id=str(rec["id"]),
                name=str(rec.get("name") or ""),
                email=str(rec.get("email1") or ""),
                external_id=str(rec.get(external_id_field) or ""),
                assigned_user_id=str(rec.get("assigned_user_id") or ""),
                city=str(rec.get("billing_address_city") or ""),
                country=str(rec.get("billing_address_country") or ""),
                postcode=str(rec.get("billing_address_postalcode") or ""),
            )
        )
    return out


def read_contacts(
    contacts: Module, external_id_field: str, page_size: int = READ_PAGE
) -> list[Account]:
    """Every live contact with what matching needs (get_entry_list, paged by id): its name is
    ``first_name last_name`` (the order systems' "Marie Dupont"); ``email1`` is the primary
    address of the contact's email addresses, as Sugar answers it for Accounts."""
    fields = ["id", "first_name", "last_name", "email1", "assigned_user_id", external_id_field]
    out = []
    for rec in contacts.iter_records(fields=fields, order_by="id", page_size=page_size):
        first = str(rec.get("first_name") or "").strip()
        last = str(rec.get("last_name") or "").strip()
        out.append(
            Account(
                id=str(rec["id"]),
                name=f"{first} {last}".strip(),
                email=str(rec.get("email1") or ""),
                external_id=str(rec.get(external_id_field) or ""),
                assigned_user_id=str(rec.get("assigned_user_id") or ""),
            )
        )
    return out


def read_records(client: SugarClient, module: str, external_id_field: str) -> list[Account]:
    """The matching view of every live record of ``module`` (Accounts or Contacts)."""
    reader = read_contacts if module == "Contacts" else read_accounts
    return reader(client.module(module), external_id_field)


@dataclass(frozen=True)
class Expect:
    """The value a field must have after the write, and how to read Sugar's answer."""

    value: str
    kind: Kind
    precision: int = 2


@dataclass(frozen=True)
class WriteRow:
    """One account to write: an update (``account_id``) or a create (``account_id`` None)."""

    customer_key: int
    account_id: str | None
    values: Mapping[str, Any]
    expect: Mapping[str, Expect]


@dataclass
class RowResult:
    """What became of one :class:`WriteRow`: the fields verified in Sugar, or why not."""

    row: WriteRow
    account_id: str | None
    stuck: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    found: bool = False  # the account was read back (it exists, whatever its values)
    batch_failed: bool = False  # the whole call failed on a Sugar error (not this row alone)

    @property
    def ok(self) -> bool:
        """True when every expected field was read back with the value sent."""
        return self.error is None


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _empty_number(exp: Expect, got: str) -> bool:
    # An empty number may come back as 0: PHP's intval/floatval of "" (the sandbox does this;
    # a real Sugar stores NULL when the field is not required). Both mean "no value"; treating
    # them alike keeps the diff from flapping on customers without, say, a payment delay.
    if exp.value != "" or exp.kind not in ("int", "decimal") or not got:
        return False
    try:
        return Decimal(got) == 0
    except InvalidOperation:
        return False


def compare(record: Mapping[str, Any], expect: Mapping[str, Expect]) -> tuple[dict[str, str], str]:
    """Fields of ``record`` that hold the expected value, and a message for those that do not."""
    stuck: dict[str, str] = {}
    problems = []
    for name, exp in expect.items():
        if name not in record:
            problems.append(f"{name}: not returned by Sugar (field missing?)")
            continue
        try:
            got = normalise(record[name], exp.kind, exp.precision)
        except ValueError:
            got = str(record[name])
        if got == exp.value or _empty_number(exp, got):
            stuck[name] = exp.value
        else:
            problems.append(f"{name}: Sugar has {_short(got)}, sent {_short(exp.value)}")
    return stuck, "; ".join(problems)


def write_batch(
    client: SugarClient, rows: Sequence[WriteRow], *, verify: bool = True, module: str = "Accounts"
) -> list[RowResult]:
    """Write ``rows`` with one set_entries call, then read them back with get_entries.

    Creates get client-generated ids with ``new_with_id`` (inside ``Module.save_many``), so a
    retried call cannot duplicate an account. A Sugar error fails every row of the batch; the
    rows are retried on the next run because their snapshot is not updated. ``module``: Accounts,
    or Contacts for persons.
    """
    accounts = client.module(module)
    payload = [
        ({"id": row.account_id} if row.account_id else {}) | dict(row.values) for row in rows
    ]
    try:
        # No existence pre-check (check_exists): the read-back below proves every row anyway.
        ids = accounts.save_many(payload, batch_size=max(1, len(payload)), check_exists=False)
    except SugarError as exc:
        return [
            RowResult(row, row.account_id, error=f"set_entries failed: {exc}", batch_failed=True)
            for row in rows
        ]
    if len(ids) != len(rows):
        return [
            RowResult(row, row.account_id, error="set_entries answered a wrong number of ids")
            for row in rows
        ]
    results = [RowResult(row, str(i)) for row, i in zip(rows, ids, strict=True)]
    if not verify:
        for res in results:
            res.stuck = {name: exp.value for name, exp in res.row.expect.items()}
            res.found = True
        return results
    _read_back(client, results, sorted({name for row in rows for name in row.expect}), module)
    return results


def write_batch_bulk(
    client: SugarClient, rows: Sequence[WriteRow], *, verify: bool = True, module: str = "Accounts"
) -> list[RowResult]:
    """Write ``rows`` with one ``bridge_save_records`` call; verify each from its answer.

    Creates carry client-generated ids (``new_with_id``; a replay updates instead of
    duplicating). A record the extension did not save fails with its error; a saved one is
    verified against the stored values the answer holds, and read back with get_entries only when
    the answer lacks an expected field (e.g. no DetailView right). A Sugar error fails the whole
    batch, like :func:`write_batch`.
    """
    names = sorted({name for row in rows for name in row.expect})
    payload = [
        ({"id": row.account_id} if row.account_id else {}) | dict(row.values) for row in rows
    ]
    try:
        answer = save_records(client, module, payload, names)
    except SugarError as exc:
        return [
            RowResult(
                row, row.account_id, error=f"bridge_save_records failed: {exc}", batch_failed=True
            )
            for row in rows
        ]
    results: list[RowResult] = []
    unproven: list[RowResult] = []
    for row, saved in zip(rows, answer.records, strict=True):
        res = RowResult(row, saved.id)
        results.append(res)
        if not saved.saved:
            res.error = f"not saved: {saved.error}"
            continue
        res.found = True
        if not verify:
            res.stuck = {name: exp.value for name, exp in row.expect.items()}
        elif saved.stored is not None and all(name in saved.stored for name in row.expect):
            res.stuck, problem = compare(saved.stored, row.expect)
            if problem:
                res.error = f"not stored as sent: {problem}"
        else:
            unproven.append(res)
    if unproven:
        _read_back(client, unproven, names, module)
    return results


def _read_back(
    client: SugarClient, results: Sequence[RowResult], names: Sequence[str], module: str
) -> None:
    """Verify ``results`` by reading their records (get_entries) and comparing."""
    try:
        stored = client.module(module).get_many(
            [str(r.account_id) for r in results], fields=sorted({*names, "id"})
        )
    except SugarError as exc:
        for res in results:
            res.error = f"read-back failed (unknown whether the write stuck): {exc}"
        return
    for res in results:
        record = stored.get(res.account_id or "")
        if record is None:
            res.found = False
            res.error = f"{module} record not found when read back (the write was not stored)"
            continue
        res.found = True
        res.stuck, problem = compare(record, res.row.expect)
        if problem:
            res.error = f"not stored as sent: {problem}"
