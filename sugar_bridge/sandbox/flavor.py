"""Which Sugar the sandbox imitates: the versions it reports and the rules that differ.

A flavor is data, not a mode switch spread through the code: :class:`SugarApi` and the server read
its fields where the behaviour differs. The default is the supported SuiteCRM, 7.15, because a test
double kinder than the real server hides bugs; 7.14 is kept because the recorded exchanges
(``tests/recordings/suitecrm-7.14.6``) were made with it and the conformance test replays them.

SuiteCRM 8 runs the SuiteCRM 7 code base ("legacy") below ``<site>/legacy``, so the v4_1 API is at
``/legacy/service/v4_1/rest.php`` and the Module Loader installs our extension under the legacy
root's ``custom/`` (``/legacy/custom/service/bridge/rest.php``). Its v4_1 ``login`` has no
variadic catch-all: the documented key ``application_name`` is an unknown named parameter, a PHP
fatal error (HTTP 500, empty body; SuiteCRM-Core#272). ``get_server_info`` reports the legacy
``sugar_version.php`` (flavor CE, version 6.5.25) and ``suitecrm_version.php`` -- 8.8.0 is the
newest of those read (SuiteCRM-Core's 8.8.0 release); a later 8.x reports its own number there.
No SuiteCRM 8 was run to record this: the differences are the documented ones above, the old
paths answer 404 (some 8.x setups also route them to the legacy API), and its sessions are held
to 7.15's stricter rule (the kinder choice would hide a locked-out user).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

from sugar_bridge.sandbox.exceptions import SandboxConfigError


@dataclass(frozen=True)
class Flavor:
    """A Sugar release as the sandbox plays it."""

    #: The name used by ``--suitecrm`` and ``Sandbox(flavor=...)``: "7.14", "7.15", "8".
    name: str
    #: What ``get_server_info`` and ``bridge_info`` report (``suitecrm_version``).
    suitecrm_version: str
    #: SuiteCRM reports the SugarCRM CE it is built on as its Sugar ``version``.
    sugar_version: str = "6.5.25"
    #: SuiteCRM 7.15's session check calls ``User::isEnabled()``: every call but ``login`` and
    #: ``get_server_info`` answers error 11 for a user whose ``status`` is 'Inactive' or whose
    #: ``employee_status`` is not 'Active' (NULL included), though ``login`` itself succeeds.
    #: 7.14 checks neither once the session is open.
    session_needs_enabled_user: bool = False
    #: Where the legacy application lives below the site root: "" or "/legacy" (SuiteCRM 8).
    api_root: str = ""
    #: SuiteCRM 8's ``login`` dies on a named ``application_name`` (HTTP 500, empty body).
    refuses_application_name: bool = False
    #: The CI's SuiteCRM 7.15.0 bundle (../shared/suitecrm) dies when a case is closed (HTTP
    #: 500, empty body, recording 22_03_cases_close_set_entry): AOP's after_save hook
    #: ``CaseUpdatesHook::closureNotify`` loads the closure e-mail template, whose
    #: ``fill_in_additional_detail_fields`` needs ``Soundasleep\Html2Text`` (html2text 2.x, what
    #: 7.15.0's composer.lock pins: 2.1.0), and the bundle's vendor/ holds html2text 0.5.0,
    #: namespaced ``Html2Text`` (MANIFEST.txt). The row is saved; the audit, written after the
    #: hooks, is not. An official 7.15.0 release has the class: its closes succeed, so the
    #: sandbox's 7.15 flavour does not die; ``CI_BUNDLE_7_15`` does, to replay the recording.
    case_close_dies: bool = False


SUITECRM_7_14 = Flavor("7.14", "7.14.6")
SUITECRM_7_15 = Flavor("7.15", "7.15.0", session_needs_enabled_user=True)
#: The CI's SuiteCRM bundle, where a case close dies (``Flavor.case_close_dies``); not a named
#: flavour: no Sugar a user runs behaves so.
CI_BUNDLE_7_15 = dataclasses.replace(SUITECRM_7_15, case_close_dies=True)
SUITECRM_8 = Flavor(
    "8",
    "8.8.0",
    session_needs_enabled_user=True,
    api_root="/legacy",
    refuses_application_name=True,
)
FLAVORS: dict[str, Flavor] = {f.name: f for f in (SUITECRM_7_14, SUITECRM_7_15, SUITECRM_8)}
DEFAULT_FLAVOR = SUITECRM_7_15


def flavor_named(name: str | Flavor) -> Flavor:
    """The flavor called ``name`` ("7.14", "7.15" or "8"); a config error for any other."""
    if isinstance(name, Flavor):
        return name
    try:
        return FLAVORS[name]
    except KeyError:
        raise SandboxConfigError(f"--suitecrm takes {', '.join(FLAVORS)}, not {name!r}") from None


def user_is_enabled(user: dict[str, object]) -> bool:
    """``User::isEnabled()`` of SuiteCRM 7.15: not Inactive, employee_status exactly 'Active'."""
    return user.get("status") != "Inactive" and user.get("employee_status") == "Active"


def refuses(flavor: Flavor, method: str, raw_rest_data: str | None) -> bool:
    """Whether this call dies in PHP before the method runs: SuiteCRM 8's ``login`` named
    ``application_name`` (a positional second argument is its ``$application`` and passes)."""
    if not flavor.refuses_application_name or method != "login" or not raw_rest_data:
        return False
    try:
        rest_data = json.loads(raw_rest_data)
    except ValueError:
        return False
    return isinstance(rest_data, dict) and "application_name" in rest_data
