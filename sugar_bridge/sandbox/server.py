"""The HTTP side of the sandbox: Sugar's rest.php form protocol on a stdlib threading server.

``Sandbox`` is the entry point (context manager, ``start()``/``stop()``, ``base_url``,
``admin_password``, ``stats``, ``store``). Requests are form-encoded (``method``, ``input_type``,
``response_type``, ``rest_data``) by POST or GET at ``/service/v4_1/rest.php`` and, with the bridge
extension's methods too, at ``/custom/service/bridge/rest.php`` -- both below ``/legacy`` when the
sandbox plays SuiteCRM 8 (:mod:`sugar_bridge.sandbox.flavor`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import socket
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sugar_bridge.sandbox.api import REQUIRED, CallContext, Stats, SugarApi
from sugar_bridge.sandbox.exceptions import (
    DatabaseFailure,
    NullAnswer,
    PhpFatal,
    Redirect,
    SandboxConfigError,
    SugarFault,
    invalid_call,
)
from sugar_bridge.sandbox.extension import BridgeExtension
from sugar_bridge.sandbox.faults import (
    AodIndex,
    FaultDecision,
    FaultPlan,
    Faults,
    IndexLock,
    Latency,
)
from sugar_bridge.sandbox.flavor import DEFAULT_FLAVOR, Flavor, flavor_named, refuses
from sugar_bridge.sandbox.passwords import seed_admin
from sugar_bridge.sandbox.store import Store

log = logging.getLogger(__name__)

V4_1_PATH = "/service/v4_1/rest.php"
BRIDGE_PATH = "/custom/service/bridge/rest.php"
DB_FAILURE_TEXT = "Database failure. Please refer to suitecrm.log for details."
HELP_PAGE = (
    "<pre>/**\n * SugarWebServiceImplv4_1.php (sugar-bridge sandbox)\n *\n"
    " * No 'method' was posted: this is the API's documentation page, not JSON.\n */</pre>"
)
JSON_TYPE = "application/json; charset=UTF-8"
HTML_TYPE = "text/html; charset=UTF-8"
#: SuiteCRM's themes/default/images/blank.gif: a 1x1 transparent GIF, 43 bytes.
BLANK_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\xff\x00\xc0\xc0\xc0\x00\x00\x00!\xf9\x04\x01\x00"
    b"\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


class _Answer:
    """What goes back on the wire for one request."""

    def __init__(
        self,
        status: int,
        body: bytes,
        content_type: str = JSON_TYPE,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers or {}

    @classmethod
    def json(cls, value: Any) -> _Answer:
        return cls(200, json.dumps(value).encode("utf-8"))

    @classmethod
    def empty(cls, status: int) -> _Answer:
        return cls(status, b"", HTML_TYPE)


def bind_arguments(sig: tuple[tuple[str, Any], ...], rest_data: Any) -> list[Any]:
    """PHP 8 ``call_user_func_array``: positional list or named object → the argument list.

    An unknown name or a missing required parameter is a PHP fatal error (HTTP 500, empty body).
    """
    names = [n for n, _ in sig]
    if isinstance(rest_data, list):
        args = list(rest_data[: len(sig)])
        for _name, default in sig[len(args) :]:
            if default is REQUIRED:
                raise PhpFatal()
            args.append(default)
        return args
    if isinstance(rest_data, dict):
        unknown = [k for k in rest_data if k not in names]
        if unknown:
            raise PhpFatal()
        args = []
        for name, default in sig:
            if name in rest_data:
                args.append(rest_data[name])
            elif default is REQUIRED:
                raise PhpFatal()
            else:
                args.append(default)
        return args
    raise NullAnswer()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], sandbox: Sandbox) -> None:
        super().__init__(addr, _Handler)
        self.sandbox = sandbox


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes on a keep-alive connection: with Nagle on,
    # each answer waits for the client's delayed ACK (~40 ms per call instead of ~2 ms).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("sandbox http: " + format, *args)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        self._serve(parts.path, parse_qs(parts.query, keep_blank_values=True))

    def do_POST(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        limit = self.server.sandbox.post_max_size
        form: dict[str, list[str]] = {}
        if length > limit:
            # PHP discards every form field of a body above post_max_size.
            remaining = length
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, 1 << 20))
                if not chunk:
                    break
                remaining -= len(chunk)
        else:
            raw = self.rfile.read(length) if length else b""
            form = parse_qs(raw.decode("utf-8", errors="replace"), keep_blank_values=True)
        self._serve(parts.path, form)

    def _serve(self, path: str, form: dict[str, list[str]]) -> None:
        sandbox = self.server.sandbox
        if path == sandbox.flavor.api_root + "/index.php" and form.get("entryPoint"):
            self._send(sandbox.entry_point(form))
            return
        if path not in (sandbox.v4_1_path, sandbox.bridge_path):
            self._send(_Answer(404, b"Not Found", HTML_TYPE))
            return
        method = (form.get("method") or [""])[0]
        if not method:
            self._send(_Answer(200, HELP_PAGE.encode(), HTML_TYPE))
            return
        cookie = SimpleCookie(self.headers.get("Cookie") or "")
        ctx = CallContext(
            ip=self.client_address[0],
            cookie_session=cookie["PHPSESSID"].value if "PHPSESSID" in cookie else None,
        )
        raw = form.get("rest_data")
        decision, expire_all = sandbox.faults.next_call(method)
        if expire_all:
            sandbox.api.expire_all_sessions()
        if decision is not None and not decision.after and self._fault(decision, raw, before=True):
            return
        answer = sandbox.handle(method, raw[0] if raw else None, path == sandbox.bridge_path, ctx)
        if decision is not None and decision.after and self._fault(decision, raw, before=False):
            return
        sandbox.spend(method, raw[0] if raw else None, ctx)
        self._send(answer)

    def _fault(self, decision: FaultDecision, raw: list[str] | None, *, before: bool) -> bool:
        """Apply an injected fault; return True when the response is settled by it."""
        sandbox = self.server.sandbox
        sandbox.stats.fault(decision.kind)
        log.info(
            "sandbox: injecting %s %s the call", decision.kind, "before" if before else "after"
        )
        if decision.kind == "expire":
            session = _session_of(raw[0] if raw else None)
            sandbox.api.expire_session(session)
            return False
        if decision.kind == "http500":
            self._send(_Answer.empty(500))
        elif decision.kind == "null":
            self._send(_Answer.json(None))
        elif decision.kind == "timeout":
            time.sleep(sandbox.faults.faults.timeout_seconds)
            self._drop()
        else:
            self._drop()
        return True

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send(self, answer: _Answer) -> None:
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        for key, value in answer.headers.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)


def _workers(latency: Latency) -> contextlib.AbstractContextManager[Any]:
    """What a call holds while it spends its delay: a slot of the server's 'cores', or nothing."""
    if latency.workers is None:
        return contextlib.nullcontext()
    return threading.BoundedSemaphore(latency.workers)


def _argument(raw: str | None, name: str, position: int) -> str | None:
    """One string argument of a call's ``rest_data`` (named object or positional list)."""
    try:
        data = json.loads(raw) if raw else None
    except ValueError:
        return None
    if isinstance(data, dict):
        value = data.get(name)
    elif isinstance(data, list) and len(data) > position:
        value = data[position]
    else:
        value = None
    return value if isinstance(value, str) else None


def _session_of(raw: str | None) -> str | None:
    return _argument(raw, "session", 0)


#: The methods whose saves run SuiteCRM's after-save hooks (AOD's index write among them).
SAVE_METHODS = frozenset({"set_entry", "set_entries"})


class Sandbox:
    """A local v4_1-compatible Sugar (see the package docstring).

    ``db_path=None`` keeps state in memory; ``faults``/``latency`` inject trouble; ``aod`` turns
    on SuiteCRM's AOD search indexing as a cost (``AodIndex``; ``True`` = its default costs): every
    saved record of an indexed module also spends ``per_save`` under one server-wide index lock,
    so concurrent sessions' saves queue there; ``session_ttl`` (seconds idle) makes sessions
    expire; ``admin_password`` defaults to a random one; ``flavor`` is the SuiteCRM it plays
    (``SUITECRM_7_15`` by default, ``SUITECRM_7_14``, or ``SUITECRM_8``: API below ``/legacy``,
    see ``flavor``).

    Use it as a context manager or ``start()`` (→ ``base_url``) / ``stop()`` / ``close()``.
    ``url`` and ``extension_url`` are the two endpoints; ``stats`` counts calls, writes and
    injected faults per method; ``store`` is the SQLite state (``store.rows(sql)`` in tests);
    ``api.expire_all_sessions()`` / ``api.expire_session(id)`` kill sessions; ``set_faults()``,
    ``set_latency()`` and ``set_aod()`` change the trouble mid-test.
    """

    def __init__(
        self,
        db_path: str | Path | None = None,
        faults: Faults | None = None,
        latency: Latency | None = None,
        *,
        aod: AodIndex | bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        admin_password: str | None = None,
        session_ttl: float | None = None,
        post_max_size: int = 64 * 1024 * 1024,
        flavor: Flavor | str = DEFAULT_FLAVOR,
    ) -> None:
        if port < 0 or port > 65535:
            raise SandboxConfigError(f"port must be 0..65535, got {port}")
        self.host = host
        self.port = port
        self.store = Store(db_path)
        self.admin_password = admin_password or secrets.token_urlsafe(12)
        seed_admin(self.store, self.admin_password)
        self.flavor = flavor_named(flavor)
        self.api = SugarApi(self.store, session_ttl=session_ttl, flavor=self.flavor)
        self.bridge = BridgeExtension(self.api, lambda: self.index)
        self.faults = FaultPlan(faults)
        self.latency = latency or Latency()
        self.workers = _workers(self.latency)
        self.index: IndexLock | None = None
        self.set_aod(aod)
        self.stats = Stats()
        self.post_max_size = post_max_size
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> str:
        """Start serving in a background thread; return the base URL."""
        if self._server is None:
            self._server = _Server((self.host, self.port), self)
            self.port = int(self._server.server_address[1])
            # A short poll interval: stop() returns quickly (tests start many sandboxes).
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.02},
                name="sugar-sandbox",
                daemon=True,
            )
            self._thread.start()
            log.info("sandbox listening on %s", self.base_url)
        return self.base_url

    def stop(self) -> None:
        """Stop serving (state is kept; a file-backed store is closed)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def close(self) -> None:
        """Stop and close the database."""
        self.stop()
        self.store.close()

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted (the CLI's foreground mode)."""
        if self._server is None:
            self._server = _Server((self.host, self.port), self)
            self.port = int(self._server.server_address[1])
        self._server.serve_forever()

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` (Sugar's site URL; the API lives below it)."""
        return f"http://{self.host}:{self.port}"

    @property
    def v4_1_path(self) -> str:
        """Path of the v4_1 endpoint (below ``/legacy`` on SuiteCRM 8)."""
        return self.flavor.api_root + V4_1_PATH

    @property
    def bridge_path(self) -> str:
        """Path of the bridge extension's endpoint (below ``/legacy`` on SuiteCRM 8)."""
        return self.flavor.api_root + BRIDGE_PATH

    @property
    def url(self) -> str:
        """The v4_1 endpoint."""
        return self.base_url + self.v4_1_path

    @property
    def extension_url(self) -> str:
        """The bridge extension's endpoint."""
        return self.base_url + self.bridge_path

    def set_faults(self, faults: Faults | None) -> None:
        """Replace the fault configuration (restarts its call counter and random stream)."""
        self.faults = FaultPlan(faults)

    def set_latency(self, latency: Latency | None) -> None:
        """Replace the latency configuration."""
        self.latency = latency or Latency()
        self.workers = _workers(self.latency)

    def set_aod(self, aod: AodIndex | bool) -> None:
        """AOD search indexing on (an ``AodIndex``, or ``True`` for its default costs) or off."""
        if aod is True:
            aod = AodIndex()
        self.index = IndexLock(aod) if isinstance(aod, AodIndex) else None

    def run_index_job(self) -> int:
        """Sugar's ``aodIndexUnindexed`` scheduler job: index the records ``bridge_save_records``
        left to it (AOD on); how many. What the site's cron runs; 0 with AOD off."""
        return self.index.run_index_job() if self.index is not None else 0

    def searchable(self, module: str, record_id: str) -> bool:
        """Whether AOD's search would find the record now (False while it waits for the job)."""
        return self.index is None or self.index.searchable(module, record_id)

    # --- one call -----------------------------------------------------------------------------

    def spend(self, method: str, raw_rest_data: str | None, ctx: CallContext) -> None:
        """The server-side time of a call that ran: the latency model's delay (in a worker slot)
        and, with AOD on, each indexed record's index write (under the index lock), record by
        record as Sugar saves them."""
        latency = self.latency
        index = self.index
        saves = ctx.created + ctx.updated
        if (
            index is None
            or saves == 0
            or method not in SAVE_METHODS
            or _argument(raw_rest_data, "module_name", 1) not in index.aod.modules
        ):
            delay = latency.delay(ctx.created, ctx.updated)
            if delay > 0:
                with self.workers:
                    time.sleep(delay)
            return
        if latency.call > 0:
            with self.workers:
                time.sleep(latency.call)
        per_record = [latency.per_create] * ctx.created + [latency.per_update] * ctx.updated
        for save in per_record:
            if save > 0:
                with self.workers:
                    time.sleep(save)
            index.write(1)

    def import_records(self, module: str, rows: Sequence[Mapping[str, Any]]) -> list[str]:
        """Save ``rows`` as new records of ``module`` the way Sugar's Import wizard does (their
        ``date_modified`` kept, no case closure hook): for seeding a history, e.g. the demo's
        closed cases. Returns the ids. See :meth:`SugarApi.import_records`."""
        return self.api.import_records(module, rows)

    def entry_point(self, form: dict[str, list[str]]) -> _Answer:
        """Sugar's ``index.php?entryPoint=…`` pages that need no login, as far as modelled:
        ``image`` (modules/Campaigns/image.php, in a campaign e-mail: the target opened it)
        logs ``viewed`` for the ``identifier`` (a campaign log tracker key) and answers the
        theme's blank GIF (recording 21_04). Any other entry point: not modelled (404)."""
        name = (form.get("entryPoint") or [""])[0]
        if name != "image":
            return _Answer(404, b"Not Found", HTML_TYPE)
        identifier = (form.get("identifier") or [""])[0]
        if identifier:
            self.api.log_campaign_activity(identifier, "viewed")
        return _Answer(200, BLANK_GIF, "image/gif")

    def handle(
        self, method: str, raw_rest_data: str | None, extension: bool, ctx: CallContext
    ) -> _Answer:
        """Run one API call and turn its outcome into Sugar's HTTP answer."""
        committed = False
        found = self.api.method(method)
        if found is None and extension:
            found = self.bridge.method(method)
        try:
            if refuses(self.flavor, method, raw_rest_data):
                raise PhpFatal()  # SuiteCRM 8: login's unknown named parameter
            if found is None:
                raise invalid_call()
            func, sig = found
            if raw_rest_data is None:
                rest_data: Any = []
            else:
                try:
                    rest_data = json.loads(raw_rest_data)
                except ValueError:
                    rest_data = None
                if not isinstance(rest_data, list | dict):
                    # json_decode failed: the method runs without arguments and returns nothing.
                    if sig:
                        raise NullAnswer()
                    rest_data = []
            args = bind_arguments(sig, rest_data)
            with self.store.lock:
                body = func(ctx, *args)
            answer = _Answer.json(body)
            committed = True
        except SugarFault as fault:
            answer = _Answer.json(fault.body())
        except NullAnswer:
            answer = _Answer.json(None)
        except PhpFatal:
            answer = _Answer.empty(500)
        except (DatabaseFailure, sqlite3.Error):
            # e.g. new_with_id on the id of a deleted record: the INSERT hits the primary key.
            answer = _Answer(500, DB_FAILURE_TEXT.encode(), HTML_TYPE)
        except Redirect:
            answer = _Answer(
                301, b"", HTML_TYPE, {"Location": "Location: index.php?action=Error&module=Users"}
            )
        except Exception:
            # A bug of the sandbox: answer like a PHP fatal error, and say so in the log.
            log.exception("sandbox: %s failed", method)
            answer = _Answer.empty(500)
        if not committed:
            # The call's transaction was rolled back: nothing was written after all.
            ctx.created = ctx.updated = ctx.links = 0
        if ctx.set_cookie:
            answer.headers["Set-Cookie"] = f"PHPSESSID={ctx.set_cookie}; path=/"
        self.stats.record(method, ctx)
        return answer
