"""SUGAR_BRIDGE_TEST_REQUIRE: CI's guard that the live, MariaDB, PostgreSQL and Spider tests
really ran."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

SAMPLE = """
import pytest

@pytest.mark.live
def test_live():
    pytest.skip("live Sugar not configured")

@pytest.mark.mysql
def test_mysql():
    pytest.skip("no MariaDB")

@pytest.mark.spider
def test_spider():
    pytest.skip("no Spider head")

def test_other():
    pytest.skip("not a required marker")
"""


def _run(tmp_path: Path, required: str) -> str:
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    env = {k: v for k, v in os.environ.items() if k != "SUGAR_BRIDGE_TEST_REQUIRE"}
    env["SUGAR_BRIDGE_TEST_REQUIRE"] = required
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "tests.conftest",
            "--rootdir",
            str(tmp_path),
            "-c",
            os.devnull,
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    return done.stdout.strip().splitlines()[-1]


def test_a_required_marker_that_skips_fails(tmp_path: Path) -> None:
    assert _run(tmp_path, "live,mysql").startswith("2 failed, 2 skipped")
    assert _run(tmp_path, "mysql").startswith("1 failed, 3 skipped")
    # CI's spider stage requires that marker alone; its main run requires the others.
    assert _run(tmp_path, "spider").startswith("1 failed, 3 skipped")
    assert _run(tmp_path, "live,mysql,postgres,spider").startswith("3 failed, 1 skipped")


def test_without_the_variable_skips_stay_skips(tmp_path: Path) -> None:
    assert _run(tmp_path, "").startswith("4 skipped")
