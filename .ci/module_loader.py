"""Install a package into SuiteCRM 7 / SugarCRM CE 6.5 through Admin → Module Loader, as admins do.

    python .ci/module_loader.py --url http://127.0.0.1:8089 --user admin --password-file F PKG.zip

The same pages and forms a browser goes through: log in (``Users/Authenticate``), upload the zip on
``Administration/UpgradeWizard`` (``run=upload``), press *Install* (``UpgradeWizard_prepare`` with
the package's hash from the staged list), accept what the prepare page asks and *Commit*
(``UpgradeWizard_commit`` with the page's own form fields). Sugar checks the Referer of these
actions (its XSRF guard), so it is sent as a browser would. Ends by reading the list of installed
packages: exit 0 only when the package is listed there with its version. A package already
installed at that version is left alone.
"""

from __future__ import annotations

import argparse
import re
import sys
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import requests

TIMEOUT = 300
# the version's column in the installed packages' table (4 in the staged one)
INSTALLED_VERSION = 5


class FormFields(HTMLParser):
    """The fields a browser would submit with the first form whose action ends with ``action``."""

    def __init__(self, action: str) -> None:
        super().__init__(convert_charrefs=True)
        self.action = action
        self.inside = False
        self.done = False
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and not self.done and a.get("action", "").endswith(self.action):
            self.inside = True
        elif tag == "input" and self.inside and a.get("name"):
            kind = a.get("type", "text").lower()
            if kind in ("submit", "button", "file"):
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            self.fields[a["name"]] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self.inside:
            self.inside, self.done = False, True


def form_fields(page: str, action: str) -> dict[str, str]:
    parser = FormFields(action)
    parser.feed(page)
    if not parser.done:
        raise SystemExit(f"no form posting to {action} on the page (was the last step refused?)")
    return parser.fields


def manifest_of(package: Path) -> tuple[str, str]:
    """(name, version) from the package's manifest.php, as the Module Loader lists them."""
    with zipfile.ZipFile(package) as zf:
        text = zf.read("manifest.php").decode()
    name = re.search(r"'name'\s*=>\s*'([^']*)'", text)
    version = re.search(r"'version'\s*=>\s*'([^']*)'", text)
    if not (name and version):
        raise SystemExit(f"{package}: manifest.php has no name or version")
    return name.group(1), version.group(1)


def listed(page: str, variable: str, name: str) -> list[list[str]]:
    """Rows of the Module Loader's JavaScript table ``variable`` whose first column is ``name``."""
    match = re.search(rf"\b{variable} = (\[.*\])\s*;?\s*$", page, re.M)
    quoted = r"'(?:[^'\\]|\\.)*'"
    rows = re.findall(rf"\[({quoted}(?:, *{quoted})*)\]", match.group(1) if match else "")
    table = [re.findall(r"'((?:[^'\\]|\\.)*)'", row) for row in rows]
    return [row for row in table if row and row[0] == name]


def installed(page: str, name: str, version: str) -> bool:
    rows = listed(page, "mti_installed_data", name)
    return any(len(row) > INSTALLED_VERSION and row[INSTALLED_VERSION] == version for row in rows)


def install(url: str, user: str, password: str, package: Path) -> None:
    name, version = manifest_of(package)
    base = url.rstrip("/") + "/index.php"
    loader = base + "?module=Administration&view=module&action=UpgradeWizard"
    http = requests.Session()
    login = http.post(
        base,
        data={
            "module": "Users",
            "action": "Authenticate",
            "user_name": user,
            "username_password": password,
        },
        timeout=TIMEOUT,
    )
    if "action=Login" in login.url or 'name="username_password"' in login.text:
        raise SystemExit(f"web login as {user} failed")
    http.headers["Referer"] = loader  # Sugar's XSRF guard wants a same-site referer

    page = http.get(loader, timeout=TIMEOUT).text
    if installed(page, name, version):
        print(f"{name} {version} is already installed")
        return
    staged = listed(page, "mti_data", name)
    if not staged:
        with package.open("rb") as fh:
            page = http.post(
                loader,
                data={"run": "upload", "upgrade_zip_escaped": package.name},
                files={"upgrade_zip": (package.name, fh, "application/zip")},
                timeout=TIMEOUT,
            ).text
        staged = listed(page, "mti_data", name)
        if not staged:
            status = re.search(r"showStatusMessages\('([^']*)'\)", page)
            raise SystemExit(f"upload refused: {status.group(1) if status else page[:500]}")
        print(f"uploaded {package.name}")
    file_hash = staged[-1][1]

    prepare = http.post(
        base + "?module=Administration&view=module&action=UpgradeWizard_prepare",
        data={"install_file": file_hash, "mode": "Install"},
        timeout=TIMEOUT,
    ).text
    fields = form_fields(prepare, "UpgradeWizard_commit")
    if "radio_license_agreement" in prepare:
        fields["radio_license_agreement"] = "accept"
    http.post(
        base + "?module=Administration&view=module&action=UpgradeWizard_commit",
        data=fields,
        timeout=TIMEOUT,
    )

    page = http.get(loader, timeout=TIMEOUT).text
    if not installed(page, name, version):
        raise SystemExit(f"{name} {version} is not in the installed packages after Commit")
    print(f"installed {name} {version} through the Module Loader")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="Sugar's site URL")
    parser.add_argument("--user", required=True, help="an admin user name")
    parser.add_argument(
        "--password-file",
        required=True,
        type=Path,
        help="file holding the admin's password (not on the command line)",
    )
    parser.add_argument("package", type=Path)
    args = parser.parse_args()
    password = args.password_file.read_text().strip()
    install(args.url, args.user, password, args.package)


if __name__ == "__main__":
    sys.exit(main())
