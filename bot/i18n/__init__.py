"""The reply language: gettext catalogs per language and the one chosen for the current work.

Words live in the chat layer only. Each user-facing string there is written in English inside
``_()`` (or ``ngettext()``); the catalogs under ``bot/locales/<code>/LC_MESSAGES/errand.po`` hold
its translations, managed with Babel (``make i18n``). Adding a language is adding a catalog.

Which language applies is kept in a context variable, as aiogram's ``utils/i18n`` does: the chat
layer sets it once per update (:mod:`bot.telegram.i18n`) and for work done later from no update
(a ring, a finished download) with :func:`use` and the language stored on the row. Code that only
formats (``bot.humanize``) reads :func:`current_locale`; the core (``bot/downloads``,
``bot/reminders``) never calls gettext.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from bot.i18n.catalogs import DEFAULT, Language, available, by_tag, language

_current: ContextVar[str] = ContextVar("errand_language", default=DEFAULT)

__all__ = [
    "DEFAULT",
    "Language",
    "_",
    "activate",
    "available",
    "by_tag",
    "current",
    "current_locale",
    "N_",
    "language",
    "ngettext",
    "reset",
    "use",
]


def current() -> Language:
    """The language of the work in progress (English when nothing chose one)."""
    return language(_current.get())


def current_locale():
    """The Babel locale of the work in progress, for dates, numbers and units."""
    return current().locale


def activate(code: str | None):
    """Make ``code`` the current language (unknown or None: English); returns a reset token."""
    return _current.set(language(code or DEFAULT).code)


def reset(token) -> None:
    _current.reset(token)


@contextmanager
def use(code: str | None) -> Iterator[Language]:
    """``with use(row.lang):`` — words inside are in that language (for work done from no
    update)."""
    token = activate(code)
    try:
        yield current()
    finally:
        _current.reset(token)


def _(message: str) -> str:
    """``message`` in the current language (the English text itself when it has no translation)."""
    return current().translations.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form for ``n`` in the current language (Chinese has one form, English two)."""
    return current().translations.ngettext(singular, plural, n)


def N_(message: str) -> str:  # noqa: N802 - the gettext convention extractors know
    """Mark ``message`` for the catalog without translating it yet (a module constant, read at
    import before any update chose a language); translate it where it is used: ``_(USAGE)``."""
    return message
