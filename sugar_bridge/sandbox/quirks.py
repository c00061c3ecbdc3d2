"""Sugar's observable oddities, as pure functions (see the recordings README).

- Values are cleaned on save (tag-like markup stripped, custom columns store ``&`` as ``&amp;``),
  HTML-encoded on read (``'`` → ``&#039;``, ``"`` → ``&quot;``, ``<``/``>``) and double-encoded in
  the ``set_entry`` echo.
- ``query`` is raw SQL after a weak filter (comments, ``;``, ``UNION`` and subqueries are refused
  with "Access Denied"; ``OR 'a'='a'`` passes); MySQL string literals (backslash escapes) are
  translated to SQLite's before the WHERE runs.
- ``order_by`` tokens must be bare field names; anything else is silently dropped.
"""

from __future__ import annotations

import datetime as dt
import html.entities
import itertools
import os
import re
import threading
import time
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

# Tags HTMLPurifier keeps (stored as is, entity-encoded on read). Anything else tag-like, such as
# ``<Co>``, is removed on save.
_ALLOWED_TAG_NAMES = (
    "a abbr b blockquote br code del div em h1 h2 h3 h4 h5 h6 hr i img li ol p pre s small"
    " span strong sub sup table tbody td th thead tr u ul"
)
_ALLOWED_TAGS = frozenset(_ALLOWED_TAG_NAMES.split(" "))
_TAG_RE = re.compile(r"<\s*/?\s*([A-Za-z][A-Za-z0-9]*)\b[^<>]*>")
_ID_RE = re.compile(r"^[A-Za-z0-9_-]+$")


def clean_on_save(value: str, *, custom: bool) -> str:
    """What Sugar stores for a string: disallowed tags stripped; ``&`` → ``&amp;`` in custom
    fields."""
    cleaned = _TAG_RE.sub(
        lambda m: m.group(0) if m.group(1).lower() in _ALLOWED_TAGS else "", value
    )
    if custom:
        cleaned = cleaned.replace("&", "&amp;")
    return cleaned


def encode_on_read(value: str) -> str:
    """How a stored string comes back from get_entry/get_entry_list (``&`` itself is left alone)."""
    return (
        value.replace('"', "&quot;")
        .replace("'", "&#039;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
    )


def htmlentities(value: str) -> str:
    """PHP ``htmlentities($s, ENT_QUOTES)``: named entities where HTML has one."""
    out = []
    for ch in value:
        if ch == "'":
            out.append("&#039;")
        elif ch == '"':
            out.append("&quot;")
        else:
            name = html.entities.codepoint2name.get(ord(ch))
            out.append(f"&{name};" if name else ch)
    return "".join(out)


def encode_echo(value: str) -> str:
    """The set_entry echo of a string value: entity-encoded after an ``&`` → ``&amp;`` pass."""
    return htmlentities(clean_on_save(value, custom=False).replace("&", "&amp;"))


def is_valid_id(value: str) -> bool:
    """SuiteValidator's id check (set_entry answers ``null`` when it fails)."""
    return bool(_ID_RE.match(value)) and len(value) <= 36


def php_array_values(value: object) -> list[Any] | None:
    """PHP ``array_values`` of a decoded JSON value: a JSON object is an array too (its values,
    in order); None when the value is not an array at all (a string, a number, null)."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return list(value.values())
    return None


def php_intval(value: object) -> int:
    """PHP ``(int)``: leading digits of a string, 0 when there are none."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    # PHP 8 reads the leading numeric string, exponent included: (int) "1e3" is 1000 (seen live).
    match = re.match(r"\s*([+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?)", str(value))
    if not match:
        return 0
    text = match.group(1)
    return int(text) if text.lstrip("+-").isdigit() else int(float(text))


def php_floatval(value: object) -> float:
    """PHP ``(float)`` of a value (leading number of a string, else 0.0)."""
    if isinstance(value, int | float):
        return float(value)
    match = re.match(r"\s*([+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?)", str(value))
    return float(match.group(1)) if match else 0.0


def php_float_text(value: float) -> str:
    """A float as PHP prints it (a MySQL double column read back): 17500.0 → "17500"."""
    return str(int(value)) if value.is_integer() else repr(value)


def add_minutes(db_datetime: str, minutes: int) -> str | None:
    """A DB datetime plus some minutes (None when it is not one)."""
    try:
        start = dt.datetime.strptime(db_datetime[:19], "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    return (start + dt.timedelta(minutes=minutes)).strftime("%Y-%m-%d %H:%M:%S")


def decimal_text(value: object, places: int) -> str:
    """A number as MariaDB stores it in a DECIMAL(n, places) column: rounded half away from
    zero from its exact decimal text (3.25 → 3.3), 0 when it does not start with a number."""
    if isinstance(value, bool):
        value = int(value)
    text = repr(value) if isinstance(value, float) else str(value).strip()
    match = re.match(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", text)
    number = Decimal(match.group(0)) if match else Decimal(0)
    rounded = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return format(rounded + 0, "f")  # + 0: no "-0.00"


def sugar_date(value: object) -> str | None:
    """A date field's stored value: ``Y-m-d`` (parts may lack their leading zero, a time part
    is dropped), else NULL -- what SuiteCRM 7.14.6 did with "2026-1-2", "2026-10-01 10:00:00",
    "01/10/2026" or "2026-13-45"."""
    match = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:\s.*)?", str(value).strip(), re.S)
    if match is None:
        return None
    y, mo, d = (int(g) for g in match.groups())
    try:
        return dt.date(y, mo, d).isoformat()
    except ValueError:
        return None


def sugar_datetime(value: object) -> str | None:
    """A datetime field's stored value: ``Y-m-d H:i:s`` (a bare date is midnight), else NULL --
    SuiteCRM 7.14.6 stored nothing for "2026-11-24 02:00" (no seconds), an ISO "T"/"Z" form,
    fractions of a second or 25:00:00."""
    match = re.fullmatch(
        r"(\d{4})-(\d{1,2})-(\d{1,2})(?: (\d{1,2}):(\d{1,2}):(\d{1,2}))?", str(value).strip()
    )
    if match is None:
        return None
    y, mo, d, h, mi, sec = (int(g) if g is not None else 0 for g in match.groups())
    try:
        moment = dt.datetime(y, mo, d, h, mi, sec)
    except ValueError:
        return None
    return moment.strftime("%Y-%m-%d %H:%M:%S")


class GuidFactory:
    """Ids shaped like Sugar's ``create_guid()``: hex groups 8-4-4-4-12, increasing with time.

    Sugar's ids start with a time-derived part, so a table scan in primary-key order (what InnoDB
    returns when no ORDER BY applies) is roughly creation order; ours keep that property.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counter = itertools.count()

    def __call__(self) -> str:
        with self._lock:
            seq = next(self._counter)
        tick = (time.time_ns() // 1000) & 0xFFFFFFFFFFFF
        rand = os.urandom(8).hex()
        head = f"{tick:012x}"
        return f"{head[:8]}-{head[8:12]}-{seq & 0xFFFF:04x}-{rand[:4]}-{rand[4:16]}"


# --- the query filter and the MySQL → SQLite translation --------------------------------------

_FORBIDDEN_WORDS = re.compile(r"\b(UNION|SELECT|INSERT|UPDATE|DELETE|DROP|ALTER|CREATE)\b", re.I)


def _split_literals(sql: str) -> tuple[list[tuple[str, str]], bool]:
    """Split SQL into ('code', text) and ('str', MySQL-literal-content) parts.

    Returns the parts and whether the text ended inside an unterminated literal.
    """
    parts: list[tuple[str, str]] = []
    i, n = 0, len(sql)
    code_start = 0
    while i < n:
        ch = sql[i]
        if ch in ("'", '"'):
            if i > code_start:
                parts.append(("code", sql[code_start:i]))
            quote = ch
            j = i + 1
            buf: list[str] = []
            closed = False
            while j < n:
                c = sql[j]
                if c == "\\" and j + 1 < n:
                    nxt = sql[j + 1]
                    # MySQL keeps the backslash of \% and \_ (they are LIKE escapes).
                    buf.append("\\" + nxt if nxt in "%_" else _MYSQL_ESCAPES.get(nxt, nxt))
                    j += 2
                    continue
                if c == quote:
                    if j + 1 < n and sql[j + 1] == quote:
                        buf.append(quote)
                        j += 2
                        continue
                    closed = True
                    j += 1
                    break
                buf.append(c)
                j += 1
            if not closed:
                parts.append(("code", sql[i:]))
                return parts, True
            parts.append(("str", "".join(buf)))
            i = j
            code_start = j
            continue
        i += 1
    if code_start < n:
        parts.append(("code", sql[code_start:]))
    return parts, False


_MYSQL_ESCAPES = {"0": "\0", "b": "\b", "n": "\n", "r": "\r", "t": "\t", "Z": "\x1a"}


def query_passes_filter(query: str) -> bool:
    """Sugar's weak ``checkQuery``: refuse comments, ``;``, UNION and subqueries outside literals.

    Everything else passes, including ``x' OR 'a'='a`` and ``OR SLEEP(3)=0`` (as in Sugar).
    """
    parts, _ = _split_literals(query)
    code = " ".join(text for kind, text in parts if kind == "code")
    if "--" in code or "#" in code or "/*" in code or ";" in code:
        return False
    return not _FORBIDDEN_WORDS.search(code)


def mysql_where_to_sqlite(query: str) -> str:
    """Rewrite MySQL string literals ('\\'' and "…") as SQLite ones; code is left untouched.

    An unterminated literal is kept as is so that SQLite fails on it, like MySQL does.
    """
    parts, _ = _split_literals(query)
    out = []
    for i, (kind, text) in enumerate(parts):
        if kind == "str":
            out.append("'" + text.replace("'", "''") + "'")
            after = parts[i + 1][1] if i + 1 < len(parts) else ""
            if _LIKE_BEFORE.search("".join(out[:-1])) and not _ESCAPE_AFTER.match(after):
                # MySQL's LIKE escapes with a backslash by default; SQLite only when told.
                out.append(" ESCAPE '\\'")
        else:
            out.append(text)
    return "".join(out)


_LIKE_BEFORE = re.compile(r"\bLIKE\s*$", re.I)
_ESCAPE_AFTER = re.compile(r"\s*ESCAPE\b", re.I)


_ORDER_TOKEN = re.compile(r"^\s*([A-Za-z0-9_.]+)(?:\s+(ASC|DESC))?\s*$", re.I)


def order_by_terms(order_by: str, known: set[str]) -> list[tuple[str, str]]:
    """Parse ``order_by``; keep only bare known field names (Sugar drops ``accounts.name``
    silently)."""
    terms: list[tuple[str, str]] = []
    for token in order_by.split(","):
        match = _ORDER_TOKEN.match(token)
        if not match:
            continue
        name, direction = match.group(1), (match.group(2) or "ASC").upper()
        if name in known:
            terms.append((name, direction))
    return terms
