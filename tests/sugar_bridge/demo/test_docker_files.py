"""The Docker stack's files (no engine needed): valid compose, least privilege, health checks.

``docker-compose config`` runs when Debian's docker-compose is installed (CI installs it).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO

DOCKER = REPO / "docker"


def _env_example() -> dict[str, str]:
    out = {}
    for line in (DOCKER / "env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key] = value
    return out


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DOCKER / "docker-compose.yml").read_text("utf-8"))
    return data


def test_every_service_has_a_health_check_and_named_volumes(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"mariadb", "suitecrm", "bridge"}
    for name, service in services.items():
        assert "healthcheck" in service, name
        assert service.get("restart") == "unless-stopped", name
    assert set(compose["volumes"]) == {
        "mariadb-data",
        "suitecrm-data",
        "suitecrm-custom",
        "bridge-data",
    }
    assert services["bridge"]["depends_on"] == {
        "mariadb": {"condition": "service_healthy"},
        "suitecrm": {"condition": "service_healthy"},
    }


def test_suitecrm_is_our_image_with_the_extension_of_this_repository(
    compose: dict[str, Any],
) -> None:
    suitecrm = compose["services"]["suitecrm"]
    assert suitecrm["build"]["context"] == ".."
    assert suitecrm["build"]["dockerfile"] == "docker/suitecrm/Dockerfile"
    assert suitecrm["volumes"] == [  # no bind mount of code
        "suitecrm-data:/var/lib/suitecrm",
        "suitecrm-custom:/var/www/suitecrm/custom",
    ]
    dockerfile = (DOCKER / "suitecrm" / "Dockerfile").read_text(encoding="utf-8")
    source = "connectors/sugar/extension/php/custom/service/bridge/"
    assert f"COPY {source} /usr/local/share/suitecrm/extension/custom/service/bridge/" in dockerfile
    assert (REPO / source / "rest.php").exists()
    entrypoint = (DOCKER / "suitecrm" / "entrypoint.sh").read_text(encoding="utf-8")
    assert 'cp "$seed/extension/custom/service/bridge/"*.php "$root/custom/service/bridge/"' in (
        entrypoint
    )
    subprocess.run(["sh", "-n", str(DOCKER / "suitecrm" / "entrypoint.sh")], check=True)


def test_suitecrm_health_means_v4_1_login_and_bridge_info(compose: dict[str, Any]) -> None:
    assert compose["services"]["suitecrm"]["healthcheck"]["test"] == [
        "CMD",
        "suitecrm-healthcheck",
    ]
    check = (DOCKER / "suitecrm" / "healthcheck.php").read_text(encoding="utf-8")
    assert "/service/v4_1/rest.php" in check
    assert "'login'" in check
    assert "/custom/service/bridge/rest.php\", 'bridge_info'" in check


def test_the_silent_install_template_and_php_settings_are_shared_with_ci() -> None:
    suitecrm_sh = (REPO / ".ci" / "suitecrm.sh").read_text(encoding="utf-8")
    assert "docker/suitecrm/config_si.php" in suitecrm_sh
    assert "docker/suitecrm/php.ini" in suitecrm_sh
    assert "docker/suitecrm/packages.txt" in suitecrm_sh
    assert "sugar_config_si" not in suitecrm_sh  # no second template


def test_nothing_refers_to_the_removed_bitnami_image() -> None:
    for path in [REPO / "README.md", *DOCKER.rglob("*")]:
        if path.is_file() and "archive" not in path.parts:
            assert "bitnami" not in path.read_text(encoding="utf-8").lower(), path


@pytest.mark.skipif(shutil.which("php") is None, reason="php not installed")
def test_the_image_php_files_parse() -> None:
    for name in ("config_si.php", "healthcheck.php"):
        subprocess.run(["php", "-l", str(DOCKER / "suitecrm" / name)], check=True,
                       capture_output=True)  # fmt: skip


def test_the_bridge_gets_only_the_secrets_it_needs(compose: dict[str, Any]) -> None:
    bridge = compose["services"]["bridge"]
    assert "env_file" not in bridge  # the env file also holds root's and the analysts' passwords
    text = yaml.safe_dump(bridge["environment"])
    for other in ("MARIADB_ROOT_PASSWORD", "ANALYST_PASSWORD", "SUITECRM_DATABASE_PASSWORD"):
        assert other not in text
    assert bridge["environment"]["SUGAR_BRIDGE_WAREHOUSE_URL"].startswith("mysql+pymysql://")


def test_env_example_covers_every_variable_and_holds_no_real_secret() -> None:
    env = _env_example()
    used = set()
    import re

    text = (DOCKER / "docker-compose.yml").read_text(encoding="utf-8")
    for match in re.finditer(r"\$\{([A-Z0-9_]+)", text):
        used.add(match.group(1))
    assert used <= set(env), sorted(used - set(env))
    for key, value in env.items():
        if "PASSWORD" in key:
            assert value.startswith("change-me"), key


def test_init_script_separates_schemas_and_makes_the_analyst_read_only() -> None:
    script = (DOCKER / "mariadb-init" / "01-databases.sh").read_text(encoding="utf-8")
    assert "GRANT SELECT, SHOW VIEW ON \\`${WAREHOUSE_DATABASE}\\`.* TO '${ANALYST_USER}'" in script
    assert "GRANT ALL PRIVILEGES ON \\`${WAREHOUSE_DATABASE}\\`.* TO '${WAREHOUSE_USER}'" in script
    assert "GRANT ALL PRIVILEGES ON \\`${SUITECRM_DATABASE_NAME}\\`.* TO" in script
    subprocess.run(["bash", "-n", str(DOCKER / "mariadb-init" / "01-databases.sh")], check=True)
    subprocess.run(["sh", "-n", str(DOCKER / "entrypoint.sh")], check=True)


def test_entrypoint_uses_commands_that_exist() -> None:
    from typer.main import get_command

    from sugar_bridge.cli.app import app

    root = get_command(app)
    script = (DOCKER / "entrypoint.sh").read_text(encoding="utf-8")
    for line in script.splitlines():
        line = line.strip()
        if line.startswith(("sugar-bridge ", "exec sugar-bridge ", "until sugar-bridge ")):
            words = line.split("sugar-bridge ", 1)[1].split()
            group = root.commands[words[0]]  # type: ignore[attr-defined]
            if hasattr(group, "commands") and words[1:]:
                assert words[1] in group.commands, line


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed")
def test_docker_compose_config_accepts_the_files(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text((DOCKER / "env.example").read_text(encoding="utf-8"), encoding="utf-8")
    result = subprocess.run(
        ["docker-compose", "-f", str(DOCKER / "docker-compose.yml"), "--env-file", str(env),
         "config", "-q"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
