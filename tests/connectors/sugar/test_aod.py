"""``aod_indexing``: whether AOD indexed the last account save, read-only (recorded answers)."""

from __future__ import annotations

import responses

from connectors.sugar.aod import aod_indexing
from connectors.sugar.client import SugarClient
from tests.connectors.sugar.conftest import REST, add, sent

# The account in 04_get_entry_list_no_select_fields and its date_modified.
ACCOUNT_ID = "5d1bf37d-cbea-be2c-36b2-6b05e132ddff"
SAVED_AT = "2026-11-24 19:12:28"


def _probe(mock: responses.RequestsMock, client: SugarClient, count_answer: str | None) -> object:
    add(mock, "01_login_success")
    add(mock, "04_get_entry_list_no_select_fields")
    if count_answer is None:
        mock.add(responses.POST, REST, json={"result_count": 0})  # none: the number 0, not "0"
    else:
        add(mock, count_answer)
    return aod_indexing(client)


def test_an_index_event_dated_after_the_last_save_means_on(
    mock: responses.RequestsMock, client: SugarClient
) -> None:
    assert _probe(mock, client, "04_get_entries_count") is True
    method, rest_data, _ = sent(mock.calls[1])
    assert method == "get_entry_list"
    assert rest_data["module_name"] == "Accounts"
    assert rest_data["order_by"].startswith("date_modified DESC")
    assert rest_data["max_results"] == 1
    method, rest_data, _ = sent(mock.calls[2])
    assert (method, rest_data["module_name"]) == ("get_entries_count", "AOD_IndexEvent")
    assert f"aod_indexevent.record_id = '{ACCOUNT_ID}'" in rest_data["query"]
    assert f"aod_indexevent.date_modified >= '{SAVED_AT}'" in rest_data["query"]
    assert all(sent(c)[0] not in ("set_entry", "set_entries") for c in mock.calls)


def test_no_event_since_the_last_save_means_off(
    mock: responses.RequestsMock, client: SugarClient
) -> None:
    assert _probe(mock, client, None) is False


def test_no_aod_module_or_no_account_means_unknown(
    mock: responses.RequestsMock, client: SugarClient
) -> None:
    assert _probe(mock, client, "07_unknown_module_get_entry_list") is None  # error 20
    add(mock, "04_get_entry_list_no_match")
    assert aod_indexing(client) is None
