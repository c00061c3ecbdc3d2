"""The ``analytics:`` section: RFM segment map, lifecycle thresholds, CLV options."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class AnalyticsConfig(BaseModel):
    """The ``analytics:`` section: RFM segment map, lifecycle thresholds, CLV options."""

    model_config = ConfigDict(extra="forbid")
