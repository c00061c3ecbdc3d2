"""Values as Sugar stores them, so that what we send and what we read back compare equal.

Sugar hands numbers back as JSON numbers or strings, dates in DB format (``Y-m-d``), datetimes in
DB format in UTC (``Y-m-d H:i:s``), text HTML-escaped (the client decodes it), empty fields as
``""``. Every value we diff, write, snapshot and verify goes through :func:`normalise` with the
field's kind, so a value read back from Sugar and the value computed in the warehouse give the same
string and a diff never flaps between ``12.5`` and ``12.50``.
"""

from __future__ import annotations

import html
import math
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Literal

Kind = Literal["text", "int", "decimal", "date", "datetime", "bool"]

# Sugar vardef types (get_module_fields ``type``) → how the value is stored.
_SUGAR_KINDS: dict[str, Kind] = {
    "int": "int",
    "decimal": "decimal",
    "currency": "decimal",
    "float": "decimal",
    "double": "decimal",
    "date": "date",
    "datetime": "datetime",
    "datetimecombo": "datetime",
    "bool": "bool",
}


def kind_of(sugar_type: str | None, sample: Any = None) -> Kind:
    """The storage kind of a Sugar field type; without a type, guessed from a sample value."""
    if sugar_type:
        return _SUGAR_KINDS.get(sugar_type, "text")
    if isinstance(sample, bool):
        return "bool"
    if isinstance(sample, int):
        return "int"
    if isinstance(sample, float | Decimal):
        return "decimal"
    if isinstance(sample, datetime):
        return "datetime"
    if isinstance(sample, date):
        return "date"
    return "text"


def _is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if isinstance(value, str) and not value.strip():
        return True
    # pandas NaT / NA compare unequal to themselves without importing pandas here.
    try:
        return bool(value != value)
    except (TypeError, ValueError):
        return False


def _to_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip().replace("T", " ")
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        moment = datetime.fromisoformat(text)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.replace(microsecond=0)


def normalise(value: Any, kind: Kind, precision: int = 2) -> str:
    """``value`` as the string Sugar stores for a field of ``kind`` (``""`` when empty).

    Raises ValueError when the value cannot be read as that kind (e.g. ``"abc"`` for an int).
    """
    if _is_empty(value):
        return ""
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()  # numpy scalars → Python
    if kind == "text":
        text = html.unescape(str(value)) if isinstance(value, str) else str(value)
        return text.strip()
    if kind == "bool":
        if isinstance(value, str):
            return "1" if value.strip().lower() in {"1", "true", "yes", "on"} else "0"
        return "1" if value else "0"
    if kind == "int":
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValueError(f"not an integer: {value!r}") from None
        return str(int(number.quantize(Decimal(1), rounding=ROUND_HALF_UP)))
    if kind == "decimal":
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValueError(f"not a number: {value!r}") from None
        if not number.is_finite():
            raise ValueError(f"not a finite number: {value!r}")
        quantum = Decimal(1).scaleb(-precision)
        rounded = number.quantize(quantum, rounding=ROUND_HALF_UP)
        if rounded.is_zero():
            rounded = abs(rounded)  # no "-0.00"
        return format(rounded, "f")
    if kind == "date":
        if isinstance(value, datetime | date):
            return _to_datetime(value).strftime("%Y-%m-%d")
        return _to_datetime(str(value)).strftime("%Y-%m-%d")
    return _to_datetime(value).strftime("%Y-%m-%d %H:%M:%S")


def sugar_datetime(moment: datetime) -> str:
    """A datetime in Sugar's DB format, UTC (what set_entry expects)."""
    return normalise(moment, "datetime")
