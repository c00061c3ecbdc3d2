"""Which Sugar the sandbox plays: SuiteCRM 7 (the default, recorded) or SuiteCRM 8 (built to facts).

SuiteCRM 8 runs the SuiteCRM 7 code base ("legacy") below ``<site>/legacy``, so the v4_1 API is at
``/legacy/service/v4_1/rest.php`` and the Module Loader installs our extension under the legacy
root's ``custom/`` (``/legacy/custom/service/bridge/rest.php``). Its v4_1 ``login`` has no
variadic catch-all: the documented key ``application_name`` is an unknown named parameter, a PHP
fatal error (HTTP 500, empty body; SuiteCRM-Core#272). ``get_server_info`` reports the legacy
``sugar_version.php`` (flavor CE, version 6.5.25) and ``suitecrm_version.php`` -- 8.8.0 is the
newest of those read (SuiteCRM-Core's 8.8.0 release); a later 8.x reports its own number there.

No SuiteCRM 8 was run to record this: the differences are the documented ones above, nothing else.
The old paths answer 404 in the SuiteCRM 8 mode (the fact the bridge is built to; some 8.x setups
also route or redirect them to the legacy API).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from sugar_bridge.sandbox.exceptions import SandboxConfigError

EditionName = Literal["suitecrm7", "suitecrm8"]


@dataclass(frozen=True)
class Edition:
    """What differs between the Sugars the sandbox can play."""

    name: EditionName
    api_root: str  # below the site root: "" or "/legacy"
    suitecrm_version: str
    refuses_application_name: bool


SUITECRM7 = Edition("suitecrm7", "", "7.14.6", refuses_application_name=False)
SUITECRM8 = Edition("suitecrm8", "/legacy", "8.8.0", refuses_application_name=True)
EDITIONS: dict[str, Edition] = {e.name: e for e in (SUITECRM7, SUITECRM8)}


def edition_named(name: str | Edition) -> Edition:
    """The edition called ``name`` (``suitecrm7`` or ``suitecrm8``)."""
    if isinstance(name, Edition):
        return name
    try:
        return EDITIONS[name]
    except KeyError:
        raise SandboxConfigError(
            f"unknown sandbox edition {name!r}; known: {', '.join(EDITIONS)}"
        ) from None


def refuses(edition: Edition, method: str, raw_rest_data: str | None) -> bool:
    """Whether this call dies in PHP before the method runs: SuiteCRM 8's ``login`` named
    ``application_name`` (a positional second argument is its ``$application`` and passes)."""
    if not edition.refuses_application_name or method != "login" or not raw_rest_data:
        return False
    try:
        rest_data = json.loads(raw_rest_data)
    except ValueError:
        return False
    return isinstance(rest_data, dict) and "application_name" in rest_data
