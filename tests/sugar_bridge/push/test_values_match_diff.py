"""Pure parts of the push: normalisation, matching, diff, config."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from pydantic import ValidationError

from sugar_bridge.push.config import PushConfig, segment_key
from sugar_bridge.push.diff import changed_fields, desired_values, resolve_fields, transitions
from sugar_bridge.push.match import Account, Customer, match_customers, normalise_name
from sugar_bridge.push.sugar_io import Expect, compare
from sugar_bridge.push.values import normalise


@pytest.mark.parametrize(
    ("value", "kind", "precision", "expected"),
    [
        (12.5, "decimal", 2, "12.50"),
        ("12.50", "decimal", 2, "12.50"),
        (12345.67, "decimal", 2, "12345.67"),
        (Decimal("0.81234"), "decimal", 4, "0.8123"),
        (-0.001, "decimal", 2, "0.00"),
        (2.5, "int", 2, "3"),
        ("555", "int", 2, "555"),
        (555, "int", 2, "555"),
        (None, "int", 2, ""),
        (float("nan"), "decimal", 2, ""),
        ("", "text", 2, ""),
        ("Can&#039;t lose them", "text", 2, "Can't lose them"),
        (datetime(2026, 11, 24, 10, 30, 5, 123), "datetime", 2, "2026-11-24 10:30:05"),
        (
            datetime(2026, 11, 24, 11, 30, tzinfo=timezone(timedelta(hours=1))),
            "datetime",
            2,
            "2026-11-24 10:30:00",
        ),
        ("2026-11-24T10:30:00Z", "datetime", 2, "2026-11-24 10:30:00"),
        (datetime(2026, 11, 24, 23, 59), "date", 2, "2026-11-24"),
        ("2026-11-24 00:00:00", "date", 2, "2026-11-24"),
        (date(2026, 1, 2), "date", 2, "2026-01-02"),
        (True, "bool", 2, "1"),
        ("0", "bool", 2, "0"),
    ],
)
def test_normalise_matches_what_sugar_stores(
    value: object, kind: str, precision: int, expected: str
) -> None:
    assert normalise(value, kind, precision) == expected  # type: ignore[arg-type]


def test_normalise_refuses_garbage_numbers() -> None:
    with pytest.raises(ValueError, match="not an integer"):
        normalise("abc", "int")


def test_read_back_compare_accepts_sugar_number_shapes() -> None:
    expect = {
        "clv_12m_c": Expect("12345.67", "decimal", 2),
        "rfm_score_c": Expect("555", "int"),
        "segment_c": Expect("at_risk", "text"),
        "segment_updated_c": Expect("2026-11-24 10:30:00", "datetime"),
    }
    record = {
        "clv_12m_c": 12345.67,
        "rfm_score_c": 555,
        "segment_c": "at_risk",
        "segment_updated_c": "2026-11-24 10:30:00",
    }
    stuck, problem = compare(record, expect)
    assert problem == ""
    assert set(stuck) == set(expect)
    stuck, problem = compare(record | {"segment_c": ""}, expect)
    assert "segment_c" not in stuck
    assert "segment_c: Sugar has ''" in problem
    _, problem = compare({k: v for k, v in record.items() if k != "rfm_score_c"}, expect)
    assert "rfm_score_c: not returned" in problem
    # an empty number may be stored as 0 (PHP intval of ""): that is "no value", not a failure
    empty = {"rfm_score_c": Expect("", "int"), "clv_12m_c": Expect("", "decimal", 2)}
    stuck, problem = compare({"rfm_score_c": 0, "clv_12m_c": "0.00"}, empty)
    assert (stuck, problem) == ({"rfm_score_c": "", "clv_12m_c": ""}, "")
    _, problem = compare({"rfm_score_c": 3}, {"rfm_score_c": Expect("", "int")})
    assert "rfm_score_c: Sugar has '3', sent ''" in problem


def _customers() -> list[Customer]:
    return [
        Customer(1, "C1", "Alpha GmbH", "info@alpha.example"),
        Customer(2, "C2", "Beta SARL", "BETA@beta.example "),
        Customer(3, "C3", "Gamma", "x@gamma.example"),
        Customer(4, "C4", "Delta Ltd", None),
        Customer(5, "C5", "Epsilon", "shared@ep.example"),
        Customer(6, "C6", "Zeta", "shared@ep.example"),
        Customer(7, "C7", "Nobody", "nobody@example"),
        Customer(8, "C8", "Kept", None, sugar_account_id="a-kept", match_method="email"),
    ]


def _accounts() -> list[Account]:
    return [
        Account("a1", "Alpha", "", "C1"),
        Account("a2", "beta", "beta@beta.example", ""),
        Account("a3a", "Gamma", "", ""),
        Account("a3b", "GAMMA", "", ""),
        Account("a4", "Délta LTD", "", ""),
        Account("a5", "Ep", "shared@ep.example", ""),
        Account("a-kept", "Whatever", "", ""),
        Account("a-other", "Nobody", "nobody@example", "C99"),  # belongs to another customer
    ]


def test_match_order_ambiguity_and_reverse_ambiguity() -> None:
    result = match_customers(_customers(), _accounts(), ["external_id", "email", "name"])
    matches = {k: (m.account_id, m.method, m.new) for k, m in result.matches.items()}
    assert matches == {
        1: ("a1", "external_id", True),
        2: ("a2", "email", True),
        4: ("a4", "name", True),
        8: ("a-kept", "email", False),
    }
    assert result.unmatched[3].reason == "ambiguous"
    assert result.unmatched[3].candidates == ("a3a", "a3b")
    # two customers with one email: never guessed
    assert result.unmatched[5].reason == result.unmatched[6].reason == "ambiguous"
    assert result.unmatched[5].candidates == ("a5",)
    # an account carrying another customer's external id is not a candidate
    assert result.unmatched[7].reason == "no_account"


def test_match_order_is_configurable() -> None:
    customers = [Customer(1, "C1", "Beta", "beta@beta.example")]
    accounts = [
        Account("by-name", "Beta", "", ""),
        Account("by-mail", "Other", "beta@beta.example"),
    ]
    assert match_customers(customers, accounts, ["name"]).matches[1].account_id == "by-name"
    assert match_customers(customers, accounts, ["email", "name"]).matches[1].account_id == (
        "by-mail"
    )


def test_stale_match_is_redone() -> None:
    customers = [Customer(1, "C1", "Alpha", None, sugar_account_id="gone", match_method="name")]
    result = match_customers(customers, [Account("a1", "Other", "", "C1")])
    assert result.matches[1].account_id == "a1"
    assert result.matches[1].new


def test_normalise_name() -> None:
    assert normalise_name("  Hôtel Panorama & Co. GmbH ", ["gmbh", "co"]) == "hotel panorama and"
    assert normalise_name("O'Brien Ltd", ["ltd"]) == "o brien"


def test_default_fields_and_diff() -> None:
    config = PushConfig()
    specs = resolve_fields(config, {})
    row = {
        "rfm_segment": "Can't lose them",
        "lifecycle_stage": "declining",
        "r_score": 1,
        "f_score": 5,
        "m_score": 4,
        "clv_12m": Decimal("1234.5"),
        "p_alive": 0.812345,
        "n_orders": 12,
        "avg_order_amount": Decimal("99.999"),
        "last_order_at": datetime(2026, 3, 1, 14, 0),
        "preferred_payment_method": "card",
        "avg_payment_delay_days": 12.345,
    }
    desired = desired_values(row, specs)
    assert desired == {
        "segment_c": "cant_lose_them",
        "lifecycle_stage_c": "declining",
        "rfm_score_c": "154",
        "clv_12m_c": "1234.50",
        "p_alive_c": "0.8123",
        "n_orders_c": "12",
        "avg_order_amount_c": "100.00",
        "last_order_at_c": "2026-03-01",
        "preferred_payment_c": "card",
        "avg_payment_delay_c": "12.3",
    }
    assert changed_fields(desired, dict(desired)) == {}
    assert changed_fields(desired, dict(desired), full=True).keys() == desired.keys()
    changed = changed_fields(desired, dict(desired) | {"segment_c": "at_risk"})
    assert changed == {"segment_c": ("at_risk", "cant_lose_them")}
    assert transitions([changed], "segment_c") == {("at_risk", "cant_lose_them"): 1}
    assert segment_key("Potential loyalists") == "potential_loyalists"


def test_model_outputs_are_resent_only_when_the_change_matters() -> None:
    specs = {s.field: s for s in resolve_fields(PushConfig(), {})}
    last = {"p_alive_c": "0.7000", "clv_12m_c": "1000.00", "segment_c": "loyal"}

    def sent(**new: str) -> set[str]:
        return set(changed_fields(last | new, last, specs=specs))

    # The default mapping: P(alive) moves by 0.05 or more, CLV by 10 % or more.
    assert sent(p_alive_c="0.7400", clv_12m_c="1099.99") == set()
    assert sent(p_alive_c="0.6500") == {"p_alive_c"}
    assert sent(clv_12m_c="1100.00") == {"clv_12m_c"}
    assert sent(clv_12m_c="899.00") == {"clv_12m_c"}
    # Other fields, a first value and emptying a number are always sent.
    assert sent(segment_c="at_risk") == {"segment_c"}
    assert set(changed_fields({"p_alive_c": "0.7001"}, {}, specs=specs)) == {"p_alive_c"}
    assert sent(p_alive_c="") == {"p_alive_c"}
    # --full sends everything, whatever the thresholds.
    assert set(changed_fields(last, last, full=True, specs=specs)) == set(last)
    # No threshold configured: any difference is a change.
    config = PushConfig.model_validate(
        {"fields": {"rfm_segment": "segment_c", "p_alive": "p_alive_c"}}
    )
    plain = {s.field: s for s in resolve_fields(config, {})}
    assert set(changed_fields({"p_alive_c": "0.7001"}, last, specs=plain)) == {"p_alive_c"}


def test_field_mappings_extend_the_ten_defaults() -> None:
    defaults = PushConfig().fields
    assert len(defaults) == 10
    added = PushConfig.model_validate({"fields": {"top_category": "top_category_c"}})
    assert added.fields["top_category"].field == "top_category_c"
    assert {k: v for k, v in added.fields.items() if k != "top_category"} == defaults
    # A column given replaces its default whole; `null` drops one; the others stay.
    changed = PushConfig.model_validate(
        {"fields": {"clv_12m": {"field": "clv_c", "precision": 0}, "p_alive": None}}
    )
    assert "p_alive" not in changed.fields
    assert changed.fields["clv_12m"].field == "clv_c"
    assert changed.fields["clv_12m"].min_change_pct == 0  # the default's threshold is not kept
    assert set(changed.fields) == set(defaults) - {"p_alive"}
    assert changed.fields["rfm_segment"] == defaults["rfm_segment"]
    with pytest.raises(ValidationError, match="'top_category' is not one"):
        PushConfig.model_validate({"fields": {"top_category": None}})
    # A new column onto a field a default writes: the message says how to drop the default.
    with pytest.raises(ValidationError, match="drop a default with `column: null`"):
        PushConfig.model_validate({"fields": {"top_category": "segment_c"}})
    moved = PushConfig.model_validate(
        {
            "fields": {"top_category": "segment_c", "rfm_segment": None},
            "target_lists": {"enabled": False},
        }
    )
    assert moved.fields["top_category"].field == "segment_c"


def test_config_validation() -> None:
    PushConfig.model_validate({})
    cfg = PushConfig.model_validate({"fields": {"rfm_segment": "seg_c"}, "target_lists": {}})
    assert cfg.fields["rfm_segment"].field == "seg_c"
    with pytest.raises(ValidationError, match="several columns write"):
        PushConfig.model_validate({"fields": {"rfm_segment": "x_c", "lifecycle_stage": "x_c"}})
    with pytest.raises(ValidationError, match="not a mapped column"):
        PushConfig.model_validate(
            {"followups": [{"name": "r", "column": "top_category", "enters": ["x"]}]}
        )
    with pytest.raises(ValidationError, match="template syntax error"):
        PushConfig.model_validate(
            {"followups": [{"name": "r", "enters": ["declining"], "subject": "{{ oops"}]}
        )
    with pytest.raises(ValidationError, match=r"\{segment\}"):
        PushConfig.model_validate({"target_lists": {"name_pattern": "Segment"}})
    with pytest.raises(ValidationError):
        PushConfig.model_validate({"match": {"unmatched": "guess"}})
    with pytest.raises(ValidationError, match="written by the push itself"):
        PushConfig.model_validate({"fields": {"rfm_segment": "external_id_c"}})
    assert datetime.now(UTC)  # keep the UTC import honest
