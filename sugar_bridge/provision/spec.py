"""The ``sugar:`` section: users, roles, security groups, key accounts, custom fields."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class SugarSpec(BaseModel):
    """The ``sugar:`` section: users, roles, security groups, key accounts, custom fields."""

    model_config = ConfigDict(extra="forbid")
