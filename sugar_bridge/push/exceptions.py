"""Exceptions of the push (a subtree of ``sugar_bridge.exceptions.SugarBridgeError``).

PushError                  base of the push's own errors                              terminal
├── NoHabitsError          the warehouse has no ``customer_habits`` to push (run      terminal
│                          analytics first)
├── MissingFieldsError     Sugar lacks mapped Accounts fields (run ``provision        terminal
│                          apply``); Sugar would silently drop their values, so the
│                          push refuses to start
└── OwnerError             a user the owner rules name is not an active Sugar user,   terminal
                           or a round-robin has nobody: nothing is written

Errors from Sugar itself are the client's (``connectors.sugar.exceptions``): a transient one that
outlives the client's retries fails only the batch it hit; the run records it and goes on.
"""

from __future__ import annotations

from sugar_bridge.exceptions import SugarBridgeError


class PushError(SugarBridgeError):
    """Base of the push's errors."""


class NoHabitsError(PushError):
    """There is no ``customer_habits`` table or view (or it is empty) in the warehouse."""


class MissingFieldsError(PushError):
    """Mapped fields do not exist in Sugar's Accounts (or, for persons, Contacts) module."""

    def __init__(self, fields: list[str], module: str = "Accounts") -> None:
        self.fields = fields
        self.module = module
        hint = (
            " (persons are pushed to Contacts: declare the fields under "
            "sugar.custom_fields.Contacts too, or set push.persons.enabled: false)"
            if module == "Contacts"
            else ""
        )
        super().__init__(
            f"Sugar's {module} module has no field {', '.join(fields)}: Sugar would drop the "
            "values silently. Create them (`sugar-bridge provision apply`) or fix push.fields"
            f"{hint}."
        )


class OwnerError(PushError):
    """The owner rules name a user Sugar lacks (or an inactive one), or share among nobody."""
