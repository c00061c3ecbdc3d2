"""What live tests need to leave a real Sugar as they found it: removal helpers and an inventory.

Removal is Sugar's own: records are marked ``deleted: 1`` through ``set_entry`` (which also runs
the bean's ``mark_deleted``), custom fields go through the extension's
``bridge_remove_custom_field`` (Studio's Delete). The inventory lists what a live run could leave
behind; ``tests/conftest.py`` takes one before the first live test and one after the last, and
fails the session when the second holds anything the first did not.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from connectors.sugar import query as q
from connectors.sugar.client import SugarClient
from connectors.sugar.exceptions import ServerError
from connectors.sugar.extension.fields import remove_custom_field

#: Record modules whose non-deleted rows are inventoried (what live tests create).
RECORD_MODULES = (
    "Users",
    "ACLRoles",
    "SecurityGroups",
    "ProspectLists",
    "Accounts",
    "Tasks",
    "Calls",
)
#: Modules whose custom fields (``get_module_fields`` names ending in ``_c``) are inventoried.
FIELD_MODULES = (
    "Accounts",
    "Contacts",
    "Leads",
    "Opportunities",
    "Cases",
    "Users",
    "Tasks",
    "Calls",
    "ProspectLists",
)
_LABEL = re.compile(r"\$mod_strings\['([^']+)'\]")
# A custom field on a layout: 'name' => 'x_c' (grid views) or 'X_C' => array (list views).
_LAYOUT_FIELD = re.compile(r"'([A-Za-z][A-Za-z0-9_]*_[cC])'")


def connect() -> SugarClient:
    """A client of the live Sugar from SUGAR_LIVE_* (TLS verified unless SUGAR_LIVE_VERIFY_TLS=0);
    the ``live_sugar`` fixture skips first when they are unset."""
    import os

    return SugarClient(
        os.environ["SUGAR_LIVE_URL"],
        os.environ["SUGAR_LIVE_USERNAME"],
        os.environ["SUGAR_LIVE_PASSWORD"],
        verify_tls=os.environ.get("SUGAR_LIVE_VERIFY_TLS", "1") != "0",
        max_retries=2,
    )


@dataclass
class LiveClients:
    """The client factory a push is given (``push_segments(engine, clients, …)``): each call
    logs in a new live client; ``writes`` sums their writes since the last ``clear``."""

    made: list[SugarClient] = field(default_factory=list)

    def __call__(self) -> SugarClient:
        client = connect()
        self.made.append(client)
        return client

    @property
    def writes(self) -> int:
        return sum(c.stats.writes for c in self.made)

    def clear(self) -> None:
        self.made.clear()


def delete_records(client: SugarClient, module: str, ids: Iterable[str]) -> None:
    """Mark records deleted the way Sugar does (``set_entry`` with ``deleted: 1``)."""
    accessor = client.module(module)
    for record_id in dict.fromkeys(ids):
        accessor.update(str(record_id), {"deleted": 1}, check_exists=False)


def delete_users(client: SugarClient, ids: Iterable[str]) -> None:
    """Deactivate, then delete users (``set_entry`` ``status: Inactive``, then ``deleted: 1``).

    SuiteCRM 7.15 stores ``deleted = 1`` and then answers HTTP 500 with an empty body:
    ``set_entry`` saves the bean, then ``User::mark_deleted`` → ``beforeDisable`` loads the user it
    just deleted, gets ``false`` and dies (``deleteOAuthTokens() on bool``). A retry would only
    answer 500 again ("Provide both a User Name and an Email Address."), so the delete is sent
    once and judged by reading back: the user must be gone from the Users list. A deleted user
    cannot log in (``Invalid Login``), whatever its status.
    """
    users = client.module("Users")
    for user_id in dict.fromkeys(str(i) for i in ids):
        if not users.list(q.eq("users.id", user_id), fields=["id"]):
            continue  # already deleted
        users.update(user_id, {"status": "Inactive"}, check_exists=False)
        retries, client.max_retries = client.max_retries, 0
        try:
            users.update(user_id, {"deleted": 1}, check_exists=False)
        except ServerError:
            pass  # the 7.15 answer described above; the read-back below decides
        finally:
            client.max_retries = retries
        if users.list(q.eq("users.id", user_id), fields=["id"]):
            raise AssertionError(f"user {user_id} is still listed after deleted: 1")


def user_ids(client: SugarClient, *, prefix: str) -> list[str]:
    """Ids of the non-deleted users whose user name starts with ``prefix``."""
    found = client.module("Users").list(q.like_prefix("users.user_name", prefix), fields=["id"])
    return [str(r["id"]) for r in found]


def remove_fields(client: SugarClient, module: str, names: Iterable[str]) -> None:
    """Remove custom fields with ``bridge_remove_custom_field`` (missing ones are fine)."""
    for name in names:
        remove_custom_field(client, module, name)


@dataclass(frozen=True)
class Inventory:
    """What a live run could leave behind on a Sugar, as sets of readable items."""

    #: module → custom field names (``get_module_fields``, ``_c`` names).
    fields: Mapping[str, frozenset[str]]
    #: module → non-deleted records as ``"<id> <name>"``.
    records: Mapping[str, frozenset[str]]
    #: what the extension writes under ``custom/`` (read only when the Sugar's files are known):
    #: kind → items (label keys, dropdown list files, vardef fragments, fields on layouts).
    files: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def fingerprint(self) -> str:
        """A short digest of every item: two inventories with the same one hold the same."""
        items = [
            *(f"field {m} {n}" for m, names in self.fields.items() for n in names),
            *(f"record {m} {r}" for m, rows in self.records.items() for r in rows),
            *(f"file {k} {i}" for k, found in self.files.items() for i in found),
        ]
        return hashlib.sha256("\n".join(sorted(items)).encode()).hexdigest()[:12]

    def counts(self) -> dict[str, int]:
        """Number of items per module / kind (for a short report)."""
        out = {f"{m} fields": len(v) for m, v in self.fields.items()}
        out.update({m: len(v) for m, v in self.records.items()})
        out.update({k: len(v) for k, v in self.files.items()})
        return out


def take_inventory(client: SugarClient, sugar_root: Path | None = None) -> Inventory:
    """Custom fields of :data:`FIELD_MODULES`, non-deleted records of :data:`RECORD_MODULES`
    (``get_module_fields``, ``get_entry_list``) and, with ``sugar_root``, the extension's files."""
    available = set(client.available_modules())
    fields: dict[str, frozenset[str]] = {}
    for module in FIELD_MODULES:
        if module in available:
            names = client.module(module).fields().module_fields
            fields[module] = frozenset(n for n in names if n.endswith("_c"))
    records: dict[str, frozenset[str]] = {}
    for module in RECORD_MODULES:
        if module in available:
            label = "user_name" if module == "Users" else "name"
            rows = client.module(module).iter_records(fields=["id", label], page_size=200)
            records[module] = frozenset(f"{r['id']} {r.get(label, '')}" for r in rows)
    return Inventory(fields, records, _files(sugar_root) if sugar_root else {})


# The bridge's dropdown list blocks in custom/include/language/<lang>.lang.php.
_LIST_BLOCK = re.compile(r"^// sugar-bridge list (\S+) \(bridge_ensure_custom_field\)$", re.M)


def _files(root: Path) -> dict[str, frozenset[str]]:
    """Labels, dropdown lists (files, and the bridge's blocks in custom/include/language), vardef
    fragments and layout fields under ``custom/``."""
    ext = root / "custom" / "Extension"
    labels = set()
    for path in ext.glob("modules/*/Ext/Language/_override_*.lang.php"):
        module = path.parts[-4]
        labels |= {f"{module} {key}" for key in _LABEL.findall(path.read_text("utf-8", "replace"))}
    lists = {p.name for p in ext.glob("application/Ext/Language/*.bridge_*.php")}
    for path in (root / "custom" / "include" / "language").glob("*.lang.php"):
        text = path.read_text("utf-8", "replace")
        lists |= {f"{path.name} {name}" for name in _LIST_BLOCK.findall(text)}
    fragments = {
        f"{p.parts[-4]} {p.name}" for p in ext.glob("modules/*/Ext/Vardefs/_override_sugarfield_*")
    }
    layouts = set()
    for path in (root / "custom" / "modules").glob("*/metadata/*defs.php"):
        module, view = path.parts[-3], path.name
        text = path.read_text("utf-8", "replace")
        layouts |= {f"{module} {view} {n.lower()}" for n in _LAYOUT_FIELD.findall(text)}
    return {
        "blank layout rows": _blank_rows(root),
        "labels": frozenset(labels),
        "dropdown files": frozenset(lists),
        "vardef fragments": frozenset(fragments),
        "layout fields": frozenset(layouts),
    }


# Counts the rows holding only (empty)/(filler) in each detail/edit/quick-create layout.
_BLANK_ROWS_PHP = r"""
define('sugarEntry', true);
$out = array();
$pattern = 'custom/modules/*/metadata/{detail,edit,quickcreate}viewdefs.php';
foreach (glob($pattern, GLOB_BRACE) as $f) {
    $viewdefs = array();
    include $f;
    $blank = 0;
    foreach ($viewdefs as $views) {
        foreach ($views as $view) {
            foreach (isset($view['panels']) ? $view['panels'] : array() as $rows) {
                foreach ((array) $rows as $row) {
                    $names = array();
                    foreach ((array) $row as $cell) {
                        $name = is_array($cell) ? ($cell['name'] ?? '') : $cell;
                        if (!in_array((string) $name, array('', '(empty)', '(filler)'), true)) {
                            $names[] = $name;
                        }
                    }
                    $blank += count($names) === 0 ? 1 : 0;
                }
            }
        }
    }
    $out[$f] = $blank;
}
echo json_encode($out);
"""


def _blank_rows(root: Path) -> frozenset[str]:
    """Blank rows of the layouts (what removing fields the Studio way leaves), via PHP."""
    php = shutil.which("php")
    if php is None:
        return frozenset()
    done = subprocess.run(
        [php, "-r", _BLANK_ROWS_PHP],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    counts: dict[str, int] = json.loads(done.stdout or "{}") or {}
    return frozenset(
        f"{Path(path).parts[-3]} {Path(path).name} blank row {k}"
        for path, n in counts.items()
        for k in range(1, n + 1)
    )


def new_items(
    before: Inventory, after: Inventory, owns: Callable[[str, str], bool] | None = None
) -> dict[str, list[str]]:
    """Kind → items ``after`` holds that ``before`` did not; with ``owns`` (kind, item) → bool,
    only the items it claims (see :class:`CreationLog`)."""
    kinds: list[tuple[str, frozenset[str], frozenset[str]]] = []
    for m, names in after.fields.items():
        kinds.append((f"{m} custom fields", before.fields.get(m, frozenset()), names))
    for m, rows in after.records.items():
        kinds.append((f"{m} records", before.records.get(m, frozenset()), rows))
    for k, items in after.files.items():
        kinds.append((k, before.files.get(k, frozenset()), items))
    out: dict[str, list[str]] = {}
    for kind, old, new in kinds:
        extra = sorted(i for i in new - old if owns is None or owns(kind, i))
        if extra:
            out[kind] = extra
    return out


def left_behind(
    before: Inventory, after: Inventory, owns: Callable[[str, str], bool] | None = None
) -> list[str]:
    """:func:`new_items` as readable lines, one per kind."""
    lines = []
    for kind, extra in new_items(before, after, owns).items():
        shown = ", ".join(extra[:20]) + (f" … (+{len(extra) - 20})" if len(extra) > 20 else "")
        lines.append(f"{kind}: {shown}")
    return lines


class CreationLog:
    """What this test process wrote to the live Sugar, read off its HTTP exchanges.

    Several engineers run live tests against the same Sugar at the same time, so an inventory
    diff alone also shows their runs' records and fields. Wrapping ``requests.Session.send``
    (every caller — the bridge's client, the parity test's raw calls — goes through it) records
    the record ids ``set_entry``/``set_entries`` answered and the fields
    ``bridge_ensure_custom_field`` was asked for and ``bridge_remove_custom_field`` did not take
    away afterwards, so the guard can tell this run's leftovers from what others created
    meanwhile.
    """

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.record_ids: set[str] = set()
        self.fields: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def wrap(self, send: Callable[..., Any]) -> Callable[..., Any]:
        """A ``requests.Session.send`` that records, then answers like ``send``."""

        def recording_send(session: Any, request: Any, **kwargs: Any) -> Any:
            response = send(session, request, **kwargs)
            if str(request.url).startswith(self.base_url) and not kwargs.get("stream"):
                # An exchange this log does not understand is not one of the creating calls.
                unreadable = (ValueError, TypeError, AttributeError, IndexError, KeyError)
                with contextlib.suppress(*unreadable):
                    self.record(request.body, response.content)
            return response

        return recording_send

    def record(self, body: Any, answer: bytes) -> None:
        """Note what one API exchange (form-encoded request, JSON answer) created."""
        text = body.decode() if isinstance(body, bytes) else str(body or "")
        form = parse_qs(text)
        method = form.get("method", [""])[0]
        if method not in (
            "set_entry",
            "set_entries",
            "bridge_save_records",
            "bridge_ensure_custom_field",
            "bridge_remove_custom_field",
        ):
            return
        rest = json.loads(form["rest_data"][0])
        module = rest.get("module_name") if isinstance(rest, dict) else rest[1]
        reply = json.loads(answer)
        with self._lock:
            if method == "bridge_ensure_custom_field":
                spec = rest.get("field") if isinstance(rest, dict) else rest[2]
                self.fields.add((str(module), str(spec["name"])))
                return
            if method == "bridge_remove_custom_field":
                # Removed (or found missing) by this run: if the field is there at the end,
                # another run made it again meanwhile.
                name = rest.get("field_name") if isinstance(rest, dict) else rest[2]
                if isinstance(reply, dict) and reply.get("name") == name:
                    self.fields.discard((str(module), str(name)))
                return
            if method == "bridge_save_records":
                records = reply.get("records") if isinstance(reply, dict) else None
                for saved in records if isinstance(records, list) else []:
                    if isinstance(saved, dict) and isinstance(saved.get("id"), str):
                        self.record_ids.add(saved["id"])
                return
            if isinstance(reply, dict) and isinstance(reply.get("id"), str):
                self.record_ids.add(reply["id"])
            if isinstance(reply, dict) and isinstance(reply.get("ids"), list):
                self.record_ids.update(str(i) for i in reply["ids"])

    def owns(self, kind: str, item: str) -> bool:
        """Whether an inventory item (see :func:`left_behind`) comes from this process."""
        if kind == "blank layout rows":
            return True  # only removing fields makes them, and only this branch removes fields
        if kind.endswith(" records"):
            return item.split(" ", 1)[0] in self.record_ids
        names = {name.lower() for _, name in self.fields}
        if kind.endswith(" custom fields"):
            return (kind.split(" ", 1)[0], item) in self.fields
        if kind == "labels":
            return any(item.endswith(f" LBL_{n[:-2].upper()}") for n in names)
        if kind == "dropdown files":
            return any(item.endswith(f"_{n[:-2]}_list.php") for n in names)
        if kind == "vardef fragments":
            return any(item.endswith(f"_override_sugarfield_{n}.php") for n in names)
        return item.rsplit(" ", 1)[-1] in names  # layout fields
