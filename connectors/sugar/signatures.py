"""The PHP signatures of the v4_1 methods we call, and of our server extension's methods.

Why a table: ``rest.php`` hands the decoded ``rest_data`` object to ``call_user_func_array``. On
PHP 8 its string keys become *named arguments*, so an unknown key ("module" instead of
"module_name") or a missing required parameter is a PHP fatal error: HTTP 500 with an empty body
(recordings 07_rest_data_unknown_named_param, 07_missing_required_param). The client therefore
checks every parameter name here before sending, fills the ones PHP requires with safe defaults and
sends them in signature order (so a positional reading would also be right).

The names and order come from SuiteCRM 7.14's most derived implementation of each method
(``SugarWebServiceImplv4_1`` and its parents v4, v3_1, v3, core).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Endpoint = Literal["v4_1", "extension"]


class _Required:
    """Marker: the caller must give this parameter (no safe default exists)."""

    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()

# A default is a plain value (copied per call) or a function of the parameters already given.
Default = Any | Callable[[Mapping[str, Any]], Any]


@dataclass(frozen=True)
class Param:
    """One PHP parameter: its exact name and what we send when the caller leaves it out."""

    name: str
    default: Default = REQUIRED


@dataclass(frozen=True)
class Signature:
    """A remote method: parameters in PHP order, whether it writes, where it lives."""

    method: str
    params: tuple[Param, ...]
    writes: bool = False
    # Writes whose replay cannot duplicate anything (same end state when applied twice).
    idempotent_write: bool = False
    endpoint: Endpoint = "v4_1"
    names: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", frozenset(p.name for p in self.params))

    @property
    def needs_session(self) -> bool:
        """True when the first PHP parameter is the session id (injected by the client)."""
        return bool(self.params) and self.params[0].name == "session"


def _p(name: str, default: Default = REQUIRED) -> Param:
    return Param(name, default)


def _lists_per_relationship(params: Mapping[str, Any]) -> list[list[Any]]:
    return [[] for _ in params.get("module_names", [])]


def _deletes_per_relationship(params: Mapping[str, Any]) -> list[int]:
    return [0 for _ in params.get("module_names", [])]


_S = "session"

SIGNATURES: dict[str, Signature] = {
    s.method: s
    for s in (
        # SugarWebServiceImplv4::login($user_auth, $application = null, $name_value_list = [],
        # ...$args): the documented key "application_name" is not the PHP name but lands in the
        # variadic $args, so PHP 8 accepts it -- recorded (01_login_success); we send that.
        Signature(
            "login", (_p("user_auth"), _p("application_name", ""), _p("name_value_list", []))
        ),
        Signature("logout", (_p(_S),)),
        Signature("get_user_id", (_p(_S),)),
        Signature("get_server_info", ()),
        Signature(
            "get_entry",
            (
                _p(_S),
                _p("module_name"),
                _p("id"),
                _p("select_fields", []),
                _p("link_name_to_fields_array", []),
                _p("track_view", False),
            ),
        ),
        Signature(
            "get_entries",
            (
                _p(_S),
                _p("module_name"),
                _p("ids"),
                _p("select_fields", []),
                _p("link_name_to_fields_array", []),
                _p("track_view", False),
            ),
        ),
        Signature(
            "get_entry_list",
            (
                _p(_S),
                _p("module_name"),
                _p("query", ""),
                _p("order_by", ""),
                _p("offset", 0),
                _p("select_fields", []),
                _p("link_name_to_fields_array", []),
                _p("max_results", 20),
                _p("deleted", 0),
                _p("favorites", False),
            ),
        ),
        Signature(
            "get_entries_count", (_p(_S), _p("module_name"), _p("query", ""), _p("deleted", 0))
        ),
        Signature(
            "set_entry",
            (_p(_S), _p("module_name"), _p("name_value_list"), _p("track_view", False)),
            writes=True,
        ),
        Signature("set_entries", (_p(_S), _p("module_name"), _p("name_value_lists")), writes=True),
        Signature("get_module_fields", (_p(_S), _p("module_name"), _p("fields", []))),
        Signature(
            "get_relationships",
            (
                _p(_S),
                _p("module_name"),
                _p("module_id"),
                _p("link_field_name"),
                _p("related_module_query", ""),
                _p("related_fields", []),
                _p("related_module_link_name_to_fields_array", []),
                _p("deleted", 0),
                _p("order_by", ""),
                _p("offset", 0),
                _p("limit", False),
            ),
        ),
        Signature(
            "set_relationship",
            (
                _p(_S),
                _p("module_name"),
                _p("module_id"),
                _p("link_field_name"),
                _p("related_ids"),
                _p("name_value_list", []),
                _p("delete", 0),
            ),
            writes=True,
            idempotent_write=True,
        ),
        Signature(
            "set_relationships",
            (
                _p(_S),
                _p("module_names"),
                _p("module_ids"),
                _p("link_field_names"),
                _p("related_ids"),
                _p("name_value_lists", _lists_per_relationship),
                _p("delete_array", _deletes_per_relationship),
            ),
            writes=True,
            idempotent_write=True,
        ),
        Signature("get_available_modules", (_p(_S), _p("filter", "all"))),
        Signature(
            "search_by_module",
            (
                _p(_S),
                _p("search_string"),
                _p("modules"),
                _p("offset", 0),
                _p("max_results", 20),
                _p("assigned_user_id", ""),
                _p("select_fields", []),
                _p("unified_search_only", True),
                _p("favorites", False),
            ),
        ),
        # --- our server extension (connectors/sugar/extension), admin session required -------
        Signature("bridge_info", (_p(_S),), endpoint="extension"),
        Signature(
            "bridge_ensure_custom_field",
            (_p(_S), _p("module_name"), _p("field"), _p("views", [])),
            writes=True,
            idempotent_write=True,
            endpoint="extension",
        ),
        Signature(
            "bridge_remove_custom_field",
            (_p(_S), _p("module_name"), _p("field_name")),
            writes=True,
            idempotent_write=True,
            endpoint="extension",
        ),
        Signature(
            "bridge_set_role_actions",
            (_p(_S), _p("role_id"), _p("rights")),
            writes=True,
            idempotent_write=True,
            endpoint="extension",
        ),
        Signature("bridge_get_role_actions", (_p(_S), _p("role_id")), endpoint="extension"),
        # Since extension 1.2.0: the stored custom fields, with a decimal's precision.
        Signature("bridge_get_custom_fields", (_p(_S), _p("module_name")), endpoint="extension"),
        # Since extension 1.3.0, for any user with write access: a batch saved through the bean
        # API, AOD indexing deferred. Replay-safe only when every record carries its id (a create
        # sends new_with_id, which updates the record a lost first answer had already made): the
        # client checks that before retrying.
        Signature(
            "bridge_save_records",
            (_p(_S), _p("module_name"), _p("records"), _p("select_fields", [])),
            writes=True,
            endpoint="extension",
        ),
        # Since extension 1.4.0 (admin): the live related ids over a link, in one answer.
        Signature(
            "bridge_get_related_ids",
            (_p(_S), _p("module_name"), _p("module_id"), _p("link_field_name")),
            endpoint="extension",
        ),
        # Since extension 1.5.0, for any user who may list the module: a page of its records after
        # a (date_modified, id) position, deleted ones included, as get_entry_list answers them.
        Signature(
            "bridge_read_changed",
            (
                _p(_S),
                _p("module_name"),
                _p("since"),
                _p("after_id"),
                _p("max_results"),
                _p("select_fields", []),
            ),
            endpoint="extension",
        ),
    )
}


def get_signature(method: str) -> Signature | None:
    """The signature of ``method`` or None when we do not know it."""
    return SIGNATURES.get(method)
