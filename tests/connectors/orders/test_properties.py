"""Property-based tests (hypothesis) of the CSV reader and the validator."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.orders.base import (
    Checkpoint,
    Chunk,
    ParseOptions,
    Rows,
    SourceState,
)
from connectors.orders.canonical import CANONICAL_COLUMNS
from connectors.orders.config import CsvSourceConfig
from connectors.orders.csv_source import CsvSource
from etl.validate import parse_decimal, validate_chunk

# Any printable text, including the delimiter, quotes and line breaks, without edge whitespace
# (values are stripped) or control characters.
TEXT = (
    st.text(
        alphabet=st.characters(blacklist_categories=("Cc", "Cs"), whitelist_characters="\n,;\"'"),
        min_size=1,
        max_size=20,
    )
    .map(str.strip)
    .filter(bool)
)

LINE = st.fixed_dictionaries(
    {
        "sku": TEXT.map(lambda s: s[:64]),
        "product_name": TEXT,
        "quantity": st.decimals(min_value=Decimal("0.001"), max_value=Decimal(10_000), places=3),
        "unit_price": st.decimals(min_value=Decimal(0), max_value=Decimal(100_000), places=2),
    }
)
ORDER = st.fixed_dictionaries(
    {
        "customer_id": TEXT,
        "customer_name": TEXT,
        "ordered_at": st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 1, 1)),
        "lines": st.lists(LINE, min_size=1, max_size=4),
    }
)
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _write(path: Path, orders: list[dict[str, Any]], delimiter: str, decimal: str) -> None:
    header = ["order_id", "ordered_at", "customer_id", "customer_name", "sku", "product_name",
              "quantity", "unit_price"]  # fmt: skip
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    for n, order in enumerate(orders):
        for line in order["lines"]:
            writer.writerow(
                [f"O{n}", order["ordered_at"].isoformat(), order["customer_id"],
                 order["customer_name"], line["sku"], line["product_name"],
                 str(line["quantity"]).replace(".", decimal),
                 str(line["unit_price"]).replace(".", decimal)]
            )  # fmt: skip
    path.write_text(buffer.getvalue(), encoding="utf-8", newline="")


@SETTINGS
@given(
    orders=st.lists(ORDER, min_size=1, max_size=6),
    dialect=st.sampled_from([(",", "."), (";", ","), ("\t", ".")]),
    batch=st.integers(min_value=1, max_value=8),
)
def test_csv_round_trip(
    tmp_path_factory: Any, orders: list[dict[str, Any]], dialect: tuple[str, str], batch: int
) -> None:
    """Whatever the text and the layout, what is written is read back exactly, orders whole."""
    delimiter, decimal = dialect
    path = tmp_path_factory.mktemp("prop") / "orders.csv"
    _write(path, orders, delimiter, decimal)
    source = CsvSource(
        CsvSourceConfig(name="p", path=path, delimiter=delimiter, decimal=decimal)  # type: ignore[arg-type]
    )
    chunks = list(source.read(SourceState(), batch_lines=batch))
    got = {}
    for chunk in chunks:
        checked = validate_chunk(chunk)
        assert checked.rejects == []
        batch = checked.orders
        for k, order_id in enumerate(batch.order_id):
            assert order_id not in got  # never split across chunks
            lines = range(batch.line_start[k], batch.line_start[k + 1])
            got[order_id] = (
                batch.customer_id[k],
                batch.customer_name[k],
                batch.ordered_at[k].item(),
                [
                    (
                        batch.sku[i],
                        batch.product_name[i],
                        Decimal(int(batch.quantity[i])).scaleb(-3),
                        Decimal(int(batch.unit_price[i])).scaleb(-6),
                    )
                    for i in lines
                ],
            )
    assert len(got) == len(orders)
    for n, expected in enumerate(orders):
        customer_id, customer_name, ordered_at, lines = got[f"O{n}"]
        assert customer_id == expected["customer_id"]
        assert customer_name == expected["customer_name"]
        assert ordered_at.date() == expected["ordered_at"]
        assert lines == [
            (ln["sku"], ln["product_name"], ln["quantity"], ln["unit_price"])
            for ln in expected["lines"]
        ]
    assert chunks[-1].checkpoint.file is not None
    assert chunks[-1].checkpoint.file.rows == sum(len(o["lines"]) for o in orders)


@SETTINGS
@given(
    rows=st.lists(
        st.dictionaries(
            st.sampled_from(CANONICAL_COLUMNS),
            st.one_of(st.text(max_size=12), st.sampled_from(["", "1", "-1", "2024-02-30", "EUR"])),
        ),
        max_size=12,
    )
)
def test_validator_never_raises_and_accounts_for_every_row(rows: list[dict[str, str]]) -> None:
    """Any input: each row ends either in a valid order or in exactly one reject."""
    chunk = Chunk(
        rows=Rows.from_records([f"f.csv:{i + 2}" for i in range(len(rows))], rows),
        problems=[],
        checkpoint=Checkpoint(),
    )
    checked = validate_chunk(chunk)
    assert checked.lines_valid + len(checked.rejects) == len(rows)
    assert all(r.reason and r.rule for r in checked.rejects)
    assert len({r.key for r in checked.rejects}) == len(checked.rejects)


@SETTINGS
@given(
    value=st.decimals(min_value=Decimal(-(10**9)), max_value=Decimal(10**9), places=4),
    decimal=st.sampled_from([".", ","]),
    thousands=st.sampled_from([None, " ", "'"]),
)
def test_numbers_with_any_separators(value: Decimal, decimal: str, thousands: str | None) -> None:
    sign, digits = ("-" if value < 0 else ""), f"{abs(value):f}"
    whole, _, frac = digits.partition(".")
    if thousands:
        whole = f"{int(whole):,}".replace(",", thousands)
    text = sign + whole + (decimal + frac if frac else "")
    options = ParseOptions(decimal=decimal, thousands=thousands)  # type: ignore[arg-type]
    assert parse_decimal(text, options, "x") == value
