"""Exceptions of the Sugar connector (``connectors.sugar``).

Every error carries ``transient``: True when trying the same thing again later may succeed (the
scheduler retries the job), False when it will fail the same way until something changes.

SugarError                                  base of everything raised here            terminal
├── SugarApiError(number, name, description) Sugar answered its error object         terminal
│   ├── InvalidLogin        number 10  wrong user name / password / inactive user     terminal
│   ├── InvalidSession      number 11  session expired, logged out, other /24 IP      transient
│   ├── NoSuchModule        number 20  unknown module (names are case-sensitive)      terminal
│   ├── AccessDenied        number 40  ACL / not admin                                terminal
│   └── UnknownMethod       number -1  (sent by Sugar as the string "-1")            terminal
├── TransportError          the HTTP exchange failed (connection reset, ...)          transient
│   ├── HostNotFound        DNS: the host name does not resolve                       terminal
│   ├── ConnectionRefused   nothing listening at host:port                            transient
│   ├── TlsError            TLS handshake failed (certificate verify failed, ...)     terminal
│   └── TransportTimeout    connecting or waiting for the answer timed out            transient
├── ServerError(status)     HTTP 5xx (DB down: 500 with an empty body)                transient
├── HttpStatusError(status) any other unexpected HTTP status (404, 403, ...)           terminal*
├── EmptyResponse           HTTP 200 with body ``null``: to a write, a rejected one    terminal
│                           (set_entry with a bad id) or a malformed call; to a
│                           well-formed read (the client checks every call's shape)    transient
│                           a server hiccup
├── NotJsonResponse         HTTP 200 but not JSON (the HTML help page when the POST    terminal
│                           exceeds post_max_size)
├── RedirectResponse        HTTP 3xx (duplicate user_name on Users save)               terminal
├── WriteNotStored          Sugar answered "ok" but the write is provably not stored   terminal
│                           (set_relationship failed>0, set_entries ids missing, ...)
├── ExtensionMissing        the bridge server extension is not installed               terminal
├── ApiNotFound             no v4_1 API below the site root given (neither             terminal
│                           /service/v4_1 nor SuiteCRM 8's /legacy/service/v4_1)
├── ExtensionBuildError     building the extension package: the PHP sources are        terminal
│                           missing or disagree with the Python version constants
└── InvalidCall             refused locally before sending: unknown method or          terminal
                            parameter, bad identifier, unsafe order_by (also ValueError)

(*) HttpStatusError is transient for 408 and 429.

Messages never contain passwords, their md5, ``user_hash`` values or session ids: the client builds
them from the method name, Sugar's error number/name/description and HTTP facts only.
"""

from __future__ import annotations


class SugarError(Exception):
    """Base of every error raised by the Sugar connector."""

    transient = False

    def __init__(self, message: str, *, method: str | None = None) -> None:
        self.method = method
        super().__init__(f"{method}: {message}" if method else message)


class SugarApiError(SugarError):
    """Sugar answered ``{name, number, description}`` (HTTP 200). Mapped by ``number`` only."""

    def __init__(
        self, number: int, name: str, description: str, *, method: str | None = None
    ) -> None:
        self.number = number
        self.name = name
        self.description = description
        super().__init__(f"Sugar error {number} ({name}): {description}", method=method)


class InvalidLogin(SugarApiError):
    """Error 10: login failed (wrong user name or password, inactive user)."""


class InvalidSession(SugarApiError):
    """Error 11: the session id is not (or no longer) valid."""

    transient = True


class NoSuchModule(SugarApiError):
    """Error 20: the module does not exist (module names are case-sensitive)."""


class AccessDenied(SugarApiError):
    """Error 40: the user may not do this (ACL, or an admin-only call)."""


class UnknownMethod(SugarApiError):
    """Error -1 (``invalid_call``): the endpoint does not know the method."""


class TransportError(SugarError):
    """The HTTP exchange itself failed: connection, DNS, TLS or timeout."""

    transient = True


class HostNotFound(TransportError):
    """The Sugar host name does not resolve (DNS): a typo or a missing DNS entry.

    Terminal: seconds of retries do not fix a name; the next scheduled run tries again.
    """

    transient = False


class ConnectionRefused(TransportError):
    """Nothing listens at host:port (Sugar or its web server is down, or the port is wrong)."""


class TlsError(TransportError):
    """The TLS handshake failed (certificate verify failed, wrong protocol): terminal."""

    transient = False


class TransportTimeout(TransportError):
    """Connecting, or waiting for Sugar's answer, took longer than the client's timeout."""


class ServerError(SugarError):
    """HTTP 5xx. Sugar answers 500 with an empty body when its database is down.

    ``empty_body`` tells that answer (also a PHP fatal error: an unknown named parameter) from
    one that says something.
    """

    transient = True

    def __init__(
        self, status: int, message: str, *, method: str | None = None, empty_body: bool = False
    ) -> None:
        self.status = status
        self.empty_body = empty_body
        super().__init__(message, method=method)


class HttpStatusError(SugarError):
    """An HTTP status Sugar does not normally send (4xx other than handled ones)."""

    def __init__(self, status: int, message: str, *, method: str | None = None) -> None:
        self.status = status
        self.transient = status in (408, 429)
        super().__init__(message, method=method)


class EmptyResponse(SugarError):
    """HTTP 200 with the body ``null``: the call was malformed or a write was rejected.

    Sugar answers ``null`` deterministically to malformed ``rest_data`` and to a write that fails
    validation, so that is terminal. The client checks the shape of every call before sending,
    so a ``null`` to one of its reads is a server hiccup: it raises those with ``transient=True``.
    """

    def __init__(self, message: str, *, method: str | None = None, transient: bool = False) -> None:
        self.transient = transient
        super().__init__(message, method=method)


class NotJsonResponse(SugarError):
    """HTTP 200 but the body is not JSON (e.g. the API help page after post_max_size)."""


class RedirectResponse(SugarError):
    """HTTP 3xx. Users save redirects (301, empty body) on a duplicate user_name."""

    def __init__(self, status: int, message: str, *, method: str | None = None) -> None:
        self.status = status
        super().__init__(message, method=method)


class WriteNotStored(SugarError):
    """Sugar reported success (or nothing) but the write provably did not happen."""


class ExtensionMissing(SugarError):
    """The sugar-bridge server extension (custom/service/bridge/rest.php) is not installed."""


class ApiNotFound(SugarError):
    """Neither ``<site>/service/v4_1/rest.php`` nor ``<site>/legacy/service/v4_1/rest.php``
    answered like Sugar; the message names each URL tried and what it answered."""


class ExtensionBuildError(SugarError):
    """The extension's PHP sources are missing or disagree with the packaged version (build)."""


class InvalidCall(SugarError, ValueError):
    """Refused locally before anything was sent (unknown method/parameter, unsafe SQL piece)."""


# Sugar's error numbers we give their own class; everything else is a plain SugarApiError.
ERRORS_BY_NUMBER: dict[int, type[SugarApiError]] = {
    10: InvalidLogin,
    11: InvalidSession,
    20: NoSuchModule,
    40: AccessDenied,
    -1: UnknownMethod,
}
