"""The CLI starts without its heavy libraries, and ``-h`` works on every command."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from sugar_bridge.cli.app import app

# What `--version` and `--help` must not pay for: each is imported by the commands that use it.
# (Not pydantic: Typer itself imports it while building the commands, to know its types.)
HEAVY = (
    "pandas",
    "numpy",
    "scipy",
    "matplotlib",
    "sqlalchemy",
    "alembic",
    "pyarrow",
    "jinja2",
    "requests",
    "apscheduler",
    "yaml",
)


def _loaded_after(code: str) -> list[str]:
    """The HEAVY top-level packages in sys.modules after running ``code`` in a fresh Python."""
    probe = (
        f"import sys\n{code}\n"
        "import json\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    loaded: list[str] = json.loads(out.stdout.strip().splitlines()[-1])
    return loaded


def test_importing_the_cli_loads_no_heavy_library() -> None:
    assert _loaded_after("import sugar_bridge.cli.app") == []


def test_version_and_help_load_no_heavy_library() -> None:
    # The whole command tree is built for --help (every group module's signatures).
    code = (
        "from typer.main import get_command\n"
        "from sugar_bridge.cli.app import app\n"
        "cmd = get_command(app)\n"
        "for args in (['--version'], ['--help'], ['etl', '--help'], ['sync', '-h']):\n"
        "    try:\n"
        "        cmd.main(args, prog_name='sugar-bridge', standalone_mode=False)\n"
        "    except SystemExit:\n"
        "        pass\n"
    )
    assert _loaded_after(code) == []


def _paths(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for name, cmd in sorted(group.commands.items()):
        out.append((*prefix, name))
        if hasattr(cmd, "commands"):
            out += _paths(cmd, (*prefix, name))
    return out


@pytest.mark.parametrize("path", _paths(typer.main.get_command(app)), ids=" ".join)
def test_dash_h_is_help_everywhere(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "-h"])
    assert result.exit_code == 0, result.output
    assert f"Usage: sugar-bridge {' '.join(path)}" in result.output


@pytest.mark.parametrize(
    "group",
    ["analytics", "db", "etl", "extension", "provision", "sandbox", "scheduler", "segments"],
)
def test_dash_h_on_a_group_app_run_alone(group: str) -> None:
    # Some callers run a group's own app (the sandbox tests start `sugar_bridge.cli.sandbox`).
    module = importlib.import_module(f"sugar_bridge.cli.{group}")
    result = CliRunner().invoke(module.app, ["-h"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_the_models_input_reads_without_the_fitting_code() -> None:
    # `analytics clv` computes the summary while scipy loads: reading it must not import scipy.
    loaded = _loaded_after("import analytics.summary")
    assert "numpy" in loaded
    assert not {"scipy", "pandas"} & set(loaded)


def test_analytics_clv_loads_only_what_fitting_needs(tmp_path: Any) -> None:
    # `analytics clv --model NAME` reads the summary from the warehouse into numpy arrays and
    # fits: no pandas (a holdout check would load it), no migrations tool, no loader, no templates,
    # no HTTP client (reading the config's sugar_source section needs none).
    from etl.db import create_engine_for, upgrade

    warehouse = tmp_path / "w.db"
    engine = create_engine_for(f"sqlite:///{warehouse}")
    upgrade(engine)
    engine.dispose()
    code = (
        "import os\n"
        f"os.environ['SUGAR_BRIDGE_WAREHOUSE_URL'] = 'sqlite:///{warehouse}'\n"
        f"os.chdir({str(tmp_path)!r})\n"
        "sys.argv = ['sugar-bridge', 'analytics', 'clv', '--model', 'bgnbd', '--json',\n"
        "            '--as-of', '2025-01-31']\n"
        "from sugar_bridge.cli.app import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 1, exc.code  # no buyers: an error, once everything is loaded\n"
    )
    loaded = _loaded_after(code)
    assert {"numpy", "scipy", "sqlalchemy"} <= set(loaded)
    assert not {"pandas", "alembic", "pyarrow", "jinja2", "matplotlib", "requests"} & set(loaded)


def test_the_objects_a_command_loaded_are_left_to_the_system_at_exit() -> None:
    # main() freezes them when the command ends, so the interpreter's last collections do not
    # walk them (0.1 s of `analytics clv`); the command's exit code and output are unchanged.
    probe = (
        "import gc, sys\n"
        "sys.argv = ['sugar-bridge', '--version']\n"
        "from sugar_bridge.cli.app import main\n"
        "frozen_before = gc.get_freeze_count()\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    code = exc.code\n"
        "print('exit', code, 'frozen', frozen_before, gc.get_freeze_count() > 0)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    lines = out.stdout.strip().splitlines()
    assert lines[0].startswith("sugar-bridge ")  # the version, printed as before
    assert lines[-1] == "exit 0 frozen 0 True"
