"""An order's content hash stays what earlier versions stored, and dates read as they did.

The merge compares each order's digest with the stored one: a digest that changed with the code
would make the next load rewrite every order of the warehouse. The digests below were computed
by the code of fcb3fa6, before dates were converted in native code; the messages that show
a date show it as Python writes it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from connectors.orders.base import SourceState
from connectors.orders.csv_source import CsvSource
from etl.validate import Validated, validate_chunk

ORDERS = """\
order_id,line_no,ordered_at,customer_id,customer_name,customer_type,sku,quantity,unit_price,discount,currency,invoiced_at,due_at,paid_at
A1,1,2024-03-05,C1,Acme,,TV55,2,999.90,0,EUR,2024-03-05,2024-04-04,2024-04-01
A2,1,2024-03-05T10:11:12,C2,Bolt,B2B,TV55,1,12.903333,0.5,EUR,,,
A2,2,2024-03-05T10:11:12,C2,Bolt,B2B,CAM1,3,5,0,EUR,,,
A3,1,2024-03-05 10:11:12.250000,C3,,b2c,CAM1,1,5,0,USD,2024-03-06,2024-03-06,
A4,1,1969-12-31T23:59:59,C4,Old,,TV55,1,1,0,EUR,1969-12-31,1970-01-30,1970-01-02
A5,1,2024-03-05T10:11:12,C5,Odd,,TV55,1,1,0,EUR,,,
A5,2,2024-03-05T10:11:13,C5,Odd,,TV55,1,1,0,EUR,,,
A6,1,2024-03-05T10:11:12,C6,Odd,,TV55,1,1,0,EUR,2024-03-05,,
A6,2,2024-03-05T10:11:12,C6,Odd,,TV55,1,1,0,EUR,2024-03-06,,
"""


def _validated(tmp_path: Path, since: datetime | None = None) -> Validated:
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS, encoding="utf-8")
    source = CsvSource.canonical(path, name="csv")
    (chunk,) = source.read(SourceState(), since=None, full_refresh=True, batch_lines=100)
    return validate_chunk(chunk, "EUR", since)


def test_digests_are_those_stored_by_earlier_versions(tmp_path: Path) -> None:
    batch = _validated(tmp_path).orders
    assert dict(zip(batch.order_id, batch.content_hash, strict=True)) == {
        "A1": "4c56c3d3af07ad06e82d69d337bf5feb",  # a day for a moment; every date given
        "A2": "7fe5cc16af9481a19b2ca359996bc1f5",  # a customer type; no invoice dates
        "A3": "85c6133196751e8fbe94e6a659183e91",  # microseconds; no payment
        "A4": "481a3cba48a5449b2e97036bfd35be3f",  # before 1970
    }


def test_dates_are_read_to_the_microsecond(tmp_path: Path) -> None:
    batch = _validated(tmp_path).orders
    assert [str(m) for m in batch.ordered_at] == [
        "2024-03-05T00:00:00.000000",
        "2024-03-05T10:11:12.000000",
        "2024-03-05T10:11:12.250000",
        "1969-12-31T23:59:59.000000",
    ]
    assert [str(d) for d in batch.paid_at] == ["2024-04-01", "NaT", "NaT", "1970-01-02"]


def test_a_disagreement_shows_the_dates_as_python_writes_them(tmp_path: Path) -> None:
    reasons = {r.key: r.reason for r in _validated(tmp_path).rejects}
    moments = "ordered_at is '2024-03-05 10:11:12' at orders.csv:7 but '2024-03-05 10:11:13'"
    days = "invoiced_at is '2024-03-05' at orders.csv:9 but '2024-03-06' at orders.csv:10"
    assert moments in reasons["orders.csv:7"]
    assert days in reasons["orders.csv:10"]


def test_since_skips_the_orders_placed_before_it(tmp_path: Path) -> None:
    checked = _validated(tmp_path, since=datetime(2024, 3, 5, 10, 11, 12))
    assert checked.orders.order_id == ["A2", "A3"]
    assert checked.skipped_before_since == 2  # A1 and A4, one line each
