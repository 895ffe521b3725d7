"""Languages of the portal: gettext catalogs (Babel), negotiation, and formatting of
dates and numbers per locale (Unicode CLDR through Babel).

The catalogs are the ``.po`` files under ``locale/<lang>/LC_MESSAGES/messages.po``;
they are compiled in memory when the process starts (Babel's ``write_mo``), so there is
no build step and no compiled file that can fall behind its source. A message missing
from a catalog would show in English: ``tests/integration/test_portal_i18n.py`` extracts
every message from the templates and the Python code and fails on any that a catalog
does not translate.

The language is in the path (``/en/...``, ``/ar/...``). ``/`` chooses: the ``gt_lang``
cookie the language switch sets, else the first supported language of the
``Accept-Language`` header (RFC 9110 §12.5.4, by quality value), else English.
"""

from __future__ import annotations

import datetime as dt
import functools
from io import BytesIO
from pathlib import Path

from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

__all__ = [
    "COOKIE",
    "DEFAULT",
    "DIRECTION",
    "LANGUAGES",
    "LOCALE_DIR",
    "N_",
    "fmt_date",
    "fmt_datetime",
    "fmt_number",
    "negotiate",
    "translations",
]

LANGUAGES = ("en", "ar")
DEFAULT = "en"
DIRECTION = {"en": "ltr", "ar": "rtl"}
COOKIE = "gt_lang"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"


def N_(message: str) -> str:
    """Marks a string for extraction; it is translated where it is shown."""
    return message


@functools.cache
def translations(lang: str) -> Translations:
    """The compiled catalog of ``lang`` (fuzzy entries are left out, as msgfmt does)."""
    path = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as f:
        catalog = read_po(f, locale=lang)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain="messages")


def _accept_language(header: str) -> list[str]:
    """Primary language subtags of an Accept-Language header, best first (q=0 dropped)."""
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(header.split(",")[:32]):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, position, tag.strip().split("-")[0].lower()))
    return [tag for _, _, tag in sorted(ranked)]


def negotiate(cookie: str | None, accept_language: str | None) -> str:
    if cookie in LANGUAGES:
        assert cookie is not None
        return cookie
    for tag in _accept_language(accept_language or ""):
        if tag in LANGUAGES:
            return tag
    return DEFAULT


def fmt_datetime(value: dt.datetime | None, lang: str) -> str:
    """A date and time in UTC, written the locale's way."""
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return format_datetime(value, format="medium", tzinfo=dt.UTC, locale=lang) + " UTC"


def fmt_date(value: dt.datetime | dt.date | None, lang: str) -> str:
    if value is None:
        return "—"
    return format_date(value, format="medium", locale=lang)


def fmt_number(value: int | float, lang: str) -> str:
    return format_decimal(value, locale=lang)
