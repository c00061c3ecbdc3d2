"""Texts in the user's language: every text has its French translation, and numbers, money,
percentages and dates follow the locale (Babel/CLDR)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from analytics.exceptions import AnalyticsError
from analytics.i18n import LOCALES_DIR, Texts, shipped_languages

ROOT = Path(__file__).resolve().parents[2]
# Texts looked up by value rather than written in a call (labels of stored buckets, units).
DYNAMIC = {"on invoice", "1-15", "16-30", "31-45", "46-60", "61-90", "over 90", "1-30", "31-60"}
DYNAMIC |= {"days", "weeks"}


def _texts_in_code() -> set[str]:
    method_map = [
        ("analytics/**.py", "python"),
        ("sugar_bridge/**.py", "python"),
        ("analytics/report/templates/**.j2", "jinja2"),
    ]
    options = {"analytics/report/templates/**.j2": {"extensions": "jinja2.ext.i18n"}}
    found = extract_from_dir(
        ROOT, method_map, options_map=options, keywords={"gettext": None, "_": None}
    )
    return {message for _, _, message, _, _ in found if isinstance(message, str)}


def test_every_text_has_its_french_translation() -> None:
    with (LOCALES_DIR / "fr" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle)
    translated = {m.id for m in catalog if m.id and m.string}
    texts = _texts_in_code() | DYNAMIC
    assert len(texts) > 100
    assert sorted(texts - translated) == []


def test_no_text_is_hidden_from_the_catalog_in_an_f_string() -> None:
    """Babel does not extract a call inside an f-string: ``f"{_('note:')}"`` would never be
    translated (three such texts were English in French output)."""
    import re

    inside = re.compile(r"""\bf(["'])[^\n]*?\{\s*(?:_|\w+\.gettext)\(\s*["']""")
    found = [
        f"{path.relative_to(ROOT)}:{n}"
        for pattern in ("analytics/**/*.py", "sugar_bridge/**/*.py")
        for path in sorted(ROOT.glob(pattern))
        for n, line in enumerate(path.read_text("utf-8").splitlines(), start=1)
        if inside.search(line)
    ]
    assert found == []


def test_languages() -> None:
    assert shipped_languages() == ["en", "fr"]


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en", ["€1,234,567.89", "1,235", "37.2%", "+10.0%", "Dec 5, 2026", "Revenue"]),
        (
            "fr_FR",
            [
                "1\u202f234\u202f567,89\u00a0€",
                "1\u202f235",
                "37,2\u00a0%",
                "+10,0\u00a0%",
                "5 déc. 2026",
                "Chiffre d'affaires",
            ],
        ),
    ],
)
def test_formats_follow_the_locale(locale: str, expected: list[str]) -> None:
    t = Texts.for_locale(locale)
    got = [
        t.money(1234567.891, "EUR"),
        t.number(1234.6),
        t.percent(0.372),
        t.percent(0.1, signed=True),
        t.date(date(2026, 12, 5)),
        t.gettext("Revenue"),
    ]
    assert got == expected


def test_missing_values_and_unknown_locales() -> None:
    t = Texts.for_locale("fr")
    assert t.money(None, "EUR") == t.percent(float("nan")) == t.number(None) == "—"
    assert t.money(5, "JPY") == "5\u00a0JPY"  # no decimals for the yen
    assert Texts.for_locale("de").gettext("Revenue") == "Revenue"  # no catalog: English
    with pytest.raises(AnalyticsError, match="unknown locale 'xx_YY'"):
        Texts.for_locale("xx_YY")
