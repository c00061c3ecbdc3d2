"""Currencies: exchange rates in the warehouse, and every order converted to the reporting currency.

**Rates** (``fx_rate``) come from a CSV ``date,currency,rate`` or a SQL query returning those
columns (``connectors.orders.rates``): ``rate`` units of ``currency`` per one unit of the reporting
currency (the ECB convention). ``load_rates`` validates each row (a bad one is rejected into
``etl_reject`` with its ``file:line`` and the field at fault, like a bad order row; the others
load), and upserts the good ones: loading the same rates again changes nothing, and a source whose
content did not change is not read into the table again.

**Conversion** (``convert_orders``): each order keeps its currency and amount; beside them it gets
``reporting_amount = ROUND(total_amount / rate, 6)`` with the latest rate of its currency dated on
or before the order's day and at most ``max_rate_age_days`` older. An order in the reporting
currency converts at 1 (its amount, exactly). An order without a usable rate keeps
``reporting_amount`` NULL: it is *flagged* (counted and listed per currency), and the statistics
leave it out of every money figure instead of summing it as if it were in the reporting currency.
Conversion is deterministic and idempotent: it only rewrites the (currency, day) groups whose
stored rate differs from the one the rates give now, so rates that arrive later (or a corrected
rate) fix the orders on the next run, and a rerun with nothing new writes nothing.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, func, literal, select, update
from sqlalchemy.engine import Connection, Engine

from connectors.orders.rates import RatesRead
from etl.currencies import ISO_4217
from etl.runs import start_run
from etl.schema import FxRate, etl_loaded_file, etl_reject, fact_order, fx_rate

if TYPE_CHECKING:
    # etl.validate loads pyarrow (the columnar load path): `analytics clv` reads the reporting
    # currency from here and must not pay for that import (tests/sugar_bridge/cli/test_startup.py).
    from etl.validate import Reject

log = logging.getLogger(__name__)

#: The ``source`` of the rates' rejects and loaded-file rows.
FX_SOURCE = "fx_rates"
#: Default of ``max_rate_age_days``: a week covers weekends and holidays without ECB fixings.
DEFAULT_MAX_RATE_AGE_DAYS = 7
_RATE_PLACES = Decimal("0.00000001")  # FxRate's 8 decimals
_RATE_MAX = Decimal(10) ** 10  # FxRate's 10 integer digits


@dataclass
class RatesLoadInfo:
    """What one rates load did."""

    run_id: int | None  # None when skipped
    source: str
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    skipped: bool = False  # the source's content was loaded before: nothing read into the table
    rejects_by_rule: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "source": self.source,
            "rows_read": self.rows_read,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "skipped": self.skipped,
            "rejects_by_rule": dict(self.rejects_by_rule),
        }


class _Bad(Exception):
    def __init__(self, rule: str, reason: str) -> None:
        super().__init__(reason)
        self.rule = rule
        self.reason = reason


def _parse_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value or "").strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _Bad("bad_date", f"field date: {value!r} is not a date (YYYY-MM-DD)") from None


def _parse_currency(value: Any) -> str:
    code = str(value or "").strip().upper()
    if code not in ISO_4217:
        raise _Bad("unknown_currency", f"field currency: {value!r} is not an ISO 4217 code")
    return code


def _parse_rate(value: Any) -> Decimal:
    text = str(value if value is not None else "").strip()
    try:
        rate = Decimal(text)
    except InvalidOperation:
        raise _Bad("bad_rate", f"field rate: {value!r} is not a number") from None
    if not rate.is_finite() or rate <= 0:
        raise _Bad("rate_not_positive", f"field rate: {value!r} must be a number > 0")
    if rate >= _RATE_MAX:
        raise _Bad("rate_out_of_range", f"field rate: {value!r} is too large (max 10^10)")
    rounded = rate.quantize(_RATE_PLACES, rounding=ROUND_HALF_EVEN)
    if rounded <= 0:
        raise _Bad("rate_out_of_range", f"field rate: {value!r} is 0 at 8 decimals")
    return rounded


def validate_rates(
    rows: Iterable[tuple[str, dict[str, Any]]], base: str
) -> tuple[dict[tuple[str, date], tuple[Decimal, str]], list[Reject]]:
    """Good rates ``{(currency, day): (rate, key)}`` and the rejects, row by row.

    A rate of the reporting currency itself must be 1 (and is not stored); the same currency and
    day twice with different rates rejects the later row (the first one stands).
    """
    from etl.validate import Reject

    good: dict[tuple[str, date], tuple[Decimal, str]] = {}
    rejects: list[Reject] = []
    for key, raw in rows:
        try:
            day = _parse_date(raw.get("date"))
            currency = _parse_currency(raw.get("currency"))
            rate = _parse_rate(raw.get("rate"))
            if currency == base:
                if rate != 1:
                    raise _Bad(
                        "base_rate_not_one",
                        f"field rate: {raw.get('rate')!r} for {base}, the reporting currency "
                        "itself (its rate is 1)",
                    )
                continue
            seen = good.get((currency, day))
            if seen is not None and seen[0] != rate:
                raise _Bad(
                    "duplicate_rate",
                    f"field rate: {currency} on {day} is given twice ({seen[1]} says {seen[0]})",
                )
            if seen is None:
                good[(currency, day)] = (rate, key)
        except _Bad as bad:
            rejects.append(Reject(key=key, rule=bad.rule, reason=f"{key}: {bad.reason}", raw=raw))
    return good, rejects


def load_rates(engine: Engine, read: RatesRead, *, base: str) -> RatesLoadInfo:
    """Load ``read``'s rates against ``base`` (the reporting currency) in one transaction.

    Recorded as an ``etl`` run of source ``fx_rates`` (``partial`` when rows were rejected); the
    rejects stay open (``etl rejects``) until the source is loaded again. A source whose content
    was loaded before (for the same base) is skipped, and no run is recorded. Returns the counts.
    """
    digest = _digest(read, base)
    lf = etl_loaded_file.c
    with engine.connect() as conn:
        previous = conn.execute(
            select(lf.sha256, lf.status).where(lf.source == FX_SOURCE, lf.file_name == read.name)
        ).first()
    if previous is not None and previous.sha256 == digest and previous.status == "loaded":
        # Loaded before: no run recorded (a rates file read every night adds nothing).
        return RatesLoadInfo(run_id=None, source=read.name, skipped=True)
    run = start_run(engine, "etl", source=FX_SOURCE)
    info = RatesLoadInfo(run_id=run.run_id, source=read.name, rows_read=len(read.rows))
    try:
        _load_rates(engine, read, base, info)
    except BaseException as exc:
        run.status = "failed"
        run.error = str(exc) or type(exc).__name__
        run.details = info.as_dict()
        run.finish()
        raise
    run.status = "partial" if info.rejected else "ok"
    run.rows_read = info.rows_read
    run.rows_loaded = info.inserted + info.updated
    run.rows_rejected = info.rejected
    run.details = {"rates": info.as_dict(), "base": base}
    run.finish()
    log.info(
        "rates %s: %d read, %d new, %d changed, %d rejected%s",
        read.name, info.rows_read, info.inserted, info.updated, info.rejected,
        " (unchanged source, skipped)" if info.skipped else "",
    )  # fmt: skip
    return info


def _digest(read: RatesRead, base: str) -> str:
    # The base is part of it: the same file read for another reporting currency means other rates.
    return hashlib.sha256(f"{base}:{read.sha256}".encode()).hexdigest()


def _load_rates(engine: Engine, read: RatesRead, base: str, info: RatesLoadInfo) -> None:
    from etl.validate import raw_json

    now = datetime.now()
    lf = etl_loaded_file.c
    where_file = and_(lf.source == FX_SOURCE, lf.file_name == read.name)
    with engine.begin() as conn:
        digest = _digest(read, base)
        previous = conn.execute(select(lf.sha256).where(where_file)).first()
        good, rejects = validate_rates(read.rows, base)
        r = fx_rate.c
        stored = {
            (row.currency, row.rate_date): Decimal(str(row.rate)).quantize(_RATE_PLACES)
            for row in conn.execute(select(r.currency, r.rate_date, r.rate).where(r.base == base))
        }
        new = []
        changed = []
        for (currency, day), (rate, key) in sorted(good.items()):
            values = {
                "b_base": base, "b_currency": currency, "b_day": day, "rate": rate,
                "source_key": key[:255], "run_id": info.run_id, "updated_at": now,
            }  # fmt: skip
            old = stored.get((currency, day))
            if old is None:
                new.append(values)
            elif old != rate:
                changed.append(values)
            else:
                info.unchanged += 1
        if new:
            conn.execute(
                fx_rate.insert().values(
                    base=bindparam("b_base"),
                    currency=bindparam("b_currency"),
                    rate_date=bindparam("b_day"),
                ),
                new,
            )
        if changed:
            conn.execute(
                update(fx_rate)
                .where(
                    r.base == bindparam("b_base"),
                    r.currency == bindparam("b_currency"),
                    r.rate_date == bindparam("b_day"),
                )
                .values(
                    rate=bindparam("rate"),
                    source_key=bindparam("source_key"),
                    run_id=bindparam("run_id"),
                    updated_at=bindparam("updated_at"),
                ),
                changed,
            )
        info.inserted, info.updated, info.rejected = len(new), len(changed), len(rejects)
        for reject in rejects:
            info.rejects_by_rule[reject.rule] = info.rejects_by_rule.get(reject.rule, 0) + 1
        if rejects:
            conn.execute(
                etl_reject.insert(),
                [
                    {
                        "run_id": info.run_id,
                        "source": FX_SOURCE,
                        "source_key": x.key[:255],
                        "rule": x.rule[:32],
                        "reason": x.reason,
                        "raw": raw_json(x.raw),
                        "created_at": now,
                    }
                    for x in rejects
                ],
            )
        values = {
            "sha256": digest,
            "size_bytes": read.size_bytes,
            "rows": len(read.rows),
            "status": "loaded",
            "run_id": info.run_id,
            "loaded_at": now,
        }
        if previous is None:
            conn.execute(
                etl_loaded_file.insert().values(source=FX_SOURCE, file_name=read.name, **values)
            )
        else:
            conn.execute(update(etl_loaded_file).where(where_file).values(values))


# --- conversion -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Unconverted:
    """Orders of one currency that have no usable rate (flagged, left out of money figures)."""

    currency: str
    orders: int
    amount: float  # in that currency

    def as_dict(self) -> dict[str, Any]:
        return {"currency": self.currency, "orders": self.orders, "amount": self.amount}


@dataclass(frozen=True)
class ConversionInfo:
    """What ``convert_orders`` did, and the orders left without a rate."""

    reporting_currency: str
    groups_rewritten: int  # (currency, day) groups whose conversion changed
    orders_rewritten: int
    unconverted: list[Unconverted]

    @property
    def unconverted_orders(self) -> int:
        return sum(u.orders for u in self.unconverted)

    def as_dict(self) -> dict[str, Any]:
        return {
            "reporting_currency": self.reporting_currency,
            "groups_rewritten": self.groups_rewritten,
            "orders_rewritten": self.orders_rewritten,
            "unconverted_orders": self.unconverted_orders,
            "unconverted": [u.as_dict() for u in self.unconverted],
        }


def order_currencies(conn: Connection) -> list[str]:
    """The currencies of the warehouse's orders (at most two: enough to tell one from several)."""
    query = select(fact_order.c.currency).distinct().order_by(fact_order.c.currency).limit(2)
    return [str(c) for c in conn.scalars(query)]


def resolve_reporting_currency(conn: Connection, configured: str | None, fallback: str) -> str:
    """The configured reporting currency; else the orders' currency when they all have one (a
    single-currency shop needs no config); else ``fallback`` (SUGAR_BRIDGE_DEFAULT_CURRENCY)."""
    if configured:
        return configured
    found = order_currencies(conn)
    return found[0] if len(found) == 1 else fallback


def _day_of(key: int) -> date:
    return date(key // 10000, key // 100 % 100, key % 100)


def _same_rate(stored: Any, wanted: Decimal | None) -> bool:
    if stored is None or wanted is None:
        return stored is None and wanted is None
    return Decimal(str(stored)).quantize(_RATE_PLACES) == wanted


def convert_orders(
    conn: Connection, reporting: str, *, max_rate_age_days: int = DEFAULT_MAX_RATE_AGE_DAYS
) -> ConversionInfo:
    """Convert every order not yet (or no longer rightly) converted to ``reporting``, in the
    caller's transaction; returns the counts and the orders left without a usable rate."""
    fo = fact_order.c
    # Orders in the reporting currency: their amount, at rate 1.
    same = conn.execute(
        update(fact_order)
        .where(
            fo.currency == reporting,
            (fo.reporting_currency.is_(None))
            | (fo.reporting_currency != reporting)
            | (fo.reporting_amount.is_(None))
            | (fo.reporting_amount != fo.total_amount)
            | (fo.fx_rate.is_(None))
            | (fo.fx_rate_date.is_not(None)),
        )
        .values(
            reporting_currency=reporting,
            fx_rate=literal(Decimal(1), FxRate),
            fx_rate_date=None,
            reporting_amount=fo.total_amount,
        )
    )
    rewritten = int(same.rowcount or 0)
    groups = 1 if rewritten else 0
    # Other currencies: one rate per (currency, day), looked up in Python on the rates table
    # (small) and written per group, only where it differs from what is stored.
    stored = conn.execute(
        select(
            fo.currency,
            fo.order_date_key,
            fo.reporting_currency,
            fo.fx_rate,
            fo.fx_rate_date,
            func.count().label("n"),
            func.count(fo.reporting_amount).label("n_converted"),
        )
        .where(fo.currency != reporting)
        .group_by(
            fo.currency, fo.order_date_key, fo.reporting_currency, fo.fx_rate, fo.fx_rate_date
        )
    ).all()
    r = fx_rate.c
    rates: dict[str, tuple[list[date], list[Decimal]]] = {}
    for row in conn.execute(
        select(r.currency, r.rate_date, r.rate)
        .where(r.base == reporting)
        .order_by(r.currency, r.rate_date)
    ):
        days, values = rates.setdefault(row.currency, ([], []))
        days.append(row.rate_date)
        values.append(Decimal(str(row.rate)).quantize(_RATE_PLACES))
    max_age = timedelta(days=max_rate_age_days)

    def usable(currency: str, day: date) -> tuple[Decimal, date] | None:
        days, values = rates.get(currency, ([], []))
        at = bisect.bisect_right(days, day) - 1
        if at < 0 or day - days[at] > max_age:
            return None
        return values[at], days[at]

    todo: dict[tuple[str, int], tuple[Decimal, date] | None] = {}
    for row in stored:
        key = (str(row.currency), int(row.order_date_key))
        wanted = usable(key[0], _day_of(key[1]))
        rate, rate_day = wanted if wanted is not None else (None, None)
        right = (
            row.reporting_currency == reporting
            and _same_rate(row.fx_rate, rate)
            and row.fx_rate_date == rate_day
            and int(row.n_converted) == (int(row.n) if wanted is not None else 0)
        )
        if not right:
            todo[key] = wanted
    if todo:
        statement = (
            update(fact_order)
            .where(
                fo.currency == bindparam("b_currency"),
                fo.ordered_at >= bindparam("b_from"),
                fo.ordered_at < bindparam("b_to"),
            )
            .values(
                reporting_currency=reporting,
                fx_rate=bindparam("b_rate", type_=FxRate),
                fx_rate_date=bindparam("b_rate_day"),
                reporting_amount=func.round(fo.total_amount / bindparam("b_rate", type_=FxRate), 6),
            )
        )
        params = []
        for (currency, day_key), wanted in sorted(todo.items()):
            day = _day_of(day_key)
            start = datetime(day.year, day.month, day.day)
            params.append(
                {
                    "b_currency": currency,
                    "b_from": start,
                    "b_to": start + timedelta(days=1),
                    "b_rate": wanted[0] if wanted is not None else None,
                    "b_rate_day": wanted[1] if wanted is not None else None,
                }
            )
        result = conn.execute(statement, params)
        rewritten += max(int(result.rowcount or 0), 0)  # -1 where a driver cannot tell
        groups += len(todo)
    missing = conn.execute(
        select(
            fo.currency,
            func.count().label("orders"),
            func.round(func.sum(fo.total_amount), 2).label("amount"),
        )
        .where(fo.reporting_amount.is_(None), fo.status != "cancelled")
        .group_by(fo.currency)
        .order_by(fo.currency)
    ).all()
    unconverted = [
        Unconverted(str(m.currency), int(m.orders), float(m.amount or 0)) for m in missing
    ]
    if unconverted:
        log.warning(
            "%d orders have no usable rate to %s (%s): left out of the money figures",
            sum(u.orders for u in unconverted), reporting,
            ", ".join(f"{u.currency} {u.orders}" for u in unconverted),
        )  # fmt: skip
    return ConversionInfo(reporting, groups, rewritten, unconverted)
