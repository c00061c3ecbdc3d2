"""A raw v4_1 caller for the sandbox tests (deliberately not the project's Sugar client)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from sugar_bridge.sandbox import Sandbox, md5_hex


@dataclass
class Reply:
    """One HTTP answer: status, decoded JSON body (or the raw text), content type."""

    status: int
    body: Any
    content_type: str


def raw_call(url: str, method: str, rest_data: Any, *, timeout: float = 10.0) -> Reply:
    """POST one v4_1 call; ``rest_data`` is JSON-encoded unless it is already a string."""
    data = rest_data if isinstance(rest_data, str) else json.dumps(rest_data)
    resp = requests.post(
        url,
        data={"method": method, "input_type": "JSON", "response_type": "JSON", "rest_data": data},
        timeout=timeout,
        allow_redirects=False,
    )
    ctype = resp.headers.get("Content-Type", "")
    body: Any = resp.text
    if ctype.startswith("application/json"):
        body = resp.json()
    return Reply(resp.status_code, body, ctype)


class Api:
    """Calls against one sandbox with one session."""

    def __init__(self, sandbox: Sandbox, user: str = "admin", password: str | None = None) -> None:
        self.sandbox = sandbox
        self.session = ""
        reply = self.login(user, password or sandbox.admin_password)
        assert isinstance(reply.body, dict), reply
        assert "id" in reply.body, reply
        self.session = reply.body["id"]

    def login(self, user: str, password: str) -> Reply:
        rest_data: dict[str, Any] = {
            "user_auth": {"user_name": user, "password": md5_hex(password)},
            "application_name": "tests",
            "name_value_list": [],
        }
        if self.sandbox.flavor.refuses_application_name:
            del rest_data["application_name"]  # SuiteCRM 8: HTTP 500 (SuiteCRM-Core#272)
        return raw_call(self.sandbox.url, "login", rest_data)

    def __call__(self, method: str, **params: Any) -> Any:
        reply = self.raw(method, **params)
        assert reply.status == 200, reply
        return reply.body

    def raw(self, method: str, **params: Any) -> Reply:
        url = self.sandbox.extension_url if method.startswith("bridge_") else self.sandbox.url
        return raw_call(url, method, {"session": self.session, **params})

    def create(self, module: str, **values: Any) -> str:
        body = self("set_entry", module_name=module, name_value_list=values)
        return str(body["id"])

    def list(self, module: str, query: str = "", **kw: Any) -> Any:
        params = {
            "module_name": module,
            "query": query,
            "order_by": kw.pop("order_by", ""),
            "offset": kw.pop("offset", 0),
            "select_fields": kw.pop("select_fields", ["id", "name"]),
            "link_name_to_fields_array": [],
            "max_results": kw.pop("max_results", 50),
            "deleted": kw.pop("deleted", 0),
        }
        return self("get_entry_list", **params)


# The sandbox group's own Typer app (the root app would import every command group: seconds slower).
START = "from sugar_bridge.cli.sandbox import app; app(prog_name='sugar-bridge sandbox')"


@dataclass
class Foreground:
    """A ``sugar-bridge sandbox`` run in the foreground: what it printed up to the awaited text,
    then (after Ctrl-C) the rest and its exit code."""

    text: str = ""
    out: str = ""
    returncode: int | None = None


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def foreground_sandbox(data_dir: Path, *args: str, until: str = "Ctrl-C") -> Iterator[Foreground]:
    """``sugar-bridge sandbox ARGS`` in a subprocess, its output read until ``until`` shows (60 s
    at most); stopped with Ctrl-C (SIGINT) when the block ends, killed if it fails."""
    env = {**os.environ, "COLUMNS": "200", "SUGAR_BRIDGE_DATA_DIR": str(data_dir)}
    proc = subprocess.Popen(
        [sys.executable, "-c", START, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        # Started as from a script's `cmd &` (SIGINT ignored, inherited): Ctrl-C must still stop it.
        preexec_fn=_ignore_sigint,
    )
    run = Foreground()
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        while until not in run.text and time.monotonic() < deadline:
            run.text += proc.stdout.readline()
        yield run
        proc.send_signal(signal.SIGINT)
        run.out, _ = proc.communicate(timeout=60)
        run.returncode = proc.returncode
    finally:
        if proc.poll() is None:
            proc.kill()


class ReplayClock:
    """The sandbox's clock for replaying a recording (``monkeypatch.setattr(store, "clock",
    clock)``): it stands still, so steps the recorder made within one second share one here too,
    and moves only where the replay says the recorder waited (``clock.now += seconds``)."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now
