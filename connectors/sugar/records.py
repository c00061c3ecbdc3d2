"""Turning Sugar's entry shapes into plain records, and plain values into ``name_value_list``.

Sugar returns each record as ``{"id", "module_name", "name_value_list"}`` where the
``name_value_list`` is an object ``{field: {"name", "value"}}`` -- or a *list* of pairs for the
"deleted or does not exist" warning entry. String values are HTML-escaped (``&#039;``, ``&quot;``,
``&lt;b&gt;``, custom fields even store ``&`` as ``&amp;``), so they are unescaped once on read.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

Record = dict[str, Any]
"""A decoded record: field name -> value (strings unescaped); always has ``"id"``."""

# Values we write: Sugar stores everything from strings; JSON scalars are what it can take.
WRITABLE_TYPES = (str, int, float, bool, Decimal, type(None))


def decode_value(value: Any) -> Any:
    """Unescape HTML entities in a string value (once); other JSON values pass through."""
    if isinstance(value, str):
        return html.unescape(value) if "&" in value else value
    return value


def pairs(name_value_list: Any) -> list[tuple[str, Any]]:
    """The (name, raw value) pairs of either shape of ``name_value_list``."""
    items: list[tuple[str, Any]] = []
    if isinstance(name_value_list, Mapping):
        for key, item in name_value_list.items():
            if isinstance(item, Mapping) and "value" in item:
                items.append((str(item.get("name", key)), item["value"]))
            else:
                items.append((str(key), item))
    elif isinstance(name_value_list, list):
        for item in name_value_list:
            if isinstance(item, Mapping) and "name" in item:
                items.append((str(item["name"]), item.get("value")))
    return items


def is_missing_entry(entry: Mapping[str, Any]) -> bool:
    """True for the warning entry Sugar returns for an unknown or deleted id (no error!)."""
    names = dict(pairs(entry.get("name_value_list")))
    return "warning" in names and str(names.get("deleted", "")) == "1" and len(names) <= 2


def entry_to_record(entry: Mapping[str, Any]) -> Record:
    """Decode one entry of ``entry_list`` into a record (always with ``"id"``)."""
    record: Record = {name: decode_value(value) for name, value in pairs(entry["name_value_list"])}
    if entry.get("id") is not None:
        record["id"] = entry["id"]
    return record


def to_name_value_list(values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The list form ``[{"name", "value"}, ...]`` of ``values``.

    Always the list form: with the object form Sugar silently drops fields it marks sensitive
    (``user_hash``), see recordings 02_user_create_dict_nvl_with_user_hash. ``None`` is sent as
    ``""`` (see :func:`wire_value`).
    """
    out: list[dict[str, Any]] = []
    for name, value in values.items():
        if not isinstance(value, WRITABLE_TYPES):
            raise TypeError(
                f"field {name!r}: cannot write a {type(value).__name__} "
                "(use str, int, float, bool, Decimal or None)"
            )
        out.append({"name": name, "value": wire_value(value)})
    return out


def wire_value(value: Any) -> Any:
    """A value as sent in ``name_value_list``: ``None`` becomes ``""``, a Decimal its string.

    A real SuiteCRM 7.14.6 ignores a JSON ``null`` in set_entry/set_entries -- the field keeps
    its old value and the call still answers success -- while ``""`` clears the field, whatever
    its type (text, enum, int, decimal, currency, date, datetime, core or custom). Callers mean
    "empty" when they write ``None``, so that is what is sent.
    """
    if value is None:
        return ""
    return str(value) if isinstance(value, Decimal) else value


def nvl_get(name_value_list: Any, name: str) -> Any:
    """The raw value of field ``name`` in either shape of ``name_value_list`` (None if absent)."""
    for key, value in pairs(name_value_list):
        if key == name:
            return value
    return None
