"""What every recorder script shares: the v4_1 (and bridge extension) client that writes each
exchange as a redacted JSON file, the cleanup of what a run created, and the command line.

A recording is ``{"description", "request": {"method", "rest_data"}, "response": {"status",
"body"}}`` in ``<prefix>_<step>_<what>.json``; calls sent to the extension's endpoint carry
``"endpoint": "extension"`` in the request. Never written in clear: the session id (replaced by
``SESSION_PLACEHOLDER``) and the admin's password and its md5 (the login itself is not recorded).
Values in a ``query`` are quoted the way the bridge quotes them (``connectors.sugar.query``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import requests

from connectors.sugar.query import quote

__all__ = ["ENV", "SESSION_PLACEHOLDER", "Recorder", "quote", "run"]

SESSION_PLACEHOLDER = "<session id (redacted)>"
ENV = ("SUGAR_LIVE_URL", "SUGAR_LIVE_USERNAME", "SUGAR_LIVE_PASSWORD")
OUT = Path(__file__).parent / "suitecrm-7.15.0"


class Recorder:
    """Sends v4_1 calls (and the bridge extension's) to one Sugar and writes each exchange,
    redacted, as a JSON file."""

    def __init__(self, base_url: str, username: str, password: str, out: Path) -> None:
        self.v4_url = base_url.rstrip("/") + "/service/v4_1/rest.php"
        self.extension_url = base_url.rstrip("/") + "/custom/service/bridge/rest.php"
        self.url = self.v4_url
        self.out = out
        self.http = requests.Session()
        self.secrets = [password, hashlib.md5(password.encode()).hexdigest()]
        self.created: list[tuple[str, str]] = []
        answer = self.post(
            "login",
            {
                "user_auth": {"user_name": username, "password": self.secrets[1]},
                "application_name": "sugar-bridge recorder",
                "name_value_list": [],
            },
        )[1]
        if not isinstance(answer, dict) or "id" not in answer:
            raise SystemExit(f"login failed: {answer!r}")
        self.session = str(answer["id"])

    def post(self, method: str, rest_data: Any) -> tuple[int, Any]:
        """One raw call (cookie-less, no redirects followed); the body parsed when it is JSON."""
        reply = self.http.post(
            self.url,
            data={
                "method": method,
                "input_type": "JSON",
                "response_type": "JSON",
                "rest_data": json.dumps(rest_data),
            },
            allow_redirects=False,
            timeout=120,
        )
        self.http.cookies.clear()
        try:
            return reply.status_code, reply.json()
        except ValueError:
            return reply.status_code, reply.text

    def _redact(self, data: Any) -> Any:
        text = json.dumps(data)
        text = text.replace(self.session, SESSION_PLACEHOLDER)
        for secret in self.secrets:
            if secret and secret in text:
                text = text.replace(json.dumps(secret)[1:-1], "<redacted>")
        return json.loads(text)

    def record(self, name: str, description: str, method: str, params: dict[str, Any]) -> Any:
        """Call ``method`` with the session first and write ``<name>.json``; return the body."""
        rest_data = {"session": self.session, **params}
        status, body = self.post(method, rest_data)
        request: dict[str, Any] = {"method": method, "rest_data": rest_data}
        if self.url == self.extension_url:
            request = {"endpoint": "extension", **request}
        exchange = {
            "description": description,
            "request": request,
            "response": {"status": status, "body": body},
        }
        self.write(name, exchange)
        return body

    def write(self, name: str, exchange: dict[str, Any]) -> None:
        """Write one exchange, redacted, as ``<name>.json`` (also one that is no v4_1 call)."""
        path = self.out / f"{name}.json"
        path.write_text(json.dumps(self._redact(exchange), indent=2, ensure_ascii=False) + "\n")
        print(f"{name}: HTTP {exchange['response']['status']}", file=sys.stderr)

    def record_extension(
        self, name: str, description: str, method: str, params: dict[str, Any]
    ) -> Any:
        """Like ``record``, sent to the bridge extension's endpoint."""
        self.url = self.extension_url
        try:
            return self.record(name, description, method, params)
        finally:
            self.url = self.v4_url

    def cleanup(self, tag: str, tagged: Sequence[tuple[str, str]] = ()) -> None:
        """Mark deleted every record this run created (not recorded), also those a failed call
        stored without answering their id: found by the run's tag in each ``(module, column)``
        of ``tagged``."""
        self.url = self.v4_url
        for module, column in tagged:
            found = self.post(
                "get_entry_list",
                {
                    "session": self.session,
                    "module_name": module,
                    "query": f"{column} LIKE {quote(tag + '%')}",
                    "order_by": "",
                    "offset": 0,
                    "select_fields": ["id"],
                    "link_name_to_fields_array": [],
                    "max_results": 200,
                    "deleted": 0,
                },
            )[1]
            for entry in found.get("entry_list", []) if isinstance(found, dict) else []:
                self.created.append((module, entry["id"]))
        for module, record_id in reversed(self.created):
            nvl = [{"name": "id", "value": record_id}, {"name": "deleted", "value": 1}]
            self.post(
                "set_entry",
                {"session": self.session, "module_name": module, "name_value_list": nvl},
            )
        self.created.clear()

    def logout(self) -> None:
        """End the session."""
        self.url = self.v4_url
        self.post("logout", {"session": self.session})


def run(
    doc: str,
    prefixes: Sequence[str],
    sequence: Callable[[Recorder, str], None],
    argv: list[str] | None = None,
    *,
    tagged: Sequence[tuple[str, str]] = (),
) -> int:
    """A recorder script's command line: ``--out`` (the 7.15.0 folder by default) gets the
    files of ``prefixes`` replaced by what ``sequence(recorder, tag)`` records; whatever the run
    created is marked deleted at the end, also when a step fails (see ``Recorder.cleanup``)."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    missing = [name for name in ENV if not os.environ.get(name)]
    if missing:
        print(f"set {', '.join(missing)}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    for prefix in prefixes:
        for old in args.out.glob(f"{prefix}_*.json"):
            old.unlink()
    url, username, password = (os.environ[name] for name in ENV)
    recorder = Recorder(url, username, password, out=args.out)
    tag = f"SBREC{secrets.token_hex(3)}"
    try:
        sequence(recorder, tag)
    finally:
        recorder.cleanup(tag, tagged)
        recorder.logout()
    return 0
