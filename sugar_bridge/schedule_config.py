"""The ``schedule:`` section: when the nightly sync (and drift check) runs."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ScheduleConfig(BaseModel):
    """The ``schedule:`` section: when the nightly sync (and drift check) runs."""

    model_config = ConfigDict(extra="forbid")
