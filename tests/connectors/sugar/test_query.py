"""The query builder: every value quoted for MySQL, every identifier checked."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from connectors.sugar import query as q
from connectors.sugar.exceptions import InvalidCall
from tests.conftest import load_recording


def test_quote_doubles_single_quotes_like_the_recorded_working_query() -> None:
    # 04_query_quote_doubled found the row with exactly this query.
    recorded = load_recording("04_query_quote_doubled")["request"]["rest_data"]["query"]
    assert q.eq("accounts.name", "O'Brien & Sons") == recorded


def test_quote_doubles_backslashes() -> None:
    # MySQL treats \ as an escape (04_query_quote_backslash: \' matched like ''). A value ending
    # in a backslash must not escape the closing quote.
    assert q.quote("a\\") == "'a\\\\'"
    assert q.quote("\\' OR 1=1 -- ") == "'\\\\'' OR 1=1 -- '"
    assert q.eq("accounts.name", "O\\'Brien") == "accounts.name = 'O\\\\''Brien'"


@pytest.mark.parametrize(
    "attack",
    [
        "x' OR 'a'='a",
        "' OR 1=1 -- ",
        "x' UNION SELECT user_hash FROM users -- ",
        "x'; DROP TABLE accounts; --",
        "x' OR SLEEP(3)=0 OR 'a'='b",
        "\\",
        "\\'",
        "'\\''",
    ],
)
def test_injection_attempts_stay_inside_one_literal(attack: str) -> None:
    literal = q.quote(attack)
    assert literal.startswith("'")
    assert literal.endswith("'")
    # Reading the literal like MySQL does must give back exactly the value, ending at the end.
    assert _mysql_unquote(literal) == (attack, len(literal))


def _mysql_unquote(literal: str) -> tuple[str, int]:
    """Parse one MySQL string literal: returns (value, characters consumed)."""
    assert literal[0] == "'"
    out, i = [], 1
    while i < len(literal):
        ch = literal[i]
        if ch == "\\":
            out.append(literal[i + 1])
            i += 2
        elif ch == "'":
            if i + 1 < len(literal) and literal[i + 1] == "'":
                out.append("'")
                i += 2
            else:
                return "".join(out), i + 1
        else:
            out.append(ch)
            i += 1
    raise AssertionError("unterminated literal")


def test_values_of_other_types() -> None:
    assert q.quote(5) == "5"
    assert q.quote(2.5) == "2.5"
    assert q.quote(True) == "1"
    assert q.quote(Decimal("12.50")) == "12.50"
    assert q.quote(date(2026, 11, 24)) == "'2026-11-24'"
    assert q.quote(datetime(2026, 11, 24, 10, 30)) == "'2026-11-24 10:30:00'"
    berlin = timezone(timedelta(hours=1))
    assert q.quote(datetime(2026, 11, 24, 11, 30, tzinfo=berlin)) == "'2026-11-24 10:30:00'"
    assert q.quote(datetime(2026, 11, 24, 10, 30, tzinfo=UTC)) == "'2026-11-24 10:30:00'"
    for bad in (float("nan"), float("inf"), None, [1], b"x", "a\x00b"):
        with pytest.raises(InvalidCall):
            q.quote(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "name",
    [
        "name; DROP",
        "accounts.name OR 1",
        "a.b.c",
        "1abc",
        "",
        "name--",
        "accounts.`name`",
        "users.user_hash",
    ],
)
def test_column_names_are_checked(name: str) -> None:
    with pytest.raises(InvalidCall):
        q.eq(name, "x")


def test_comparisons() -> None:
    assert q.ne("accounts.account_type", "Customer") == "accounts.account_type <> 'Customer'"
    assert q.gt("accounts_cstm.rfm_score_c", 400) == "accounts_cstm.rfm_score_c > 400"
    assert q.ge("a", 1) == "a >= 1"
    assert q.lt("a", 1) == "a < 1"
    assert q.le("a", 1) == "a <= 1"
    assert q.is_null("accounts_cstm.segment_c") == "accounts_cstm.segment_c IS NULL"
    assert q.is_not_null("a") == "a IS NOT NULL"


def test_in_and_not_in() -> None:
    assert q.in_("accounts.id", ["a", "b'c"]) == "accounts.id IN ('a', 'b''c')"
    assert q.in_("accounts.id", []) == "1 = 0"
    assert q.not_in("accounts.id", ["a"]) == "accounts.id NOT IN ('a')"
    assert q.not_in("accounts.id", []) == "1 = 1"


def test_like_escapes_wildcards() -> None:
    assert q.like_prefix("accounts.name", "Lab Page") == "accounts.name LIKE 'Lab Page%'"
    # % and _ in the prefix are literal: \% and \_ (backslashes doubled inside the literal).
    assert q.like_prefix("accounts.name", "50%_x'") == "accounts.name LIKE '50\\\\%\\\\_x''%'"
    assert q.like_contains("a", "o'b") == "a LIKE '%o''b%'"


def test_and_or_not() -> None:
    assert q.and_(q.eq("a", 1), "", q.eq("b", 2)) == "(a = 1) AND (b = 2)"
    assert q.and_(q.eq("a", 1)) == "a = 1"
    assert q.and_() == ""
    assert (
        q.or_(q.eq("a", 1), q.and_(q.eq("b", 2), q.eq("c", 3)))
        == "(a = 1) OR ((b = 2) AND (c = 3))"
    )
    assert q.not_(q.eq("a", 1)) == "NOT (a = 1)"
    with pytest.raises(InvalidCall):
        q.not_("")


def test_order_by_bare_names_and_tiebreak() -> None:
    assert q.order_by("id") == "id ASC"
    assert q.order_by("name") == "name ASC, id ASC"
    assert q.order_by("billing_address_city ASC, name desc") == (
        "billing_address_city ASC, name DESC, id ASC"
    )
    assert q.order_by("accounts_cstm.rfm_score_c DESC") == "rfm_score_c DESC, id ASC"
    assert q.order_by("") == "id ASC"
    assert q.order_by("name", tiebreak=None) == "name ASC"
    for bad in ("name; DROP", "name DESC LIMIT 1", "(select 1)", "a.b.c", "name ASC DESC"):
        with pytest.raises(InvalidCall):
            q.order_by(bad)


def test_field_name() -> None:
    assert q.field_name("segment_c") == "segment_c"
    with pytest.raises(InvalidCall):
        q.field_name("accounts.name")
