"""The edge: one :class:`Runtime` per command (or scheduled run), built from Settings + config.

Every CLI command and the sync pipeline receive it instead of settings and config separately, so
what the edge decides is decided once, here:

- **the warehouse**, opened one way with one migration policy. ``warehouse("write")`` (``sync``,
  ``etl run``, ``analytics run``, ``segments push``…) creates a SQLite file's folder and migrates
  the schema to head. ``warehouse("read")`` (``status``, ``etl rejects``, ``report``,
  ``analytics clv``, ``segments push --dry-run``…) never creates a folder or a file and never
  migrates: a missing warehouse raises :class:`WarehouseMissing`, an older one
  ``WarehouseNotCurrent``, each saying what to run. (``report`` and a dry run still record their
  own run rows: "read" is about the schema and the files, not about every row.)
- **the config**: optional. When the default file (``config/sugar-bridge.yaml``) does not exist,
  every section takes its defaults; a file named in ``SUGAR_BRIDGE_CONFIG`` must exist.
- **the merged push config** (``SUGAR_BRIDGE_SUGAR_SESSIONS`` / ``_BATCH_SIZE`` win over the
  ``push:`` section when set), and **the load defaults** (currency, batch size) of the ETL;
- **dates**: :meth:`Runtime.today` and :meth:`Runtime.parse_as_of` in the configured time zone
  (``SUGAR_BRIDGE_TIMEZONE``), so "today" is never UTC's date by accident.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from sugar_bridge.config import ProjectConfig, load_config
from sugar_bridge.exceptions import ConfigError, WarehouseMissing
from sugar_bridge.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from connectors.orders.config import SourcesConfig
    from sugar_bridge.logs import SecretMaskingFilter
    from sugar_bridge.push.config import PushConfig

log = logging.getLogger(__name__)

#: How a command opens the warehouse: "write" creates and migrates it, "read" never does.
WarehouseMode = Literal["read", "write"]

NO_WAREHOUSE_HINT = "run `sugar-bridge sync` (or `sugar-bridge db upgrade`) first"


@dataclass(frozen=True)
class LoadDefaults:
    """What the ETL uses when a source or a line does not say: the currency, the batch size."""

    currency: str
    batch_lines: int


class Runtime:
    """Settings, the config (loaded on first use) and the edge's decisions, built once.

    ``config`` may be given (tests, the demo, the scheduler's fresh read per run); otherwise it is
    read from ``settings.config`` the first time a command needs it, so commands that do not
    need it (``etl run --csv``, ``db``) never fail on it. ``masking`` is the log filter of the
    known secrets, to which secrets made during the run (generated passwords) are added.
    ``clock`` gives the current instant (aware); tests pass a fixed one.
    """

    def __init__(
        self,
        settings: Settings,
        config: ProjectConfig | None = None,
        *,
        masking: SecretMaskingFilter | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.masking = masking
        self.clock = clock
        self._config = config
        self._push: PushConfig | None = None

    def __repr__(self) -> str:
        return f"Runtime(warehouse={self.warehouse_display!r}, config={self.settings.config!s})"

    def add_secret(self, secret: str) -> None:
        """Mask ``secret`` in every later log line (a password generated during the run)."""
        if self.masking is not None:
            self.masking.add(secret)

    # --- config ----------------------------------------------------------------------------

    @property
    def config(self) -> ProjectConfig:
        """The project config: the file's, or every default when the default file is absent."""
        if self._config is None:
            path = self.settings.config
            if "config" not in self.settings.model_fields_set and not path.exists():
                log.debug("no config file at %s: every section takes its defaults", path)
                self._config = ProjectConfig()
            else:
                self._config = load_config(path)
        return self._config

    def require_config_file(self, section: str) -> ProjectConfig:
        """The config, which must come from a file: for commands whose defaults mean nothing.

        An empty ``sugar:`` spec has nothing to provision (and with ``--prune`` would deactivate
        every user): a missing file is a ConfigError naming ``section`` instead.
        """
        if self._config is None and not self.settings.config.exists():
            raise ConfigError(
                f"{self.settings.config}: config file not found (set SUGAR_BRIDGE_CONFIG): "
                f"the {section}: section is needed"
            )
        return self.config

    @property
    def push_config(self) -> PushConfig:
        """The ``push:`` section; SUGAR_BRIDGE_SUGAR_SESSIONS / _BATCH_SIZE win when set."""
        if self._push is None:
            config = self.config.push
            overrides: dict[str, Any] = {}
            if "sugar_sessions" in self.settings.model_fields_set:
                overrides["sessions"] = self.settings.sugar_sessions
            if "sugar_batch_size" in self.settings.model_fields_set:
                overrides["batch_size"] = self.settings.sugar_batch_size
            self._push = config.model_copy(update=overrides) if overrides else config
        return self._push

    @property
    def sources(self) -> SourcesConfig:
        """The ``sources:`` section (order sources)."""
        return self.config.sources

    def load_defaults(self, *, from_config: bool = True) -> LoadDefaults:
        """Currency of lines without one and lines per load transaction.

        The ``sources:`` section's values, else SUGAR_BRIDGE_DEFAULT_CURRENCY and the default
        batch size; ``from_config=False`` (``etl run --csv``) leaves the config file unread.
        """
        from connectors.orders.config import SourcesConfig

        sources = self.sources if from_config else SourcesConfig()
        return LoadDefaults(
            currency=sources.default_currency or self.settings.default_currency,
            batch_lines=sources.batch_lines,
        )

    # --- dates -----------------------------------------------------------------------------

    @property
    def timezone(self) -> str:
        """The configured time zone (SUGAR_BRIDGE_TIMEZONE) of dates without one."""
        return self.settings.timezone

    def today(self, timezone: str | None = None) -> date:
        """Today's date in ``timezone`` (default: the configured one), not UTC's."""
        return self.clock().astimezone(ZoneInfo(timezone or self.timezone)).date()

    def parse_as_of(
        self, value: str | None, option: str = "--as-of", *, allow_future: bool = False
    ) -> date:
        """``--as-of YYYY-MM-DD`` as a date; None means :meth:`today`. ConfigError for a bad
        date, and for a day after today (its orders are not all in; statistics computed for it
        would be pushed as if they were true) unless ``allow_future`` (the demo's made-up data)."""
        if value is None:
            return self.today()
        try:
            when = date.fromisoformat(value)
        except ValueError:
            raise ConfigError(f"{option}: not a date (YYYY-MM-DD): {value!r}") from None
        today = self.today()
        if when > today and not allow_future:
            raise ConfigError(
                f"{option} {when} is after today ({today} in {self.timezone}): "
                "that day's orders are not all in"
            )
        return when

    def is_backdated(self, as_of: date) -> bool:
        """Whether ``as_of`` is a past day (its statistics are kept but not pushed); ConfigError
        when it is a day after today.

        "Today" is taken in the configured time zone and in the schedule's, the earlier of the two
        for the past and the later for the future: the nightly run is never taken for a backdated
        one around midnight, nor refused.
        """
        days = (self.today(), self.today(self.config.schedule.zone(self.timezone)))
        if as_of > max(days):
            raise ConfigError(
                f"--as-of {as_of} is after today ({max(days)}): that day's orders are not all in"
            )
        return as_of < min(days)

    # --- the warehouse ---------------------------------------------------------------------

    @property
    def warehouse_display(self) -> str:
        """The warehouse URL with its password masked, for messages."""
        return self.settings.warehouse_url_display

    def connect_warehouse(self, mode: WarehouseMode) -> Engine:
        """An engine on the warehouse at head revision; the caller disposes of it.

        ``write`` creates a SQLite file's folder and applies missing migrations. ``read`` creates
        nothing and migrates nothing: :class:`WarehouseMissing` when there is no warehouse yet,
        ``WarehouseNotCurrent`` when its schema is older (``sugar-bridge db upgrade``).
        """
        from etl.db import create_engine_for, current_revision, ensure_current

        url = self.settings.warehouse_url_value
        if mode == "read":
            missing = self._missing_sqlite_file(url)
            if missing is not None:
                raise WarehouseMissing(f"no warehouse yet at {missing}: {NO_WAREHOUSE_HINT}")
        engine = create_engine_for(url)
        try:
            if mode == "read" and current_revision(engine) is None:
                raise WarehouseMissing(
                    f"no warehouse yet at {self.warehouse_display} (an empty database): "
                    f"{NO_WAREHOUSE_HINT}"
                )
            ensure_current(engine, auto=mode == "write")
        except BaseException:
            engine.dispose()
            raise
        return engine

    @contextmanager
    def warehouse(self, mode: WarehouseMode) -> Iterator[Engine]:
        """:meth:`connect_warehouse`, disposed of at the end of the block."""
        engine = self.connect_warehouse(mode)
        try:
            yield engine
        finally:
            engine.dispose()

    def warehouse_if_current(self) -> Engine | None:
        """The warehouse for optional reads (``scheduler next``), or None when there is none yet
        or its schema is not current; like ``read``, it never creates or migrates anything."""
        from etl.exceptions import EtlError

        try:
            return self.connect_warehouse("read")
        except (WarehouseMissing, EtlError):
            log.debug("no current warehouse to read", exc_info=True)
            return None

    def warehouse_revision(self) -> str | None:
        """The warehouse's schema revision; None when there is none yet (nothing is created)."""
        from etl.db import create_engine_for, current_revision

        url = self.settings.warehouse_url_value
        if self._missing_sqlite_file(url) is not None:
            return None
        engine = create_engine_for(url)
        try:
            return current_revision(engine)
        finally:
            engine.dispose()

    @staticmethod
    def _missing_sqlite_file(url: str) -> Path | None:
        """The SQLite file of ``url`` when it does not exist (opening it would create it)."""
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        if parsed.get_backend_name() != "sqlite":
            return None
        database = parsed.database or ""
        if not database or database == ":memory:" or database.startswith("file:"):
            return None
        path = Path(database).expanduser()
        return None if path.exists() else path
