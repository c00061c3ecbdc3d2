"""Client of Sugar's legacy REST API v4_1 (SugarCRM CE 6.5, SuiteCRM 7 and 8) that survives it.

Every request goes through :meth:`SugarClient.call`, which

* checks the method and its parameter names against the PHP signatures (an unknown name is a PHP
  fatal error on the server: HTTP 500 with an empty body) and sends them in signature order;
* finds the API below a site root once, on the first call (``/service/v4_1/rest.php``, or
  SuiteCRM 8's ``/legacy/service/v4_1/rest.php``; see :meth:`SugarClient._discover`);
* injects the session id, logging in lazily (``login`` with the md5 of the password; without
  ``application_name`` on SuiteCRM 8, which answers it with HTTP 500 -- SuiteCRM-Core#272);
* posts ``method``, ``input_type=JSON``, ``response_type=JSON``, ``rest_data`` with a timeout,
  TLS verification and without following redirects;
* maps Sugar's ``{name, number, description}`` answers to typed exceptions by ``number`` and the
  HTTP-level failures (500 empty body, ``null`` body, HTML body, 3xx) to theirs
  (:mod:`connectors.sugar.exceptions`);
* logs in again once when the session expired (error 11) and replays the call;
* retries transient failures (connection errors, timeouts, 5xx, a ``null`` answer to a read) with
  capped exponential backoff and jitter -- but only calls that cannot duplicate anything: reads,
  updates, relationship writes and creates carrying a client-generated id with ``new_with_id``.

:meth:`SugarClient.module` gives a :class:`Module` accessor with the record-level operations.
Secrets (password, its md5, session ids, ``user_hash`` values) never reach logs or exception
messages; response bodies are never logged (Sugar echoes ``user_hash`` back).
"""

from __future__ import annotations

import builtins
import hashlib
import json
import logging
import random
import re
import socket
import ssl
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.cookiejar import DefaultCookiePolicy
from typing import Any
from urllib.parse import urlsplit

import requests

from connectors.sugar import query as q
from connectors.sugar.exceptions import (
    ERRORS_BY_NUMBER,
    ApiNotFound,
    ConnectionRefused,
    EmptyResponse,
    ExtensionMissing,
    HostNotFound,
    HttpStatusError,
    InvalidCall,
    InvalidSession,
    NotJsonResponse,
    RedirectResponse,
    ServerError,
    SugarApiError,
    SugarError,
    TlsError,
    TransportError,
    TransportTimeout,
    UnknownMethod,
    WriteNotStored,
)
from connectors.sugar.records import (
    Record,
    entry_to_record,
    is_missing_entry,
    nvl_get,
    pairs,
    to_name_value_list,
    wire_value,
)
from connectors.sugar.redact import redacted_json
from connectors.sugar.signatures import REQUIRED, SIGNATURES, Signature

__all__ = ["CallStats", "Module", "ModuleFields", "Record", "SugarClient"]

log = logging.getLogger(__name__)

REST_PATH = "/service/v4_1/rest.php"
EXTENSION_PATH = "/custom/service/bridge/rest.php"
# SuiteCRM 8 serves the SuiteCRM 7 code base ("legacy") below <site>/legacy: the v4_1 API and the
# Module Loader's custom/ folder (so our extension) are there.
LEGACY_PREFIX = "/legacy"
_REST_RE = re.compile(r"/service/v\d+(?:_\d+)?(?:_custom)?(?:/rest\.php)?$")
_MODULE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,99}$")
_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,36}$")

# Calls whose answer ``null`` is the normal success (logout returns nothing).
_NULL_OK = frozenset({"logout"})


# --------------------------------------------------------------------------------------------
# statistics
# --------------------------------------------------------------------------------------------


class CallStats:
    """Thread-safe counters of a client: HTTP calls per method, writes, retries, re-logins.

    ``calls`` counts HTTP requests (a retried call counts each attempt); ``writes`` counts HTTP
    requests of writing methods (set_entry, set_entries, set_relationship(s), bridge_* writes).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: Counter[str] = Counter()
        self._writes = 0
        self._retries = 0
        self._relogins = 0
        self._errors: Counter[str] = Counter()

    def _record_call(self, method: str, writes: bool) -> None:
        with self._lock:
            self._calls[method] += 1
            if writes:
                self._writes += 1

    def _record_retry(self) -> None:
        with self._lock:
            self._retries += 1

    def _record_relogin(self) -> None:
        with self._lock:
            self._relogins += 1

    def _record_error(self, error: SugarError) -> None:
        with self._lock:
            self._errors[type(error).__name__] += 1

    @property
    def calls(self) -> dict[str, int]:
        """HTTP requests per method."""
        with self._lock:
            return dict(self._calls)

    @property
    def total_calls(self) -> int:
        """All HTTP requests."""
        with self._lock:
            return sum(self._calls.values())

    @property
    def writes(self) -> int:
        """HTTP requests of writing methods."""
        with self._lock:
            return self._writes

    @property
    def retries(self) -> int:
        """Attempts made again after a transient failure."""
        with self._lock:
            return self._retries

    @property
    def relogins(self) -> int:
        """Logins made again because the session had expired."""
        with self._lock:
            return self._relogins

    @property
    def errors(self) -> dict[str, int]:
        """Errors raised per exception class (after retries)."""
        with self._lock:
            return dict(self._errors)

    def snapshot(self) -> dict[str, Any]:
        """All counters as a plain dict (for logs and run reports)."""
        with self._lock:
            return {
                "calls": dict(self._calls),
                "total_calls": sum(self._calls.values()),
                "writes": self._writes,
                "retries": self._retries,
                "relogins": self._relogins,
                "errors": dict(self._errors),
            }

    def __repr__(self) -> str:
        return f"CallStats({self.snapshot()})"


# --------------------------------------------------------------------------------------------
# the client
# --------------------------------------------------------------------------------------------


def _split_url(url: str) -> tuple[str, bool]:
    """(base URL of Sugar, whether the URL named the API itself) from a site root or an API URL.

    ``https://x/suite``, ``https://x/suite/service/v4_1`` and ``.../service/v4_1/rest.php`` all
    give the base ``https://x/suite``; only the site root leaves the API's place to discovery.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidCall(f"Sugar URL must be http(s)://host[/path], got {url!r}")
    if parts.username or parts.password:
        raise InvalidCall("Sugar URL must not carry credentials")
    path = parts.path.rstrip("/")
    match = _REST_RE.search(path)
    if match:
        base_path, given = path[: match.start()], True
    elif path.endswith(".php"):
        raise InvalidCall(f"Sugar URL must be the base URL or .../service/v4_1/rest.php: {url!r}")
    else:
        base_path, given = path, False
    return f"{parts.scheme}://{parts.netloc}{base_path}", given


def _is_legacy_root(base_url: str) -> bool:
    """Whether ``base_url`` is SuiteCRM 8's legacy root (``<site>/legacy``)."""
    return urlsplit(base_url).path.endswith(LEGACY_PREFIX)


def _wrong_path(error: SugarError) -> bool:
    """Whether an answer may mean "no v4_1 API at this URL" (404, a redirect, an HTML page)."""
    if isinstance(error, HttpStatusError):
        return not error.transient
    return isinstance(error, RedirectResponse | NotJsonResponse)


def _outcome(error: SugarError) -> str:
    """A few words on what a URL answered instead of the v4_1 API (for ApiNotFound)."""
    if isinstance(error, HttpStatusError | RedirectResponse | ServerError):
        return str(error.status)
    if isinstance(error, NotJsonResponse):
        return "not JSON"
    if isinstance(error, SugarApiError):
        return f"Sugar error {error.number}"
    return type(error).__name__


def _causes(error: BaseException) -> Iterator[BaseException]:
    """``error`` and what it wraps: requests → urllib3 (``reason``) → socket/ssl (``__cause__``)."""
    seen: set[int] = set()
    todo: list[BaseException] = [error]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        inner = [getattr(current, "reason", None), current.__cause__, current.__context__]
        inner += list(current.args)
        todo += [e for e in inner if isinstance(e, BaseException)]


def _tls_reason(error: BaseException) -> str:
    """What the TLS layer said, without the URL: e.g. "certificate verify failed: ..."."""
    for cause in _causes(error):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"certificate verify failed: {cause.verify_message}"
        if isinstance(cause, ssl.SSLError) and cause.reason:
            return str(cause.reason).replace("_", " ").lower()
    return type(error).__name__


def transport_error(
    error: requests.RequestException,
    url: str,
    timeout: float | tuple[float, float],
    method: str | None = None,
) -> TransportError:
    """The typed error for a failed HTTP exchange with ``url``, with a message a person can act on.

    DNS and TLS failures are terminal (retrying for seconds does not fix a name or a
    certificate); refused connections and timeouts are transient. Messages name the host and
    port only: never the path, the query or credentials that a URL may carry.
    """
    parts = urlsplit(url)
    host = parts.hostname or parts.netloc
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = 443 if parts.scheme == "https" else 80
    connect_s, read_s = timeout if isinstance(timeout, tuple) else (timeout, timeout)
    if isinstance(error, requests.exceptions.SSLError):
        return TlsError(f"TLS handshake with {host} failed: {_tls_reason(error)}", method=method)
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return TransportTimeout(
            f"connecting to {host}:{port} timed out after {connect_s:g} s", method=method
        )
    if isinstance(error, requests.exceptions.Timeout):
        return TransportTimeout(
            f"Sugar at {host}:{port} did not answer within {read_s:g} s", method=method
        )
    causes = list(_causes(error))
    if any(isinstance(c, socket.gaierror) or type(c).__name__ == "NameResolutionError"
           for c in causes):  # fmt: skip
        return HostNotFound(f"cannot resolve host {host}", method=method)
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return ConnectionRefused(
            f"nothing listening at {host}:{port} (connection refused)", method=method
        )
    return TransportError(f"{type(error).__name__} talking to {host}:{port}", method=method)


def _no_cookies_session() -> requests.Session:
    # Sugar's rest.php resumes the PHPSESSID cookie's session on login, so a cookie jar makes
    # every login return the SAME session id (01_login_cookie_jar_reuses_session). The session
    # id travels in rest_data; cookies only cause sharing, so refuse them all.
    http = requests.Session()
    http.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    return http


class SugarClient:
    """A logged-in conversation with one Sugar instance (one Sugar session, one HTTP session).

    Not meant to be shared between threads for throughput (Sugar serialises requests of one
    session); use :class:`connectors.sugar.pool.SessionPool` for parallel batches.
    """

    def __init__(
        self,
        url: str,
        username: str,
        password: str,
        *,
        verify_tls: bool = True,
        timeout: float | tuple[float, float] = (10, 120),
        max_retries: int = 4,
        backoff: float = 0.5,
        backoff_cap: float = 30.0,
        application: str = "sugar-bridge",
        http: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        base_url, given = _split_url(url)
        self._use_root(base_url)
        # A site root leaves the API's place to _discover (on the first call); a URL naming the
        # API is taken as given.
        self._discovered = given
        # Where the extension is, likewise: looked for once below /legacy when not found beside
        # an API found at a site root's old path (see _find_extension).
        self._extension_settled = given
        self.username = username
        # Only the md5 is kept: it is what login sends, and re-login needs it.
        self._password_md5 = hashlib.md5(password.encode("utf-8")).hexdigest()  # noqa: S324
        self.verify_tls = verify_tls
        self.timeout = timeout
        if max_retries < 0:
            raise InvalidCall("max_retries must be >= 0")
        self.max_retries = max_retries
        self.backoff = backoff
        self.backoff_cap = backoff_cap
        self.application = application
        self.stats = CallStats()
        self._http = http if http is not None else _no_cookies_session()
        self._sleep = sleep
        self._random = random.Random()
        self._lock = threading.RLock()
        self._session: str | None = None
        self._user_id: str | None = None
        self._is_admin = False
        self._login_info: dict[str, Any] = {}

    def _use_root(self, base_url: str) -> None:
        """Point the client at the API below ``base_url`` (the legacy root on SuiteCRM 8)."""
        self.base_url = base_url
        self.rest_url = base_url + REST_PATH
        self.extension_url = base_url + EXTENSION_PATH
        # SuiteCRM 8's login has no variadic catch-all, so the documented "application_name"
        # key is an unknown named parameter there: HTTP 500, empty body (SuiteCRM-Core#272).
        self._login_application = not _is_legacy_root(base_url)

    def __repr__(self) -> str:
        state = "logged in" if self._session else "not logged in"
        return f"SugarClient({self.base_url!r}, user={self.username!r}, {state})"

    # ---- context manager ---------------------------------------------------------------------

    def __enter__(self) -> SugarClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Log out (best effort) and close the HTTP connections."""
        try:
            self.logout()
        except SugarError as error:
            log.debug("logout on close failed: %s", error)
        finally:
            self._http.close()

    # ---- session ---------------------------------------------------------------------------

    @property
    def logged_in(self) -> bool:
        """True when the client holds a session id (it may have expired server-side)."""
        return self._session is not None

    def login(self) -> None:
        """Open a Sugar session (Sugar method ``login``, password sent as its md5 hex).

        ``application_name`` is sent except to SuiteCRM 8's legacy API, which refuses it (HTTP
        500, SuiteCRM-Core#272); elsewhere a 500 with an empty body to it is retried once
        without it. Raises InvalidLogin for a wrong user name or password or an inactive user.
        """
        with self._lock:
            body = self._call(
                "login",
                {
                    "user_auth": {"user_name": self.username, "password": self._password_md5},
                    "application_name": self.application,
                    "name_value_list": [],
                },
                relogin=False,
            )
            if not isinstance(body, dict) or not isinstance(body.get("id"), str) or not body["id"]:
                raise EmptyResponse("login answered without a session id", method="login")
            values = dict(pairs(body.get("name_value_list")))
            self._session = body["id"]
            self._user_id = str(values.get("user_id")) if values.get("user_id") else None
            self._is_admin = values.get("user_is_admin") in (True, 1, "1", "true")
            self._login_info = {k: v for k, v in values.items() if k != "user_id"}
            log.info(
                "logged in to Sugar %s as %s (admin=%s)",
                self.base_url,
                self.username,
                self._is_admin,
            )

    def logout(self) -> None:
        """End the Sugar session if one is open (Sugar method ``logout``)."""
        with self._lock:
            if self._session is None:
                return
            try:
                self._call("logout", {}, relogin=False)
            except InvalidSession:
                pass  # already gone server-side: that is what we wanted
            finally:
                self._session = None

    def _ensure_session(self) -> str:
        with self._lock:
            if self._session is None:
                self.login()
            assert self._session is not None
            return self._session

    @property
    def user_id(self) -> str:
        """Id of the logged-in user (from the login answer, else Sugar method ``get_user_id``)."""
        self._ensure_session()
        if self._user_id is None:
            self._user_id = str(self.call("get_user_id"))
        return self._user_id

    @property
    def is_admin(self) -> bool:
        """Whether the logged-in user is a Sugar administrator (from the login answer)."""
        self._ensure_session()
        return self._is_admin

    @property
    def user_info(self) -> dict[str, Any]:
        """What login told about the user (language, date format, currency...)."""
        self._ensure_session()
        return dict(self._login_info)

    # ---- the one entry point ---------------------------------------------------------------

    def call(self, method: str, **params: Any) -> Any:
        """Call a v4_1 method on Sugar's ``rest.php`` and return its decoded answer.

        ``params`` are named like the PHP parameters (``module_name``, ``select_fields`` ...);
        ``session`` is injected. Unknown methods or parameter names raise InvalidCall before
        anything is sent. Values are not HTML-decoded here (see :class:`Module`).
        """
        return self._call(method, params, endpoint="v4_1")

    def call_extension(self, method: str, **params: Any) -> Any:
        """Call a method of our server extension (``custom/service/bridge/rest.php``).

        The extension serves the stock v4_1 methods too. Raises ExtensionMissing when the
        endpoint does not exist (HTTP 404) or does not know the method.
        """
        try:
            return self._call(method, params, endpoint="extension")
        except UnknownMethod as error:
            raise ExtensionMissing(
                "the sugar-bridge server extension does not know this method "
                "(not installed or too old)",
                method=method,
            ) from error

    def server_info(self) -> dict[str, Any]:
        """Flavor, version, suitecrm_version, gmt_time (Sugar method ``get_server_info``)."""
        body = self.call("get_server_info")
        if not isinstance(body, dict):
            raise NotJsonResponse("get_server_info answered no object", method="get_server_info")
        return body

    def available_modules(self, filter: str = "all") -> list[str]:
        """Module keys the user can see (Sugar method ``get_available_modules``)."""
        body = self.call("get_available_modules", filter=filter)
        modules = body.get("modules", []) if isinstance(body, dict) else []
        return [str(m["module_key"]) for m in modules if isinstance(m, dict) and "module_key" in m]

    def module(self, name: str) -> Module:
        """The accessor of module ``name`` (case-sensitive: ``Accounts``, not ``accounts``)."""
        return Module(self, name)

    # ---- internals ---------------------------------------------------------------------------

    def _prepare(
        self, method: str, params: Mapping[str, Any], endpoint: str
    ) -> tuple[Signature, dict[str, Any]]:
        signature = SIGNATURES.get(method)
        if signature is None:
            raise InvalidCall(
                f"unknown method {method!r}: add its PHP signature to "
                "connectors/sugar/signatures.py"
            )
        if signature.endpoint == "extension" and endpoint != "extension":
            raise InvalidCall(f"{method} is an extension method: use call_extension()")
        unknown = sorted(set(params) - signature.names)
        if unknown:
            raise InvalidCall(
                f"{method} has no parameter {', '.join(unknown)} "
                f"(PHP parameters: {', '.join(p.name for p in signature.params)})"
            )
        if "session" in params:
            raise InvalidCall("the session is injected by the client; do not pass it")
        module_name = params.get("module_name")
        if isinstance(module_name, str) and not _MODULE_RE.match(module_name):
            raise InvalidCall(f"not a module name: {module_name!r}")
        ordered: dict[str, Any] = {}
        for param in signature.params:
            if param.name == "session":
                ordered["session"] = None  # filled at send time (may change on re-login)
            elif param.name in params:
                ordered[param.name] = params[param.name]
            elif param.default is REQUIRED:
                raise InvalidCall(f"{method} needs the parameter {param.name}")
            elif callable(param.default):
                ordered[param.name] = param.default(params)
            else:
                # Fresh copies of list/dict defaults: never share mutable defaults.
                ordered[param.name] = json.loads(json.dumps(param.default))
        # Writes always use the list form of name_value_list (the object form drops user_hash),
        # as our own copy: a retry may rewrite it (see _before_retry).
        if method == "set_entry":
            ordered["name_value_list"] = _list_form(ordered["name_value_list"])
        if method == "set_entries":
            ordered["name_value_lists"] = [_list_form(row) for row in ordered["name_value_lists"]]
        return signature, ordered

    def _retry_safe(self, signature: Signature, params: Mapping[str, Any]) -> bool:
        """Whether sending this call twice cannot duplicate anything."""
        if not signature.writes or signature.idempotent_write:
            return True
        if signature.method == "set_entry":
            return bool(nvl_get(params["name_value_list"], "id"))
        if signature.method == "set_entries":
            return all(bool(nvl_get(row, "id")) for row in params["name_value_lists"])
        if signature.method == "bridge_save_records":
            # With its id, a record's replay updates what the first attempt stored.
            records = params["records"]
            return isinstance(records, list) and all(
                isinstance(row, Mapping) and bool(row.get("id")) for row in records
            )
        return False

    def _call(
        self,
        method: str,
        params: Mapping[str, Any],
        *,
        endpoint: str = "v4_1",
        relogin: bool = True,
    ) -> Any:
        signature, ordered = self._prepare(method, params, endpoint)
        retry_safe = self._retry_safe(signature, ordered)
        relogged = False
        application_dropped = False
        attempt = 0
        while True:
            if signature.needs_session:
                ordered["session"] = self._ensure_session()
            if method == "login" and not self._login_application:
                ordered.pop("application_name", None)
            # After the session: logging in may have moved the API (discovery).
            url = self.extension_url if endpoint == "extension" else self.rest_url
            try:
                body = self._send(url, signature, ordered, attempt, endpoint)
            except InvalidSession as error:
                self._found_at(url)
                if not relogin or relogged or method in ("login", "logout"):
                    self.stats._record_error(error)
                    raise
                # Expired (idle > gc_maxlifetime, or destroyed by a call from another /24): the
                # call was refused before doing anything, so replaying it is safe.
                relogged = True
                self.stats._record_relogin()
                log.info("Sugar session expired during %s: logging in again", method)
                with self._lock:
                    self._session = None
                    self.login()
            except SugarError as error:
                if isinstance(error, SugarApiError):
                    self._found_at(url)
                elif endpoint == "v4_1" and _wrong_path(error) and self._discover(url, error):
                    continue  # the API is elsewhere: nothing ran here, send it there
                elif endpoint == "extension" and self._find_extension(url, error):
                    continue  # likewise for the extension
                if not application_dropped and _refused_application(method, ordered, error):
                    # SuiteCRM 8 answers an unknown named parameter with a PHP fatal error; a
                    # database outage looks the same, so this is tried once, whatever
                    # max_retries says, and a second 500 takes the normal way below.
                    application_dropped = True
                    del ordered["application_name"]
                    self.stats._record_retry()
                    log.warning(
                        "login with application_name answered HTTP 500 (empty body): trying "
                        "once without it (SuiteCRM 8 refuses it, SuiteCRM-Core#272)"
                    )
                    continue
                if not error.transient or not retry_safe or attempt >= self.max_retries:
                    if error.transient and not retry_safe:
                        log.warning(
                            "%s failed (%s) and is not retried: replaying it could duplicate "
                            "records",
                            method,
                            type(error).__name__,
                        )
                    self.stats._record_error(error)
                    raise
                attempt += 1
                self.stats._record_retry()
                delay = self._backoff_delay(attempt)
                log.warning(
                    "%s failed (%s), retry %d/%d in %.1fs",
                    method,
                    error,
                    attempt,
                    self.max_retries,
                    delay,
                )
                self._sleep(delay)
                self._before_retry(signature, ordered)
            else:
                self._found_at(url)
                if application_dropped and self._login_application:
                    self._login_application = False
                    # Harmless if the 500 was an outage after all: SuiteCRM 7 ignores the key.
                    log.info(
                        "Sugar at %s logged in without application_name after a 500: later "
                        "logins omit it",
                        self.base_url,
                    )
                return body

    # ---- where the API is ----------------------------------------------------------------------

    def _found_at(self, url: str) -> None:
        """Sugar answered at ``url``: when the API's place was still open, it is settled."""
        if self._discovered or url != self.rest_url:
            return
        with self._lock:
            if not self._discovered:
                self._discovered = True
                log.info("Sugar v4_1 API at %s (extension: %s)", self.rest_url, self.extension_url)

    def _discover(self, url: str, error: SugarError) -> bool:
        """Find the v4_1 API below the site root after ``url`` answered ``error``.

        Runs once per client, on the first answer that may mean "wrong path" (404, a redirect, an
        HTML page) from ``<site>/service/v4_1/rest.php``. ``get_server_info`` (no session needed)
        probes the candidates: a real answer is JSON with ``flavor`` and ``version``. A 404 already
        rules the first candidate out; a redirect or an HTML page might be Sugar's own answer to
        this call (a failed Users save, the help page past post_max_size), so it is probed too.

        Returns True when the API is elsewhere (the client now points there: replay the call),
        False when it is at ``url`` after all (``error`` stands). Raises ApiNotFound naming every
        URL tried and its answer; a transport error of a probe propagates (nothing is settled).
        """
        with self._lock:
            if self._discovered or url != self.rest_url:
                return url != self.rest_url  # settled meanwhile (another thread)
            site = self.base_url
            tried: list[tuple[str, str]] = []
            candidates = [site, site + LEGACY_PREFIX]
            if isinstance(error, HttpStatusError) and error.status == 404:
                tried, candidates = [(url, _outcome(error))], candidates[1:]
            for root in candidates:
                probe_url = root + REST_PATH
                problem = self._probe(probe_url)
                if problem is None:
                    self._use_root(root)
                    self._discovered = True
                    log.info(
                        "Sugar v4_1 API found at %s (extension: %s; login %s application_name)",
                        self.rest_url,
                        self.extension_url,
                        "with" if self._login_application else "without",
                    )
                    return root != site
                tried.append((probe_url, problem))
            not_found = ApiNotFound(
                "no v4_1 API at "
                + " nor ".join(f"{where} ({what})" for where, what in tried)
                + ": give Sugar's site root or the full URL of its rest.php"
            )
            self.stats._record_error(not_found)
            raise not_found from error

    def _find_extension(self, url: str, error: SugarError) -> bool:
        """Look once for the extension below ``<site>/legacy`` after ``url`` was not it.

        Some SuiteCRM 8 setups also serve the v4_1 API at the old path (SuiteCRM-Core's routing
        lists ``service/v4_1``), so discovery keeps that path, but the Module Loader installed the
        extension under the legacy root: ``<site>/legacy/custom/service/bridge/rest.php``, which
        serves the stock methods too, so ``get_server_info`` probes it. Returns True when it is
        there (the client now calls it there: replay the call), False otherwise (``error``
        stands). Only for a client given a site root whose API is not already below /legacy;
        a probe that fails to connect settles nothing.
        """
        if not (_wrong_path(error) or isinstance(error, ExtensionMissing)):
            return False
        with self._lock:
            if self._extension_settled or url != self.extension_url:
                return url != self.extension_url  # settled meanwhile (another thread)
            candidate = self.base_url + LEGACY_PREFIX + EXTENSION_PATH
            try:
                found = not _is_legacy_root(self.base_url) and self._probe(candidate) is None
            except (TransportError, ServerError) as probe_error:
                # Nothing learnt: the call's own error stands, the next extension call looks again.
                log.debug("probing %s failed: %s", candidate, probe_error)
                return False
            self._extension_settled = True
            if not found:
                return False
            self.extension_url = candidate
            log.info("Sugar extension found at %s (not at %s)", candidate, url)
            return True

    def _probe(self, url: str) -> str | None:
        """None when ``url`` answers ``get_server_info`` like Sugar, else what it answered."""
        signature = SIGNATURES["get_server_info"]
        try:
            body = self._send(url, signature, {}, 0, "v4_1")
        except (TransportError, ServerError):
            raise  # says nothing about the path: Sugar may be down
        except SugarError as error:
            return _outcome(error)
        if isinstance(body, dict) and {"flavor", "version"} <= body.keys():
            return None
        return "no flavor/version in its answer"

    def _backoff_delay(self, attempt: int) -> float:
        """Capped exponential backoff with jitter: in [d/2, d], d = min(cap, backoff*2^(n-1))."""
        ceiling = min(self.backoff_cap, self.backoff * float(2 ** (attempt - 1)))
        return ceiling / 2 + self._random.uniform(0, ceiling / 2)

    def _before_retry(self, signature: Signature, params: dict[str, Any]) -> None:
        """Make a create with ``new_with_id`` safe to replay.

        If the first attempt was stored after all (the answer was lost), sending ``new_with_id``
        again would INSERT the same id twice (a database error). So the ids of such rows are
        looked up (``get_entries``) and the rows that exist are replayed as plain updates.
        """
        if signature.method == "set_entry":
            rows = [params["name_value_list"]]
        elif signature.method == "set_entries":
            rows = list(params["name_value_lists"])
        else:
            return
        creates = {
            str(nvl_get(row, "id")): row
            for row in rows
            if nvl_get(row, "new_with_id") and nvl_get(row, "id")
        }
        if not creates:
            return
        body = self._call(
            "get_entries",
            {
                "module_name": params["module_name"],
                "ids": list(creates),
                "select_fields": ["id"],
            },
        )
        stored = {
            str(entry.get("id"))
            for entry in (body.get("entry_list", []) if isinstance(body, dict) else [])
            if isinstance(entry, dict) and not is_missing_entry(entry)
        }
        for record_id in stored & set(creates):
            row = creates[record_id]
            row[:] = [item for item in row if item.get("name") != "new_with_id"]
            log.info(
                "record %s was stored by the failed attempt: replaying as an update", record_id
            )

    def _send(
        self,
        url: str,
        signature: Signature,
        ordered: Mapping[str, Any],
        attempt: int,
        endpoint: str,
    ) -> Any:
        """One HTTP exchange; returns the decoded body or raises the typed error."""
        method = signature.method
        self.stats._record_call(method, signature.writes)
        data = {
            "method": method,
            "input_type": "JSON",
            "response_type": "JSON",
            "rest_data": json.dumps(ordered, ensure_ascii=False, separators=(",", ":")),
        }
        started = time.monotonic()
        status: int | str = "-"
        try:
            try:
                response = self._http.post(
                    url,
                    data=data,
                    timeout=self.timeout,
                    allow_redirects=False,
                    verify=self.verify_tls,
                )
            except requests.RequestException as error:
                status = type(error).__name__
                raise transport_error(error, url, self.timeout, method) from error
            status = response.status_code
            return self._decode(response, signature, endpoint)
        finally:
            if log.isEnabledFor(logging.DEBUG):
                log.debug(
                    "sugar %s module=%s attempt=%d status=%s %.3fs params=%s",
                    method,
                    ordered.get("module_name", "-"),
                    attempt,
                    status,
                    time.monotonic() - started,
                    redacted_json(ordered),
                )

    def _decode(self, response: requests.Response, signature: Signature, endpoint: str) -> Any:
        method = signature.method
        status = response.status_code
        text = response.text
        if 300 <= status < 400:
            raise RedirectResponse(
                status,
                f"HTTP {status} redirect (Sugar redirects when a save fails validation, e.g. a "
                "duplicate user_name); nothing was stored",
                method=method,
            )
        if status >= 500:
            empty = not text.strip()
            detail = "empty body" if empty else f"body {text.strip()[:80]!r}"
            raise ServerError(status, f"HTTP {status} ({detail})", method=method, empty_body=empty)
        if status == 404 and endpoint == "extension":
            raise ExtensionMissing(
                "custom/service/bridge/rest.php answered 404: the server extension is not "
                "installed (see `sugar-bridge extension`)",
                method=method,
            )
        if status != 200:
            hint = " (is the Sugar URL right?)" if status == 404 else ""
            raise HttpStatusError(status, f"unexpected HTTP {status}{hint}", method=method)
        if not text.strip():
            raise EmptyResponse("HTTP 200 with an empty body", method=method)
        try:
            body = json.loads(text)
        except ValueError:
            content_type = response.headers.get("Content-Type", "?")
            raise NotJsonResponse(
                f"answer is not JSON ({content_type}, {len(text)} chars): Sugar answers its HTML "
                "help page when the request exceeds post_max_size or has no method",
                method=method,
            ) from None
        if body is None:
            if method in _NULL_OK:
                return None
            if not signature.writes:
                # Sugar answers null to malformed rest_data, but every call is checked against
                # its PHP signature before it is sent: a null to a read is a server hiccup.
                raise EmptyResponse(
                    "Sugar answered null to a well-formed read (a server hiccup)",
                    method=method,
                    transient=True,
                )
            raise EmptyResponse(
                "Sugar answered null: the call was malformed or the write was rejected by "
                "validation (e.g. an invalid id); nothing was stored",
                method=method,
            )
        if (
            isinstance(body, dict)
            and {"name", "number", "description"} <= body.keys()
            and len(body) == 3
        ):
            raise _api_error(body, method)
        return body


def _refused_application(method: str, params: Mapping[str, Any], error: SugarError) -> bool:
    """Whether ``error`` may be SuiteCRM 8 refusing login's ``application_name`` (#272)."""
    return (
        method == "login"
        and "application_name" in params
        and isinstance(error, ServerError)
        and error.status == 500
        and error.empty_body
    )


def _list_form(name_value_list: Any) -> Any:
    """A fresh list-form copy of a name_value_list given in either form."""
    if isinstance(name_value_list, Mapping):
        return to_name_value_list(name_value_list)
    if isinstance(name_value_list, list):
        return [
            {**item, "value": wire_value(item["value"])}
            if isinstance(item, Mapping) and "value" in item
            else (dict(item) if isinstance(item, Mapping) else item)
            for item in name_value_list
        ]
    return name_value_list


def _api_error(body: Mapping[str, Any], method: str) -> SugarApiError:
    """The typed exception for Sugar's error object, chosen by ``number`` (int or "-1")."""
    try:
        number = int(body["number"])
    except (TypeError, ValueError):
        number = 0
    cls = ERRORS_BY_NUMBER.get(number, SugarApiError)
    return cls(number, str(body.get("name", "")), str(body.get("description", "")), method=method)


# --------------------------------------------------------------------------------------------
# module accessor
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModuleFields:
    """Fields and links of a module (Sugar method ``get_module_fields``)."""

    module_name: str
    table_name: str
    module_fields: dict[str, dict[str, Any]] = field(default_factory=dict)
    link_fields: dict[str, dict[str, Any]] = field(default_factory=dict)


def _as_dict(value: Any) -> dict[str, dict[str, Any]]:
    # PHP serialises an empty array as [] -- Sugar sends module_fields: [] for "none".
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    return {}


def _select(fields: Sequence[str] | None) -> list[str]:
    if fields is None:
        return []  # Sugar returns all fields for an empty select list
    names = [q.field_name(f) for f in fields]
    if "id" not in names:
        names.insert(0, "id")
    return names


def _check_id(record_id: str) -> str:
    if not isinstance(record_id, str) or not _ID_RE.match(record_id):
        raise InvalidCall(f"not a Sugar id: {record_id!r}")
    return record_id


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Module:
    """Record-level operations on one Sugar module. Get it from :meth:`SugarClient.module`."""

    def __init__(self, client: SugarClient, name: str) -> None:
        if not _MODULE_RE.match(name):
            raise InvalidCall(f"not a module name: {name!r}")
        self.client = client
        self.name = name

    def __repr__(self) -> str:
        return f"Module({self.name!r})"

    # ---- reads -----------------------------------------------------------------------------

    def get(self, id: str, fields: Sequence[str] | None = None) -> Record | None:
        """One record by id, or None when unknown or deleted (Sugar method ``get_entry``)."""
        body = self.client.call(
            "get_entry",
            module_name=self.name,
            id=_check_id(id),
            select_fields=_select(fields),
        )
        for entry in body.get("entry_list", []) if isinstance(body, dict) else []:
            if not is_missing_entry(entry):
                return entry_to_record(entry)
        return None

    def get_many(
        self, ids: Iterable[str], fields: Sequence[str] | None = None, *, chunk_size: int = 200
    ) -> dict[str, Record]:
        """Records by id; unknown or deleted ids are absent (Sugar method ``get_entries``)."""
        wanted = list(dict.fromkeys(_check_id(i) for i in ids))
        found: dict[str, Record] = {}
        for chunk in _chunks(wanted, chunk_size):
            body = self.client.call(
                "get_entries", module_name=self.name, ids=list(chunk), select_fields=_select(fields)
            )
            for entry in body.get("entry_list", []) if isinstance(body, dict) else []:
                if not is_missing_entry(entry):
                    record = entry_to_record(entry)
                    found[record["id"]] = record
        return found

    def iter_records(
        self,
        query: str = "",
        fields: Sequence[str] | None = None,
        order_by: str = "id",
        page_size: int = 200,
        deleted: bool = False,
    ) -> Iterator[Record]:
        """Every matching record, page by page (Sugar method ``get_entry_list``).

        ``query`` is a WHERE clause built with :mod:`connectors.sugar.query`. ``order_by`` takes
        bare field names (a ``table.`` prefix is stripped because Sugar silently ignores it);
        ``id`` is appended so pages are stable. ``deleted=True`` returns deleted AND live rows
        (Sugar drops the deleted filter altogether). Pages advance by ``next_offset`` until a
        page is empty or ``total_count`` is reached (a string like "25", or the number 0).
        """
        if page_size < 1:
            raise InvalidCall("page_size must be >= 1 (Sugar turns 0 and -1 into 20)")
        order = q.order_by(order_by)
        offset = 0
        while True:
            body = self.client.call(
                "get_entry_list",
                module_name=self.name,
                query=query,
                order_by=order,
                offset=offset,
                select_fields=_select(fields),
                max_results=page_size,
                deleted=1 if deleted else 0,
            )
            if not isinstance(body, dict):
                raise NotJsonResponse("get_entry_list answered no object", method="get_entry_list")
            entries = body.get("entry_list") or []
            for entry in entries:
                yield entry_to_record(entry)
            next_offset = _int(body.get("next_offset"), offset + len(entries))
            total = _int(body.get("total_count"), -1)
            if not entries or next_offset <= offset or (0 <= total <= next_offset):
                return
            offset = next_offset

    def list(
        self,
        query: str = "",
        fields: Sequence[str] | None = None,
        order_by: str = "id",
        page_size: int = 200,
        deleted: bool = False,
    ) -> builtins.list[Record]:
        """All matching records as a list (see :meth:`iter_records`)."""
        return list(self.iter_records(query, fields, order_by, page_size, deleted))

    def count(self, query: str = "", deleted: bool = False) -> int:
        """Number of matching records (Sugar method ``get_entries_count``; "25" or 0)."""
        body = self.client.call(
            "get_entries_count", module_name=self.name, query=query, deleted=1 if deleted else 0
        )
        return _int(body.get("result_count") if isinstance(body, dict) else None, 0)

    def fields(self, names: Sequence[str] | None = None) -> ModuleFields:
        """Field and link definitions (Sugar method ``get_module_fields``).

        Sugar sends ``[]`` instead of ``{}`` when nothing matches; both become empty dicts.
        """
        body = self.client.call(
            "get_module_fields",
            module_name=self.name,
            fields=[q.field_name(n) for n in names] if names else [],
        )
        if not isinstance(body, dict):
            raise NotJsonResponse(
                "get_module_fields answered no object", method="get_module_fields"
            )
        return ModuleFields(
            module_name=str(body.get("module_name", self.name)),
            table_name=str(body.get("table_name", "")),
            module_fields=_as_dict(body.get("module_fields")),
            link_fields=_as_dict(body.get("link_fields")),
        )

    # ---- writes ----------------------------------------------------------------------------

    def create(self, values: Mapping[str, Any], id: str | None = None) -> str:
        """Create a record and return its id (Sugar method ``set_entry``).

        Always with a client-generated id (uuid4 unless given) and ``new_with_id``, so a retry
        after a lost answer cannot create a duplicate. (Sending a new id WITHOUT ``new_with_id``
        answers success and stores nothing, recording 04_account_create_with_given_id_not_existing
        -- this method never does that.) Fields Sugar does not know are dropped silently by Sugar;
        they are reported in a warning (names only).
        """
        values = dict(values)
        given = values.pop("id", None)
        record_id = _check_id(id or given or str(uuid.uuid4()))
        values.pop("new_with_id", None)
        nvl: builtins.list[dict[str, Any]] = [
            {"name": "id", "value": record_id},
            {"name": "new_with_id", "value": True},
        ]
        nvl += to_name_value_list(_check_fields(values))
        body = self.client.call("set_entry", module_name=self.name, name_value_list=nvl)
        self._check_set_entry(body, record_id, values)
        return record_id

    def update(self, id: str, values: Mapping[str, Any], *, check_exists: bool = True) -> None:
        """Change fields of an existing record (Sugar method ``set_entry`` with its id).

        Sugar answers success for an unknown id and stores nothing, so by default the id is
        checked first (``get_entries``) and WriteNotStored raised when it does not exist.
        """
        record_id = _check_id(id)
        values = {k: v for k, v in values.items() if k not in ("id", "new_with_id")}
        if check_exists:
            self._require_existing([record_id])
        nvl = [{"name": "id", "value": record_id}, *to_name_value_list(_check_fields(values))]
        body = self.client.call("set_entry", module_name=self.name, name_value_list=nvl)
        self._check_set_entry(body, record_id, values)

    def save_many(
        self,
        rows: Iterable[Mapping[str, Any]],
        batch_size: int = 50,
        *,
        check_exists: bool = True,
    ) -> builtins.list[str]:
        """Create and update records in batches; ids in input order (Sugar ``set_entries``).

        A row with ``"id"`` updates that record (checked to exist first, unless
        ``check_exists=False``); a row without creates one with a client-generated id and
        ``new_with_id``, so every batch is safe to retry. ``set_entries`` answers only the list of
        ids it saved: a missing or different id raises WriteNotStored.
        """
        if batch_size < 1:
            raise InvalidCall("batch_size must be >= 1")
        prepared: builtins.list[tuple[str, bool, builtins.list[dict[str, Any]]]] = []
        for row in rows:
            values = dict(row)
            values.pop("new_with_id", None)
            given = values.pop("id", None)
            if given:
                record_id = _check_id(str(given))
                nvl: builtins.list[dict[str, Any]] = [{"name": "id", "value": record_id}]
                prepared.append((record_id, False, nvl + to_name_value_list(_check_fields(values))))
            else:
                record_id = str(uuid.uuid4())
                nvl = [{"name": "id", "value": record_id}, {"name": "new_with_id", "value": True}]
                prepared.append((record_id, True, nvl + to_name_value_list(_check_fields(values))))
        ids: builtins.list[str] = []
        for batch in _chunks(prepared, batch_size):
            if check_exists:
                self._require_existing([rid for rid, is_new, _ in batch if not is_new])
            body = self.client.call(
                "set_entries",
                module_name=self.name,
                name_value_lists=[nvl for _, _, nvl in batch],
            )
            sent = [rid for rid, _, _ in batch]
            got = [str(i) for i in body.get("ids", [])] if isinstance(body, dict) else []
            if got != sent:
                missing = [rid for rid in sent if rid not in set(got)]
                raise WriteNotStored(
                    f"{self.name}: set_entries saved {len(got)} of {len(sent)} records "
                    f"(not saved: {', '.join(missing[:10]) or 'ids differ'}); "
                    "Sugar skips rows the user may not save without saying so",
                    method="set_entries",
                )
            ids.extend(sent)
            log.debug("%s: saved a batch of %d records", self.name, len(sent))
        return ids

    def _require_existing(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        found = self.get_many(ids, fields=["id"])
        missing = [i for i in ids if i not in found]
        if missing:
            raise WriteNotStored(
                f"{self.name}: no record with id {', '.join(missing[:10])} (an update of an "
                "unknown id is answered as success by Sugar and stores nothing)",
                method="set_entry",
            )

    def _check_set_entry(self, body: Any, record_id: str, values: Mapping[str, Any]) -> None:
        if not isinstance(body, dict) or str(body.get("id", "")) != record_id:
            raise WriteNotStored(
                f"{self.name}: set_entry did not confirm record {record_id}", method="set_entry"
            )
        echoed = {name for name, _ in pairs(body.get("entry_list"))}
        dropped = sorted(set(values) - echoed - {"id", "new_with_id"})
        if dropped:
            # Sugar ignores fields it does not know (07_set_entry_unknown_field) without a word.
            log.warning(
                "%s %s: Sugar ignored unknown field(s) %s", self.name, record_id, ", ".join(dropped)
            )

    # ---- relationships ---------------------------------------------------------------------

    def related(
        self,
        id: str,
        link: str,
        fields: Sequence[str] | None = None,
        query: str = "",
        page_size: int = 200,
    ) -> Iterator[Record]:
        """Records linked to ``id`` over ``link``, paged (Sugar method ``get_relationships``).

        Link names are case-sensitive: a wrong case gives an empty result, not an error.
        ``fields=None`` reads only ``id`` (Sugar returns no field at all when none is named).
        v4_1 pages by ``offset``/``limit`` without totals: pages are read until one is short.
        """
        if page_size < 1:
            raise InvalidCall("page_size must be >= 1")
        offset = 0
        while True:
            body = self.client.call(
                "get_relationships",
                module_name=self.name,
                module_id=_check_id(id),
                link_field_name=q.field_name(link),
                related_module_query=query,
                related_fields=_select(fields) or ["id"],
                deleted=0,
                order_by="",
                offset=offset,
                limit=page_size,
            )
            entries = (body.get("entry_list") or []) if isinstance(body, dict) else []
            for entry in entries:
                if not is_missing_entry(entry):
                    yield entry_to_record(entry)
            if len(entries) < page_size:
                return
            offset += len(entries)

    def link(
        self,
        id: str,
        link: str,
        related_ids: Iterable[str],
        values: Mapping[str, Any] | None = None,
        *,
        verify: bool = False,
    ) -> None:
        """Link records (Sugar method ``set_relationship``; idempotent).

        ``created: 1`` is no proof (Sugar says so for ids that do not exist), a ``failed`` count
        raises WriteNotStored. With ``verify=True`` the links are read back and missing ones
        raise WriteNotStored.
        """
        ids = [_check_id(i) for i in related_ids]
        self._set_relationship(id, link, ids, values, delete=False)
        if verify and ids:
            present = {r["id"] for r in self.related(id, link, fields=["id"])}
            missing = [i for i in ids if i not in present]
            if missing:
                raise WriteNotStored(
                    f"{self.name} {id} {link}: {len(missing)} of {len(ids)} links not stored",
                    method="set_relationship",
                )

    def unlink(self, id: str, link: str, related_ids: Iterable[str]) -> None:
        """Remove links (Sugar method ``set_relationship`` with ``delete: 1``; idempotent)."""
        ids = [_check_id(i) for i in related_ids]
        self._set_relationship(id, link, ids, None, delete=True)

    def _set_relationship(
        self,
        record_id: str,
        link: str,
        ids: Sequence[str],
        values: Mapping[str, Any] | None,
        *,
        delete: bool,
    ) -> None:
        for chunk in _chunks(ids, 500):
            body = self.client.call(
                "set_relationship",
                module_name=self.name,
                module_id=_check_id(record_id),
                link_field_name=q.field_name(link),
                related_ids=list(chunk),
                name_value_list=to_name_value_list(values) if values else [],
                delete=1 if delete else 0,
            )
            failed = _int(body.get("failed") if isinstance(body, dict) else None, -1)
            done = _int(
                body.get("deleted" if delete else "created") if isinstance(body, dict) else None,
                0,
            )
            if failed != 0 or done < 1:
                raise WriteNotStored(
                    f"{self.name} {record_id}: set_relationship over link {link!r} "
                    f"failed (answer {body!r}); is the link name right (case-sensitive)?",
                    method="set_relationship",
                )


def _check_fields(values: Mapping[str, Any]) -> dict[str, Any]:
    return {q.field_name(str(k)): v for k, v in values.items()}


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
