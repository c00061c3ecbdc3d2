"""Is the extension answering ``bridge_info`` the one this bridge was built for?

The bridge refuses to provision against a missing or outdated extension; this module holds that
decision as a pure function so the CLI, the provisioner and the tests share it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from connectors.sugar.exceptions import AccessDenied, ExtensionMissing
from connectors.sugar.extension import API_LEVEL, EXTENSION_VERSION

if TYPE_CHECKING:
    from connectors.sugar.client import SugarClient

_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)")

INSTALL_HINT = (
    "build the package with `sugar-bridge extension build` and install it through "
    "Admin → Module Loader (or mount connectors/sugar/extension/php/custom/service/bridge "
    "at custom/service/bridge in the Sugar container)"
)


@dataclass(frozen=True)
class ExtensionStatus:
    """What ``bridge_info`` reported, and whether the bridge can use it."""

    ok: bool
    message: str
    extension_version: str | None = None
    api_level: int | None = None


def parse_version(text: str) -> tuple[int, int, int] | None:
    """``"1.2.3"`` → ``(1, 2, 3)``; None when the text is not a version."""
    match = _VERSION.match(text.strip())
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3))


def check_info(
    info: Mapping[str, Any] | None,
    *,
    expected_version: str = EXTENSION_VERSION,
    expected_api_level: int = API_LEVEL,
) -> ExtensionStatus:
    """Judge a ``bridge_info`` answer against the packaged extension.

    Compatible when the server's ``api_level`` equals ours and its ``extension_version`` is not
    older than ours (a newer patch/minor with the same API level is fine).
    """
    if not isinstance(info, Mapping) or "extension_version" not in info:
        return ExtensionStatus(False, f"the Sugar server extension is missing: {INSTALL_HINT}")
    version = str(info.get("extension_version", ""))
    raw_level = info.get("api_level")
    level = raw_level if isinstance(raw_level, int) and not isinstance(raw_level, bool) else None
    server = parse_version(version)
    ours = parse_version(expected_version)
    if level is None or server is None:
        return ExtensionStatus(
            False,
            f"the Sugar server extension answers an unreadable version "
            f"({version!r}, api_level {raw_level!r}): {INSTALL_HINT}",
            version,
            level,
        )
    if level != expected_api_level or (ours is not None and server < ours):
        return ExtensionStatus(
            False,
            f"the Sugar server extension is outdated or incompatible: Sugar has {version} "
            f"(api_level {level}), this bridge needs {expected_version} "
            f"(api_level {expected_api_level}): {INSTALL_HINT}",
            version,
            level,
        )
    return ExtensionStatus(
        True,
        f"extension {version} (api_level {level}) is installed and compatible",
        version,
        level,
    )


def require_extension(client: SugarClient) -> dict[str, Any]:
    """Ask Sugar for ``bridge_info`` and return it; refuse a missing or outdated extension.

    Uses the extension method ``bridge_info`` (admin session). Raises ExtensionMissing with a
    message saying what to install when the extension is absent, too old or incompatible;
    AccessDenied (number 40) naming the user when the configured user is not an admin: the
    extension answers admins only, so whether it is installed is then unknown.
    """
    try:
        info = client.call_extension("bridge_info")
    except AccessDenied as error:
        raise AccessDenied(
            error.number,
            error.name,
            f"the API user {client.username} is not a Sugar administrator, and the extension "
            "answers admins only: set SUGAR_BRIDGE_SUGAR_USERNAME to an admin",
            method="bridge_info",
        ) from error
    except ExtensionMissing as error:
        raise ExtensionMissing(
            f"the Sugar server extension is missing at {client.extension_url}: {INSTALL_HINT}",
            method="bridge_info",
        ) from error
    status = check_info(info if isinstance(info, Mapping) else None)
    if not status.ok:
        raise ExtensionMissing(status.message, method="bridge_info")
    return dict(info)
