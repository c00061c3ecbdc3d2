"""The Module Loader package of the server extension: contents, manifest, PHP syntax, versions."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from connectors.sugar.exceptions import SugarError
from connectors.sugar.extension import (
    API_LEVEL,
    EXTENSION_VERSION,
    INSTALL_DIR,
    PHP_FILES,
    PHP_ROOT,
)
from connectors.sugar.extension.build import (
    ExtensionBuildError,
    build_package,
    check_sources,
    php_constants,
    php_string,
    render_manifest,
)

PHP = shutil.which("php")
needs_php = pytest.mark.skipif(PHP is None, reason="php is not installed")


def _run_php(code: str, cwd: Path) -> str:
    assert PHP is not None
    done = subprocess.run(
        [PHP, "-d", "display_errors=stderr", "-r", code],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def test_zip_holds_manifest_and_the_php_files_unchanged(tmp_path: Path) -> None:
    package = build_package(tmp_path / "out")
    assert package.path == tmp_path / "out" / f"sugar-bridge-extension-{EXTENSION_VERSION}.zip"
    with zipfile.ZipFile(package.path) as archive:
        names = archive.namelist()
        assert names == ["manifest.php", *PHP_FILES]
        for path in PHP_FILES:
            assert archive.read(path) == (PHP_ROOT / path).read_bytes()
        assert archive.testzip() is None


def test_same_sources_give_the_same_bytes(tmp_path: Path) -> None:
    first = build_package(tmp_path / "a").path.read_bytes()
    second = build_package(tmp_path / "b").path.read_bytes()
    assert first == second


def test_manifest_copies_every_file_and_names_the_accepted_versions() -> None:
    manifest = render_manifest()
    for path in PHP_FILES:
        assert f"'from' => '<basepath>/{path}'" in manifest
        assert f"'to' => '{path}'" in manifest
    assert f"'version' => '{EXTENSION_VERSION}'" in manifest
    assert "'acceptable_sugar_flavors' => array('CE')" in manifest
    assert r"array('regex_matches' => array('6\\.5\\..*'))" in manifest
    assert r"array('regex_matches' => array('7\\..*'))" in manifest
    assert all(path.startswith(INSTALL_DIR + "/") for path in PHP_FILES)


def test_php_string_escapes_quotes_and_backslashes() -> None:
    assert php_string("it's") == r"'it\'s'"
    assert php_string("a\\b") == r"'a\\b'"


def test_php_version_constants_match_the_python_ones() -> None:
    source = (PHP_ROOT / INSTALL_DIR / "SugarWebServiceImplBridge.php").read_text("utf-8")
    consts = php_constants(source)
    assert consts["EXTENSION_VERSION"] == EXTENSION_VERSION
    assert consts["API_LEVEL"] == str(API_LEVEL)
    check_sources()


def test_a_version_mismatch_refuses_to_build(tmp_path: Path) -> None:
    root = tmp_path / "php"
    shutil.copytree(PHP_ROOT, root)
    impl = root / INSTALL_DIR / "SugarWebServiceImplBridge.php"
    impl.write_text(
        impl.read_text("utf-8").replace(f"'{EXTENSION_VERSION}'", "'0.0.1'"), encoding="utf-8"
    )
    assert issubclass(ExtensionBuildError, SugarError)  # in the connector's tree: terminal
    assert ExtensionBuildError.transient is False
    with pytest.raises(ExtensionBuildError, match=r"0\.0\.1"):
        build_package(tmp_path / "out", php_root=root)
    (root / INSTALL_DIR / "registry.php").unlink()
    with pytest.raises(ExtensionBuildError, match=r"registry\.php"):
        check_sources(root)


def test_extension_methods_are_in_the_implementation() -> None:
    source = (PHP_ROOT / INSTALL_DIR / "SugarWebServiceImplBridge.php").read_text("utf-8")
    assert "class SugarWebServiceImplBridge extends SugarWebServiceImplv4_1" in source
    for method in (
        "bridge_info($session)",
        "bridge_ensure_custom_field($session, $module_name, $field, $views = array())",
        "bridge_remove_custom_field($session, $module_name, $field_name)",
        "bridge_set_role_actions($session, $role_id, $rights)",
        "bridge_get_role_actions($session, $role_id)",
        "bridge_get_custom_fields($session, $module_name)",
    ):
        assert f"public function {method}" in source
    for number in ("1001", "1002", "1003", "1004"):
        assert f"'number' => {number}" in source


@needs_php
@pytest.mark.parametrize("path", PHP_FILES)
def test_php_files_are_valid_php(path: str) -> None:
    assert PHP is not None
    done = subprocess.run(
        [PHP, "-l", str(PHP_ROOT / path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


@needs_php
def test_manifest_is_php_that_sugar_can_load(tmp_path: Path) -> None:
    package = build_package(tmp_path)
    with zipfile.ZipFile(package.path) as archive:
        archive.extract("manifest.php", tmp_path / "unzipped")
    out = _run_php(
        "define('sugarEntry', true); include 'manifest.php';"
        " echo json_encode(array($manifest, $installdefs));",
        tmp_path / "unzipped",
    )
    manifest, installdefs = json.loads(out)
    assert manifest["version"] == EXTENSION_VERSION
    assert manifest["type"] == "module"
    assert manifest["is_uninstallable"] is True
    assert manifest["acceptable_sugar_flavors"] == ["CE"]
    sugar_regex = manifest["acceptable_sugar_versions"]["regex_matches"][0]
    suite_regex = manifest["acceptable_suitecrm_versions"]["regex_matches"][0]
    # How Sugar's Module Loader applies them (uw_utils.php: preg_match("/$match/", $version)).
    checks = _run_php(
        f"echo json_encode(array(preg_match('/' . {php_string(sugar_regex)} . '/', '6.5.25'),"
        f" preg_match('/' . {php_string(sugar_regex)} . '/', '7.0.0'),"
        f" preg_match('/' . {php_string(suite_regex)} . '/', '7.14.6')));",
        tmp_path,
    )
    assert json.loads(checks) == [1, 0, 1]
    assert installdefs["copy"] == [{"from": f"<basepath>/{path}", "to": path} for path in PHP_FILES]
