"""Every CLI command is documented in the README, and the quick start stays true."""

from __future__ import annotations

import re
from typing import Any

import typer.main

from sugar_bridge.cli.app import app
from tests.conftest import REPO


def _commands(group: Any, prefix: str) -> list[str]:
    out = []
    for name, cmd in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        if hasattr(cmd, "commands"):
            out += _commands(cmd, path)
        else:
            out.append(path)
    return out


def test_every_command_is_documented_in_readme() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    root = typer.main.get_command(app)
    missing = [c for c in _commands(root, "sugar-bridge") if c not in readme]
    assert missing == [], f"commands missing from README.md: {missing}"


def test_readme_test_command_is_what_ci_runs() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    marker = re.search(r"<!-- test-command: (.*) -->", readme)
    assert marker is not None
    assert marker.group(1) in readme.split("<!-- test-command")[0], (
        "quick start shows another command"
    )
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "test-command" in ci
    # run as is, or through without_shared (the same command with ../shared hidden)
    runs = re.findall(r"^(?:without_shared )?(.*)$", ci, re.MULTILINE)
    assert marker.group(1) in runs, ".ci/run does not run the README's test command"
