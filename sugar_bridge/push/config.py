"""The ``push:`` section: matching, field mapping, target lists, follow-up rules."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class PushConfig(BaseModel):
    """The ``push:`` section: matching, field mapping, target lists, follow-up rules."""

    model_config = ConfigDict(extra="forbid")
