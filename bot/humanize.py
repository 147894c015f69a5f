"""Human-readable sizes, speeds and durations: one wording for the CLI, downloads and reminders.

Formatted with Babel's CLDR data for the current reply language (:func:`bot.i18n.current_locale`,
English unless the chat layer chose another): ``1.5 GB``, ``1 hr 2 min``; ``1.5 GB``,
``1小时2分钟``. Sizes are binary multiples, as file managers show them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from babel import Locale

# Babel (and the catalogs behind bot.i18n) are imported on the first call, not with this module:
# ``errandbot download -q`` formats nothing on success, and those imports were a fifth of its
# start-up (issue #12: start-up is what separates it from aria2c on a one-second transfer).

#: One mebibyte: the unit of every ``*_MB`` setting, and the one binary multiple the project uses.
MiB = 1 << 20

_SIZE_UNITS = (
    "digital-byte",
    "digital-kilobyte",
    "digital-megabyte",
    "digital-gigabyte",
    "digital-terabyte",
)
_DURATION_UNITS = (
    (86400, "duration-day"),
    (3600, "duration-hour"),
    (60, "duration-minute"),
    (1, "duration-second"),
)


def _current_locale() -> Locale:
    from bot.i18n import current_locale

    locale: Locale = current_locale()
    return locale


def _scaled(n: float) -> tuple[float, str]:
    value = float(n)
    for unit in _SIZE_UNITS:
        if abs(value) < 1024 or unit == _SIZE_UNITS[-1]:
            return value, unit
        value /= 1024
    raise AssertionError("unreachable")


def human_size(n: float | None, locale: Locale | None = None) -> str:
    """``1536`` → ``1.5 KB`` (in the locale's words); None → ``?``."""
    if n is None:
        return "?"
    from babel.numbers import format_decimal
    from babel.units import format_unit

    locale = locale or _current_locale()
    value, unit = _scaled(n)
    if (
        unit == "digital-byte"
    ):  # the symbol B, as the larger units use theirs (CLDR's English says "byte")
        return f"{format_decimal(int(value), format='0', locale=locale)} B"
    return format_unit(value, unit, length="short", format="0.0", locale=locale).replace("kB", "KB")


def human_speed(bytes_per_second: float | None, locale: Locale | None = None) -> str:
    """``1.5 MB/s`` (``1.5 MB/秒``); None → ``?``."""
    if bytes_per_second is None:
        return "?"
    from babel.units import format_compound_unit

    locale = locale or _current_locale()
    size = human_size(bytes_per_second, locale)
    # Babel answers None only for a unit its CLDR data lacks; every locale has duration-second.
    return (
        format_compound_unit(
            size, denominator_unit="duration-second", length="short", locale=locale
        )
        or f"{size}/s"
    )


def human_duration(seconds: float | None, locale: Locale | None = None) -> str:
    """The two largest units: ``3725`` → ``1 hr 2 min`` (``1小时2分钟``), ``42`` → ``42 sec``;
    None → ``?``."""
    if seconds is None:
        return "?"
    from babel.lists import format_list
    from babel.units import format_unit

    locale = locale or _current_locale()
    left = max(0, round(seconds))
    parts: list[tuple[int, str]] = []
    for size, unit in _DURATION_UNITS:
        if left >= size:
            parts.append((left // size, unit))
            left %= size
    parts = parts[:2] if parts else [(0, "duration-second")]
    if len(parts) == 2 and parts[1][0] == 0:
        parts = parts[:1]
    words = [format_unit(value, unit, length="short", locale=locale) for value, unit in parts]
    return format_list(words, style="unit-narrow", locale=locale)
