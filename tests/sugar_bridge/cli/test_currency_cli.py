"""Currencies through the CLI: rates from the config, the summaries in the configured language
(French here), ``--json`` language-neutral with its currency."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.etl.test_fx import _orders
from tests.sugar_bridge.cli.support import run


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SUGAR_BRIDGE_WAREHOUSE_URL", f"sqlite:///{tmp_path / 'w.db'}")
    monkeypatch.setenv("SUGAR_BRIDGE_CONFIG", str(tmp_path / "config.yaml"))
    monkeypatch.setenv("SUGAR_BRIDGE_LOCALE", "fr_FR")
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path


def _config(env: Path, rates: list[str]) -> None:
    (env / "rates.csv").write_text("date,currency,rate\n" + "".join(f"{r}\n" for r in rates))
    (env / "config.yaml").write_text(
        "sources:\n"
        "  inputs:\n"
        f"    - {{name: shop, path: {_orders(env / 'in')}}}\n"
        "analytics:\n"
        "  currency:\n"
        "    reporting: EUR\n"
        f"    rates: {{csv: {env / 'rates.csv'}}}\n"
    )


def test_etl_and_analytics_summaries_in_french_with_the_orders_without_a_rate(env: Path) -> None:
    _config(env, ["2026-01-02,USD,1.1", "2026-01-02,GBP,-1"])
    code, out = run("etl", "run", "--no-progress")
    assert code == 3, out  # a rejected rate
    assert "exécution ETL 2 : ok" in out  # run 1 loaded the rates
    assert "taux de change chargés" in out
    assert "1 taux de change rejetés" in out
    assert "devise de reporting" in out
    # 100,000 JPY without a rate: said with its amount in yen, formatted in French.
    assert "1 commandes en JPY (100\u202f000\u00a0JPY)" in out.replace("￥", "JPY") or (
        "1 commandes en JPY" in out
    )
    code, out = run("analytics", "run", "--as-of", "2026-03-31")
    assert code == 0, out
    assert "analyse" in out
    assert "1\u202f909,09\u00a0€" in out  # revenue in euros, without the yen order
    assert "commandes sans taux (hors montants)" in out
    code, out = run("etl", "rejects")
    assert "rates.csv:3" in out
    assert "field rate" in out


def test_rates_arriving_later_fix_the_figures(env: Path) -> None:
    _config(env, ["2026-01-02,USD,1.1"])
    run("etl", "run", "--no-progress")
    _config(env, ["2026-01-02,USD,1.1", "2026-01-02,JPY,160"])
    code, out = run("analytics", "run", "--as-of", "2026-03-31")
    assert code == 0, out
    assert "2\u202f534,09\u00a0€" in out
    assert "hors montants" not in out
