"""The portal's catalogs are complete: every message in the templates and the Python
code (extracted with Babel, as ``pybabel extract`` does) is translated in both
catalogs with the same placeholders, and no template shows text that bypasses gettext.
Also the [portal] configuration and language negotiation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from govtrust import portal
from govtrust.errors import ConfigError
from govtrust.portal.i18n import LANGUAGES, LOCALE_DIR, negotiate, translations
from govtrust.portal.settings import portal_settings

ROOT = Path(portal.__file__).resolve().parent
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
PLACEHOLDER = re.compile(r"%\(([a-z_]+)\)s|\{([a-z_]+)\}")


def extracted() -> set[str]:
    method_map = [("templates/**.html", "jinja2"), ("**.py", "python")]
    options = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    found = {
        msg if isinstance(msg, str) else msg[0]
        for _, _, msg, _, _ in extract_from_dir(ROOT, method_map, options, keywords=KEYWORDS)
    }
    return {m for m in found if m}


def catalog(lang: str) -> dict[str, str]:
    with (LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return {m.id: m.string for m in read_po(f) if m.id and not m.fuzzy}


def test_extraction_finds_the_messages() -> None:
    messages = extracted()
    assert len(messages) > 250
    assert "Verify a document" in messages and "The file is damaged" in messages


@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalog_translates_every_message(lang: str) -> None:
    cat = catalog(lang)
    missing = sorted(m for m in extracted() if not cat.get(m))
    assert missing == [], f"{lang}: untranslated: {missing[:10]}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_placeholders_survive_translation(lang: str) -> None:
    for msgid, msgstr in catalog(lang).items():
        assert set(PLACEHOLDER.findall(msgid)) == set(PLACEHOLDER.findall(msgstr)), msgid


def test_arabic_is_arabic() -> None:
    cat = catalog("ar")
    arabic = [s for s in cat.values() if re.search("[\u0600-\u06ff]", s)]
    assert len(arabic) > 0.95 * len(cat)
    assert translations("ar").ugettext("Verify a document") == "التحقق من مستند"


def _visible_text(template: str) -> str:
    """What a template shows outside gettext: comments, trans blocks, expressions,
    statements, scripts and tags removed; attributes that people read kept."""
    text = re.sub(r"\{#.*?#\}", " ", template, flags=re.S)
    text = re.sub(r"\{%-?\s*trans.*?endtrans\s*-?%\}", " ", text, flags=re.S)
    text = re.sub(r"\{\{.*?\}\}", " ", text, flags=re.S)
    text = re.sub(r"\{%.*?%\}", " ", text, flags=re.S)
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", text, flags=re.S)
    readable = re.findall(r'\b(?:alt|title|placeholder|aria-label)="([^"]*)"', text)
    text = re.sub(r"<[^>]*>", " ", text)
    return " ".join([text, *readable])


ALLOWED = {"PEM", "CN", "O", "C"}  # format names, not words


@pytest.mark.parametrize("template", sorted(p.name for p in (ROOT / "templates").glob("*.html")))
def test_no_untranslated_text_in_templates(template: str) -> None:
    shown = _visible_text((ROOT / "templates" / template).read_text(encoding="utf-8"))
    words = [w for w in re.findall(r"[^\W\d_]{2,}", shown) if w not in ALLOWED]
    assert words == [], f"{template} shows text outside gettext: {words}"


def test_the_check_catches_a_bare_word() -> None:
    assert re.findall(r"[^\W\d_]{2,}", _visible_text("<p>Hello {{ _('x') }}</p>")) == ["Hello"]
    assert _visible_text('<input aria-label="Search">').split() == ["Search"]


@pytest.mark.parametrize(
    ("cookie", "header", "lang"),
    [
        (None, None, "en"),
        (None, "ar", "ar"),
        (None, "en-GB;q=0.4, ar-SA;q=0.8", "ar"),
        (None, "de, fr;q=0.9", "en"),
        ("ar", "en", "ar"),
        ("de", "ar", "ar"),
        (None, "ar;q=abc, en", "en"),
    ],
)
def test_negotiate(cookie: str | None, header: str | None, lang: str) -> None:
    assert negotiate(cookie, header) == lang


def test_portal_settings() -> None:
    assert portal_settings({}).max_upload_bytes == 25 * 1024 * 1024
    assert (
        portal_settings({"max_upload_bytes": 1000, "secure_cookies": False}).secure_cookies is False
    )
    for bad in ({"max_upload": 1}, {"max_upload_bytes": 0}, {"secure_cookies": "yes"}):
        with pytest.raises(ConfigError):
            portal_settings(bad)
