"""Build the Module Loader package (zip) of the bridge's Sugar server extension.

The zip holds ``manifest.php`` (rendered from ``manifest.php.j2``) and the PHP files under
``custom/service/bridge/``; the manifest's ``installdefs`` copy them into Sugar's
``custom/service/bridge/`` when an admin installs the package through Admin → Module Loader
(and removes them on uninstall). No core file is touched.
"""

from __future__ import annotations

import logging
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import jinja2

from connectors.sugar.exceptions import ExtensionBuildError
from connectors.sugar.extension import (
    API_LEVEL,
    EXTENSION_VERSION,
    PHP_FILES,
    PHP_ROOT,
    RELEASE_DATE,
)

log = logging.getLogger(__name__)

TEMPLATE = Path(__file__).resolve().parent / "manifest.php.j2"
IMPL_FILE = PHP_ROOT / "custom/service/bridge/SugarWebServiceImplBridge.php"

#: SugarCRM CE 6.5.x (SuiteCRM 7 reports 6.5.25 as its Sugar version).
SUGAR_VERSIONS = r"6\.5\..*"
#: SuiteCRM 7.x.
SUITECRM_VERSIONS = r"7\..*"


@dataclass(frozen=True)
class PackageInfo:
    """What ``build_package`` wrote."""

    path: Path
    version: str
    files: tuple[str, ...]


def php_string(value: object) -> str:
    """A PHP single-quoted string literal for ``value`` (escapes ``\\`` and ``'``)."""
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def php_constants(source: str) -> dict[str, str]:
    """``const NAME = 'value';`` / ``const NAME = 1;`` declarations of a PHP class body."""
    found = re.findall(r"^\s*const\s+([A-Z_]+)\s*=\s*'?([^';]*)'?\s*;", source, re.MULTILINE)
    return dict(found)


def check_sources(php_root: Path = PHP_ROOT) -> None:
    """Every packaged PHP file exists, and the PHP version constants match the Python ones."""
    missing = [p for p in PHP_FILES if not (php_root / p).is_file()]
    if missing:
        raise ExtensionBuildError(f"missing extension sources: {', '.join(missing)}")
    consts = php_constants(
        (php_root / "custom/service/bridge/SugarWebServiceImplBridge.php").read_text("utf-8")
    )
    if consts.get("EXTENSION_VERSION") != EXTENSION_VERSION or consts.get("API_LEVEL") != str(
        API_LEVEL
    ):
        raise ExtensionBuildError(
            "SugarWebServiceImplBridge.php declares EXTENSION_VERSION "
            f"{consts.get('EXTENSION_VERSION')!r} / API_LEVEL {consts.get('API_LEVEL')!r}, "
            f"connectors.sugar.extension says {EXTENSION_VERSION!r} / {API_LEVEL!r}"
        )


def render_manifest(files: tuple[str, ...] = PHP_FILES) -> str:
    """The ``manifest.php`` of the package (manifest + installdefs copy entries)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE.parent)),
        autoescape=False,  # noqa: S701 - PHP source, every value goes through the php filter
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["php"] = php_string
    template = env.get_template(TEMPLATE.name)
    return template.render(
        name="sugar-bridge server extension",
        description=(
            "REST methods for the sugar-bridge integration: bridge_info, "
            "bridge_ensure_custom_field, bridge_remove_custom_field, bridge_set_role_actions, "
            "bridge_save_records, "
            "bridge_get_role_actions "
            "(endpoint custom/service/bridge/rest.php, admin sessions only)."
        ),
        author="sugar-bridge",
        version=EXTENSION_VERSION,
        published_date=RELEASE_DATE,
        sugar_versions=SUGAR_VERSIONS,
        suitecrm_versions=SUITECRM_VERSIONS,
        files=files,
    )


def package_name() -> str:
    """File name of the package for the current version."""
    return f"sugar-bridge-extension-{EXTENSION_VERSION}.zip"


def build_package(out_dir: Path, php_root: Path = PHP_ROOT) -> PackageInfo:
    """Write the Module Loader zip into ``out_dir`` (created if needed) and describe it.

    Entries carry the release date as their timestamp, so the same sources give the same bytes.
    """
    check_sources(php_root)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / package_name()
    year, month, day = (int(part) for part in RELEASE_DATE.split("-"))
    stamp = (year, month, day, 0, 0, 0)
    entries: list[tuple[str, bytes]] = [("manifest.php", render_manifest().encode("utf-8"))]
    entries += [(path, (php_root / path).read_bytes()) for path in PHP_FILES]
    tmp = target.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    tmp.replace(target)
    log.info("wrote %s (%d files)", target, len(entries))
    return PackageInfo(path=target, version=EXTENSION_VERSION, files=PHP_FILES)
