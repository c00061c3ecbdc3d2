"""A Sugar that cannot be reached says why: DNS, refused, TLS or timeout; DNS and TLS fail fast."""

from __future__ import annotations

import http.server
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
import urllib3.exceptions

from connectors.sugar.client import SugarClient, transport_error
from connectors.sugar.exceptions import (
    ConnectionRefused,
    HostNotFound,
    TlsError,
    TransportError,
    TransportTimeout,
)
from tests.connectors.sugar.conftest import PASSWORD, PASSWORD_MD5, REST, SleepRecorder, add

NO_CONNECTION: Any = None  # urllib3's errors name the connection; these tests have none

URL = "https://admin:hunter2@crm.example.com:8443/service/v4_1/rest.php?token=abc"


def _wrapped(reason: Exception, kind: type[requests.RequestException]) -> requests.RequestException:
    """A requests error as requests raises it: around urllib3's MaxRetryError and its reason."""
    return kind(urllib3.exceptions.MaxRetryError(NO_CONNECTION, URL, reason=reason))


def _verify_failed() -> ssl.SSLCertVerificationError:
    error = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify")
    error.verify_message = "self-signed certificate"
    error.reason = "CERTIFICATE_VERIFY_FAILED"  # both set by the ssl module on a real failure
    return error


def test_each_failure_has_its_type_message_and_retry_policy() -> None:
    name = urllib3.exceptions.NameResolutionError(
        "crm.example.com", NO_CONNECTION, socket.gaierror(-2, "Name or service not known")
    )
    refused = urllib3.exceptions.NewConnectionError(NO_CONNECTION, "Failed to establish")
    refused.__cause__ = ConnectionRefusedError(111, "Connection refused")
    cases = [
        (_wrapped(name, requests.ConnectionError), HostNotFound,
         "cannot resolve host crm.example.com", False),
        (_wrapped(refused, requests.ConnectionError), ConnectionRefused,
         "nothing listening at crm.example.com:8443 (connection refused)", True),
        (_wrapped(urllib3.exceptions.SSLError(_verify_failed()), requests.exceptions.SSLError),
         TlsError,
         "TLS handshake with crm.example.com failed: certificate verify failed: self-signed "
         "certificate", False),
        (requests.ConnectTimeout("x"), TransportTimeout,
         "connecting to crm.example.com:8443 timed out after 10 s", True),
        (requests.ReadTimeout("x"), TransportTimeout,
         "Sugar at crm.example.com:8443 did not answer within 120 s", True),
        (requests.ConnectionError("connection reset"), TransportError,
         "ConnectionError talking to", True),
    ]  # fmt: skip
    for error, kind, message, transient in cases:
        mapped = transport_error(error, URL, (10, 120), "login")
        assert type(mapped) is kind
        assert isinstance(mapped, TransportError)
        assert message in str(mapped)
        assert mapped.transient is transient
        for secret in ("hunter2", "token", "abc", "rest.php"):
            assert secret not in str(mapped)


def test_dns_failure_is_not_retried(sleeps: SleepRecorder) -> None:
    client = SugarClient(REST, "admin", PASSWORD, max_retries=3, sleep=sleeps)
    name = urllib3.exceptions.NameResolutionError(
        "crm.example.com", NO_CONNECTION, socket.gaierror(-2, "Name or service not known")
    )
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, REST, body=_wrapped(name, requests.ConnectionError))
        with pytest.raises(HostNotFound, match="cannot resolve host"):
            client.login()
    assert sleeps.delays == []  # no 6 s of backoff for a name that does not exist


def test_refused_connections_are_still_retried(sleeps: SleepRecorder) -> None:
    client = SugarClient(REST, "admin", PASSWORD, max_retries=3, sleep=sleeps)
    refused = urllib3.exceptions.NewConnectionError(NO_CONNECTION, "Failed to establish")
    refused.__cause__ = ConnectionRefusedError(111, "Connection refused")
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, REST, body=_wrapped(refused, requests.ConnectionError))
        add(mock, "01_login_success")
        client.login()
    assert len(sleeps.delays) == 1
    assert PASSWORD_MD5  # the recorded login answers this password's hash


# ---- real sockets ------------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_real_closed_port_and_invalid_host() -> None:
    port = _closed_port()
    client = SugarClient(f"http://127.0.0.1:{port}", "admin", "s3cret-pw", max_retries=0)
    with pytest.raises(ConnectionRefused) as refused:
        client.login()
    assert (
        str(refused.value) == f"login: nothing listening at 127.0.0.1:{port} (connection refused)"
    )

    # RFC 6761: .invalid never resolves. Fails at once, without the retries' backoff.
    client = SugarClient("http://sugar-bridge-test.invalid", "admin", "s3cret-pw", max_retries=3)
    started = time.monotonic()
    with pytest.raises(HostNotFound) as unknown:
        client.login()
    assert time.monotonic() - started < 2
    assert str(unknown.value) == "login: cannot resolve host sugar-bridge-test.invalid"
    assert "s3cret-pw" not in str(unknown.value)


@pytest.fixture
def self_signed_https(tmp_path: Path) -> Iterator[str]:
    """An HTTPS server on 127.0.0.1 with a self-signed certificate (openssl makes it)."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    try:
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
             "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("openssl cannot make a certificate here")
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_real_self_signed_certificate(self_signed_https: str, sleeps: SleepRecorder) -> None:
    client = SugarClient(self_signed_https, "admin", "s3cret-pw", max_retries=3, sleep=sleeps)
    with pytest.raises(TlsError) as failed:
        client.login()
    assert str(failed.value).startswith(
        "login: TLS handshake with 127.0.0.1 failed: certificate verify failed: self"
    )
    assert sleeps.delays == []
