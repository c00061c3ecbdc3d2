"""Runtime settings, loaded once at the edge (CLI, scheduler) and passed down.

Every setting comes from the environment with the prefix ``SUGAR_BRIDGE_`` or from a ``.env``
file in the working directory; ``.env.example`` documents them all. Secrets are ``SecretStr`` so
that they never show in a repr, a log line or an exception.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from sugar_bridge.exceptions import ConfigError


class Settings(BaseSettings):
    """sugar-bridge settings (environment prefix ``SUGAR_BRIDGE_``)."""

    model_config = SettingsConfigDict(
        env_prefix="SUGAR_BRIDGE_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    # --- Sugar -------------------------------------------------------------------------------
    sugar_url: str | None = Field(
        default=None,
        description="Site root of Sugar (https://crm.example.com; on SuiteCRM 8 too, the client "
        "finds /legacy) or the full URL of rest.php.",
    )
    sugar_username: str = Field(default="admin", description="Sugar admin user name.")
    sugar_password: SecretStr | None = Field(default=None, description="Sugar admin password.")
    sugar_verify_tls: bool = Field(default=True, description="Verify Sugar's TLS certificate.")
    sugar_connect_timeout: float = Field(default=10.0, gt=0, description="Seconds to connect.")
    sugar_read_timeout: float = Field(
        default=120.0, gt=0, description="Seconds to wait for an answer."
    )
    sugar_max_retries: int = Field(
        default=4, ge=0, le=10, description="Retries of a transient failure."
    )
    sugar_sessions: int = Field(
        default=1,
        ge=1,
        le=16,
        description="Concurrent sessions for batch writes; when set, the push's maximum "
        "(push.sessions: it adapts below it).",
    )
    sugar_batch_size: int = Field(
        default=50, ge=1, le=500, description="Records per set_entries call."
    )

    # --- Warehouse and files ---------------------------------------------------------------
    data_dir: Path = Field(
        default=Path("data"), description="Where the embedded warehouse and outputs go."
    )
    warehouse_url: SecretStr | None = Field(
        default=None,
        description="SQLAlchemy URL of the warehouse (default: SQLite <data_dir>/warehouse.db).",
    )
    config: Path = Field(
        default=Path("config/sugar-bridge.yaml"), description="Path of the YAML config."
    )
    default_currency: str = Field(default="EUR", min_length=3, max_length=3)
    timezone: str = Field(
        default="UTC", description="Time zone of dates without one, and of the schedule."
    )
    locale: str = Field(
        default="en",
        description="Language and formats of the report and the follow-up texts (en, fr, fr_FR…).",
    )
    history_days: int = Field(
        default=90,
        ge=0,
        description="Days of run history and per-customer metrics history kept (0 = all); "
        "pruned after each sync, `etl run` and `analytics run`.",
    )

    # --- Logging ---------------------------------------------------------------------------
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["plain", "json"] = "plain"

    @field_validator("warehouse_url")
    @classmethod
    def _database_url(cls, value: SecretStr | None) -> SecretStr | None:
        # Empty (e.g. `SUGAR_BRIDGE_WAREHOUSE_URL=` in an env file) means unset: the embedded
        # SQLite. Anything else must parse; the message never repeats the value (a password).
        if value is None or not value.get_secret_value().strip():
            return None
        try:
            make_url(value.get_secret_value().strip())
        except ArgumentError:
            raise ValueError(
                "not a database URL (e.g. sqlite:///data/warehouse.db, "
                "mysql+pymysql://user:password@host/db, postgresql+psycopg://user:password@host/db)"
            ) from None
        return SecretStr(value.get_secret_value().strip())

    @field_validator("default_currency")
    @classmethod
    def _upper_currency(cls, value: str) -> str:
        return value.upper()

    @field_validator("locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        # Babel knows the locale (CLDR): checked here, once, like the time zone.
        from babel import Locale, UnknownLocaleError

        try:
            Locale.parse(value.replace("-", "_"))
        except (UnknownLocaleError, ValueError):
            raise ValueError(f"unknown locale {value!r} (e.g. en, fr, fr_FR)") from None
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        # Checked here, once: every "today" and the schedule are computed in it.
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
        return value

    @property
    def warehouse_url_value(self) -> str:
        """The warehouse URL in clear (with its password): for the engine only, never for logs."""
        if self.warehouse_url is not None and self.warehouse_url.get_secret_value():
            return self.warehouse_url.get_secret_value()
        return f"sqlite:///{self.data_dir / 'warehouse.db'}"

    @property
    def warehouse_url_display(self) -> str:
        """The warehouse URL with any password masked, for messages."""
        return make_url(self.warehouse_url_value).render_as_string(hide_password=True)

    def require_sugar(self) -> tuple[str, str, str]:
        """URL, user name and password of Sugar, or a ConfigError naming what is missing."""
        missing = [
            name
            for name, value in (
                ("SUGAR_BRIDGE_SUGAR_URL", self.sugar_url),
                ("SUGAR_BRIDGE_SUGAR_PASSWORD", self.sugar_password),
            )
            if not value
        ]
        if missing:
            raise ConfigError(
                f"Sugar is not configured: set {', '.join(missing)} (see .env.example)"
            )
        assert self.sugar_url is not None
        assert self.sugar_password is not None
        if not self.sugar_verify_tls:
            warnings.warn(
                "TLS verification of Sugar is disabled (SUGAR_BRIDGE_SUGAR_VERIFY_TLS=false)",
                stacklevel=2,
            )
        return self.sugar_url, self.sugar_username, self.sugar_password.get_secret_value()


def load_settings(**overrides: object) -> Settings:
    """Load settings from the environment and ``.env``; invalid values raise ConfigError."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"SUGAR_BRIDGE_{'.'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from None
