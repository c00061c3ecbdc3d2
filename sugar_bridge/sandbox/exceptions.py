"""Exceptions of the sandbox package.

SandboxError                  a problem of the sandbox itself (bad fault config,      terminal
│                             no DB file)
└── SandboxConfigError        invalid options (fault rate out of range, unknown       terminal
                              fault kind …)

The sandbox is a fake Sugar for tests and the demo and stands on its own: its errors are their own
tree, not the bridge's (``sugar_bridge.cli.common.handle_errors`` maps them to exit codes: 2 for
``SandboxConfigError``, 1 for the rest).

ApiAnswer                     internal signals raised inside a v4_1 method to produce one of Sugar's
├── SugarFault                  HTTP 200 ``{name, number, description}`` error object
├── PhpFatal                    HTTP 500 with an empty body (PHP fatal: bad/missing parameter)
├── DatabaseFailure             HTTP 500 "Database failure…" (broken SQL in ``query``)
├── NullAnswer                  HTTP 200 with body ``null`` (malformed rest_data, invalid id)
└── Redirect                    HTTP 301 with an empty body (User::save on a duplicate user_name)
They never leave the server: ``server.py`` turns each into the recorded HTTP answer.
"""

from __future__ import annotations


class SandboxError(Exception):
    """Base of the sandbox's own errors."""

    transient = False


class SandboxConfigError(SandboxError):
    """Invalid sandbox options (fault injection, latency, paths): a config error (exit code 2)."""


class ApiAnswer(Exception):
    """Base of the signals that end a v4_1 call with one of Sugar's non-result answers."""


class SugarFault(ApiAnswer):
    """Sugar's error object (HTTP 200)."""

    def __init__(self, number: int | str, name: str, description: str) -> None:
        super().__init__(f"{number} {name}")
        self.number = number
        self.name = name
        self.description = description

    def body(self) -> dict[str, object]:
        """The JSON object Sugar sends."""
        return {"name": self.name, "number": self.number, "description": self.description}


class PhpFatal(ApiAnswer):
    """A PHP fatal error: HTTP 500 with an empty body."""


class DatabaseFailure(ApiAnswer):
    """A query the database rejected: HTTP 500 with Sugar's 'Database failure' text."""


class NullAnswer(ApiAnswer):
    """The method returned nothing: HTTP 200 with the JSON body ``null``."""


class Redirect(ApiAnswer):
    """``SugarApplication::redirect`` from inside a save: HTTP 301 with an empty body."""


def invalid_session() -> SugarFault:
    """Error 11."""
    return SugarFault(11, "Invalid Session ID", "The session ID is invalid")


def invalid_login() -> SugarFault:
    """Error 10."""
    return SugarFault(
        10, "Invalid Login", "Login attempt failed please check the username and password"
    )


def no_module() -> SugarFault:
    """Error 20."""
    return SugarFault(20, "Module Does Not Exist", "This module is not available on this server")


def access_denied() -> SugarFault:
    """Error 40."""
    return SugarFault(40, "Access Denied", "You do not have access")


def invalid_call() -> SugarFault:
    """Unknown method: the number is the STRING "-1"."""
    return SugarFault(
        "-1",
        "An Undefined Error - invalid_call occurred",
        "There is no error definition for invalid_call",
    )
