"""The provisioning drift check the scheduler runs next to the sync: ``provision plan``, reads only.

Drift is reported (a warning with the counts per action), never fixed: applying stays a human
decision (``sugar-bridge provision apply``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from sugar_bridge.provision.plan import plan
from sugar_bridge.provision.spec import SugarSpec
from sugar_bridge.scheduler.locks import JobLock
from sugar_bridge.settings import Settings
from sugar_bridge.sugar import make_client

log = logging.getLogger(__name__)


@dataclass
class DriftInfo:
    """What a drift check found: Sugar differs from the ``sugar:`` spec when ``changes`` > 0."""

    changes: int
    counts: dict[str, int]
    blockers: list[str]
    seconds: float

    @property
    def drifted(self) -> bool:
        """True when ``provision apply`` would change something (or cannot run)."""
        return bool(self.changes or self.blockers)


def drift_check(settings: Settings, spec: SugarSpec, *, engine: Engine) -> DriftInfo:
    """Compare Sugar with the provisioning spec (``provision plan``; reads only).

    Holds the ``drift-check`` lock in the warehouse ``engine`` so two schedulers never run it twice
    at once. Drift is logged as a warning with the counts per action.
    """
    settings.require_sugar()
    started = time.perf_counter()
    with JobLock(engine, "drift-check", purpose="scheduler"), make_client(settings) as client:
        the_plan = plan(client, spec)
    info = DriftInfo(
        changes=len(the_plan.changes),
        counts=the_plan.counts(),
        blockers=list(the_plan.blockers),
        seconds=time.perf_counter() - started,
    )
    if info.drifted:
        log.warning(
            "provisioning drift: %d change(s) to apply (%s)%s; run `sugar-bridge provision plan`",
            info.changes,
            ", ".join(f"{k} {v}" for k, v in sorted(info.counts.items())),
            f", {len(info.blockers)} blocker(s)" if info.blockers else "",
        )
    else:
        log.info("provisioning: Sugar matches the spec")
    return info
