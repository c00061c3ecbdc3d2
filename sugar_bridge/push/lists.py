"""One Sugar target list (ProspectLists) per segment, membership reconciled both ways.

Marketing runs a campaign on "At risk" directly in Sugar: the list holds exactly the customers of
that segment — companies through the list's ``accounts`` link, persons through its ``contacts``
link (campaigns e-mail people). A list holds ``leads`` too: ``target_lists.links`` says which
links the push manages (accounts, contacts); members of the others, e.g. leads marketing added,
are left alone; a caller with leads to place passes ``links`` including ``leads``.
Members are read per link with the extension's ``bridge_get_related_ids`` where Sugar has it
(1.4.0+, admin: every id in one answer), else ``get_relationships`` (paged; Sugar builds a bean per
member); the differences are added and removed with ``set_relationship``, many ids per call
(``delete: 1`` to remove), then read again: ``created: 1`` is no proof (Sugar answers one per call,
whatever the ids, also for ids that do not exist). A night without segment changes sends no write.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from connectors.sugar.client import Module, SugarClient
from connectors.sugar.exceptions import SugarError
from connectors.sugar.extension.bulk import related_ids
from sugar_bridge.push.config import TargetListsConfig
from sugar_bridge.push.store import LogEntry

log = logging.getLogger(__name__)

#: The ProspectLists link of each module a list can hold (names as Sugar spells them).
LINK_MODULE: dict[str, str] = {"accounts": "Accounts", "contacts": "Contacts", "leads": "Leads"}

Members = Mapping[str, Mapping[str, set[str]]]
"""``{segment: {link: record ids}}``: who each segment's list must hold, per link."""


@dataclass
class ListsResult:
    """What the reconciliation did (or would do, in a dry run)."""

    added: int = 0
    removed: int = 0
    failed: int = 0
    lists_created: int = 0
    writes: int = 0
    sizes: dict[str, int] = field(default_factory=dict)  # list name -> members wanted
    entries: list[LogEntry] = field(default_factory=list)


def pattern_regex(name_pattern: str) -> re.Pattern[str]:
    """A regex that reads the segment back out of a list name made by ``name_pattern``."""
    prefix, _, suffix = name_pattern.partition("{segment}")
    return re.compile(
        "^"
        + re.escape(prefix.replace("{{", "{").replace("}}", "}"))
        + "(.+)"
        + re.escape(suffix.replace("{{", "{").replace("}}", "}"))
        + "$"
    )


def _chunks(ids: Sequence[str], size: int) -> list[Sequence[str]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def _members(lists: Module, list_id: str, link: str, page_size: int, fast: bool) -> set[str]:
    """Ids of the records in a target list's ``link``: extension method
    ``bridge_get_related_ids`` when ``fast``, else Sugar method ``get_relationships``, paged."""
    if fast:
        return related_ids(lists.client, lists.name, list_id, link)
    return {str(r["id"]) for r in lists.related(list_id, link, fields=["id"], page_size=page_size)}


def reconcile_lists(
    client: SugarClient,
    config: TargetListsConfig,
    members: Members,
    *,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
    links: Sequence[str] | None = None,
    fast_members: bool = False,
) -> ListsResult:
    """Make each segment's target list hold exactly ``members[segment][link]`` in each managed
    link: ``links`` (any of accounts, contacts, leads), default ``config.links``.

    Lists are found by name among all ProspectLists (get_entry_list, no query string to build),
    created when missing (set_entry with a client id and new_with_id), and lists named after the
    pattern whose segment no longer occurs are emptied. A Sugar error on one list fails that list
    only. ``fast_members``: read members with ``bridge_get_related_ids`` (the caller checked the
    extension has it, :class:`connectors.sugar.extension.bulk.BulkSupport`).
    """
    managed = list(links if links is not None else config.links)
    unknown = sorted(set(managed) - set(LINK_MODULE))
    if unknown:
        raise ValueError(f"unknown ProspectLists link {', '.join(unknown)} (known: {LINK_MODULE})")
    result = ListsResult()
    lists = client.module("ProspectLists")
    regex = pattern_regex(config.name_pattern)
    existing: dict[str, str] = {}
    for rec in lists.iter_records(fields=["id", "name"], order_by="id", page_size=200):
        name = str(rec.get("name") or "")
        if name in existing:
            log.warning("several target lists are named %r; using %s", name, existing[name])
            continue
        existing[name] = str(rec["id"])
    segments = set(config.segments) | {s for s in members if s}
    segments |= {m.group(1) for name in existing if (m := regex.match(name))}
    ordered = sorted(segments)
    for done, segment in enumerate(ordered, 1):
        name = config.name_pattern.format(segment=segment)
        wanted: dict[str, set[str]] = {
            link: set(members.get(segment, {}).get(link, set())) for link in managed
        }
        result.sizes[name] = sum(len(ids) for ids in wanted.values())
        try:
            _reconcile_one(
                lists, config, name, existing.get(name), wanted, result, dry_run, fast_members
            )
        except SugarError as exc:
            log.warning("target list %r: %s", name, exc)
            result.failed += 1
            result.entries.append(
                LogEntry(
                    "list_sync",
                    "failed",
                    existing.get(name),
                    new_values={"list": name},
                    error=str(exc),
                    module="ProspectLists",
                )
            )
        if progress is not None:
            progress(done, len(ordered))
    return result


def _reconcile_one(
    lists: Module,
    config: TargetListsConfig,
    name: str,
    list_id: str | None,
    wanted: Mapping[str, set[str]],
    result: ListsResult,
    dry_run: bool,
    fast: bool = False,
) -> None:
    """Create the list if needed (``set_entry``), then reconcile each managed link."""
    if list_id is None:
        if not any(wanted.values()):
            return  # no list and nobody to put in it: nothing to create yet
        if dry_run:
            result.lists_created += 1
            result.added += sum(len(ids) for ids in wanted.values())
            return
        list_id = lists.create(
            {
                "name": name,
                "list_type": config.list_type,
                "description": "Managed by sugar-bridge: members follow the segment every night.",
            }
        )
        result.writes += 1
        result.lists_created += 1
        for link, ids in wanted.items():
            _reconcile_link(lists, config, name, list_id, link, ids, set(), result, dry_run, fast)
        return
    for link, ids in wanted.items():
        current = _members(lists, list_id, link, config.page_size, fast)
        _reconcile_link(lists, config, name, list_id, link, ids, current, result, dry_run, fast)


def _reconcile_link(
    lists: Module,
    config: TargetListsConfig,
    name: str,
    list_id: str,
    link: str,
    wanted: set[str],
    current: set[str],
    result: ListsResult,
    dry_run: bool,
    fast: bool = False,
) -> None:
    """Add and remove the members of one link (``set_relationship``), then read them back
    (``get_relationships``) and log each change as ok or failed."""
    module = LINK_MODULE[link]
    to_add = sorted(wanted - current)
    to_remove = sorted(current - wanted)
    if dry_run:
        result.added += len(to_add)
        result.removed += len(to_remove)
        return
    for chunk in _chunks(to_add, config.link_chunk):
        lists.link(list_id, link, chunk)
        result.writes += 1
    for chunk in _chunks(to_remove, config.link_chunk):
        lists.unlink(list_id, link, chunk)
        result.writes += 1
    if not to_add and not to_remove:
        return
    after = _members(lists, list_id, link, config.page_size, fast)
    for account_id in to_add:
        ok = account_id in after
        result.added += ok
        result.failed += not ok
        result.entries.append(
            LogEntry(
                "list_add",
                "ok" if ok else "failed",
                account_id,
                new_values={"list": name},
                error=None if ok else "not a member when read back",
                module=module,
            )
        )
    for account_id in to_remove:
        ok = account_id not in after
        result.removed += ok
        result.failed += not ok
        result.entries.append(
            LogEntry(
                "list_remove",
                "ok" if ok else "failed",
                account_id,
                old_values={"list": name},
                error=None if ok else "still a member when read back",
                module=module,
            )
        )
