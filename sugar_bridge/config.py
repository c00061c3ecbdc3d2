"""The project's YAML config (``config/sugar-bridge.yaml``): loading and validation.

One file with one section per concern; each section's model lives with the code that uses it.
Validation errors name the file, the line where known, the path (``sugar.users[3].roles[0]``) and
the problem, and a file that does not validate is rejected whole (nothing is applied).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from analytics.config import AnalyticsConfig
from connectors.orders.config import SourcesConfig
from sugar_bridge.exceptions import ConfigError
from sugar_bridge.provision.spec import SugarSpec
from sugar_bridge.push.config import PushConfig
from sugar_bridge.scheduler.config import ScheduleConfig


class ProjectConfig(BaseModel):
    """The whole config file."""

    model_config = ConfigDict(extra="forbid")

    sugar: SugarSpec = Field(default_factory=SugarSpec)
    sources: SourcesConfig = Field(default_factory=SourcesConfig)
    analytics: AnalyticsConfig = Field(default_factory=AnalyticsConfig)
    push: PushConfig = Field(default_factory=PushConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)


def format_loc(loc: tuple[int | str, ...]) -> str:
    """``("sugar", "users", 3, "roles", 0)`` → ``sugar.users[3].roles[0]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """1-based line of the deepest YAML key or item that ``loc`` reaches."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            pair = next(((k, v) for k, v in node.value if getattr(k, "value", None) == part), None)
            if pair is None:
                break
            line, node = pair[0].start_mark.line + 1, pair[1]
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def parse_yaml(text: str, source: str) -> tuple[Any, yaml.Node | None]:
    """Parse YAML text; returns the data and its node tree (for line numbers)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: YAML syntax error: {problem}") from None
    return data, node


def validation_message(source: str, exc: ValidationError, node: yaml.Node | None) -> str:
    """One line per problem: ``file:line: path: message``."""
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        line = _line_of(node, loc)
        where = f"{source}:{line}" if line else source
        lines.append(f"{where}: {format_loc(loc)}: {err['msg']}")
    return "\n".join(lines)


def load_config(path: Path) -> ProjectConfig:
    """Read and validate the config file; any problem raises ConfigError and nothing is used."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found (set SUGAR_BRIDGE_CONFIG)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from None
    data, node = parse_yaml(text, str(path))
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: the config must be a mapping of sections")
    try:
        return ProjectConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(validation_message(str(path), exc, node)) from None


def json_schema() -> dict[str, Any]:
    """JSON Schema of the whole config file (``sugar-bridge provision schema``).

    Editors (VS Code's YAML extension, JetBrains) use it for autocompletion and validation.
    """
    schema = ProjectConfig.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "sugar-bridge config (config/sugar-bridge.yaml)"
    return schema
