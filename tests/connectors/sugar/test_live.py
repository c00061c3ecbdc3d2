"""Against a real Sugar: only when SUGAR_LIVE_URL, SUGAR_LIVE_USERNAME, SUGAR_LIVE_PASSWORD are set.

Creates a few throw-away accounts named "sugar-bridge live test ..." and marks them deleted at
the end.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from connectors.sugar import query as q
from connectors.sugar.client import SugarClient
from connectors.sugar.exceptions import InvalidLogin, NoSuchModule

pytestmark = pytest.mark.live


@pytest.fixture
def created(live_sugar: SugarClient) -> Iterator[list[str]]:
    ids: list[str] = []
    yield ids
    accounts = live_sugar.module("Accounts")
    for record_id in ids:
        accounts.update(record_id, {"deleted": 1}, check_exists=False)


def test_login_and_server_info(live_sugar: SugarClient) -> None:
    info = live_sugar.server_info()
    assert info.get("flavor")
    assert live_sugar.user_id
    assert "Accounts" in live_sugar.available_modules()


def test_wrong_password_is_invalid_login(live_sugar: SugarClient) -> None:
    wrong = SugarClient(live_sugar.base_url, live_sugar.username, uuid.uuid4().hex, max_retries=0)
    with pytest.raises(InvalidLogin):
        wrong.login()


def test_module_names_are_case_sensitive(live_sugar: SugarClient) -> None:
    with pytest.raises(NoSuchModule):
        live_sugar.module("accounts").count()


def test_create_read_update_with_a_quote(live_sugar: SugarClient, created: list[str]) -> None:
    accounts = live_sugar.module("Accounts")
    tag = uuid.uuid4().hex[:8]
    name = f"sugar-bridge live test O'Brien & Sons {tag}"
    record_id = accounts.create({"name": name, "billing_address_city": "Paris"})
    created.append(record_id)
    record = accounts.get(record_id, fields=["name", "billing_address_city"])
    assert record is not None
    assert record["name"] == name
    found = accounts.list(q.eq("accounts.name", name), fields=["name"])
    assert [r["id"] for r in found] == [record_id]
    assert accounts.list(q.eq("accounts.name", "x' OR 'a'='a")) == []
    accounts.update(record_id, {"billing_address_city": "Lyon"})
    again = accounts.get(record_id, fields=["billing_address_city"])
    assert again is not None
    assert again["billing_address_city"] == "Lyon"


def test_save_many_and_paging(live_sugar: SugarClient, created: list[str]) -> None:
    accounts = live_sugar.module("Accounts")
    tag = uuid.uuid4().hex[:8]
    rows = [{"name": f"sugar-bridge live test page {tag} {i:02d}"} for i in range(7)]
    ids = accounts.save_many(rows, batch_size=3)
    created.extend(ids)
    assert len(ids) == 7
    query = q.like_prefix("accounts.name", f"sugar-bridge live test page {tag}")
    assert accounts.count(query) == 7
    paged = list(accounts.iter_records(query, fields=["name"], page_size=2))
    assert sorted(r["id"] for r in paged) == sorted(ids)
    assert len({r["id"] for r in paged}) == 7


def test_none_clears_a_field(live_sugar: SugarClient, created: list[str]) -> None:
    # Real SuiteCRM 7.14.6 ignores a JSON null in set_entry (the old value stays, the call says
    # success) and clears a field only on "": the client must send None as "".
    accounts = live_sugar.module("Accounts")
    tag = uuid.uuid4().hex[:8]
    record_id = accounts.create(
        {"name": f"sugar-bridge live test none {tag}", "industry": "Energy", "phone_office": "1"}
    )
    created.append(record_id)
    accounts.update(record_id, {"industry": None, "phone_office": None})
    record = accounts.get(record_id, fields=["industry", "phone_office"])
    assert record is not None
    assert (record["industry"], record["phone_office"]) == ("", "")
    accounts.save_many([{"id": record_id, "industry": "Energy"}])
    accounts.save_many([{"id": record_id, "industry": None}])
    again = accounts.get(record_id, fields=["industry"])
    assert again is not None
    assert again["industry"] == ""
