"""The ``schedule:`` section: when the nightly sync (and drift check) runs."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator


def parse_cron(expression: str, timezone: str) -> object:
    """A ``CronTrigger`` for a 5-field crontab expression (``ValueError`` when it is invalid)."""
    from apscheduler.triggers.cron import CronTrigger

    if len(expression.split()) != 5:
        raise ValueError(
            f"{expression!r} is not a 5-field cron expression (minute hour day month weekday)"
        )
    try:
        return CronTrigger.from_crontab(expression, timezone=ZoneInfo(timezone))
    except ValueError as exc:
        raise ValueError(f"invalid cron expression {expression!r}: {exc}") from None


class ScheduleConfig(BaseModel):
    """The ``schedule:`` section: when the nightly sync (and drift check) runs.

    Cron expressions have the five crontab fields (``minute hour day month weekday``) and are read
    in ``timezone`` (default: the settings' ``SUGAR_BRIDGE_TIMEZONE``).
    """

    model_config = ConfigDict(extra="forbid")

    sync_cron: str = Field(
        default="0 2 * * *", description="When the sync runs (crontab, default nightly 02:00)."
    )
    timezone: str | None = Field(
        default=None,
        description="IANA time zone of the cron expressions (default: the settings' timezone).",
    )
    misfire_grace_hours: float = Field(
        default=6.0,
        gt=0,
        le=72,
        description=(
            "A run missed by less than this (machine off or asleep at 02:00) still runs, once, "
            "when the scheduler is back."
        ),
    )
    drift_check_cron: str | None = Field(
        default=None,
        description="When to check provisioning drift (`provision plan`), e.g. '30 6 * * 1-5'.",
    )
    lock_ttl_seconds: int = Field(
        default=300,
        ge=30,
        le=86_400,
        description=(
            "Lease of a job lock; renewed every quarter of it while the job runs, taken over by "
            "another process only once it has expired (or its holder died on the same host)."
        ),
    )
    retry_transient: int = Field(
        default=2,
        ge=0,
        le=10,
        description=(
            "Retries of a run that failed on a transient error (Sugar or DB unreachable) or "
            "found its lock held (a sync, `etl run`, `analytics run` or `segments push` running)."
        ),
    )
    retry_delay_minutes: float = Field(
        default=15.0, gt=0, le=24 * 60, description="Wait before such a retry."
    )

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
        return value

    @field_validator("sync_cron", "drift_check_cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None:
            parse_cron(value, "UTC")
        return value

    def zone(self, default: str) -> str:
        """The schedule's time zone: its own, else ``default`` (the settings' time zone)."""
        return self.timezone or default
