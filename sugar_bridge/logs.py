"""Logging setup: plain or JSON lines on stderr, with a filter that masks known secrets.

Logs go to stderr in both formats so that stdout carries only a command's result (a table, or
the JSON document of ``--json``); a long-running service (``scheduler start``) moves them to
stdout itself.

Library code only uses ``logging.getLogger(__name__)``; this module is called once at the edge
(CLI, scheduler). The masking filter is a safety net: code must not log secrets in the first place
(the Sugar client redacts passwords, ``user_hash`` values and session ids itself).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime

MASK = "***"


class SecretMaskingFilter(logging.Filter):
    """Replace every occurrence of a registered secret in a record's final message by ``***``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        # Very short strings would mask half the log; the real secrets are long.
        if secret and len(secret) >= 4:
            self._secrets.add(secret)

    def mask(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self._secrets:
            message = record.getMessage()
            masked = self.mask(message)
            if masked != message:
                record.msg, record.args = masked, None
            if record.exc_info and record.exc_info[1] is not None:
                formatted = logging.Formatter().formatException(record.exc_info)
                record.exc_info, record.exc_text = None, self.mask(formatted)
        return True


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and exception text)."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            payload["exception"] = record.exc_text
        return json.dumps(payload, ensure_ascii=False)


def setup_logging(
    level: str = "INFO", fmt: str = "plain", secrets: Iterable[str] = ()
) -> SecretMaskingFilter:
    """Configure the root logger once; returns the masking filter so callers can add secrets."""
    handler = logging.StreamHandler(sys.stderr)
    masking = SecretMaskingFilter(secrets)
    handler.addFilter(masking)
    if fmt == "json":
        handler.setFormatter(JsonLinesFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Alembic announces each of its plugins at INFO when it loads: noise on every command.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    logging.captureWarnings(True)
    return masking
