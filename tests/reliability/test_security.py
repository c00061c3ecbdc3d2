"""Reliability: secrets never leak, hostile strings stay data, TLS is verified.

- A full ``sugar-bridge demo`` (sandbox Sugar, provisioning of the example config with generated
  passwords, three years of orders, sync with push, HTML report) and ``sugar-bridge status`` run
  with DEBUG logs; every secret the run knew (the Sugar admin password, every generated password,
  their md5, every ``user_hash``) is searched for in everything produced: the console output,
  every log record as emitted (before the CLI's masking filter, so code that *logs* a secret is
  caught even though the console would mask it), exception texts, the report and every file of
  the data directory — except the generated-password file (mode 0600, its purpose) and the
  sandbox's own database (it *is* Sugar's database, which stores user_hash by design).
- A database password in the warehouse URL never appears in an error or a log line.
- Hostile customer names and config values (quotes, SQL fragments, HTML/JS, template syntax)
  are stored literally in the warehouse and in Sugar, never executed, and HTML-escaped in the
  report.
- TLS verification is on unless explicitly disabled, and disabling it warns.
"""

from __future__ import annotations

import hashlib
import logging
import stat
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape
from sqlalchemy import func, inspect, select
from typer.testing import CliRunner

from analytics import run_analytics
from analytics.config import AnalyticsConfig
from analytics.report import write_report
from connectors.sugar.client import SugarClient
from etl import load_csv
from etl.db import create_engine_for
from etl.schema import dim_customer, fact_order
from sugar_bridge.cli.app import app
from sugar_bridge.logs import SecretMaskingFilter
from sugar_bridge.push.push import push_segments
from sugar_bridge.settings import load_settings
from sugar_bridge.sugar import make_client
from tests.etl.data import order_rows, write_csv
from tests.sugar_bridge.push.conftest import client_for, make_sandbox, push_config

DEMO_CUSTOMERS = 300


def _log_text(records: list[logging.LogRecord]) -> str:
    """Every record as emitted: message, raw args, exception text and traceback."""
    parts = []
    formatter = logging.Formatter()
    for record in records:
        parts.append(record.getMessage())
        parts.append(repr(record.args))
        if record.exc_info:
            parts.append(formatter.formatException(record.exc_info))
        if record.exc_text:
            parts.append(record.exc_text)
    return "\n".join(parts)


class _Raw(logging.Handler):
    """Keeps every record as emitted, before the CLI handler's masking filter rewrites it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.texts.append(_log_text([record]))  # now: the masking filter mutates it later


def _capture_raw_logs(monkeypatch: pytest.MonkeyPatch) -> _Raw:
    """Wrap the CLI's logging setup so a raw handler runs first on the root logger."""
    import sugar_bridge.cli.common as common

    raw = _Raw()
    original = common.setup_logging

    def setup(*args: Any, **kwargs: Any) -> SecretMaskingFilter:
        masking = original(*args, **kwargs)
        logging.getLogger().handlers.insert(0, raw)
        return masking

    monkeypatch.setattr(common, "setup_logging", setup)
    return raw


def _secrets_of(password: str) -> list[str]:
    return [password, hashlib.md5(password.encode()).hexdigest()]


def test_full_demo_leaks_no_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    known: list[str] = []
    original_add = SecretMaskingFilter.add

    def spy(self: SecretMaskingFilter, secret: str) -> None:
        known.append(secret)  # every secret the run registers for masking
        original_add(self, secret)

    monkeypatch.setattr(SecretMaskingFilter, "add", spy)
    data = tmp_path / "data"
    monkeypatch.setenv("SUGAR_BRIDGE_DATA_DIR", str(data))
    monkeypatch.setenv("SUGAR_BRIDGE_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("COLUMNS", "200")
    raw = _capture_raw_logs(monkeypatch)
    runner = CliRunner()
    demo = runner.invoke(
        app, ["demo", "--customers", str(DEMO_CUSTOMERS), "--data-dir", str(data), "--seed", "9"]
    )
    assert demo.exit_code in (0, 3), demo.output  # 3: the deliberately bad rows were rejected
    monkeypatch.setenv("SUGAR_BRIDGE_WAREHOUSE_URL", f"sqlite:///{data / 'warehouse.db'}")
    status = runner.invoke(app, ["status"])
    assert status.exit_code == 0, status.output

    # The secrets: what the run registered, the generated passwords, every user_hash in Sugar.
    passwords_file = data / "demo-passwords.tsv"
    assert stat.S_IMODE(passwords_file.stat().st_mode) == 0o600
    generated = [
        line.split("\t")[1]
        for line in passwords_file.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    assert len(generated) >= 5
    sandbox_db = create_engine_for(f"sqlite:///{data / 'sandbox.db'}")
    with sandbox_db.connect() as conn:
        hashes = [h for (h,) in conn.exec_driver_sql("SELECT user_hash FROM users") if h]
    sandbox_db.dispose()
    assert len(hashes) > len(generated)  # the generated users and the admin
    secrets = {s for p in [*known, *generated] for s in _secrets_of(p)} | set(hashes)
    secrets = {s for s in secrets if len(s) >= 6}
    assert len(known) > len(generated), "the admin password was registered too"

    # Everything produced.
    logs = "\n".join(raw.texts)
    text = "\n".join([demo.output, status.output, logs])
    assert "set_entries" in logs, "DEBUG logs of the client were captured"
    assert "bridge_ensure_custom_field" in logs
    files = [
        p
        for p in data.rglob("*")
        if p.is_file() and p.name not in (passwords_file.name, "sandbox.db")
        and not p.name.startswith("sandbox.db-")
    ]  # fmt: skip
    assert any(p.name == "report.html" for p in files)
    assert any(p.name == "warehouse.db" for p in files)
    blobs = {p: p.read_bytes() for p in files}
    for secret in secrets:
        assert secret not in text, "a secret reached the console or a log record"
        for path, blob in blobs.items():
            assert secret.encode() not in blob, f"a secret was written to {path.name}"
    for marker in ("$2y$", "$2b$", "user_hash"):
        assert marker not in demo.output + status.output


@pytest.mark.parametrize("driver", ["mysql+pymysql", "postgresql+psycopg"])
@pytest.mark.parametrize("command", [["status"], ["etl", "run", "--csv", "orders.csv"], ["sync"]])
def test_database_password_in_the_url_is_never_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str], driver: str
) -> None:
    secret = "Db-S3cret-Pw-71"
    write_csv(tmp_path / "orders.csv", order_rows(3))
    (tmp_path / "cfg.yaml").write_text(
        "sources:\n  inputs:\n    - {name: shop, type: csv, path: orders.csv}\n", encoding="utf-8"
    )
    monkeypatch.setenv("SUGAR_BRIDGE_CONFIG", str(tmp_path / "cfg.yaml"))
    monkeypatch.setenv("SUGAR_BRIDGE_SUGAR_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("SUGAR_BRIDGE_SUGAR_PASSWORD", "Sugar-Pw-Unused-1")
    # Port 9 (discard) on loopback: connection refused at once.
    monkeypatch.setenv("SUGAR_BRIDGE_WAREHOUSE_URL", f"{driver}://bridge:{secret}@127.0.0.1:9/wh")
    monkeypatch.setenv("SUGAR_BRIDGE_LOG_LEVEL", "DEBUG")
    raw = _capture_raw_logs(monkeypatch)
    result = CliRunner().invoke(app, command)
    assert result.exit_code != 0
    everything = result.output + "\n".join(raw.texts)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        everything += repr(result.exception)
    assert "127.0.0.1" in everything or "warehouse" in everything.lower(), result.output
    assert secret not in everything


HOSTILE = [
    "O'Brien & Sons",
    'Robert"); DROP TABLE dim_customer;--',
    "x' OR '1'='1",
    "<script>alert('xss')</script>",
    '<img src=x onerror="alert(1)">',
    "{{ 7*7 }} {% raw %} ${7*7}",
    "Émile \\ <b>bold</b> &amp; co",
]
HOSTILE_ACTION = "<script>document.title='pwned'</script> & 'quotes' \"double\""


def _escaped(text: str) -> str:
    """How Jinja2's autoescape writes ``text`` (markupsafe: &lt; &gt; &amp; &#39; &#34;)."""
    return str(escape(text))


def test_hostile_strings_stay_data_everywhere(tmp_path: Path) -> None:
    rows = order_rows(90, seed=5)
    names: dict[str, str] = {}
    for row in rows:
        cid = row["customer_id"]
        names.setdefault(cid, f"{HOSTILE[len(names) % len(HOSTILE)]} #{cid}")
        row["customer_name"] = names[cid]
        row["product_name"] = "Screen <b>55\"</b> '; DELETE FROM dim_product;--"
    engine = create_engine_for(f"sqlite:///{tmp_path / 'warehouse.db'}")
    info = load_csv(engine, write_csv(tmp_path / "orders.csv", rows))
    assert info.rows_rejected == 0

    # Stored literally, nothing executed.
    with engine.connect() as conn:
        stored = dict(
            conn.execute(select(dim_customer.c.source_customer_id, dim_customer.c.name)).all()
        )
        assert {str(k): v for k, v in stored.items()} == names
        assert conn.scalar(select(func.count()).select_from(fact_order)) == 90
    assert {"dim_customer", "dim_product", "fact_order"} <= set(inspect(engine).get_table_names())

    # Analytics and the report: every hostile string HTML-escaped, none raw.
    as_of = max(r["ordered_at"] for r in rows)
    from datetime import date

    day = date.fromisoformat(as_of[:10])
    config = AnalyticsConfig(
        actions=dict.fromkeys(
            ["Champions", "Loyal", "At risk", "Can't lose them", "Hibernating", "Lost",
             "About to sleep", "Need attention", "Promising", "New customers",
             "Potential loyalists"],
            HOSTILE_ACTION,
        )
    )  # fmt: skip
    run_analytics(engine, config, day)
    report = write_report(engine, config, day, tmp_path / "report.html").path
    page = report.read_text(encoding="utf-8")
    for raw in ["<script>alert('xss')</script>", '<img src=x onerror="alert(1)">', HOSTILE_ACTION]:
        assert raw not in page
    assert _escaped(HOSTILE_ACTION) in page
    shown = [n for n in names.values() if _escaped(n) in page]
    assert shown, "no customer name in the report: the escaping check saw nothing"
    assert "<script>" not in page.lower().replace("<script>alert", "")  # no script tag at all

    # Pushed into Sugar: account names and list names exactly as written, quotes and all.
    sb = make_sandbox()
    try:
        config_push = push_config(
            target_lists={
                "name_pattern": "Segment: {segment} <i>'\"; DROP TABLE accounts;--",
                "segments": ["Champions", "Loyal", "At risk", "Can't lose them", "Lost"],
            },
            followups=[],
        )
        pushed = push_segments(engine, lambda: client_for(sb), config_push, as_of=day)
        assert pushed.failed == 0, pushed
        with client_for(sb) as client:
            accounts = client.module("Accounts").list(fields=["name", "external_id_c"])
            lists = [r["name"] for r in client.module("ProspectLists").list(fields=["name"])]
        in_sugar = {a["external_id_c"]: a["name"] for a in accounts}
        assert set(in_sugar) == {str(k) for k in stored}
        for cid, name in stored.items():
            if "<" in name or "&amp;" in name:
                # Sugar itself strips tags such as <script> on save (its XSS clean-up, which the
                # sandbox reproduces) and its API returns entities decoded: never a live tag.
                assert "<script" not in in_sugar[str(cid)].lower()
            else:  # quotes, SQL, template syntax, backslashes: exactly as written
                assert in_sugar[str(cid)] == name
        assert lists
        assert all(n.endswith(" <i>'\"; DROP TABLE accounts;--") for n in lists), lists
    finally:
        sb.close()
        engine.dispose()


def test_tls_verification_is_on_unless_disabled_and_disabling_warns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent: list[Any] = []

    def fake_post(self: Any, url: str, **kwargs: Any) -> Any:
        sent.append(kwargs.get("verify"))
        raise ConnectionError("no network in tests")

    settings = load_settings(sugar_url="https://sugar.example.com", sugar_password="Pw-123456")
    assert settings.sugar_verify_tls is True
    client = make_client(settings)
    assert isinstance(client, SugarClient)
    assert client.verify_tls is True
    monkeypatch.setattr("requests.Session.post", fake_post)
    with pytest.raises(Exception):  # noqa: B017,PT011 (any failure: only the flag matters)
        client.login()
    assert sent
    assert all(v is True for v in sent)

    off = load_settings(
        sugar_url="https://sugar.example.com", sugar_password="Pw-123456", sugar_verify_tls=False
    )
    with pytest.warns(UserWarning, match="TLS verification"):
        insecure = make_client(off)
    assert insecure.verify_tls is False
