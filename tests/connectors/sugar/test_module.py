"""Module accessor: reads, paging, writes and relationships against recorded answers."""

from __future__ import annotations

import logging
from unittest import mock as um

import pytest
import responses

from connectors.sugar import query as q
from connectors.sugar.client import SugarClient
from connectors.sugar.exceptions import (
    EmptyResponse,
    InvalidCall,
    ServerError,
    WriteNotStored,
)
from tests.connectors.sugar.conftest import add, sent

ALPHA = "5d1bf37d-cbea-be2c-36b2-6b05e132ddff"  # "Lab Alpha GmbH"
BATCH_IDS = [  # ids of 04_accounts_create_set_entries, in input order
    "74209c8e-d02b-8e68-e611-6b05e1f52522",
    "76fbbd30-39be-4403-c86f-6b05e17fd3c0",
    "79abcb94-c689-8e8b-42cb-6b05e11de51b",
]
GIVEN_ID = "11111111-2222-3333-4444-666666666666"  # 04_account_create_with_given_id_new_with_id
UNKNOWN_ID = "00000000-0000-0000-0000-000000000000"


def _uuids(*ids: str) -> um._patch[um.MagicMock]:
    """Make the client's uuid4 hand out the ids the recorded answers contain."""
    import uuid

    return um.patch("connectors.sugar.client.uuid.uuid4", side_effect=[uuid.UUID(i) for i in ids])


@pytest.fixture
def logged_in(mock: responses.RequestsMock, client: SugarClient) -> SugarClient:
    add(mock, "01_login_success")
    return client


# ---- get / get_many --------------------------------------------------------------------------


def test_get_decodes_html_entities(mock: responses.RequestsMock, logged_in: SugarClient) -> None:
    add(mock, "04_special_characters_roundtrip", key="get_entry_response")
    record = logged_in.module("Accounts").get(
        "d6223980-553a-595d-2c10-6b05e5b07399", fields=["name", "description", "segment_c"]
    )
    assert record is not None
    assert record["id"] == "d6223980-553a-595d-2c10-6b05e5b07399"
    # Core fields come back as &quot; / &#039;; custom fields even store & as &amp;.
    assert record["name"] == "Zoë &  \"Q\" 'S' 100%"
    assert record["segment_c"] == "Zoë &  \"Q\" 'S' 100%"
    _, rest_data, _ = sent(mock.calls[1])
    assert rest_data["select_fields"] == ["id", "name", "description", "segment_c"]


def test_get_custom_fields(mock: responses.RequestsMock, logged_in: SugarClient) -> None:
    add(mock, "05_get_entry_custom_fields")
    record = logged_in.module("Accounts").get("a3b6e581-ea40-14c6-822c-6b05e3c21e16")
    assert record is not None
    assert record["segment_c"] == "champions-A"
    assert record["rfm_score_c"] == "555"


def test_get_unknown_id_is_none(mock: responses.RequestsMock, logged_in: SugarClient) -> None:
    add(mock, "04_get_entry_unknown_id")
    assert logged_in.module("Accounts").get(UNKNOWN_ID, fields=["name"]) is None


def test_get_refuses_ids_that_are_not_ids(logged_in: SugarClient) -> None:
    with pytest.raises(InvalidCall):
        logged_in.module("Accounts").get("x' OR '1'='1")


def test_get_many_drops_deleted_and_unknown(
    mock: responses.RequestsMock, logged_in: SugarClient
) -> None:
    add(mock, "04_get_entries_by_ids")
    found = logged_in.module("Accounts").get_many(
        [ALPHA, BATCH_IDS[0], BATCH_IDS[2], UNKNOWN_ID], fields=["name", "account_type", "deleted"]
    )
    assert set(found) == {ALPHA, BATCH_IDS[0]}
    assert found[ALPHA]["name"] == "Lab Alpha GmbH"


# ---- iter_records / list / count ---------------------------------------------------------------


def test_iter_records_pages_to_the_end(
    mock: responses.RequestsMock, logged_in: SugarClient
) -> None:
    for page in ("p0", "p1", "p2"):
        add(mock, f"04_get_entry_list_paging_{page}")
    records = list(
        logged_in.module("Accounts").iter_records(
            q.like_prefix("accounts.name", "Lab Page"),
            fields=["name", "billing_address_city"],
            order_by="name",
            page_size=10,
        )
    )
    assert [r["name"] for r in records] == [f"Lab Page {i:02d}" for i in range(25)]
    offsets = [sent(c)[1]["offset"] for c in mock.calls[1:]]
    assert offsets == [0, 10, 20]  # stopped at total_count "25": no empty extra page
    first = sent(mock.calls[1])[1]
    assert first["order_by"] == "name ASC, id ASC"  # stable: id breaks ties
    assert first["max_results"] == 10
    assert first["query"] == "accounts.name LIKE 'Lab Page%'"


def test_iter_records_stops_on_an_empty_page(
    mock: responses.RequestsMock, logged_in: SugarClient
) -> None:
    # If total_count were unreliable, the past-the-end page (result_count 0) still ends it.
    add(mock, "04_get_entry_list_paging_p2")
    add(mock, "04_get_entry_list_paging_p3")
    accounts = logged_in.module("Accounts")
    gen = accounts.iter_records(page_size=10)
    assert len(list(gen)) == 5


def test_iter_records_follows_next_offset_not_page_size(
    mock: responses.RequestsMock, logged_in: SugarClient
) -> None:
    # Sugar may send another page size than asked (max_results 0 / -1 become 20); paging by
    # next_offset stays right.
    add(mock, "04_get_entry_list_max_results_0")
    add(mock, "04_get_entry_list_paging_p2")
    records = logged_in.module("Accounts").list(page_size=10)
    assert len(records) == 25
    assert [sent(c)[1]["offset"] for c in mock.calls[1:]] == [0, 20]


def test_no_match_total_count_zero(mock: responses.RequestsMock, logged_in: SugarClient) -> None:
    add(mock, "04_get_entry_list_no_match")
    assert logged_in.module("Accounts").list(q.eq("accounts.name", "no such account")) == []
    assert len(mock.calls) == 2


def test_page_size_must_be_positive(logged_in: SugarClient) -> None:
    with pytest.raises(InvalidCall):
        list(logged_in.module("Accounts").iter_records(page_size=0))


def test_table_qualified_order_by_is_stripped(
    mock: responses.RequestsMock, logged_in: SugarClient
) -> None:
    # 04_order_by_table_qualified_ignored: Sugar silently ignores "accounts.name DESC".
    add(mock, "04_get_entry_list_no_match")
    logged_in.module("Accounts").list(order_by="accounts.name DESC")
    assert sent(mock.calls[1])[1]["order_by"] == "name DESC, id ASC"
    with pytest.raises(InvalidCall):
        logged_in.module("Accounts").list(order_by="name; DROP TABLE accounts")


def test_deleted_flag(mock: responses.RequestsMock, logged_in: SugarClient) -> None:
    add(mock, "04_get_entry_list_deleted_1")
    logged_in.module("Accounts").list(deleted=True)
    assert sent(mock.calls[1])[1]["deleted"] == 1


def test_session_expiry_mid_iteration(mock: responses.RequestsMock, logged_in: SugarClient) -> None:
    add(mock, "04_get_entry_list_paging_p0")
    add(mock, "01_invalid_session_get_entry_list")
    add(mock, "01_login_cookie_jar_reuses_session", key="first_login")
    add(mock, "04_get_entry_list_paging_p1")
    add(mock, "04_get_entry_list_paging_p2")
    records = list(logged_in.module("Accounts").iter_records(page_size=10))
    assert len(records) == 25
    assert len({r["id"] for r in records}) == 25
    methods = [sent(c)[0] for c in mock.calls]
    assert methods == [
        "login",
        "get_entry_list",
        "get_entry_list",
        "login",
        "get_entry_list",
        "get_entry_list",
    ]
    replay = sent(mock.calls[4])[1]
    assert replay["offset"] == 10
    assert replay["session"] == "kjuhm8pq2jd6jibrsls1ljckac"
    assert logged_in.stats.relogins == 1


def test_count_string_and_zero(mock: responses.RequestsMock, logged_in: SugarClient) -> None:
    add(mock, "04_get_entries_count")
    assert logged_in.module("Accounts").count(q.like_prefix("accounts.name", "Lab Page")) == 25


# ---- quoting on the wire -----------------------------------------------------------------------


def test_quote_in_name_matches_exactly(
    mock: responses.RequestsMock, logged_in: SugarClient
) -> None:
    add(mock, "04_query_quote_doubled")
    records = logged_in.module("Accounts").list(
        q.eq("accounts.name", "O'Brien & Sons"), fields=["name"]
    )
    assert sent(mock.calls[1])[1]["query"] == "accounts.name = 'O''Brien & Sons'"
    assert [r["name"] for r in records] == ["O'Brien & Sons"]


def test_injection_attempt_is_a_harmless_literal(
    mock: responses.RequestsMock, logged_in: SugarClient
) -> None:
    # Interpolated by hand, x' OR 'a'='a returned every row (04_query_injection_or_1_1_noncomment).
    add(mock, "04_get_entry_list_no_match")
    records = logged_in.module("Accounts").list(q.eq("accounts.name", "x' OR 'a'='a"))
    assert sent(mock.calls[1])[1]["query"] == "accounts.name = 'x'' OR ''a''=''a'"
    assert records == []


# ---- fields ------------------------------------------------------------------------------------


def test_fields_accepts_empty_arrays(mock: responses.RequestsMock, logged_in: SugarClient) -> None:
    add(mock, "05_get_module_fields_filter_no_match")
    fields = logged_in.module("Accounts").fields(["does_not_exist_c"])
    assert fields.module_fields == {}
    assert fields.link_fields == {}
    assert fields.table_name == "accounts"


def test_fields_full(mock: responses.RequestsMock, logged_in: SugarClient) -> None:
    add(mock, "03_get_module_fields_ACLRoles")
    fields = logged_in.module("ACLRoles").fields()
    assert "name" in fields.module_fields
    assert {"users", "actions"} <= set(fields.link_fields)


# ---- create / update / save_many -----------------------------------------------------------------


def test_create_always_uses_a_client_id_with_new_with_id(
    mock: responses.RequestsMock, logged_in: SugarClient
) -> None:
    add(mock, "04_account_create_with_given_id_new_with_id")
    with _uuids(GIVEN_ID):
        new_id = logged_in.module("Accounts").create({"name": "Lab Given Id 2"})
    assert new_id == GIVEN_ID
    method, rest_data, _ = sent(mock.calls[1])
    assert method == "set_entry"
    assert rest_data["name_value_list"] == [
        {"name": "id", "value": GIVEN_ID},
        {"name": "new_with_id", "value": True},
        {"name": "name", "value": "Lab Given Id 2"},
    ]


def test_create_never_sends_a_new_id_without_new_with_id(
    mock: responses.RequestsMock, logged_in: SugarClient
) -> None:
    # 04_account_create_with_given_id_not_existing: such a call "succeeds" and stores nothing.
    add(mock, "04_account_create_with_given_id_new_with_id")
    logged_in.module("Accounts").create(
        {"name": "Lab Given Id 2", "id": GIVEN_ID, "new_with_id": False}
    )
    nvl = sent(mock.calls[1])[1]["name_value_list"]
    assert {"name": "new_with_id", "value": True} in nvl
    assert [i for i in nvl if i["name"] == "new_with_id"] == [
        {"name": "new_with_id", "value": True}
    ]


def test_create_is_retried_and_replays_as_update_when_first_attempt_stored(
    mock: responses.RequestsMock, logged_in: SugarClient
) -> None:
    add(mock, "07_db_down_set_entry")
    add(mock, "04_get_entry_unknown_id")  # the failed attempt stored nothing
    add(mock, "04_account_create_with_given_id_new_with_id")
    assert logged_in.module("Accounts").create({"name": "Lab Given Id 2"}, id=GIVEN_ID) == GIVEN_ID
    methods = [sent(c)[0] for c in mock.calls]
    assert methods == ["login", "set_entry", "get_entries", "set_entry"]
    replay = sent(mock.calls[3])[1]["name_value_list"]
    assert {"name": "new_with_id", "value": True} in replay  # not stored -> still a create


def test_save_many_retry_turns_stored_creates_into_updates(
    mock: responses.RequestsMock, logged_in: SugarClient
) -> None:
    add(mock, "07_db_down_set_entry")
    add(mock, "04_get_entries_by_ids")  # says BATCH_IDS[0] exists; [1] absent; [2] deleted
    add(mock, "04_accounts_create_set_entries")
    rows = [{"name": f"Lab Batch {i}", "account_type": "Prospect"} for i in range(3)]
    with _uuids(*BATCH_IDS):
        ids = logged_in.module("Accounts").save_many(rows)
    assert ids == BATCH_IDS
    replay = sent(mock.calls[3])[1]["name_value_lists"]
    has_new_with_id = [any(i["name"] == "new_with_id" for i in row) for row in replay]
    assert has_new_with_id == [False, True, True]
    assert logged_in.stats.writes == 2
    assert logged_in.stats.retries == 1


def test_save_many_mixes_updates_and_creates_in_input_order(
    mock: responses.RequestsMock, logged_in: SugarClient
) -> None:
    # 04_accounts_update_set_entries_mixed: update, update, create -> ids in input order.
    add(mock, "04_accounts_update_set_entries_mixed")
    created = "85859148-a7d2-669d-aae7-6b05e1e9828b"  # the id Sugar saved the create under
    rows = [
        {"id": BATCH_IDS[0], "account_type": "Customer"},
        {"id": BATCH_IDS[1], "account_type": "Partner"},
        {"name": "Lab Batch new in update call"},
    ]
    with _uuids(created):
        ids = logged_in.module("Accounts").save_many(rows, check_exists=False)
    assert ids == [BATCH_IDS[0], BATCH_IDS[1], created]
    sent_rows = sent(mock.calls[1])[1]["name_value_lists"]
    assert sent_rows[0] == [
        {"name": "id", "value": BATCH_IDS[0]},
        {"name": "account_type", "value": "Customer"},
    ]
    assert sent_rows[2][:2] == [
        {"name": "id", "value": created},
        {"name": "new_with_id", "value": True},
    ]


def test_save_many_batches_keep_input_order(
    mock: responses.RequestsMock, logged_in: SugarClient
) -> None:
    add(mock, "04_accounts_create_set_entries")
    add(mock, "05_set_entries_custom_fields")
    add(mock, "05_set_entries_update_custom_field")
    cf_ids = [
        "b2ba450d-4133-d23d-053a-6b05e3bb0e13",
        "b7d5973e-d93b-b0ef-a945-6b05e3038f16",
        "be58f232-faff-65d0-1b45-6b05e3f67dba",
    ]
    rows: list[dict[str, object]] = [{"name": f"Lab Batch {i}"} for i in range(3)]
    rows += [{"name": f"Lab CF Batch {i}", "segment_c": "seg-x"} for i in range(3)]
    rows.append({"id": cf_ids[2], "segment_c": "seg-x"})
    with _uuids(*BATCH_IDS, *cf_ids):
        ids = logged_in.module("Accounts").save_many(rows, batch_size=3, check_exists=False)
    assert ids == [*BATCH_IDS, *cf_ids, cf_ids[2]]
    assert [len(sent(c)[1]["name_value_lists"]) for c in mock.calls[1:]] == [3, 3, 1]
    assert logged_in.stats.writes == 3


def test_save_many_answer_with_other_ids_is_not_stored(
    mock: responses.RequestsMock, logged_in: SugarClient
) -> None:
    # set_entries skips rows the user may not save and only answers the ids it saved.
    add(mock, "04_accounts_create_set_entries")
    rows = [{"name": f"Lab Batch {i}"} for i in range(3)]
    with pytest.raises(WriteNotStored):
        logged_in.module("Accounts").save_many(rows)  # random ids: the answer's differ


def test_save_many_update_of_unknown_id_is_refused(
    mock: responses.RequestsMock, logged_in: SugarClient
) -> None:
    add(mock, "04_get_entry_unknown_id")
    with pytest.raises(WriteNotStored, match=UNKNOWN_ID):
        logged_in.module("Accounts").save_many([{"id": UNKNOWN_ID, "name": "x"}])
    assert logged_in.stats.writes == 0


def test_update_of_unknown_id_is_refused(
    mock: responses.RequestsMock, logged_in: SugarClient
) -> None:
    # set_entry on an unknown id without new_with_id answers success and stores nothing.
    add(mock, "04_get_entry_unknown_id")
    with pytest.raises(WriteNotStored):
        logged_in.module("Accounts").update(UNKNOWN_ID, {"name": "x"})
    assert logged_in.stats.writes == 0


def test_update_sends_id_and_values(mock: responses.RequestsMock, logged_in: SugarClient) -> None:
    add(mock, "04_get_entries_by_ids")  # existence check: ALPHA exists
    add(mock, "04_account_update_set_entry")
    values = {"industry": "Manufacturing", "phone_office": "+49 30 1234"}
    logged_in.module("Accounts").update(ALPHA, values)
    assert [sent(c)[0] for c in mock.calls] == ["login", "get_entries", "set_entry"]
    nvl = sent(mock.calls[2])[1]["name_value_list"]
    assert nvl == [
        {"name": "id", "value": ALPHA},
        {"name": "industry", "value": "Manufacturing"},
        {"name": "phone_office", "value": "+49 30 1234"},
    ]


def test_none_is_sent_as_empty_string(mock: responses.RequestsMock, logged_in: SugarClient) -> None:
    # A real SuiteCRM ignores a JSON null (the field keeps its value); "" clears it (seen live).
    add(mock, "04_get_entries_by_ids")
    add(mock, "04_account_update_set_entry")
    logged_in.module("Accounts").update(ALPHA, {"industry": None})
    nvl = sent(mock.calls[2])[1]["name_value_list"]
    assert nvl == [{"name": "id", "value": ALPHA}, {"name": "industry", "value": ""}]
    add(mock, "04_account_update_set_entry")
    logged_in.call(
        "set_entry",
        module_name="Accounts",
        name_value_list=[{"name": "id", "value": ALPHA}, {"name": "industry", "value": None}],
    )
    assert sent(mock.calls[3])[1]["name_value_list"][1] == {"name": "industry", "value": ""}


def test_unknown_fields_are_reported(
    mock: responses.RequestsMock, logged_in: SugarClient, caplog: pytest.LogCaptureFixture
) -> None:
    # 07_set_entry_unknown_field: Sugar drops unknown fields without a word; we warn (names only).
    add(mock, "07_set_entry_unknown_field")
    with caplog.at_level(logging.WARNING, logger="connectors.sugar.client"):
        logged_in.module("Accounts").create(
            {"name": "Lab Unknown Field Probe", "nonexistent_field_xyz": "abc", "segment_c": "A"},
            id="aeac476d-6bcb-be47-bfa1-6b05e3bce6f4",
        )
    assert "nonexistent_field_xyz" in caplog.text
    assert "segment_c" in caplog.text
    assert "abc" not in caplog.text


def test_rejected_set_entry_raises(mock: responses.RequestsMock, logged_in: SugarClient) -> None:
    add(mock, "07_set_entry_bad_id_format")
    with pytest.raises(EmptyResponse):
        logged_in.module("Accounts").create({"name": "bad id"})


def test_writes_refuse_unsafe_values(logged_in: SugarClient) -> None:
    with pytest.raises(TypeError):
        logged_in.module("Accounts").create({"name": ["a", "list"]})
    with pytest.raises(InvalidCall):
        logged_in.module("Accounts").create({"bad name": "x"})


def test_failed_create_without_retry_safety_is_not_replayed(
    mock: responses.RequestsMock, logged_in: SugarClient
) -> None:
    logged_in.max_retries = 0
    add(mock, "07_db_down_set_entry")
    with pytest.raises(ServerError):
        logged_in.module("Accounts").create({"name": "x"})
    assert logged_in.stats.writes == 1


# ---- relationships ---------------------------------------------------------------------------


def test_related_pages_until_a_short_page(
    mock: responses.RequestsMock, logged_in: SugarClient
) -> None:
    add(mock, "06_prospectlist_get_accounts")  # 4 members
    add(mock, "03_user_get_securitygroups_wrong_case")  # an empty page
    members = list(
        logged_in.module("ProspectLists").related(
            "9b09fb4e-eb6a-3efb-0271-6b05e387a2ca",
            "accounts",
            fields=["name", "segment_c"],
            page_size=4,
        )
    )
    assert len(members) == 4
    assert members[0]["name"] == "Lab Alpha GmbH"
    assert [(sent(c)[1]["offset"], sent(c)[1]["limit"]) for c in mock.calls[1:]] == [(0, 4), (4, 4)]


def test_related_single_short_page(mock: responses.RequestsMock, logged_in: SugarClient) -> None:
    add(mock, "06_prospectlist_get_accounts")
    members = list(logged_in.module("ProspectLists").related(ALPHA, "accounts", page_size=100))
    assert len(members) == 4
    assert len(mock.calls) == 2


def test_link_and_unlink(mock: responses.RequestsMock, logged_in: SugarClient) -> None:
    add(mock, "06_prospectlist_add_accounts")
    add(mock, "06_prospectlist_remove_account")
    lists = logged_in.module("ProspectLists")
    lists.link("9b09fb4e-eb6a-3efb-0271-6b05e387a2ca", "accounts", [ALPHA])
    lists.unlink("9b09fb4e-eb6a-3efb-0271-6b05e387a2ca", "accounts", [ALPHA])
    assert sent(mock.calls[1])[1]["delete"] == 0
    assert sent(mock.calls[2])[1]["delete"] == 1


def test_link_failed_count_raises(mock: responses.RequestsMock, logged_in: SugarClient) -> None:
    # 07_unknown_link_set_relationship: {created: 0, failed: 1}, HTTP 200, no error object.
    add(mock, "07_unknown_link_set_relationship")
    with pytest.raises(WriteNotStored):
        logged_in.module("ProspectLists").link(
            "9b09fb4e-eb6a-3efb-0271-6b05e387a2ca", "no_such_link", ["x"]
        )


def test_link_created_is_no_proof_verify_reads_back(
    mock: responses.RequestsMock, logged_in: SugarClient
) -> None:
    # 07_set_relationship_unknown_module_id: created 1 although nothing was written.
    add(mock, "07_set_relationship_unknown_module_id")
    add(mock, "03_user_get_securitygroups_wrong_case")  # reading back: no members
    with pytest.raises(WriteNotStored):
        logged_in.module("ProspectLists").link(
            "00000000-0000-0000-0000-00000000dead",
            "accounts",
            ["00000000-0000-0000-0000-00000000beef"],
            verify=True,
        )
