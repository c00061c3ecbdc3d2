"""Malformed-input corpus: each kind is rejected with its reason, the valid rows around it load.

All files sit in one folder loaded once (a canonical CSV source); each case then checks its own
file: the rejects it produced (rule, place, words of the reason) and the orders that loaded.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from etl import load_csv
from etl.db import create_engine_for
from etl.schema import etl_reject, fact_order
from tests.etl.data import HEADER

HEAD = ",".join([*HEADER, "line_amount"])


def line(order: str, **over: str) -> str:
    """One canonical CSV line of a valid order line, with some fields replaced (raw text)."""
    values = {
        "order_id": order, "line_no": "1", "ordered_at": "2024-03-05", "customer_id": "C1",
        "customer_name": "Acme", "customer_email": "a@example.com", "sku": "TV55",
        "product_name": "TV 55", "category": "flat screens", "quantity": "2",
        "unit_price": "999.90", "discount": "0", "currency": "EUR", "payment_method": "card",
        "channel": "web", "status": "completed", "invoiced_at": "2024-03-05",
        "due_at": "2024-04-04", "paid_at": "2024-04-01", "line_amount": "",
    }  # fmt: skip
    values.update(over)
    return ",".join(values[h] for h in HEAD.split(","))


@dataclass(frozen=True)
class Case:
    name: str
    body: bytes
    rule: str | None  # expected reject rule (None: the file loads cleanly)
    reason: str = ""  # words the reason must contain
    loaded: tuple[str, ...] = ("g1", "g2")  # order-id suffixes expected in the warehouse
    rejected: int = 1


def around(name: str, *bad: str, **kw: object) -> Case:
    """A file with a valid order, the bad line(s), another valid order."""
    rows = [HEAD, line(f"{name}-g1"), *bad, line(f"{name}-g2")]
    return Case(name, ("\n".join(rows) + "\n").encode(), **kw)  # type: ignore[arg-type]


def cases() -> list[Case]:
    n = "x"  # bad order id suffix
    return [
        around("bad_date", line(n, ordered_at="2024-13-45"), rule="bad_date", reason="ordered_at"),
        around("other_date_format", line(n, ordered_at="05/03/2024"), rule="bad_date",
               reason="'05/03/2024'"),
        around("negative_quantity", line(n, quantity="-2"), rule="quantity_not_positive",
               reason="quantity -2 must be > 0"),
        around("zero_quantity", line(n, quantity="0"), rule="quantity_not_positive"),
        around("text_quantity", line(n, quantity="two"), rule="not_a_number", reason="'two'"),
        around("negative_price", line(n, unit_price="-1.00"), rule="negative_price"),
        around("unknown_currency", line(n, currency="EUX"), rule="unknown_currency",
               reason="'EUX'"),
        around("decimal_comma", line(n, unit_price='"12,50"'), rule="not_a_number",
               reason="decimal comma"),
        around("missing_customer", line(n, customer_id=""), rule="missing_value",
               reason="customer_id"),
        around("missing_sku", line(n, sku=""), rule="missing_value", reason="sku"),
        around("unknown_payment", line(n, payment_method="bitcoin"),
               rule="unknown_payment_method", reason="'bitcoin'"),
        around("unknown_channel", line(n, channel="fax"), rule="unknown_channel"),
        around("unknown_status", line(n, status="lost"), rule="unknown_status"),
        around("paid_before_invoice", line(n, paid_at="2024-03-01"), rule="dates_out_of_order",
               reason="paid_at 2024-03-01 is before invoiced_at 2024-03-05"),
        around("due_before_invoice", line(n, due_at="2024-03-01"), rule="dates_out_of_order"),
        around("bad_paid_date", line(n, paid_at="yesterday"), rule="bad_date", reason="paid_at"),
        around("negative_discount", line(n, discount="-5"), rule="negative_discount"),
        around("discount_too_large", line(n, discount="5000"), rule="discount_too_large"),
        around("bad_line_no", line(n, line_no="1.5"), rule="bad_line_no"),
        around("long_sku", line(n, sku="S" * 70), rule="value_too_long", reason="sku"),
        around("nul_in_name", line(n, customer_name="Ac\x00me"), rule="nul_character",
               reason="customer_name contains a NUL character"),
        around("nan_price", line(n, unit_price="NaN"), rule="not_a_number"),
        around("price_decimals", line(n, unit_price="1.2345678"), rule="bad_price",
               reason="unit_price 1.2345678 has more than 6 decimals"),
        around("huge_price", line(n, unit_price="1e10"), rule="bad_price"),
        around("infinite_price", line(n, unit_price="inf"), rule="not_a_number"),
        around("discount_decimals", line(n, discount="0.0000001"), rule="bad_discount"),
        around("amount_mismatch", line(n, line_amount="1999.82"), rule="amount_mismatch",
               reason="line_amount 1999.82 differs from quantity × unit_price − discount = "
                      "2 × 999.90 − 0 = 1999.80 by more than 0.01"),
        around("negative_amount", line(n, line_amount="-1"), rule="negative_amount"),
        around("amount_decimals", line(n, line_amount="1999.8000001"), rule="bad_amount"),
        around("quantity_decimals", line(n, quantity="1.0005"), rule="bad_quantity"),
        around("lines_disagree", line(n), line(n, line_no="2", customer_id="C2"),
               rule="order_lines_disagree", reason="customer_id", rejected=2),
        around("dates_disagree", line(n), line(n, line_no="2", ordered_at="2024-03-06"),
               rule="order_lines_disagree", reason="ordered_at", rejected=2),
        around("duplicate_line", line(n), line(n, sku="CAB"), rule="duplicate_line",
               reason="line 1 more than once", rejected=2),
        around("extra_field", line(n) + ",surplus", rule="wrong_field_count",
               reason="21 fields where the header has 20"),
        Case("wrong_encoding",
             f"{HEAD}\n{line('wrong_encoding-g1')}\n".encode()
             + line(n, customer_name="Soci\xe9t\xe9").encode("latin-1") + b"\n"
             + f"{line('wrong_encoding-g2')}\n".encode(),
             rule="bad_encoding", reason="not valid utf-8"),
        Case("truncated",
             f"{HEAD}\n{line('truncated-g1')}\n{line('truncated-g2')}\n".encode()
             + line(n)[:40].encode(),
             rule="wrong_field_count", reason="truncated"),
        Case("unclosed_quote",
             f"{HEAD}\n{line('unclosed_quote-g1')}\n{line('unclosed_quote-g2')}\n".encode()
             + line(n, customer_name='"Acme').encode() + b"\n",
             rule="malformed_csv", reason="not valid CSV"),
        Case("empty", b"", rule="empty_file", loaded=()),
        Case("blank", b"   \n\n", rule="empty_file", loaded=()),
        Case("missing_column",
             ("\n".join([HEAD.replace(",sku,", ",article,"), line("missing_column-g1")]) + "\n")
             .encode(), rule="missing_columns", reason="sku", loaded=()),
        Case("wrong_delimiter", (HEAD.replace(",", ";") + "\n").encode(), rule="missing_columns",
             loaded=()),
        Case("duplicate_header", (HEAD + ",sku\n" + line("duplicate_header-g1") + ",X\n").encode(),
             rule="duplicate_columns", loaded=()),
        # Accepted variants: loaded whole, nothing rejected.
        Case("bom", b"\xef\xbb\xbf" + f"{HEAD}\n{line('bom-g1')}\n{line('bom-g2')}\n".encode(),
             rule=None),
        Case("crlf", f"{HEAD}\r\n{line('crlf-g1')}\r\n{line('crlf-g2')}\r\n".encode(), rule=None),
        Case("blank_lines", f"{HEAD}\n\n{line('blank_lines-g1')}\n\n{line('blank_lines-g2')}\n"
             .encode(), rule=None),
        Case("header_only", f"{HEAD}\n".encode(), rule=None, loaded=()),
        around("six_decimal_price", line("six_decimal_price-g3", quantity="3",
               unit_price="12.903333", line_amount="38.71"), rule=None,
               loaded=("g1", "g2", "g3")),
        Case("quoted_delimiter",
             f"{HEAD}\n{line('quoted_delimiter-g1', customer_name=chr(34) + 'A, B' + chr(34))}\n"
             f"{line('quoted_delimiter-g2')}\n".encode(), rule=None),
    ]  # fmt: skip


CASES = cases()


def _file(i: int, case: Case) -> str:
    return f"{i:02d}_{case.name}.csv"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    folder = tmp_path_factory.mktemp("corpus")
    for i, case in enumerate(CASES):
        (folder / _file(i, case)).write_bytes(case.body)
    engine = create_engine_for(f"sqlite:///{folder / 'warehouse.db'}")
    load_csv(engine, folder)
    yield engine
    engine.dispose()


def test_corpus_has_at_least_30_kinds_of_bad_input() -> None:
    assert sum(1 for c in CASES if c.rule is not None) >= 30


@pytest.mark.parametrize(("i", "case"), list(enumerate(CASES)), ids=[c.name for c in CASES])
def test_each_kind(corpus: Engine, i: int, case: Case) -> None:
    name = _file(i, case)
    with corpus.connect() as conn:
        found = conn.execute(
            select(etl_reject.c.source_key, etl_reject.c.rule, etl_reject.c.reason).where(
                etl_reject.c.source_key.like(f"{name}%")
            )
        ).all()
        loaded = set(
            conn.scalars(
                select(fact_order.c.source_order_id).where(
                    fact_order.c.source_order_id.like(f"{case.name}-%")
                )
            )
        )
    if case.rule is None:
        assert found == []
    else:
        assert len(found) == case.rejected, found
        assert {r.rule for r in found} == {case.rule}
        for reject in found:
            assert name in reject.reason  # names the file (and the line, for row problems)
            assert case.reason in reject.reason
    assert loaded == {f"{case.name}-{suffix}" for suffix in case.loaded}


def test_run_summary_counts_every_reject(corpus: Engine) -> None:
    from etl.schema import etl_run

    with corpus.connect() as conn:
        run = conn.execute(select(etl_run)).one()
        n_rejects = len(conn.execute(select(etl_reject.c.reject_id)).all())
    assert run.status == "partial"
    assert run.rows_rejected == n_rejects == sum(c.rejected for c in CASES if c.rule)
    assert run.details["rejects_by_rule"]["bad_date"] == 3
