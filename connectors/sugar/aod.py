"""Whether a SuiteCRM indexes saves with AOD (its Lucene search), learned read-only over v4_1.

With ``$sugar_config['aod']['enable_aod']`` on (SuiteCRM 7.14's default, kept by sites upgraded
from it; 7.15 installs with it off), each save of an indexed record (Accounts, Contacts, …) runs
AOD's after-save hook, which writes the Lucene index under one file lock for the whole server
and then stores an ``AOD_IndexEvent`` row for the record. Concurrent sessions' saves take turns on
that lock and slow each other down (measured on 7.15: 2 sessions pushed ~4x slower than 1),
which is what ``push.sessions`` has to know. No v4_1 method reads the config, but the index
events tell: if the account saved last has an event dated at or after its save, AOD indexed it.
"""

from __future__ import annotations

import logging

from connectors.sugar import query as q
from connectors.sugar.client import SugarClient
from connectors.sugar.exceptions import SugarError

log = logging.getLogger(__name__)

#: What the answer rests on: the most recently saved record of this (indexed) module.
PROBE_MODULE = "Accounts"


def aod_indexing(client: SugarClient) -> bool | None:
    """True if the Sugar's AOD indexing is on, False if off, None when it cannot tell.

    Reads the most recently modified account (``get_entry_list`` ordered by ``date_modified``)
    and counts the ``AOD_IndexEvent`` rows for it dated at or after that change
    (``get_entries_count``): two reads, no write. None when there is no account, or no readable
    ``AOD_IndexEvent`` module (plain SugarCRM CE, no rights). The answer reflects the setting at
    that account's last save: a switch made since then shows after the next save.
    """
    try:
        latest = next(
            iter(
                client.module(PROBE_MODULE).iter_records(
                    fields=["id", "date_modified"], order_by="date_modified DESC", page_size=1
                )
            ),
            None,
        )
        if latest is None or not latest.get("date_modified"):
            return None
        events = client.module("AOD_IndexEvent").count(
            q.and_(
                q.eq("aod_indexevent.record_id", str(latest["id"])),
                q.ge("aod_indexevent.date_modified", str(latest["date_modified"])),
            )
        )
    except SugarError as exc:
        log.info("cannot tell whether AOD indexing is on: %s", exc)
        return None
    return events > 0
