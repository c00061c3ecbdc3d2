"""The bridge's Sugar server extension: its PHP sources, version, and the Module Loader builder.

The PHP lives under ``php/`` laid out as it installs under Sugar's root
(``custom/service/bridge/{rest.php,registry.php,SugarWebServiceImplBridge.php}``): a custom web
service extending ``SugarWebServiceImplv4_1`` with the ``bridge_*`` methods of the extension
contract. ``build.build_package`` zips it for Admin → Module Loader; ``compat.extension_problem``
tells whether a ``bridge_info`` answer comes from a compatible extension.
"""

from __future__ import annotations

from pathlib import Path

#: Version of the packaged extension (``SugarWebServiceImplBridge::EXTENSION_VERSION``).
EXTENSION_VERSION = "1.5.0"
#: Contract level of the ``bridge_*`` methods (``SugarWebServiceImplBridge::API_LEVEL``).
API_LEVEL = 1
#: Release date written into the Module Loader manifest (keeps builds reproducible).
RELEASE_DATE = "2026-12-05"

#: Root of the PHP tree (mirrors Sugar's root directory).
PHP_ROOT = Path(__file__).resolve().parent / "php"
#: Where the extension lives under Sugar's root; also what Docker mounts into the container.
INSTALL_DIR = "custom/service/bridge"
#: The files of the extension, relative to Sugar's root.
PHP_FILES: tuple[str, ...] = (
    f"{INSTALL_DIR}/rest.php",
    f"{INSTALL_DIR}/registry.php",
    f"{INSTALL_DIR}/SugarWebServiceImplBridge.php",
)
#: Endpoint of the extension, relative to the Sugar URL.
ENDPOINT = f"{INSTALL_DIR}/rest.php"

__all__ = [
    "API_LEVEL",
    "ENDPOINT",
    "EXTENSION_VERSION",
    "INSTALL_DIR",
    "PHP_FILES",
    "PHP_ROOT",
    "RELEASE_DATE",
]
