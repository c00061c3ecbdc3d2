"""make_client(settings): the Sugar client built from Settings."""

from __future__ import annotations

import pytest

from sugar_bridge.exceptions import ConfigError
from sugar_bridge.settings import Settings
from sugar_bridge.sugar import make_client, make_pool


def test_make_client_uses_the_settings() -> None:
    settings = Settings(
        sugar_url="https://crm.example.test/service/v4_1/rest.php",
        sugar_username="bridge",
        sugar_password="pw-123456",  # type: ignore[arg-type]
        sugar_connect_timeout=3,
        sugar_read_timeout=30,
        sugar_max_retries=2,
    )
    client = make_client(settings)
    assert client.rest_url == "https://crm.example.test/service/v4_1/rest.php"
    assert client.extension_url == "https://crm.example.test/custom/service/bridge/rest.php"
    assert client.username == "bridge"
    assert client.timeout == (3, 30)
    assert client.max_retries == 2
    assert client.verify_tls is True
    assert not client.logged_in  # login happens on first use
    assert "pw-123456" not in repr(client)


def test_make_client_needs_url_and_password() -> None:
    with pytest.raises(ConfigError):
        make_client(Settings())


def test_make_client_without_tls_verification_warns() -> None:
    settings = Settings(
        sugar_url="https://crm.example.test",
        sugar_password="pw-123456",  # type: ignore[arg-type]
        sugar_verify_tls=False,
    )
    with pytest.warns(UserWarning, match="TLS"):
        client = make_client(settings)
    assert client.verify_tls is False


def test_make_pool_sizes_from_settings() -> None:
    settings = Settings(
        sugar_url="https://crm.example.test",
        sugar_password="pw-123456",  # type: ignore[arg-type]
        sugar_sessions=3,
    )
    assert make_pool(settings).size == 3
    assert make_pool(settings, size=1).size == 1
    with pytest.raises(ConfigError):
        make_pool(Settings())
