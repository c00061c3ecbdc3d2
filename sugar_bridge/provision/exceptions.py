"""Exceptions of provisioning (``sugar_bridge.provision``).

ProvisionError (a SugarBridgeError; terminal unless the cause is transient)
├── PlanBlocked       the plan cannot be applied as is (no extension, no SecurityGroups module,
│                     non-admin API user, unknown module in a role ...); nothing was written
├── PasswordError     a password source is unusable (unset variable, unreadable file); nothing
│                     was written
└── ApplyFailed       a write failed; ``item`` names the object, ``cause`` the Sugar error;
                      everything before it was applied, nothing after it

Errors from the Sugar client (``connectors.sugar.exceptions``) that happen while reading are
passed through unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sugar_bridge.exceptions import SugarBridgeError

if TYPE_CHECKING:
    from sugar_bridge.provision.plan import Item


class ProvisionError(SugarBridgeError):
    """Base of the provisioning errors."""


class PlanBlocked(ProvisionError):
    """The plan has blockers; ``blockers`` lists them (one sentence each)."""

    def __init__(self, blockers: list[str]) -> None:
        self.blockers = blockers
        super().__init__("nothing was applied: " + "; ".join(blockers))


class PasswordError(ProvisionError):
    """A password could not be obtained (the message names the source, never a value)."""


class ApplyFailed(ProvisionError):
    """A write failed during apply; earlier writes stay, later ones were not attempted."""

    def __init__(
        self, item: Item, cause: BaseException, applied: int, password_file: Path | None = None
    ) -> None:
        self.item = item
        self.cause = cause
        self.applied = applied
        self.password_file = password_file
        self.transient = bool(getattr(cause, "transient", False))
        message = (
            f"apply stopped at {item.kind} {item.key!r} ({item.action}): {cause}. "
            f"{applied} change(s) were applied before it; run `sugar-bridge provision plan` "
            "to see what remains"
        )
        if password_file is not None:
            message += f". Passwords generated so far are in {password_file} (mode 0600)"
        super().__init__(message)
