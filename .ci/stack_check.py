"""End-to-end checks of the started Docker stack, from the host through Sugar's published port.

    SUGAR_URL=http://127.0.0.1:8180 SUGAR_ADMIN_PASSWORD=... PROVISIONED_PASSWORDS="$(cat F.tsv)" \\
        python3 .ci/stack_check.py

Standard library only (it runs on the CI machine, not in the bridge image, and uses none of the
bridge's code, so it checks the bridge's work independently):

1. the bridge provisioned Sugar: a provisioned user (name and generated password from the 0600
   file the bridge wrote) logs in through REST v4_1 and ``get_user_id`` answers its own id (on
   SuiteCRM 7.15 only if provisioning made it an ``Active`` employee);
2. the bridge's sync pushed segments: an account with a segment (found as admin through v4_1)
   shows that segment's label on Sugar's own Account detail page, fetched over HTTP after a web
   login, as a browser would.

Exit 0 when both hold; otherwise the reason, exit 1.
"""

from __future__ import annotations

import hashlib
import http.cookiejar
import json
import os
import re
import sys
import urllib.parse
import urllib.request
from typing import Any

TIMEOUT = 60
SEGMENT_FIELD = "segment_c"  # config/sugar-bridge.yaml: the Accounts custom field of the segment


class CheckFailed(Exception):
    pass


def rest(base: str, method: str, data: dict[str, Any]) -> Any:
    """One REST v4_1 call (form protocol, JSON in and out)."""
    body = urllib.parse.urlencode(
        {
            "method": method,
            "input_type": "JSON",
            "response_type": "JSON",
            "rest_data": json.dumps(data),
        }
    ).encode()
    url = f"{base}/service/v4_1/rest.php"
    with urllib.request.urlopen(url, body, timeout=TIMEOUT) as answer:  # noqa: S310 - our Sugar
        return json.loads(answer.read().decode("utf-8"))


def md5_hex(text: str) -> str:
    """What v4_1's login wants instead of the password itself."""
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - Sugar's protocol, not storage


def login(base: str, user: str, password: str) -> str:
    answer = rest(
        base,
        "login",
        {
            "user_auth": {"user_name": user, "password": md5_hex(password)},
            "application_name": "stack-check",
            "name_value_list": [],
        },
    )
    if not isinstance(answer, dict) or not answer.get("id"):
        raise CheckFailed(f"v4_1 login as {user} failed: {answer}")
    return str(answer["id"])


def entries(
    base: str, session: str, module: str, query: str, fields: list[str]
) -> list[dict[str, str]]:
    answer = rest(
        base,
        "get_entry_list",
        {
            "session": session,
            "module_name": module,
            "query": query,
            "order_by": "",
            "offset": 0,
            "select_fields": fields,
            "link_name_to_fields_array": [],
            "max_results": 20,
            "deleted": 0,
            "favorites": False,
        },
    )
    if "entry_list" not in answer:
        raise CheckFailed(f"get_entry_list {module} failed: {answer}")
    return [
        {k: v["value"] for k, v in row["name_value_list"].items()} for row in answer["entry_list"]
    ]


def check_provisioned_user(base: str, admin: str, passwords: str) -> str:
    rows = [
        line.split("\t", 1)
        for line in passwords.splitlines()
        if line.strip() and not line.startswith("#")
    ]
    if not rows:
        raise CheckFailed("the bridge wrote no provisioned passwords")
    user, password = rows[0][0], rows[0][1].strip()
    session = login(base, user, password)
    answer = rest(base, "get_user_id", {"session": session})
    if isinstance(answer, str) and re.fullmatch(r"[0-9a-f-]{36}", answer):
        return f"provisioned user {user}: v4_1 login ok, get_user_id = {answer}"
    # SuiteCRM 7.15 refuses (error 11) every call of a user whose employee_status is not
    # 'Active': provisioning sets it; the status is named to tell that failure from others.
    found = entries(base, admin, "Users", f"users.user_name = '{user}'", ["employee_status"])
    status = found[0].get("employee_status", "?") if found else "?"
    raise CheckFailed(
        f"provisioned user {user}: get_user_id answered {answer} (employee_status {status!r})"
    )


def check_segment_on_detail_page(base: str, admin: str, admin_password: str) -> str:
    accounts = entries(
        base,
        admin,
        "Accounts",
        f"accounts_cstm.{SEGMENT_FIELD} IS NOT NULL AND accounts_cstm.{SEGMENT_FIELD} <> ''",
        ["id", "name", SEGMENT_FIELD],
    )
    if not accounts:
        raise CheckFailed("no account in Sugar has a segment: the sync pushed nothing")
    fields = rest(
        base,
        "get_module_fields",
        {"session": admin, "module_name": "Accounts", "fields": [SEGMENT_FIELD]},
    )
    options = fields["module_fields"][SEGMENT_FIELD]["options"]
    labels = {
        o["name"]: o["value"] for o in (options.values() if isinstance(options, dict) else options)
    }
    account = accounts[0]
    key = account[SEGMENT_FIELD]
    label = labels.get(key, key)

    jar = http.cookiejar.CookieJar()
    web = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    form = urllib.parse.urlencode(
        {
            "module": "Users",
            "action": "Authenticate",
            "user_name": "admin",
            "username_password": admin_password,
        }
    ).encode()
    with web.open(f"{base}/index.php", form, timeout=TIMEOUT) as page:
        text = page.read().decode("utf-8", "replace")
        if 'name="username_password"' in text:
            raise CheckFailed("web login as admin failed")
    url = f"{base}/index.php?module=Accounts&action=DetailView&record={account['id']}"
    with web.open(url, timeout=TIMEOUT) as page:
        text = page.read().decode("utf-8", "replace")
    if account["name"] not in text:
        raise CheckFailed(f"{url}: the page does not show account {account['name']!r}")
    field = re.search(rf'id="{SEGMENT_FIELD}"[^>]*>', text)
    if field is None or label not in text[field.start() : field.start() + 500]:
        raise CheckFailed(f"{url}: no segment {label!r} in the {SEGMENT_FIELD} field of the page")
    return (
        f"accounts with a segment in Sugar: {len(accounts)}{'+' if len(accounts) == 20 else ''}; "
        f"{account['name']!r} shows segment {label!r} "
        f"({key}) on its detail page"
    )


def main() -> int:
    base = os.environ["SUGAR_URL"].rstrip("/")
    admin_password = os.environ["SUGAR_ADMIN_PASSWORD"]
    try:
        admin = login(base, "admin", admin_password)
        print(check_provisioned_user(base, admin, os.environ["PROVISIONED_PASSWORDS"]))
        print(check_segment_on_detail_page(base, admin, admin_password))
    except (CheckFailed, OSError, KeyError, ValueError) as exc:
        print(f"stack check failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
