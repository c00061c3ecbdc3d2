"""Which SuiteCRM the sandbox imitates: the versions it reports and the rules that differ.

A flavor is data, not a mode switch spread through the code: :class:`SugarApi` reads its fields
where the behaviour differs. The default is the supported SuiteCRM, 7.15, because a test double
kinder than the real server hides bugs; 7.14 is kept because the recorded exchanges
(``tests/recordings/suitecrm-7.14.6``) were made with it and the conformance test replays them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Flavor:
    """A SuiteCRM release as the sandbox plays it."""

    #: The name used by ``--suitecrm`` and ``Sandbox(flavor=...)``: "7.14", "7.15".
    name: str
    #: What ``get_server_info`` and ``bridge_info`` report (``suitecrm_version``).
    suitecrm_version: str
    #: SuiteCRM 7 reports the SugarCRM CE it is built on as its Sugar ``version``.
    sugar_version: str = "6.5.25"
    #: SuiteCRM 7.15's session check calls ``User::isEnabled()``: every call but ``login`` and
    #: ``get_server_info`` answers error 11 for a user whose ``status`` is 'Inactive' or whose
    #: ``employee_status`` is not 'Active' (NULL included), though ``login`` itself succeeds.
    #: 7.14 checks neither once the session is open.
    session_needs_enabled_user: bool = False


SUITECRM_7_14 = Flavor("7.14", "7.14.6")
SUITECRM_7_15 = Flavor("7.15", "7.15.0", session_needs_enabled_user=True)
FLAVORS: dict[str, Flavor] = {flavor.name: flavor for flavor in (SUITECRM_7_14, SUITECRM_7_15)}
DEFAULT_FLAVOR = SUITECRM_7_15


def user_is_enabled(user: dict[str, object]) -> bool:
    """``User::isEnabled()`` of SuiteCRM 7.15: not Inactive, employee_status exactly 'Active'."""
    return user.get("status") != "Inactive" and user.get("employee_status") == "Active"
