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
from collections.abc import Callable, Iterable
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


def _validate_row(
    values: dict[str, Any], options: ParseOptions, default_currency: str
) -> tuple[dict[str, Any], Line, list[_Invalid]]:
    """Parse one row; every problem found is returned (a person fixes them all at once)."""
    errors: list[_Invalid] = []

    def attempt(func: Callable[[], Any]) -> Any:
        try:
            return func()
        except _Invalid as exc:
            errors.append(exc)
            return None

    order: dict[str, Any] = {}
    order["order_id"] = attempt(lambda: _text(values, "order_id", True))
    order["customer_id"] = attempt(lambda: _text(values, "customer_id", True))
    for column in ("customer_name", "customer_email", "customer_city", "customer_country"):
        order[column] = attempt(lambda c=column: _text(values, c))  # type: ignore[misc]

    def dt(column: str, required: bool) -> Any:
        raw = values.get(column)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if required:
                raise _Invalid("missing_value", f"{column} is required but empty")
            return None
        if column == "ordered_at":
            return parse_datetime(raw, options, column)
        return parse_date(raw, options, column)

    order["ordered_at"] = attempt(lambda: dt("ordered_at", True))
    for column in ("invoiced_at", "due_at", "paid_at"):
        order[column] = attempt(lambda c=column: dt(c, False))  # type: ignore[misc]

    def currency() -> str:
        code = (_text(values, "currency") or default_currency).upper()
        if code not in ISO_4217:
            raise _Invalid(
                "unknown_currency", f"currency {values.get('currency')!r} is not an ISO 4217 code"
            )
        return code

    order["currency"] = attempt(currency)
    order["payment_method"] = attempt(
        lambda: _enum(_text(values, "payment_method"), PAYMENT_METHODS, "payment_method")
    )
    order["channel"] = attempt(lambda: _enum(_text(values, "channel"), CHANNELS, "channel"))
    order["status"] = attempt(
        lambda: _enum(_text(values, "status"), STATUSES, "status") or "completed"
    )

    invoiced, due, paid = order["invoiced_at"], order["due_at"], order["paid_at"]
    if invoiced is not None and paid is not None and paid < invoiced:
        errors.append(
            _Invalid(
                "dates_out_of_order",
                f"paid_at {paid} is before invoiced_at {invoiced}",
            )
        )
    if invoiced is not None and due is not None and due < invoiced:
        errors.append(
            _Invalid("dates_out_of_order", f"due_at {due} is before invoiced_at {invoiced}")
        )

    def number(column: str, required: bool) -> Decimal | None:
        raw = values.get(column)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if required:
                raise _Invalid("missing_value", f"{column} is required but empty")
            return None
        return parse_decimal(raw, options, column)

    sku = attempt(lambda: _text(values, "sku", True))
    quantity = attempt(lambda: number("quantity", True))
    unit_price = attempt(lambda: number("unit_price", True))
    discount = attempt(lambda: number("discount", False))
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
    line_no: int | None = None
    raw_line = values.get("line_no")
    if raw_line is not None and str(raw_line).strip():
        try:
            line_no = int(str(raw_line).strip())
            if line_no < 1:
                raise ValueError
        except ValueError:
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
        line_no=line_no or 0,
        sku=sku or "",
        product_name=attempt(lambda: _text(values, "product_name")),
        category=attempt(lambda: _text(values, "category")),
        brand=attempt(lambda: _text(values, "brand")),
        quantity=quantity or Decimal(0),
        unit_price=unit_price or Decimal(0),
        discount=discount or Decimal(0),
        amount=amount,
        key="",
    )
    return order, line, errors


def _reject_of(row: RawRow, errors: list[_Invalid]) -> Reject:
    detail = "; ".join(e.message for e in errors)
    return Reject(row.key, errors[0].rule, f"{row.key}: {detail}", row.raw)


def _show(value: Any) -> str:
    return "(empty)" if value is None else repr(str(value))


def validate_chunk(
    chunk: Chunk, default_currency: str = "EUR", since: datetime | None = None
) -> Validated:
    """Validate the rows of one chunk; problems the source reported become rejects too.

    Rows of orders placed before ``since`` are skipped (counted, not rejected).
    """
    rejects = [Reject(p.key, p.rule, p.reason, p.raw) for p in chunk.problems]
    groups: dict[str, list[tuple[RawRow, dict[str, Any], Line]]] = {}
    positions: dict[str, int] = {}
    for row in chunk.rows:
        header, line, errors = _validate_row(row.values, chunk.options, default_currency)
        oid = header["order_id"]
        group = oid if oid is not None else f"\x00{row.key}"
        positions[group] = position = positions.get(group, 0) + 1
        if errors:
            rejects.append(_reject_of(row, errors))
            continue
        if line.line_no == 0:
            line.line_no = position  # default: row order within the order
        line.key = row.key
        groups.setdefault(group, []).append((row, header, line))

    orders: list[Order] = []
    lines_valid = 0
    skipped = 0
    for oid, members in groups.items():
        first = members[0][1]
        disagree = [
            column
            for column in ORDER_FIELDS
            if any(m[1][column] != first[column] for m in members[1:])
        ]
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
        by_no: dict[int, list[tuple[RawRow, dict[str, Any], Line]]] = {}
        for member in members:
            by_no.setdefault(member[2].line_no, []).append(member)
        kept: list[Line] = []
        for line_no, same in by_no.items():
            if len(same) > 1:
                where = ", ".join(m[0].key for m in same)
                reason = (
                    f"order {oid} has line {line_no} more than once ({where}); none of them is "
                    "loaded — keep one line per line_no"
                )
                rejects.extend(Reject(m[0].key, "duplicate_line", reason, m[0].raw) for m in same)
            else:
                kept.append(same[0][2])
        if not kept:
            continue
        if since is not None and first["ordered_at"] < since:
            skipped += len(kept)
            continue
        kept.sort(key=lambda ln: ln.line_no)
        orders.append(Order(order_id=oid, lines=kept, **{c: first[c] for c in ORDER_FIELDS}))
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
