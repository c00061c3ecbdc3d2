"""Validation of raw order lines before they reach the warehouse.

Every rule has a short name (``etl_reject.rule``) and every rejection a reason a person can act
on: where (file and line, or source key), which field, which value, what was expected. A bad line
is rejected alone and the rest of its order loads; when the lines of one order disagree on an
order-level field (customer, dates, payment, channel, status, currency) the whole order is
rejected, since no line can be trusted over another. Nothing is dropped or "fixed" silently:
values are only normalised (whitespace, case of enumerations and currency codes).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.orders.base import Chunk, ParseOptions, RawRow
from etl.currencies import ISO_4217

PAYMENT_METHODS = frozenset(
    {"card", "transfer", "cheque", "cash", "direct_debit", "financing", "paypal", "other"}
)
CHANNELS = frozenset({"web", "store", "phone", "sales_rep", "marketplace", "other"})
STATUSES = frozenset({"completed", "cancelled", "returned"})

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
    "ordered_at",
    "currency",
    "payment_method",
    "channel",
    "status",
    "invoiced_at",
    "due_at",
    "paid_at",
)
CENT = Decimal("0.01")
_MAX_QUANTITY = Decimal("1e11")
_MAX_PRICE = Decimal("1e10")


@dataclass(slots=True)
class Line:
    """A valid order line."""

    line_no: int
    sku: str
    product_name: str | None
    category: str | None
    brand: str | None
    quantity: Decimal
    unit_price: Decimal
    discount: Decimal
    amount: Decimal
    key: str


@dataclass(slots=True)
class Order:
    """A valid order with its valid lines (order-level fields agreed by all of them)."""

    order_id: str
    customer_id: str
    customer_name: str | None
    customer_email: str | None
    customer_city: str | None
    customer_country: str | None
    ordered_at: datetime
    currency: str
    payment_method: str | None
    channel: str | None
    status: str
    invoiced_at: date | None
    due_at: date | None
    paid_at: date | None
    lines: list[Line] = field(default_factory=list)

    @property
    def total_amount(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))

    @property
    def n_items(self) -> Decimal:
        return sum((line.quantity for line in self.lines), Decimal(0))

    def content_hash(self) -> str:
        """A digest of everything the warehouse stores about the order: equal = nothing to do."""
        parts: list[Any] = [
            self.customer_id,
            self.customer_name,
            self.customer_email,
            self.customer_city,
            self.customer_country,
            self.ordered_at.isoformat(),
            self.currency,
            self.payment_method,
            self.channel,
            self.status,
            str(self.invoiced_at),
            str(self.due_at),
            str(self.paid_at),
        ]
        for ln in sorted(self.lines, key=lambda x: x.line_no):
            parts += [
                ln.line_no,
                ln.sku,
                ln.product_name,
                ln.category,
                ln.brand,
                str(ln.quantity),
                str(ln.unit_price),
                str(ln.discount),
            ]
        return hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()


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

    orders: list[Order]
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
# What _fast_day returns for a value it leaves to the careful path (no valid date is this old).
_UNUSUAL = date.min
_OPTIONAL_HEADER_TEXT = tuple(
    (column, MAX_LENGTH[column]) for column, required in _HEADER_TEXT if not required
)


def _fast_day(value: Any, days: dict[str, date]) -> date | None:
    """An optional ISO date column in the common case: None when blank, ``_UNUSUAL`` else.

    ``days`` remembers the chunk's dates already parsed (invoice, due and payment dates repeat
    across orders).
    """
    if value is None:
        return None
    if type(value) is not str:
        return _UNUSUAL
    text = value.strip()
    if not text:
        return None
    day = days.get(text)
    if day is None:
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return _UNUSUAL
        if parsed.tzinfo is not None or not 1900 <= parsed.year <= 2200:
            return _UNUSUAL
        day = days[text] = parsed.date()
    return day


def _fast_header(
    values: dict[str, Any], default_currency: str, days: dict[str, date]
) -> dict[str, Any] | None:
    """The common case of ``_parse_header`` (ISO text, every field valid) without its
    bookkeeping; for sources without date formats.

    Returns None whenever anything is unusual; ``_parse_header`` then does the careful work and
    writes the messages. It accepts nothing that ``_parse_header`` would reject, and gives what
    it would give.
    """
    get = values.get
    order_id, customer_id, ordered_at = get("order_id"), get("customer_id"), get("ordered_at")
    if type(order_id) is not str or type(customer_id) is not str or type(ordered_at) is not str:
        return None
    order_id, customer_id = order_id.strip(), customer_id.strip()
    if not order_id or not customer_id or len(order_id) > 128 or len(customer_id) > 128:
        return None
    if "\x00" in order_id or "\x00" in customer_id:
        return None
    order: dict[str, Any] = {"order_id": order_id, "customer_id": customer_id}
    for column, limit in _OPTIONAL_HEADER_TEXT:
        value = get(column)
        if value is not None:
            if type(value) is not str:
                return None
            value = value.strip()
            if len(value) > limit or "\x00" in value:
                return None
        order[column] = value or None
    try:
        ordered = datetime.fromisoformat(ordered_at.strip())
    except ValueError:
        return None
    if ordered.tzinfo is not None or not 1900 <= ordered.year <= 2200:
        return None
    order["ordered_at"] = ordered
    invoiced = order["invoiced_at"] = _fast_day(get("invoiced_at"), days)
    due = order["due_at"] = _fast_day(get("due_at"), days)
    paid = order["paid_at"] = _fast_day(get("paid_at"), days)
    if invoiced is _UNUSUAL or due is _UNUSUAL or paid is _UNUSUAL:
        return None
    if invoiced is not None and (
        (paid is not None and paid < invoiced) or (due is not None and due < invoiced)
    ):
        return None
    currency = get("currency")
    if currency is None:
        code = default_currency.upper()
    elif type(currency) is str:
        code = (currency.strip() or default_currency).upper()
    else:
        return None
    if code not in ISO_4217:
        return None
    order["currency"] = code
    for column, allowed in _ENUMS:
        value = get(column)
        if value is not None:
            if type(value) is not str:
                return None
            value = value.strip().lower()
            if value and value not in allowed:
                return None
        order[column] = value or None
    if order["status"] is None:
        order["status"] = "completed"
    return order


def _header(
    values: dict[str, Any], options: ParseOptions, default_currency: str, days: dict[str, date]
) -> tuple[dict[str, Any], list[_Invalid]]:
    """Order-level fields of one row: the fast path when it applies, else the careful one."""
    if options.date_format is None and options.datetime_format is None:
        order = _fast_header(values, default_currency, days)
        if order is not None:
            return order, []
    return _parse_header(values, options, default_currency)


def _number(values: dict[str, Any], column: str, options: ParseOptions) -> Decimal | None:
    raw = values.get(column)
    if _blank(raw):
        return None
    if isinstance(raw, str) and options.decimal == "." and not options.thousands:
        # Fast path for plain numbers; anything odd goes through parse_decimal for its message.
        try:
            number = Decimal(raw)
        except InvalidOperation:
            return parse_decimal(raw, options, column)
        if number.is_finite():
            return number
    return parse_decimal(raw, options, column)


_ZERO = Decimal(0)


def _places_ok(text: str, places: int) -> bool:
    # Decimal places read from the text (Decimal.as_tuple is slow); exponents go the careful way.
    if "e" in text or "E" in text:
        return False
    dot = text.find(".")
    return dot < 0 or len(text.rstrip()) - dot - 1 <= places


def _fast_line(values: dict[str, Any]) -> Line | None:
    """The common case (plain text numbers, everything valid) without the error bookkeeping.

    Returns None whenever anything is unusual; ``_parse_line`` then does the careful work and
    writes the messages. It accepts nothing that ``_parse_line`` would reject.
    """
    get = values.get
    sku, quantity, price, discount = get("sku"), get("quantity"), get("unit_price"), get("discount")
    if type(sku) is not str or type(quantity) is not str or type(price) is not str:
        return None
    sku = sku.strip()
    # The decimal places read from the text (Decimal.as_tuple is slow), at most 3 for a quantity
    # and 4 for a price; exponents, and trailing blanks that would miscount, go the careful way.
    if (
        not sku
        or len(sku) > 64
        or "\x00" in sku
        or "e" in quantity
        or "E" in quantity
        or "e" in price
        or "E" in price
        or ((dot := quantity.find(".")) >= 0 and len(quantity) - dot > 4)
        or ((dot := price.find(".")) >= 0 and len(price) - dot > 5)
    ):
        return None
    try:
        q = Decimal(quantity)
        p = Decimal(price)
        if discount is None or discount == "" or discount == "0":
            d = _ZERO
        elif type(discount) is str and _places_ok(discount, 2):
            d = Decimal(discount)
        else:
            return None
        # NaN makes these comparisons raise InvalidOperation; infinities fail the bounds.
        if not (_ZERO < q < _MAX_QUANTITY and _ZERO <= p < _MAX_PRICE and _ZERO <= d < _MAX_PRICE):
            return None
    except InvalidOperation:
        return None
    amount = (q * p - d).quantize(CENT, ROUND_HALF_UP)
    if amount < _ZERO:
        return None
    line_no = get("line_no")
    if line_no is None or line_no == "":
        number = 0
    elif type(line_no) is str and line_no.isdigit() and line_no.isascii():
        number = int(line_no)
        if number < 1:
            return None
    else:
        return None
    name, category, brand = get("product_name"), get("category"), get("brand")
    if name:
        if type(name) is not str or len(name) > 255 or "\x00" in name:
            return None
        name = name.strip() or None
    else:
        name = None
    if category:
        if type(category) is not str or len(category) > 64 or "\x00" in category:
            return None
        category = category.strip() or None
    else:
        category = None
    if brand:
        if type(brand) is not str or len(brand) > 64 or "\x00" in brand:
            return None
        brand = brand.strip() or None
    else:
        brand = None
    return Line(number, sku, name, category, brand, q, p, d, amount, "")


def _parse_line(values: dict[str, Any], options: ParseOptions) -> tuple[Line, list[_Invalid]]:
    """Line-level fields of one row."""
    if options.decimal == "." and not options.thousands:
        line = _fast_line(values)
        if line is not None:
            return line, []
    return _careful_line(values, options)


def _careful_line(values: dict[str, Any], options: ParseOptions) -> tuple[Line, list[_Invalid]]:
    """Line-level fields of one row, every rule checked and every problem described."""
    errors: list[_Invalid] = []
    texts: dict[str, str | None] = {}
    for column, required in (
        ("sku", True),
        ("product_name", False),
        ("category", False),
        ("brand", False),
    ):
        try:
            texts[column] = _text(values, column, required)
        except _Invalid as exc:
            texts[column] = None
            errors.append(exc)
    numbers: dict[str, Decimal | None] = {}
    for column in ("quantity", "unit_price", "discount"):
        try:
            number = _number(values, column, options)
            if number is None and column != "discount":
                raise _Invalid("missing_value", f"{column} is required but empty")
            numbers[column] = number
        except _Invalid as exc:
            numbers[column] = None
            errors.append(exc)
    quantity, unit_price, discount = numbers["quantity"], numbers["unit_price"], numbers["discount"]
    if quantity is not None:
        if quantity <= 0:
            errors.append(_Invalid("quantity_not_positive", f"quantity {quantity} must be > 0"))
        elif quantity >= _MAX_QUANTITY or not _scale_ok(quantity, 3):
            errors.append(
                _Invalid("bad_quantity", f"quantity {quantity} has more than 3 decimals or is huge")
            )
    if unit_price is not None:
        if unit_price < 0:
            errors.append(_Invalid("negative_price", f"unit_price {unit_price} must be ≥ 0"))
        elif unit_price >= _MAX_PRICE or not _scale_ok(unit_price, 4):
            errors.append(
                _Invalid(
                    "bad_price", f"unit_price {unit_price} has more than 4 decimals or is huge"
                )
            )
    if discount is not None:
        if discount < 0:
            errors.append(_Invalid("negative_discount", f"discount {discount} must be ≥ 0"))
        elif not _scale_ok(discount, 2):
            errors.append(_Invalid("bad_discount", f"discount {discount} has more than 2 decimals"))
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
        amount = (quantity * unit_price - (discount or 0)).quantize(CENT, ROUND_HALF_UP)
        if amount < 0:
            errors.append(
                _Invalid(
                    "discount_too_large",
                    f"discount {discount} exceeds the line's value {quantity} × {unit_price}",
                )
            )
    line = Line(
        line_no=line_no,
        sku=texts["sku"] or "",
        product_name=texts["product_name"],
        category=texts["category"],
        brand=texts["brand"],
        quantity=quantity or Decimal(0),
        unit_price=unit_price or Decimal(0),
        discount=discount or Decimal(0),
        amount=amount,
        key="",
    )
    return line, errors


def _reject_of(row: RawRow, errors: list[_Invalid]) -> Reject:
    detail = "; ".join(e.message for e in errors)
    return Reject(row.key, errors[0].rule, f"{row.key}: {detail}", row.raw)


def _show(value: Any) -> str:
    return "(empty)" if value is None else repr(str(value))


def _order_key(values: dict[str, Any]) -> str:
    oid = values.get("order_id")
    return oid.strip() if isinstance(oid, str) else ("" if oid is None else str(oid))


def validate_chunk(
    chunk: Chunk, default_currency: str = "EUR", since: datetime | None = None
) -> Validated:
    """Validate the rows of one chunk; problems the source reported become rejects too.

    Rows of orders placed before ``since`` are skipped (counted, not rejected).
    """
    rejects = [Reject(p.key, p.rule, p.reason, p.raw) for p in chunk.problems]
    options = chunk.options
    groups: dict[str, list[RawRow]] = {}
    for row in chunk.rows:
        key = _order_key(row.values) or f"\x00{row.key}"  # no id: alone (and rejected)
        groups.setdefault(key, []).append(row)

    orders: list[Order] = []
    lines_valid = 0
    skipped = 0
    fast_lines = options.decimal == "." and not options.thousands
    days: dict[str, date] = {}  # the chunk's ISO dates already parsed (_fast_header)
    for oid, rows in groups.items():
        # Order-level fields repeat on every line: when their raw values agree (the usual case)
        # they are parsed once for the order.
        shared = None
        if len(rows) == 1:
            shared = _header(rows[0].values, options, default_currency, days)
        else:
            first_raw = tuple(map(rows[0].values.get, ORDER_FIELDS))
            if all(tuple(map(r.values.get, ORDER_FIELDS)) == first_raw for r in rows[1:]):
                shared = _header(rows[0].values, options, default_currency, days)
        members: list[tuple[RawRow, dict[str, Any], Line]] = []
        for position, row in enumerate(rows, 1):
            values = row.values
            header, header_errors = shared or _header(values, options, default_currency, days)
            fast = _fast_line(values) if fast_lines else None
            if fast is None:
                line, line_errors = _careful_line(values, options)
                if header_errors or line_errors:
                    rejects.append(_reject_of(row, header_errors + line_errors))
                    continue
            elif header_errors:
                rejects.append(_reject_of(row, header_errors))
                continue
            else:
                line = fast
            if line.line_no == 0:
                line.line_no = position  # default: row order within the order
            line.key = row.key
            members.append((row, header, line))
        if not members:
            continue
        first = members[0][1]
        disagree = (
            []
            if shared is not None
            else [
                column
                for column in ORDER_FIELDS
                if any(m[1][column] != first[column] for m in members[1:])
            ]
        )
        if disagree:
            column = disagree[0]
            odd = next(m for m in members if m[1][column] != first[column])
            reason = (
                f"order {oid}: its lines disagree on {', '.join(disagree)} — {column} is "
                f"{_show(first[column])} at {members[0][0].key} but {_show(odd[1][column])} at "
                f"{odd[0].key}; the whole order is rejected, fix the lines to agree"
            )
            rejects.extend(
                Reject(m[0].key, "order_lines_disagree", reason, m[0].raw) for m in members
            )
            continue
        kept: list[Line] = []
        if len(members) == 1:
            kept.append(members[0][2])
        elif len({m[2].line_no for m in members}) == len(members):
            kept.extend(m[2] for m in members)  # line numbers all distinct (the usual case)
        else:
            by_no: dict[int, list[tuple[RawRow, dict[str, Any], Line]]] = {}
            for member in members:
                by_no.setdefault(member[2].line_no, []).append(member)
            for line_no, same in by_no.items():
                if len(same) > 1:
                    where = ", ".join(m[0].key for m in same)
                    reason = (
                        f"order {oid} has line {line_no} more than once ({where}); none of them "
                        "is loaded — keep one line per line_no"
                    )
                    rejects.extend(
                        Reject(m[0].key, "duplicate_line", reason, m[0].raw) for m in same
                    )
                else:
                    kept.append(same[0][2])
        if not kept:
            continue
        if since is not None and first["ordered_at"] < since:
            skipped += len(kept)
            continue
        kept.sort(key=lambda ln: ln.line_no)
        orders.append(
            Order(
                order_id=first["order_id"],
                lines=kept,
                **{c: first[c] for c in ORDER_FIELDS},
            )
        )
        lines_valid += len(kept)
    return Validated(orders, rejects, lines_valid, skipped)


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
