"""Building the Sugar client from settings (the edge where settings meet the connector)."""

from __future__ import annotations

from connectors.sugar.client import SugarClient
from connectors.sugar.pool import SessionPool
from sugar_bridge.settings import Settings


def make_client(settings: Settings) -> SugarClient:
    """A SugarClient for the configured Sugar (not logged in yet: login happens on first use).

    Raises ConfigError when the Sugar URL or password is missing.
    """
    url, username, password = settings.require_sugar()
    return SugarClient(
        url,
        username,
        password,
        verify_tls=settings.sugar_verify_tls,
        timeout=(settings.sugar_connect_timeout, settings.sugar_read_timeout),
        max_retries=settings.sugar_max_retries,
    )


def make_pool(settings: Settings, size: int | None = None) -> SessionPool:
    """A SessionPool of ``size`` (default ``settings.sugar_sessions``) clients from settings.

    Each pooled client is built by :func:`make_client`: its own HTTP session and Sugar session.
    """
    settings.require_sugar()  # fail early (ConfigError) rather than inside a worker thread
    return SessionPool(lambda: make_client(settings), size=size or settings.sugar_sessions)
