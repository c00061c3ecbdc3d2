"""Bulk saves through the bridge extension (``bridge_save_records``), and whether Sugar has them.

One ``bridge_save_records`` request saves a batch through Sugar's bean API like ``set_entries``
(ACL, logic hooks, audit, ``date_modified``, custom fields), except that AOD's per-save Lucene
indexing is deferred to Sugar's scheduler job ``aodIndexUnindexed`` (so concurrent sessions no
longer queue on the index lock), and it answers per record whether it was saved and the stored
values, read afresh from the database — what a ``get_entries`` read-back would show. Sugar sites
whose extension is absent or older than :data:`BULK_SINCE` keep ``set_entries``:
:func:`bulk_support` tells which case a Sugar is in.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from connectors.sugar import query as q
from connectors.sugar.exceptions import (
    AccessDenied,
    ExtensionMissing,
    NotJsonResponse,
    WriteNotStored,
)
from connectors.sugar.extension import API_LEVEL
from connectors.sugar.extension.compat import parse_version
from connectors.sugar.records import Record, entry_to_record, wire_value

if TYPE_CHECKING:
    from connectors.sugar.client import SugarClient

log = logging.getLogger(__name__)

#: The first extension version with ``bridge_save_records``.
BULK_SINCE = (1, 3, 0)
#: The first extension version with ``bridge_get_related_ids``.
RELATED_IDS_SINCE = (1, 4, 0)
#: Records per call the extension takes (``SugarWebServiceImplBridge::MAX_SAVE_RECORDS``).
MAX_RECORDS = 500


@dataclass(frozen=True)
class BulkSupport:
    """What a Sugar offers for bulk writes, from its ``bridge_info``."""

    #: ``bridge_save_records`` can be used.
    available: bool
    #: Why (or why not), in words for logs and run details.
    reason: str
    #: AOD search indexing on (``$sugar_config['aod']['enable_aod']``); None when unknown.
    aod_enabled: bool | None = None
    extension_version: str | None = None
    #: ``bridge_get_related_ids`` can be used (extension 1.4.0+, an admin session).
    related_ids: bool = False


def bulk_support(client: SugarClient) -> BulkSupport:
    """Whether ``bridge_save_records`` is there, and the Sugar's AOD setting (``bridge_info``).

    ``bridge_info`` answers admins only: for another user, or a Sugar without the extension, or
    with one older than 1.3.0, the answer is "not available" with the reason (the caller falls
    back to ``set_entries``). Other Sugar errors propagate.
    """
    try:
        info = client.call_extension("bridge_info")
    except ExtensionMissing:
        return BulkSupport(False, "the sugar-bridge extension is not installed")
    except AccessDenied:
        return BulkSupport(
            False, f"the API user {client.username} is not an admin: bridge_info is not readable"
        )
    if not isinstance(info, Mapping):
        return BulkSupport(False, "bridge_info answered no object")
    version = str(info.get("extension_version") or "")
    raw_aod = info.get("aod_enabled")
    aod = raw_aod if isinstance(raw_aod, bool) else None
    parsed = parse_version(version)
    if parsed is None or parsed < BULK_SINCE or info.get("api_level") != API_LEVEL:
        return BulkSupport(
            False,
            f"extension {version or '?'} has no bridge_save_records (needs "
            f"{'.'.join(map(str, BULK_SINCE))}+, api_level {API_LEVEL})",
            aod,
            version or None,
        )
    return BulkSupport(
        True, f"extension {version} saves in bulk", aod, version, parsed >= RELATED_IDS_SINCE
    )


def related_ids(client: SugarClient, module_name: str, record_id: str, link: str) -> set[str]:
    """Ids of the live records related to ``record_id`` over ``link``, in one request (extension
    method ``bridge_get_related_ids``, 1.4.0+, admin session): what ``get_relationships`` pages
    through, without Sugar building a bean per related record (~4 ms each on SuiteCRM 7.15).
    Raises ExtensionMissing where the extension lacks it, NotJsonResponse for an answer without
    its list of ids."""
    body = client.call_extension(
        "bridge_get_related_ids",
        module_name=module_name,
        module_id=record_id,
        link_field_name=q.field_name(link),
    )
    ids = body.get("ids") if isinstance(body, Mapping) else None
    if not isinstance(ids, list):
        raise NotJsonResponse(
            f"{module_name} {record_id} {link}: bridge_get_related_ids answered "
            f"{type(body).__name__}",
            method="bridge_get_related_ids",
        )
    return {str(i) for i in ids}


@dataclass(frozen=True)
class SavedRecord:
    """The extension's answer for one record."""

    id: str
    #: The record was created by this call (False: updated, or nothing saved).
    created: bool
    saved: bool
    #: ``"<number> <name>: <description>"`` when not saved.
    error: str | None
    #: The stored values of the fields asked for (decoded like a read), None when not answered.
    stored: Record | None


@dataclass(frozen=True)
class BulkAnswer:
    """One ``bridge_save_records`` call: a :class:`SavedRecord` per row, in input order."""

    records: list[SavedRecord]
    #: AOD indexing is on, and this call left its records to the index job.
    index_deferred: bool


def _error_text(error: Any) -> str:
    if isinstance(error, Mapping):
        return f"{error.get('number')} {error.get('name')}: {error.get('description')}"
    return str(error)


def save_records(
    client: SugarClient,
    module_name: str,
    rows: Sequence[Mapping[str, Any]],
    fields: Sequence[str] = (),
) -> BulkAnswer:
    """Create or update ``rows`` in one call (extension method ``bridge_save_records``).

    A row with ``"id"`` updates that record (a missing one is answered "not saved", error 1006),
    or with ``"id"`` and ``"new_with_id": True`` creates it with that id; a row without an id gets
    a client-generated one sent with ``new_with_id``. The extension turns ``new_with_id`` on an
    existing record into an update, so the call is safe to retry after a lost answer.
    ``fields``: the values to answer per saved record (read from the database after the save).
    Raises WriteNotStored when the answer does not match the rows, ExtensionMissing when the
    extension lacks the method.
    """
    if len(rows) > MAX_RECORDS:
        raise WriteNotStored(
            f"{len(rows)} records in one bridge_save_records call (at most {MAX_RECORDS})",
            method="bridge_save_records",
        )
    records: list[dict[str, Any]] = []
    for row in rows:
        values = {q.field_name(str(k)): wire_value(v) for k, v in row.items()}
        create_with_id = values.pop("new_with_id", None) is True
        if values.get("id"):
            records.append(values | ({"new_with_id": True} if create_with_id else {}))
        else:
            records.append({**values, "id": str(uuid.uuid4()), "new_with_id": True})
    select = list(dict.fromkeys(["id", *(q.field_name(f) for f in fields)])) if fields else []
    body = client.call_extension(
        "bridge_save_records", module_name=module_name, records=records, select_fields=select
    )
    answers = body.get("records") if isinstance(body, Mapping) else None
    if not isinstance(answers, list) or len(answers) != len(records):
        raise WriteNotStored(
            f"{module_name}: bridge_save_records answered {type(answers).__name__} for "
            f"{len(records)} records",
            method="bridge_save_records",
        )
    out: list[SavedRecord] = []
    for sent, got in zip(records, answers, strict=True):
        got = got if isinstance(got, Mapping) else {}
        saved = got.get("saved") is True and str(got.get("id")) == sent["id"]
        entry = got.get("entry")
        error = None if saved else _error_text(got.get("error") or "no answer for this record")
        out.append(
            SavedRecord(
                id=sent["id"],
                created=bool(got.get("created")) and saved,
                saved=saved,
                error=error,
                stored=entry_to_record(entry) if saved and isinstance(entry, Mapping) else None,
            )
        )
    failed = sum(1 for r in out if not r.saved)
    if failed:
        log.info("%s: bridge_save_records saved %d of %d", module_name, len(out) - failed, len(out))
    return BulkAnswer(out, bool(body.get("index_deferred")))
