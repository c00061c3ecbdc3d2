"""``sugar-bridge sandbox``: a local SugarCRM CE / SuiteCRM 7 lookalike speaking REST v4_1.

For tests, the offline demo and trying a provisioning config without a Sugar at hand. It serves the
v4_1 methods the bridge uses and the bridge extension's ``bridge_*`` methods over HTTP on
127.0.0.1, backed by SQLite tables named and shaped like Sugar's (so ``query`` strings run for real,
injection included), and reproduces the quirks recorded against a real SuiteCRM 7.14.6. It plays
SuiteCRM 7.15 by default (``flavor=SUITECRM_7_14`` for 7.14's laxer session check, ``SUITECRM_8``
for SuiteCRM 8's paths below ``/legacy``; ``flavor.py``).

    from sugar_bridge.sandbox import Sandbox, Faults, Latency

    with Sandbox() as sb:                      # in memory, free port (Sandbox(aod=True): AOD on)
        url = sb.url                           # .../service/v4_1/rest.php
        password = sb.admin_password           # user "admin"
        ...
        sb.stats.calls["set_entries"], sb.stats.writes["set_entries"]

    with Sandbox(flavor=SUITECRM_8) as sb:     # SuiteCRM 8: .../legacy/service/v4_1/rest.php
"""

from __future__ import annotations

from sugar_bridge.sandbox.api import Stats
from sugar_bridge.sandbox.exceptions import SandboxConfigError, SandboxError
from sugar_bridge.sandbox.faults import AOD_INDEXED_MODULES, FAULT_KINDS, AodIndex, Faults, Latency
from sugar_bridge.sandbox.flavor import (
    FLAVORS,
    SUITECRM_7_14,
    SUITECRM_7_15,
    SUITECRM_8,
    Flavor,
    flavor_named,
)
from sugar_bridge.sandbox.passwords import md5_hex
from sugar_bridge.sandbox.server import BRIDGE_PATH, V4_1_PATH, Sandbox
from sugar_bridge.sandbox.store import Store

__all__ = [
    "AOD_INDEXED_MODULES",
    "BRIDGE_PATH",
    "FAULT_KINDS",
    "FLAVORS",
    "SUITECRM_7_14",
    "SUITECRM_7_15",
    "SUITECRM_8",
    "V4_1_PATH",
    "AodIndex",
    "Faults",
    "Flavor",
    "Latency",
    "Sandbox",
    "SandboxConfigError",
    "SandboxError",
    "Stats",
    "Store",
    "flavor_named",
    "md5_hex",
]
