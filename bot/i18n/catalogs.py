"""Finding and loading the gettext catalogs under ``bot/locales``.

Each ``bot/locales/<code>/LC_MESSAGES/errand.po`` is one language; ``<code>`` is what ``/lang``
accepts and what rows store, and the catalog's ``Language:`` header is its Babel locale (``zh`` is
``zh_Hans``). English is the language of the source text and needs no catalog.

A compiled ``errand.mo`` beside the ``.po`` (``make i18n``, or an install step) is used when it is
at least as new as the ``.po``; otherwise the ``.po`` is compiled in memory at start-up, so a
catalog edit is never shadowed by a stale ``.mo`` and nothing has to be written into the package.
"""

from __future__ import annotations

import gettext
import io
import threading
from dataclasses import dataclass
from pathlib import Path

from babel import Locale
from babel.core import UnknownLocaleError, get_global

DOMAIN = "errand"
DEFAULT = "en"
LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"


@dataclass(frozen=True)
class Language:
    """One reply language: its code (``/lang`` argument), its own name, translations, locale."""

    code: str
    name: str
    locale: Locale
    translations: gettext.NullTranslations


_lock = threading.Lock()
_languages: dict[str, Language] | None = None


def _load_catalog(po: Path) -> tuple[Locale, gettext.GNUTranslations]:
    mo = po.with_suffix(".mo")
    if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
        with mo.open("rb") as f:
            translations = gettext.GNUTranslations(f)
    else:
        # Babel's catalog tools only when compiling: not imported at all when the .mo is fresh.
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        with po.open("rb") as f:
            catalog = read_po(f, domain=DOMAIN)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        translations = gettext.GNUTranslations(buffer)
    return Locale.parse(translations.info().get("language") or po.parent.parent.name), translations


def load(directory: Path = LOCALES_DIR) -> dict[str, Language]:
    """Every language with a catalog in ``directory``, plus English (the source text)."""
    english = Locale.parse("en")
    found = {DEFAULT: Language(DEFAULT, "English", english, gettext.NullTranslations())}
    for po in sorted(directory.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        code = po.parent.parent.name
        locale, translations = _load_catalog(po)
        name = locale.get_display_name(locale) or code
        found[code] = Language(code, name, locale, translations)
    return found


def available() -> dict[str, Language]:
    """The loaded languages by code (loaded once, on first use)."""
    global _languages
    if _languages is None:
        with _lock:
            if _languages is None:
                _languages = load()
    return _languages


def language(code: str | None) -> Language:
    """The language for ``code``; English for None or a code without a catalog."""
    languages = available()
    return languages.get(code or DEFAULT) or languages[DEFAULT]


def _language_and_script(tag: str) -> tuple[str, str | None] | None:
    """``zh-cn`` → (zh, Hans), ``zh-tw`` → (zh, Hant), ``en-gb`` → (en, Latn); None if unknown."""
    try:
        parsed = Locale.parse(tag.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        return None
    if parsed.script:
        return parsed.language, parsed.script
    likely = get_global("likely_subtags")
    for key in (f"{parsed.language}_{parsed.territory}", parsed.language):
        if key in likely:
            return parsed.language, Locale.parse(likely[key]).script
    return parsed.language, None


def by_tag(tag: str | None) -> str | None:
    """The code of the catalog that fits a BCP 47 tag such as Telegram's ``language_code``.

    Same language and same script (after CLDR's likely subtags): ``zh``, ``zh-hans``, ``zh-cn``
    and ``zh-sg`` are Simplified Chinese; ``zh-tw`` and ``zh-hk`` are Traditional and do not fit
    a Simplified catalog. None when no catalog fits.
    """
    if not tag:
        return None
    wanted = _language_and_script(tag.strip())
    if wanted is None:
        return None
    for code, lang in available().items():
        script = lang.locale.script
        if not script:
            own = _language_and_script(str(lang.locale))
            script = own[1] if own else None
        if (lang.locale.language, script) == wanted:
            return code
    return None
