"""What the CLI tests share: a command run in-process (the root logger is put back after each
test by tests/conftest.py)."""

from __future__ import annotations

from typer.testing import CliRunner

from sugar_bridge.cli.app import app


def run(*args: str) -> tuple[int, str]:
    """Exit code and output of ``sugar-bridge ARGS``."""
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output
