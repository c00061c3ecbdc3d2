"""Redaction of secrets in what the client logs.

Secrets in Sugar traffic: the login password (sent as its md5), session ids, ``user_hash`` values
(written by provisioning, and *echoed back* by Sugar in the set_entry answer) and anything in a
field whose name says password. The client logs only the redacted parameters, never a response
body, and builds exception messages without parameters at all.
"""

from __future__ import annotations

import json
from typing import Any

MASK = "***"

# Keys (parameter names or Sugar field names) whose values are always masked.
SECRET_KEYS = frozenset(
    {
        "session",
        "password",
        "user_hash",
        "new_password",
        "old_password",
        "confirm_new_password",
        "system_generated_password",
        "user_password",
        "pwd",
        "secret",
        "token",
        "oauth_secret",
        "consumer_secret",
    }
)


def _is_secret_key(key: str) -> bool:
    lowered = key.lower()
    return lowered in SECRET_KEYS or "password" in lowered or "secret" in lowered


def redact(value: Any) -> Any:
    """A copy of ``value`` (JSON-like) with every secret masked.

    Masks the value of a secret key in an object, and the ``value`` of a ``{"name": ..,
    "value": ..}`` pair whose name is secret (the list form of ``name_value_list``).
    """
    if isinstance(value, dict):
        name = value.get("name")
        if isinstance(name, str) and "value" in value and _is_secret_key(name):
            return {**{k: redact(v) for k, v in value.items() if k != "value"}, "value": MASK}
        return {k: (MASK if _is_secret_key(str(k)) else redact(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


def redacted_json(value: Any, limit: int = 400) -> str:
    """The redacted value as compact JSON, cut to ``limit`` characters for a log line."""
    text = json.dumps(redact(value), ensure_ascii=False, default=str, separators=(",", ":"))
    return text if len(text) <= limit else text[:limit] + f"...(+{len(text) - limit} chars)"
