"""Validation of raw order lines before they reach the warehouse.

Every rule has a short name (``etl_reject.rule``) and every rejection a reason a person can act
on: where (file and line, or source key), which field, which value, what was expected. A bad line
is rejected alone and the rest of its order loads; when the lines of one order disagree on an
order-level field (customer, dates, payment, channel, status, currency) the whole order is
rejected, since no line can be trusted over another. Nothing is dropped or "fixed" silently:
values are only normalised (whitespace, case of enumerations and currency codes).

The work is done column by column (``validate_chunk``): each column's distinct values are parsed
and checked once (order-level values, products, prices and dates repeat across a batch), the rows
take their results by index, and the rules that combine fields (dates in order, discount within
the line's value, a given ``line_amount`` equal to quantity × unit_price − discount) run on whole
numpy columns of scaled integers. Only a row that fails a check goes through the per-row parsers
(``_parse_header``, ``_careful_line``), which write its message; so the messages are the same
whichever way a row is read.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from connectors.orders.base import Chunk, ParseOptions, Rows
from etl.currencies import ISO_4217

PAYMENT_METHODS = frozenset(
    {"card", "transfer", "cheque", "cash", "direct_debit", "financing", "paypal", "other"}
)
CHANNELS = frozenset({"web", "store", "phone", "sales_rep", "marketplace", "other"})
STATUSES = frozenset({"completed", "cancelled", "returned"})
#: ``customer_type``: a company (b2b) or a person (b2c); any case in the file, stored lower-case.
CUSTOMER_TYPES = frozenset({"b2b", "b2c"})

# Column widths of etl/schema.py: a longer value is rejected, never truncated.
MAX_LENGTH = {
    "order_id": 128,
    "customer_id": 128,
    "customer_name": 255,
    "customer_email": 255,
    "customer_city": 128,
    "customer_country": 64,
    "sku": 64,
    "product_name": 255,
    "category": 64,
    "brand": 64,
}
ORDER_FIELDS = (
    "customer_id",
    "customer_name",
    "customer_email",
    "customer_city",
    "customer_country",
    "customer_type",
    "ordered_at",
    "currency",
    "payment_method",
    "channel",
    "status",
    "invoiced_at",
    "due_at",
    "paid_at",
)
#: Order fields added to the format later: part of an order's digest only where the file gives
#: them (see ``_content_hashes``).
_HASHED_WHEN_GIVEN = ("customer_type",)
CENT = Decimal("0.01")
_MAX_QUANTITY = Decimal("1e11")
_MAX_PRICE = Decimal("1e10")
_MAX_AMOUNT = Decimal("1e12")  # what NUMERIC(18, 6) holds
QUANTITY_PLACES = 3
MONEY_PLACES = 6  # prices, discounts and amounts: stored exactly with up to 6 decimals

I64 = npt.NDArray[np.int64]


@dataclass(slots=True)
class OrderBatch:
    """Valid orders and their lines, column by column.

    Orders (``order_*`` and the order-level lists, one item per order) come in the chunk's order
    of first appearance; the lines of order ``k`` are ``lines[line_start[k]:line_start[k + 1]]``,
    sorted by ``line_no``. Quantities are in thousandths and money in millionths (exact
    integers); dates are numpy datetimes (``NaT`` when empty); ``content_hash`` digests
    everything the warehouse stores about an order.
    """

    order_id: list[str]
    customer_id: list[str]
    customer_name: list[str | None]
    customer_email: list[str | None]
    customer_city: list[str | None]
    customer_country: list[str | None]
    customer_type: list[str | None]  # b2b | b2c | None
    ordered_at: npt.NDArray[np.datetime64]  # datetime64[us]
    currency: list[str]
    payment_method: list[str | None]
    channel: list[str | None]
    status: list[str]
    invoiced_at: npt.NDArray[np.datetime64]  # datetime64[D], NaT when empty
    due_at: npt.NDArray[np.datetime64]
    paid_at: npt.NDArray[np.datetime64]
    content_hash: list[str]
    line_start: I64
    n_items: I64  # thousandths
    total_amount: I64  # millionths
    line_no: I64
    sku: list[str]
    product_name: list[str | None]
    category: list[str | None]
    brand: list[str | None]
    quantity: I64  # thousandths
    unit_price: I64  # millionths
    discount: I64  # millionths
    amount: I64  # millionths

    def __len__(self) -> int:
        return len(self.order_id)

    @property
    def n_lines(self) -> I64:
        return np.diff(self.line_start)


@dataclass(frozen=True, slots=True)
class Reject:
    """A rejected row (or a problem reported by the source)."""

    key: str
    rule: str
    reason: str
    raw: dict[str, Any] | None


@dataclass(slots=True)
class Validated:
    """The outcome of validating one chunk."""

    orders: OrderBatch
    rejects: list[Reject]
    lines_valid: int
    skipped_before_since: int = 0


class _Invalid(Exception):
    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


# --- value parsers (text with ParseOptions, or typed values from SQL sources) ------------------


def _text(values: dict[str, Any], column: str, required: bool = False) -> str | None:
    value = values.get(column)
    if value is None:
        text = ""
    elif isinstance(value, str):
        text = value.strip()
    else:
        text = str(value)
    if not text:
        if required:
            raise _Invalid("missing_value", f"{column} is required but empty")
        return None
    limit = MAX_LENGTH.get(column)
    if limit is not None and len(text) > limit:
        raise _Invalid(
            "value_too_long", f"{column} is {len(text)} characters long, the most is {limit}"
        )
    if "\x00" in text:
        # PostgreSQL cannot store it (it would fail the whole batch there), and it is never
        # meant in a name or an id: rejected on every engine alike.
        raise _Invalid("nul_character", f"{column} contains a NUL character (0x00)")
    return text


def parse_decimal(value: Any, options: ParseOptions, column: str) -> Decimal:
    """A number from text written with the source's separators, or from a typed value."""
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, bool):
        raise _Invalid("not_a_number", f"{column} {value!r} is not a number")
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    else:
        text = str(value).strip()
        if options.thousands:
            text = text.replace(options.thousands, "")
        if options.decimal == ",":
            if "." in text and not options.thousands:
                raise _Invalid(
                    "not_a_number",
                    f"{column} {value!r} has a '.' but the source's decimal separator is ','",
                )
            text = text.replace(",", ".")
        elif "," in text:
            raise _Invalid(
                "not_a_number",
                f"{column} {value!r} is not a number with '.' decimals "
                "(a decimal comma? set the source's `decimal: ','`)",
            )
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise _Invalid("not_a_number", f"{column} {value!r} is not a number") from None
    if not number.is_finite():
        raise _Invalid("not_a_number", f"{column} {value!r} is not a finite number")
    return number


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise _Invalid("bad_timezone", f"unknown time zone {name!r} in the source") from None


def parse_datetime(value: Any, options: ParseOptions, column: str) -> datetime:
    """A naive datetime (in the source's zone) from ISO text, a configured format, or a value."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip()
        try:
            if options.datetime_format:
                try:
                    parsed = datetime.strptime(text, options.datetime_format)
                except ValueError:
                    if not options.date_format:
                        raise
                    parsed = datetime.strptime(text, options.date_format)
            elif options.date_format:
                parsed = datetime.strptime(text, options.date_format)
            else:
                parsed = datetime.fromisoformat(text)
        except ValueError:
            expected = options.datetime_format or options.date_format or "an ISO date or datetime"
            raise _Invalid(
                "bad_date", f"{column} {value!r} is not a valid date ({expected} expected)"
            ) from None
    if parsed.tzinfo is not None:
        zone = UTC if options.timezone == "UTC" else _zone(options.timezone)
        parsed = parsed.astimezone(zone).replace(tzinfo=None)
    if not 1900 <= parsed.year <= 2200:
        raise _Invalid("bad_date", f"{column} {value!r} is outside the years 1900-2200")
    return parsed


def parse_date(value: Any, options: ParseOptions, column: str) -> date:
    """A date (a datetime's date part) from ISO text, a configured format, or a value."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    return parse_datetime(value, options, column).date()


def _enum(value: str | None, allowed: frozenset[str], column: str) -> str | None:
    if value is None:
        return None
    normal = value.lower()
    if normal not in allowed:
        raise _Invalid(
            f"unknown_{column}",
            f"{column} {value!r} is not one of {', '.join(sorted(allowed))} "
            "(map other values in the source's `values`)",
        )
    return normal


def _scale_ok(number: Decimal, places: int) -> bool:
    """True when ``number`` has at most ``places`` decimals (trailing zeros do not count)."""
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= -places:
        return True
    try:
        return number == number.quantize(Decimal(1).scaleb(-places))
    except InvalidOperation:
        return False


# --- row and order validation ------------------------------------------------------------------


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _parse_header(
    values: dict[str, Any], options: ParseOptions, default_currency: str
) -> tuple[dict[str, Any], list[_Invalid]]:
    """Order-level fields of one row (parsed once per order when its lines agree)."""
    errors: list[_Invalid] = []
    order: dict[str, Any] = {}
    for column, required in _HEADER_TEXT:
        try:
            order[column] = _text(values, column, required)
        except _Invalid as exc:
            order[column] = None
            errors.append(exc)
    for column in ("ordered_at", "invoiced_at", "due_at", "paid_at"):
        raw = values.get(column)
        try:
            if _blank(raw):
                if column == "ordered_at":
                    raise _Invalid("missing_value", f"{column} is required but empty")
                order[column] = None
            elif column == "ordered_at":
                order[column] = parse_datetime(raw, options, column)
            else:
                order[column] = parse_date(raw, options, column)
        except _Invalid as exc:
            order[column] = None
            errors.append(exc)
    try:
        code = (_text(values, "currency") or default_currency).upper()
        if code not in ISO_4217:
            raise _Invalid(
                "unknown_currency", f"currency {values.get('currency')!r} is not an ISO 4217 code"
            )
        order["currency"] = code
    except _Invalid as exc:
        order["currency"] = None
        errors.append(exc)
    for column, allowed in _ENUMS:
        try:
            order[column] = _enum(_text(values, column), allowed, column)
        except _Invalid as exc:
            order[column] = None
            errors.append(exc)
    if order["status"] is None:
        order["status"] = "completed"
    invoiced, due, paid = order["invoiced_at"], order["due_at"], order["paid_at"]
    if invoiced is not None and paid is not None and paid < invoiced:
        errors.append(
            _Invalid("dates_out_of_order", f"paid_at {paid} is before invoiced_at {invoiced}")
        )
    if invoiced is not None and due is not None and due < invoiced:
        errors.append(
            _Invalid("dates_out_of_order", f"due_at {due} is before invoiced_at {invoiced}")
        )
    return order, errors


_ENUMS = (
    ("customer_type", CUSTOMER_TYPES),
    ("payment_method", PAYMENT_METHODS),
    ("channel", CHANNELS),
    ("status", STATUSES),
)
_HEADER_TEXT = (
    ("order_id", True),
    ("customer_id", True),
    ("customer_name", False),
    ("customer_email", False),
    ("customer_city", False),
    ("customer_country", False),
)


def _number(values: dict[str, Any], column: str, options: ParseOptions) -> Decimal | None:
    raw = values.get(column)
    if _blank(raw):
        return None
    return parse_decimal(raw, options, column)


def _quantity_error(quantity: Decimal) -> _Invalid | None:
    if quantity <= 0:
        return _Invalid("quantity_not_positive", f"quantity {quantity} must be > 0")
    if quantity >= _MAX_QUANTITY or not _scale_ok(quantity, QUANTITY_PLACES):
        return _Invalid("bad_quantity", f"quantity {quantity} has more than 3 decimals or is huge")
    return None


def _price_error(unit_price: Decimal) -> _Invalid | None:
    if unit_price < 0:
        return _Invalid("negative_price", f"unit_price {unit_price} must be ≥ 0")
    if unit_price >= _MAX_PRICE or not _scale_ok(unit_price, MONEY_PLACES):
        return _Invalid("bad_price", f"unit_price {unit_price} has more than 6 decimals or is huge")
    return None


def _discount_error(discount: Decimal) -> _Invalid | None:
    if discount < 0:
        return _Invalid("negative_discount", f"discount {discount} must be ≥ 0")
    if discount >= _MAX_PRICE or not _scale_ok(discount, MONEY_PLACES):
        return _Invalid("bad_discount", f"discount {discount} has more than 6 decimals or is huge")
    return None


def _line_amount_error(amount: Decimal) -> _Invalid | None:
    if amount < 0:
        return _Invalid("negative_amount", f"line_amount {amount} must be ≥ 0")
    if amount >= _MAX_AMOUNT or not _scale_ok(amount, MONEY_PLACES):
        return _Invalid("bad_amount", f"line_amount {amount} has more than 6 decimals or is huge")
    return None


_NUMBER_RULES: dict[str, Callable[[Decimal], _Invalid | None]] = {
    "quantity": _quantity_error,
    "unit_price": _price_error,
    "discount": _discount_error,
    "line_amount": _line_amount_error,
}


def _careful_line(values: dict[str, Any], options: ParseOptions) -> tuple[Decimal, list[_Invalid]]:
    """Line-level fields of one row, every rule checked and every problem described; the line's
    amount when they are valid."""
    errors: list[_Invalid] = []
    for column, required in _LINE_TEXT:
        try:
            _text(values, column, required)
        except _Invalid as exc:
            errors.append(exc)
    numbers: dict[str, Decimal | None] = {}
    for column in ("quantity", "unit_price", "discount", "line_amount"):
        try:
            number = _number(values, column, options)
            if number is None and column in ("quantity", "unit_price"):
                raise _Invalid("missing_value", f"{column} is required but empty")
            numbers[column] = number
        except _Invalid as exc:
            numbers[column] = None
            errors.append(exc)
    for column, rule in _NUMBER_RULES.items():
        number = numbers[column]
        if number is not None and (error := rule(number)) is not None:
            errors.append(error)
    quantity, unit_price, discount = numbers["quantity"], numbers["unit_price"], numbers["discount"]
    line_amount = numbers["line_amount"]
    line_no = 0
    raw_line = values.get("line_no")
    if not _blank(raw_line):
        try:
            line_no = int(str(raw_line).strip())
            if line_no < 1:
                raise ValueError
        except ValueError:
            line_no = 0
            errors.append(
                _Invalid("bad_line_no", f"line_no {raw_line!r} is not a whole number ≥ 1")
            )
    amount = Decimal(0)
    if quantity is not None and unit_price is not None and not errors:
        exact = quantity * unit_price - (discount or 0)
        amount = exact.quantize(CENT, ROUND_HALF_UP)
        if amount < 0:
            errors.append(
                _Invalid(
                    "discount_too_large",
                    f"discount {discount} exceeds the line's value {quantity} × {unit_price}",
                )
            )
        elif line_amount is not None:
            if abs(line_amount - exact) > CENT:
                errors.append(
                    _Invalid(
                        "amount_mismatch",
                        f"line_amount {line_amount} differs from quantity × unit_price − "
                        f"discount = {quantity} × {unit_price} − {discount or 0} = {exact} by "
                        "more than 0.01",
                    )
                )
            amount = line_amount
        elif amount >= _MAX_AMOUNT:
            errors.append(
                _Invalid(
                    "bad_amount",
                    f"the line's amount {quantity} × {unit_price} = {amount} is huge "
                    f"(the most is {_MAX_AMOUNT:,.0f})",
                )
            )
    return amount, errors


def _show(value: Any) -> str:
    if isinstance(value, np.datetime64):  # a date column's: as its Python date or datetime
        value = None if np.isnat(value) else value.item()
    return "(empty)" if value is None else repr(str(value))


_LINE_TEXT = (("sku", True), ("product_name", False), ("category", False), ("brand", False))
_NONE = -1  # a missing date's day number, a missing line_amount


@dataclass(slots=True)
class _Column:
    """One column checked through its distinct values: ``idx`` maps each row to its distinct
    value; ``ok`` and ``value`` (the parsed value) are per distinct value, and ``vid`` numbers
    the parsed values (equal parsed values, equal ids). The values of a date column are numpy
    datetimes (``NaT`` where empty or invalid), the others Python objects."""

    idx: npt.NDArray[np.intp]
    ok: npt.NDArray[np.bool_]
    value: npt.NDArray[Any]
    vid: I64

    def rows_ok(self) -> npt.NDArray[np.bool_]:
        return self.ok[self.idx]


# Given a column's distinct values (text), which of them are certainly valid, and their parsed
# values (an array of the column's kind); the others go through the column's parser one by one.
_Sure = Callable[[pa.Array], tuple[npt.NDArray[np.bool_], npt.NDArray[Any]]]

#: The date columns and the unit of their numpy values: a moment, or a day.
_MOMENT_UNITS = {"ordered_at": "us", "invoiced_at": "D", "due_at": "D", "paid_at": "D"}
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def _check_column(
    array: pa.Array | None,
    n: int,
    parse: Callable[[Any], Any],
    sure: _Sure | None = None,
    numbered: bool = False,
    unit: str | None = None,
) -> _Column:
    """Parse and check a column once per distinct value (``parse`` raises ``_Invalid``);
    ``numbered``: number the parsed values (``vid``, for the columns compared across lines);
    ``unit``: a date column, whose values are numpy datetimes of that unit (``NaT`` where empty
    or invalid), converted from text in native code, never through Python objects."""
    if array is None or pa.types.is_null(array.type):
        distinct = pa.array([None], pa.string())
        idx = np.zeros(n, dtype=np.intp)
    else:
        encoded = pc.dictionary_encode(array, null_encoding="encode")
        distinct = encoded.dictionary
        idx = encoded.indices.to_numpy(zero_copy_only=False).astype(np.intp, copy=False)
    if sure is not None and pa.types.is_string(distinct.type):
        ok, value = sure(distinct)
        ok = ok.copy()
    else:
        ok = np.zeros(len(distinct), dtype=bool)
        if unit is None:
            value = np.empty(len(distinct), dtype=object)
        else:
            value = np.full(len(distinct), np.datetime64("NaT"), dtype=f"datetime64[{unit}]")
    for i in np.flatnonzero(~ok).tolist():
        try:
            value[i] = parse(distinct[i].as_py())
            ok[i] = True
        except _Invalid:
            value[i] = None
    vid = np.zeros(len(value), dtype=np.int64)
    if numbered and unit is not None:
        vid[:] = np.unique(value.view(np.int64), return_inverse=True)[1].reshape(-1)
    elif numbered:
        texts = _as_text(value)
        if texts is not None:
            vid[:] = pc.dictionary_encode(texts, null_encoding="encode").indices.to_numpy(
                zero_copy_only=False
            )
        else:
            ids: dict[Any, int] = {}
            vid[:] = [ids.setdefault(v, len(ids)) for v in value.tolist()]
    return _Column(idx, ok, value, vid)


def _as_text(value: npt.NDArray[Any]) -> pa.Array | None:
    """Parsed values as a pyarrow text array when they are all text (or None)."""
    try:
        return pa.array(value.tolist(), pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None


# The characters str.strip() removes (every c with c.isspace()), as an RE2 class.
_SPACE = (
    r"[\t\n\x0b\x0c\r\x1c-\x1f \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}"
    r"\x{205f}\x{3000}]"
)
_EDGE_SPACE = f"^{_SPACE}|{_SPACE}$"


def _sure_text(required: bool, limit: int | None) -> _Sure:
    """Text that is valid as it is: nothing to strip, not empty, not too long, no NUL
    character (``_text`` rejects those: PostgreSQL cannot store them)."""

    def sure(distinct: pa.Array) -> tuple[npt.NDArray[np.bool_], npt.NDArray[Any]]:
        length = pc.utf8_length(distinct)
        ok = pc.and_(
            pc.invert(pc.match_substring_regex(distinct, _EDGE_SPACE)), pc.greater(length, 0)
        )
        ok = pc.and_(ok, pc.invert(pc.match_substring(distinct, "\x00")))
        if limit is not None:
            ok = pc.and_(ok, pc.less_equal(length, limit))
        value = np.empty(len(distinct), dtype=object)
        value[:] = distinct.to_pylist()
        return pc.fill_null(ok, False).to_numpy(zero_copy_only=False).copy(), value

    return sure


_ISO_DAY = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_ISO_MOMENT = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}$"


def _sure_iso(with_time: bool) -> _Sure:
    """ISO dates (and, ``with_time``, date-times to the second) of the years 1900-2200, parsed
    in native code; anything else goes through ``parse_datetime``."""

    def sure(distinct: pa.Array) -> tuple[npt.NDArray[np.bool_], npt.NDArray[Any]]:
        parsed = pc.strptime(distinct, format="%Y-%m-%d", unit="us", error_is_null=True)
        parsed = pc.if_else(pc.match_substring_regex(distinct, _ISO_DAY), parsed, None)
        if with_time:
            moments = pc.strptime(
                pc.replace_substring(distinct, "T", " ", max_replacements=1),
                format="%Y-%m-%d %H:%M:%S",
                unit="us",
                error_is_null=True,
            )
            timed = pc.match_substring_regex(distinct, _ISO_MOMENT)
            parsed = pc.if_else(timed, moments, parsed)
        year = pc.year(parsed)
        ok = pc.and_(pc.greater_equal(year, 1900), pc.less_equal(year, 2200))
        moments = (parsed if with_time else parsed.cast(pa.date32())).to_numpy(zero_copy_only=False)
        value = np.array(moments, dtype="datetime64[us]" if with_time else "datetime64[D]")
        return pc.fill_null(ok, False).to_numpy(zero_copy_only=False).copy(), value

    return sure


def _sure_number(places: int, digits: int, positive: bool) -> _Sure:
    """Plain numbers (digits, an optional '.' and at most ``places`` decimals, under 10 to the
    ``digits``) as scaled integers, converted in native code."""
    pattern = f"^[0-9]{{1,{digits}}}(\\.[0-9]{{1,{places}}})?$"
    exact = pa.decimal128(digits + places, places)

    def sure(distinct: pa.Array) -> tuple[npt.NDArray[np.bool_], npt.NDArray[Any]]:
        match = pc.fill_null(pc.match_substring_regex(distinct, pattern), False)
        ok = match.to_numpy(zero_copy_only=False).copy()
        value = np.empty(len(distinct), dtype=object)
        at = np.flatnonzero(ok)
        if len(at):
            numbers = pc.cast(distinct.filter(match), exact)
            words = np.frombuffer(numbers.buffers()[1], dtype=np.int64)
            scaled = words[2 * numbers.offset : 2 * (numbers.offset + len(numbers)) : 2]
            value[at] = scaled.tolist()
            if positive:
                ok[at[scaled <= 0]] = False
        return ok, value

    return sure


def _scaled(places: int) -> Callable[[Decimal], int]:
    unit = Decimal(1).scaleb(places)
    return lambda number: int(number * unit)


def _number_parser(
    column: str, options: ParseOptions, required: bool, places: int
) -> Callable[[Any], int | None]:
    rule = _NUMBER_RULES[column]
    scale = _scaled(places)

    def parse(raw: Any) -> int | None:
        number = _number({column: raw}, column, options)
        if number is None:
            if required:
                raise _Invalid("missing_value", f"{column} is required but empty")
            return None
        error = rule(number)
        if error is not None:
            raise error
        return scale(number)

    return parse


def _parsers(
    options: ParseOptions, default_currency: str
) -> dict[str, tuple[Callable[[Any], Any], _Sure | None]]:
    """Column -> a parser of one value (the rules of ``_parse_header`` and ``_careful_line``),
    and what is surely valid in a column of text without it."""

    def text(column: str, required: bool) -> Callable[[Any], str | None]:
        return lambda raw: _text({column: raw}, column, required)

    def ordered_at(raw: Any) -> datetime:
        if _blank(raw):
            raise _Invalid("missing_value", "ordered_at is required but empty")
        return parse_datetime(raw, options, "ordered_at")

    def day(column: str) -> Callable[[Any], date | None]:
        return lambda raw: None if _blank(raw) else parse_date(raw, options, column)

    def currency(raw: Any) -> str:
        code = (_text({"currency": raw}, "currency") or default_currency).upper()
        if code not in ISO_4217:
            raise _Invalid("unknown_currency", f"currency {raw!r} is not an ISO 4217 code")
        return code

    def enum(column: str, allowed: frozenset[str]) -> Callable[[Any], str | None]:
        return lambda raw: _enum(_text({column: raw}, column), allowed, column)

    def status(raw: Any) -> str:
        return _enum(_text({"status": raw}, "status"), STATUSES, "status") or "completed"

    def line_no(raw: Any) -> int:
        if _blank(raw):
            return 0  # default: the line's position in its order
        try:
            number = int(str(raw).strip())
        except ValueError:
            number = 0
        if number < 1:
            raise _Invalid("bad_line_no", f"line_no {raw!r} is not a whole number ≥ 1")
        return number

    plain = options.decimal == "." and not options.thousands
    parsers: dict[str, tuple[Callable[[Any], Any], _Sure | None]] = {
        column: (text(column, required), _sure_text(required, MAX_LENGTH.get(column)))
        for column, required in _HEADER_TEXT + _LINE_TEXT
    }
    iso = options.date_format is None and options.datetime_format is None
    parsers.update(
        ordered_at=(ordered_at, _sure_iso(True) if iso else None),
        invoiced_at=(day("invoiced_at"), _sure_iso(False) if iso else None),
        due_at=(day("due_at"), _sure_iso(False) if iso else None),
        paid_at=(day("paid_at"), _sure_iso(False) if iso else None),
        currency=(currency, None),
        customer_type=(enum("customer_type", CUSTOMER_TYPES), None),
        payment_method=(enum("payment_method", PAYMENT_METHODS), None),
        channel=(enum("channel", CHANNELS), None),
        status=(status, None),
        line_no=(line_no, None),
    )
    for column, required, places, digits in (
        ("quantity", True, QUANTITY_PLACES, 11),  # < 1e11
        ("unit_price", True, MONEY_PLACES, 10),  # < 1e10
        ("discount", False, MONEY_PLACES, 10),  # < 1e10
        ("line_amount", False, MONEY_PLACES, 12),  # < 1e12
    ):
        parsers[column] = (
            _number_parser(column, options, required, places),
            _sure_number(places, digits, column == "quantity") if plain else None,
        )
    return parsers


def _ints(column: _Column, missing: int = 0) -> I64:
    """A checked number column as scaled integers per row (``missing`` where None/invalid)."""
    per_value = np.array([missing if v is None else v for v in column.value], dtype=np.int64)
    return per_value[column.idx]


def _day_numbers(column: _Column) -> I64:
    """A date column's days per row as ordinals (``date.toordinal``), ``_NONE`` where empty."""
    days = column.value.astype("datetime64[D]")
    per_value = np.where(np.isnat(days), _NONE, days.view(np.int64) + _EPOCH_ORDINAL)
    return per_value[column.idx]


def _runs(sorted_keys: I64) -> npt.NDArray[np.intp]:
    """Start index of each run of equal values in a sorted array."""
    if not len(sorted_keys):
        return np.zeros(0, dtype=np.intp)
    return np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])


def _line_checks(
    checked: dict[str, _Column], rows: Rows, options: ParseOptions, line_ok: npt.NDArray[np.bool_]
) -> tuple[npt.NDArray[np.bool_], I64]:
    """The rules that combine a line's numbers, on whole columns: (failed, amount in millionths).

    ``quantity × unit_price − discount`` is computed in exact integers (10⁻⁹ units); the rare
    lines whose product could leave 64 bits go through ``_careful_line``.
    """
    quantity = _ints(checked["quantity"])
    price = _ints(checked["unit_price"])
    discount = _ints(checked["discount"])
    given = _ints(checked["line_amount"], _NONE)
    has_given = given != _NONE
    big = line_ok & (quantity.astype(np.float64) * price.astype(np.float64) >= 4e18)
    q, p = np.where(big, 0, quantity), np.where(big, 0, price)
    exact = q * p - discount * 1000  # 10⁻⁹ units
    cents = (exact + 5_000_000) // 10_000_000  # ROUND_HALF_UP to the cent (exact > -0.005 here)
    failed = (
        line_ok
        & ~big
        & ((exact <= -5_000_000) | (has_given & (np.abs(given * 1000 - exact) > 10_000_000)))
    )
    amount = np.where(has_given, given, cents * 10_000)
    for i in np.flatnonzero(big).tolist():
        value, errors = _careful_line(rows.values(i), options)
        if errors:
            failed[i] = True
        else:
            amount[i] = int(value.scaleb(MONEY_PLACES))
    return failed, amount


def validate_chunk(
    chunk: Chunk, default_currency: str = "EUR", since: datetime | None = None
) -> Validated:
    """Validate the rows of one chunk; problems the source reported become rejects too.

    Rows of orders placed before ``since`` are skipped (counted, not rejected).
    """
    rows = chunk.rows
    options = chunk.options
    n = len(rows)
    rejects = [Reject(p.key, p.rule, p.reason, p.raw) for p in chunk.problems]
    parsers = _parsers(options, default_currency)
    compared = ("order_id", *ORDER_FIELDS)
    checked = {
        column: _check_column(
            rows.columns.get(column), n, parse, sure, column in compared, _MOMENT_UNITS.get(column)
        )
        for column, (parse, sure) in parsers.items()
    }
    valid = np.ones(n, dtype=bool)
    for result in checked.values():
        valid &= result.rows_ok()
    invoiced = _day_numbers(checked["invoiced_at"])
    due = _day_numbers(checked["due_at"])
    paid = _day_numbers(checked["paid_at"])
    valid &= ~((invoiced != _NONE) & (((paid != _NONE) & (paid < invoiced)) | (
        (due != _NONE) & (due < invoiced)
    )))  # fmt: skip
    line_columns = ("sku", "product_name", "category", "brand", "quantity", "unit_price",
                    "discount", "line_amount", "line_no")  # fmt: skip
    line_ok = np.ones(n, dtype=bool)
    for name in line_columns:
        line_ok &= checked[name].rows_ok()
    failed, amount = _line_checks(checked, rows, options, line_ok)
    valid &= ~failed

    # Orders: rows grouped by their order id (in order of first appearance); a row without a
    # valid id is invalid, so alone.
    order_ids = checked["order_id"]
    group = order_ids.vid[order_ids.idx]
    by_group = np.argsort(group, kind="stable")
    starts = _runs(group[by_group])
    position = np.empty(n, dtype=np.int64)
    run_of = np.repeat(starts, np.diff(np.r_[starts, n]))
    position[by_group] = np.arange(n) - run_of + 1
    line_no = _ints(checked["line_no"])
    line_no = np.where(line_no == 0, position, line_no)

    # (group rank, phase, tie, row) of each rejected row: the order of the rejects list.
    rejected: list[tuple[int, int, int, int, Reject]] = []
    for i in np.flatnonzero(~valid).tolist():
        values = rows.values(i)
        _, header_errors = _parse_header(values, options, default_currency)
        _, line_errors = _careful_line(values, options)
        errors = header_errors + line_errors
        assert errors, f"row {rows.keys[i]} failed a columnar check but no per-row rule"
        key = rows.keys[i]
        detail = "; ".join(e.message for e in errors)
        reject = Reject(key, errors[0].rule, f"{key}: {detail}", rows.raw_row(i))
        rejected.append((int(group[i]), 0, 0, i, reject))

    # Lines of one order that disagree on an order-level field: the whole order is rejected.
    kept = valid.copy()
    members = by_group[valid[by_group]]
    member_groups = group[members]
    member_starts = _runs(member_groups)
    first_of = np.repeat(members[member_starts], np.diff(np.r_[member_starts, len(members)]))
    differs: dict[str, npt.NDArray[np.bool_]] = {}
    for name in ORDER_FIELDS:
        vid = checked[name].vid[checked[name].idx]
        differs[name] = vid[members] != vid[first_of]
    odd = np.zeros(len(members), dtype=bool)
    for flags in differs.values():
        odd |= flags
    for g in np.unique(member_groups[odd]).tolist():
        at = np.flatnonzero(member_groups == g)
        in_order = members[at]
        columns = [c for c in ORDER_FIELDS if differs[c][at].any()]
        column = columns[0]
        first_row = int(in_order[0])
        odd_row = int(in_order[np.flatnonzero(differs[column][at])[0]])
        shown = checked[column]
        oid = order_ids.value[order_ids.idx[first_row]]
        reason = (
            f"order {oid}: its lines disagree on {', '.join(columns)} — {column} is "
            f"{_show(shown.value[shown.idx[first_row]])} at {rows.keys[first_row]} but "
            f"{_show(shown.value[shown.idx[odd_row]])} at {rows.keys[odd_row]}; the whole order "
            "is rejected, "
            "fix the lines to agree"
        )
        for i in in_order.tolist():
            kept[i] = False
            reject = Reject(rows.keys[i], "order_lines_disagree", reason, rows.raw_row(i))
            rejected.append((g, 1, 0, i, reject))

    # A line number used twice in an order: none of those lines is loaded.
    candidates = np.flatnonzero(kept)
    ordered = candidates[np.lexsort((line_no[candidates], group[candidates]))]
    pairs = np.stack([group[ordered], line_no[ordered]]) if len(ordered) else np.zeros((2, 0))
    same = (pairs[:, 1:] == pairs[:, :-1]).all(axis=0) if len(ordered) > 1 else np.zeros(0, bool)
    if same.any():
        dup = np.zeros(len(ordered), dtype=bool)
        dup[1:] |= same
        dup[:-1] |= same
        duplicated: dict[tuple[int, int], list[int]] = {}
        for i in sorted(ordered[dup].tolist()):
            duplicated.setdefault((int(group[i]), int(line_no[i])), []).append(i)
        for (g, number), same_rows in duplicated.items():
            oid = order_ids.value[order_ids.idx[same_rows[0]]]
            where = ", ".join(rows.keys[i] for i in same_rows)
            reason = (
                f"order {oid} has line {number} more than once ({where}); none of them "
                "is loaded — keep one line per line_no"
            )
            for i in same_rows:
                kept[i] = False
                reject = Reject(rows.keys[i], "duplicate_line", reason, rows.raw_row(i))
                rejected.append((g, 1, same_rows[0], i, reject))
    rejected.sort(key=lambda r: r[:4])
    rejects.extend(r[4] for r in rejected)

    skipped = 0
    if since is not None:
        ordered_at = checked["ordered_at"]
        before = ordered_at.value < np.datetime64(since, "us")  # NaT: never before
        early = kept & before[ordered_at.idx]
        skipped = int(early.sum())
        kept &= ~early
    lines = np.flatnonzero(kept)
    lines = lines[np.lexsort((line_no[lines], group[lines]))]
    batch = _batch(checked, lines, group, line_no, amount)
    return Validated(batch, rejects, len(lines), skipped)


def _batch(
    checked: dict[str, _Column], lines: npt.NDArray[np.intp], group: I64, line_no: I64, amount: I64
) -> OrderBatch:
    """The valid lines (sorted by order, then line number) as an ``OrderBatch``."""
    line_start = _runs(group[lines])
    firsts = lines[line_start]
    offsets = np.r_[line_start, len(lines)].astype(np.int64)

    def at(column: str, where: npt.NDArray[np.intp]) -> list[Any]:
        c = checked[column]
        return list(c.value[c.idx[where]])

    def moments(column: str) -> npt.NDArray[np.datetime64]:
        c = checked[column]
        return c.value[c.idx[firsts]]

    quantity = _ints(checked["quantity"])[lines]
    amounts = amount[lines]
    order_values: dict[str, Any] = {
        column: moments(column) if column in _MOMENT_UNITS else at(column, firsts)
        for column in ("order_id", *ORDER_FIELDS)
    }
    batch = OrderBatch(
        **order_values,
        content_hash=[],
        line_start=offsets,
        n_items=np.add.reduceat(quantity, line_start) if len(lines) else quantity,
        total_amount=np.add.reduceat(amounts, line_start) if len(lines) else amounts,
        line_no=line_no[lines],
        sku=at("sku", lines),
        product_name=at("product_name", lines),
        category=at("category", lines),
        brand=at("brand", lines),
        quantity=quantity,
        unit_price=_ints(checked["unit_price"])[lines],
        discount=_ints(checked["discount"])[lines],
        amount=amounts,
    )
    batch.content_hash = _content_hashes(checked, batch, lines, firsts)
    return batch


def _texts(column: _Column, where: npt.NDArray[np.intp]) -> pa.Array:
    """A column's values at ``where`` as text ("" where empty); dates as ``str`` writes them
    ("2024-01-31", "2024-01-31 10:00:00", with microseconds only when there are some)."""
    if column.value.dtype.kind == "M":
        text = pa.array(column.value, mask=np.isnat(column.value)).cast(pa.string())
        if column.value.dtype != np.dtype("datetime64[D]"):
            text = pc.replace_substring_regex(text, r"\.000000$", "")
    else:
        text = _as_text(column.value)
    if text is None:
        text = pa.array(["" if v is None else str(v) for v in column.value.tolist()])
    return pc.take(pc.fill_null(text, ""), pa.array(column.idx[where]))


def _content_hashes(
    checked: dict[str, _Column],
    batch: OrderBatch,
    lines: npt.NDArray[np.intp],
    firsts: npt.NDArray[np.intp],
) -> list[str]:
    """A digest per order of everything the warehouse stores about it: equal = nothing to do.

    The texts are joined column by column in native code; only the digest runs per order.
    """
    if not len(lines):
        return []
    header = pc.binary_join_element_wise(
        *(_texts(checked[c], firsts) for c in ORDER_FIELDS if c not in _HASHED_WHEN_GIVEN),
        "\x1f",
    )
    for column in _HASHED_WHEN_GIVEN:
        # Appended only where given, so adding the column to the format did not change the
        # digest of the orders stored before (a reload would have rewritten them all).
        given = _texts(checked[column], firsts)
        tagged = pc.binary_join_element_wise(header, pa.scalar(column), given, "\x1f")
        header = pc.if_else(pc.equal(given, ""), header, tagged)
    numbers = [
        pa.array(batch.line_no).cast(pa.string()),
        pa.array(batch.quantity).cast(pa.string()),
        pa.array(batch.unit_price).cast(pa.string()),
        pa.array(batch.discount).cast(pa.string()),
        pa.array(batch.amount).cast(pa.string()),
    ]
    texts = [_texts(checked[c], lines) for c in ("sku", "product_name", "category", "brand")]
    each_line = pc.binary_join_element_wise(*numbers, *texts, "\x1f")
    per_order = pc.binary_join(
        pa.ListArray.from_arrays(pa.array(batch.line_start, pa.int32()), each_line), "\x1e"
    )
    whole = pc.binary_join_element_wise(header, per_order, "\x1d").cast(pa.binary())
    blake2b = hashlib.blake2b
    return [blake2b(b, digest_size=16).hexdigest() for b in whole.to_pylist()]


def raw_json(raw: dict[str, Any] | None) -> str | None:
    """The raw row as JSON for ``etl_reject.raw`` (values that JSON lacks become text)."""
    if raw is None:
        return None
    return json.dumps(raw, ensure_ascii=False, default=str)


def describe_rules(rejects: Iterable[Reject]) -> dict[str, int]:
    """Reject counts by rule."""
    counts: dict[str, int] = {}
    for reject in rejects:
        counts[reject.rule] = counts.get(reject.rule, 0) + 1
    return counts
