"""What people read, in their language: translated texts and numbers, money and dates formatted
by Babel (CLDR) for one locale.

English is the source language of every text; French is shipped (``analytics/locales/fr``).
A catalog is the ``.po`` file itself, compiled in memory when first used, so there is no build
step and no binary file in the repository. A text without a translation stays English.

``Texts.for_locale("fr_FR")`` is what the report, the follow-up texts and the CLI summaries take:

    t = Texts.for_locale("fr_FR")
    t.gettext("Revenue")         -> "Chiffre d'affaires"
    t.money(1234.5, "EUR")       -> "1 234,50 €"
    t.percent(0.372)             -> "37,2 %"
"""

from __future__ import annotations

import functools
import gettext
import io
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal, format_percent

from analytics.exceptions import AnalyticsError

LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "messages"
DEFAULT_LOCALE = "en"
MISSING = "—"


def shipped_languages() -> list[str]:
    """The languages with a catalog (English needs none)."""
    return ["en", *sorted(p.name for p in LOCALES_DIR.iterdir() if (p / "LC_MESSAGES").is_dir())]


@functools.cache
def _translations(language: str) -> gettext.NullTranslations:
    po = LOCALES_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po.is_file():
        return gettext.NullTranslations()
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)  # NaN


@dataclass(frozen=True)
class Texts:
    """Translations and number/date formats of one locale."""

    locale: Locale
    translations: gettext.NullTranslations

    @classmethod
    def for_locale(cls, name: str | None = None) -> Texts:
        """``name`` as ``fr``, ``fr_FR`` or ``fr-FR``; AnalyticsError for a locale Babel lacks."""
        try:
            locale = Locale.parse((name or DEFAULT_LOCALE).replace("-", "_"))
        except (UnknownLocaleError, ValueError) as exc:
            raise AnalyticsError(f"unknown locale {name!r}: {exc}") from None
        return cls(locale=locale, translations=_translations(locale.language))

    @property
    def tag(self) -> str:
        """The locale as a BCP 47 tag (``fr-FR``), for ``<html lang>``."""
        return str(self.locale).replace("_", "-")

    def gettext(self, message: str) -> str:
        return self.translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.translations.ngettext(singular, plural, n)

    def number(self, value: Any, digits: int = 0) -> str:
        """A number with the locale's separators and ``digits`` decimals."""
        if _missing(value):
            return MISSING
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return str(format_decimal(float(value), format=pattern, locale=self.locale))

    def money(self, value: Any, currency: str | None = None) -> str:
        """An amount with the currency's symbol and decimals (two decimals without a currency)."""
        if _missing(value):
            return MISSING
        if currency:
            return str(format_currency(float(value), currency, locale=self.locale))
        return self.number(value, 2)

    def percent(self, share: Any, digits: int = 1, *, signed: bool = False) -> str:
        """A share (0.372) as a percentage in the locale's pattern (``37.2%``, ``37,2 %``)."""
        if _missing(share):
            return MISSING
        pattern = self.locale.percent_formats[None].pattern.split(";")[0]
        if digits:
            pattern = pattern.replace("0", "0." + "0" * digits, 1)
        if signed:
            pattern = f"+{pattern};-{pattern}"
        return str(format_percent(float(share), format=pattern, locale=self.locale))

    def date(self, value: date | datetime | None, style: str = "medium") -> str:
        """A date (``5 Dec 2026``, ``5 déc. 2026``)."""
        if value is None:
            return MISSING
        if isinstance(value, datetime):
            return str(format_date(value.date(), format=style, locale=self.locale))
        return str(format_date(value, format=style, locale=self.locale))

    def datetime(self, value: datetime | None, style: str = "medium") -> str:
        if value is None:
            return MISSING
        return str(format_datetime(value, format=style, locale=self.locale))


# The source language, for callers that were not given a locale.
ENGLISH = Texts.for_locale(DEFAULT_LOCALE)
