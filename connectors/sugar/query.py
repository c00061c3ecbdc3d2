"""The only way sugar-bridge builds ``query`` (and ``order_by``) strings for Sugar.

Sugar's ``query`` parameter is raw SQL pasted into a WHERE clause after a weak filter
(``SugarSQLValidate``): an unescaped ``'`` breaks the statement (HTTP 500), ``x' OR 'a'='a``
returns every row, ``OR SLEEP(3)=0`` passes (recordings 04_query_*). So values are never
interpolated by hand: every helper here quotes its value, and every column name is checked
against a strict identifier pattern.

Quoting is for MySQL/MariaDB (what Sugar runs on) in its default SQL mode, where a backslash
escapes inside string literals: a value is wrapped in single quotes with ``'`` doubled *and* ``\\``
doubled (recording 04_query_quote_backslash shows that ``\\'`` is an escape there, so a value
ending in a backslash would otherwise swallow the closing quote).

    >>> from connectors.sugar import query as q
    >>> q.and_(q.eq("accounts.name", "O'Brien"), q.like_prefix("accounts.name", "Lab"))
    "(accounts.name = 'O''Brien') AND (accounts.name LIKE 'Lab%')"

Columns may be table-qualified (``accounts.name``, ``accounts_cstm.segment_c``) in ``query``;
``order_by`` must use bare field names (Sugar silently ignores ``accounts.name DESC``), see
:func:`order_by`. A query Sugar's validator refuses comes back as error 40 (AccessDenied).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal

from connectors.sugar.exceptions import InvalidCall

_IDENT = r"[A-Za-z_][A-Za-z0-9_]{0,63}"
_COLUMN_RE = re.compile(rf"^{_IDENT}(?:\.{_IDENT})?$")
_FIELD_RE = re.compile(rf"^{_IDENT}$")
_ORDER_TERM_RE = re.compile(
    rf"^(?:(?P<table>{_IDENT})\.)?(?P<field>{_IDENT})(?:\s+(?P<dir>ASC|DESC))?$", re.I
)

Value = str | int | float | bool | Decimal | date | datetime


def column(name: str) -> str:
    """Validate a column reference (``field`` or ``table.field``) and return it unchanged."""
    if not isinstance(name, str) or not _COLUMN_RE.match(name):
        raise InvalidCall(f"not a safe column name: {name!r}")
    if "user_hash" in name.lower():
        # Sugar's validator refuses it anyway (error 40); say so clearly instead.
        raise InvalidCall("queries on user_hash are refused by Sugar")
    return name


def field_name(name: str) -> str:
    """Validate a bare field name (select_fields, order_by, name_value_list keys)."""
    if not isinstance(name, str) or not _FIELD_RE.match(name):
        raise InvalidCall(f"not a safe field name: {name!r}")
    return name


def quote(value: Value) -> str:
    """One SQL literal for MySQL: strings quoted with ``'`` and ``\\`` doubled; numbers as is.

    Dates become ``'YYYY-MM-DD'``, datetimes ``'YYYY-MM-DD HH:MM:SS'`` in UTC (Sugar's DB
    format; aware datetimes are converted, naive ones are taken as UTC). Booleans are 1/0.
    """
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidCall(f"cannot compare with {value!r}")
        return repr(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise InvalidCall(f"cannot compare with {value!r}")
        return format(value, "f")
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return quote(value.strftime("%Y-%m-%d %H:%M:%S"))
    if isinstance(value, date):
        return quote(value.isoformat())
    if isinstance(value, str):
        if "\x00" in value:
            raise InvalidCall("a NUL character cannot be part of a query value")
        return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"
    raise InvalidCall(f"cannot put a {type(value).__name__} into a query (value types: {Value})")


def _cmp(col: str, op: str, value: Value) -> str:
    return f"{column(col)} {op} {quote(value)}"


def eq(col: str, value: Value) -> str:
    """``col = value``."""
    return _cmp(col, "=", value)


def ne(col: str, value: Value) -> str:
    """``col <> value`` (rows where col is NULL do not match, as in SQL)."""
    return _cmp(col, "<>", value)


def gt(col: str, value: Value) -> str:
    """``col > value``."""
    return _cmp(col, ">", value)


def ge(col: str, value: Value) -> str:
    """``col >= value``."""
    return _cmp(col, ">=", value)


def lt(col: str, value: Value) -> str:
    """``col < value``."""
    return _cmp(col, "<", value)


def le(col: str, value: Value) -> str:
    """``col <= value``."""
    return _cmp(col, "<=", value)


def in_(col: str, values: Iterable[Value]) -> str:
    """``col IN (v1, v2, ...)``; an empty list gives a condition that matches nothing."""
    items = [quote(v) for v in values]
    if not items:
        return "1 = 0"
    return f"{column(col)} IN ({', '.join(items)})"


def not_in(col: str, values: Iterable[Value]) -> str:
    """``col NOT IN (...)``; an empty list gives a condition that matches everything."""
    items = [quote(v) for v in values]
    if not items:
        return "1 = 1"
    return f"{column(col)} NOT IN ({', '.join(items)})"


def _escape_like(text: str) -> str:
    # MySQL's default LIKE escape character is the backslash.
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def like_prefix(col: str, prefix: str) -> str:
    """``col LIKE 'prefix%'`` with ``%`` and ``_`` in ``prefix`` matched literally."""
    return f"{column(col)} LIKE {quote(_escape_like(prefix) + '%')}"


def like_contains(col: str, text: str) -> str:
    """``col LIKE '%text%'`` with ``%`` and ``_`` in ``text`` matched literally."""
    return f"{column(col)} LIKE {quote('%' + _escape_like(text) + '%')}"


def is_null(col: str) -> str:
    """``col IS NULL``."""
    return f"{column(col)} IS NULL"


def is_not_null(col: str) -> str:
    """``col IS NOT NULL``."""
    return f"{column(col)} IS NOT NULL"


def _join(op: str, parts: Iterable[str]) -> str:
    kept = [p for p in parts if p]
    if len(kept) == 1:
        return kept[0]
    return f" {op} ".join(f"({p})" for p in kept)


def and_(*conditions: str) -> str:
    """Conditions joined by AND, each parenthesised; empty ones are skipped ("" = no filter)."""
    return _join("AND", conditions)


def or_(*conditions: str) -> str:
    """Conditions joined by OR, each parenthesised; empty ones are skipped."""
    return _join("OR", conditions)


def not_(condition: str) -> str:
    """``NOT (condition)``."""
    if not condition:
        raise InvalidCall("not_() of an empty condition")
    return f"NOT ({condition})"


def order_by(spec: str, *, tiebreak: str | None = "id") -> str:
    """A safe ``order_by`` for Sugar: bare field names with optional ASC/DESC.

    Sugar silently ignores table-qualified terms (``accounts.name DESC``, recording
    04_order_by_table_qualified_ignored), so a ``table.`` prefix is stripped (the server adds the
    table or ``_cstm`` prefix itself). Anything else than ``field [ASC|DESC]`` terms separated by
    commas raises InvalidCall. ``tiebreak`` (default ``id``) is appended when absent so pages
    are stable.
    """
    terms: list[str] = []
    seen: set[str] = set()
    for raw in (spec or "").split(","):
        raw = raw.strip()
        if not raw:
            continue
        match = _ORDER_TERM_RE.match(raw)
        if not match:
            raise InvalidCall(f"unsafe order_by term: {raw!r}")
        name = match.group("field")
        direction = (match.group("dir") or "ASC").upper()
        seen.add(name.lower())
        terms.append(f"{name} {direction}")
    if tiebreak and tiebreak.lower() not in seen:
        terms.append(f"{field_name(tiebreak)} ASC")
    return ", ".join(terms)
