"""The ``sources:`` section: order sources (CSV folders/files, SQL databases)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class SourcesConfig(BaseModel):
    """The ``sources:`` section: order sources (CSV folders/files, SQL databases)."""

    model_config = ConfigDict(extra="forbid")
