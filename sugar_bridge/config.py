"""The project's YAML config (``config/sugar-bridge.yaml``): loading and validation.

One file with one section per concern; each section's model lives with the code that uses it.
Validation errors name the file, the line where known, the path (``sugar.users[3].roles[0]``) and
the problem, and a file that does not validate is rejected whole (nothing is applied).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from analytics.config import AnalyticsConfig
from connectors.orders.config import SourcesConfig
from connectors.sugar.crm import SugarSourceConfig
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
    sugar_source: SugarSourceConfig = Field(default_factory=SugarSourceConfig)

    @model_validator(mode="after")
    def _policy_from_the_other_sections(self) -> ProjectConfig:
        # The push's policy takes two facts from other sections: who manages each key account
        # (sugar.accounts) and the analytics' recent-buyer window (the default of its rules').
        owners = self.push.owners
        if not owners.key_account_managers:
            owners.key_account_managers = {
                account.external_id: account.assigned_user
                for account in self.sugar.accounts
                if account.assigned_user
            }
        if "recent_buyer_days" not in self.push.model_fields_set:
            self.push.recent_buyer_days = self.analytics.lifecycle.recent_buyer_days
        return self

    def unknown_names(self) -> list[tuple[tuple[int | str, ...], str]]:
        """Users, roles and groups the push's policy names that the ``sugar:`` spec lacks.

        Checked only against what the spec declares: with no users in the spec (nor
        ``protected_users``), names are checked against Sugar when the push starts.
        """
        spec = self.sugar
        problems: list[tuple[tuple[int | str, ...], str]] = []
        users = {u.user_name.lower() for u in spec.users} | {
            u.lower() for u in spec.protected_users
        }
        named = [(("push", "owners", *_path(p)), n) for p, n in self.push.owners.user_names()]
        named += [
            (("push", "followups", i, "owner"), rule.owner)
            for i, rule in enumerate(self.push.followups)
            if rule.owner
        ]
        if users:
            for loc, name in named:
                if name.lower() not in users:
                    problems.append(
                        (loc, f"unknown user {name!r} (not in sugar.users or protected_users)")
                    )
        roles = {r.name.lower() for r in spec.roles}
        groups = {g.name.lower() for g in spec.security_groups}
        for i, rule in enumerate(self.push.owners.rules):
            robin = rule.round_robin
            where: tuple[int | str, ...] = ("push", "owners", "rules", i, "round_robin")
            if robin and robin.role and roles and robin.role.lower() not in roles:
                problems.append(((*where, "role"), f"unknown role {robin.role!r} (sugar.roles)"))
            group = robin.security_group if robin else None
            if group and groups and group.lower() not in groups:
                problems.append(
                    (
                        (*where, "security_group"),
                        f"unknown security group {group!r} (sugar.security_groups)",
                    )
                )
        return problems


def _path(text: str) -> tuple[int | str, ...]:
    """``rules[2].user`` → ``("rules", 2, "user")``."""
    out: list[int | str] = []
    for part in text.replace("]", "").replace("[", ".").split("."):
        out.append(int(part) if part.isdigit() else part)
    return tuple(out)


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
        config = ProjectConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(validation_message(str(path), exc, node)) from None
    problems = config.unknown_names()
    if problems:
        lines = []
        for loc, message in problems:
            line = _line_of(node, loc)
            where = f"{path}:{line}" if line else str(path)
            lines.append(f"{where}: {format_loc(loc)}: {message}")
        raise ConfigError("\n".join(lines))
    return config


def json_schema() -> dict[str, Any]:
    """JSON Schema of the whole config file (``sugar-bridge provision schema``).

    Editors (VS Code's YAML extension, JetBrains) use it for autocompletion and validation.
    """
    schema = ProjectConfig.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "sugar-bridge config (config/sugar-bridge.yaml)"
    return schema
