"""Timer durations: ``/timer 5`` (seconds), ``90s``, ``5 min``, ``1h30m``, ``2.5m``, ``1:30``.

A bare number means seconds, as in the seed's countdown and python-telegram-bot's timerbot.
Only ASCII digits count: ``int()`` would accept Arabic-Indic or full-width digits, which are
easy to send by accident and hard to see, so they are refused with a clear answer instead.
"""

from __future__ import annotations

import re
from datetime import timedelta

from bot.humanize import human_duration
from bot.reminders.errors import ReminderInputError

EXAMPLES = "Examples: /timer 90 (seconds), /timer 5m tea, /timer 1h30m, /timer 1:30"

_UNITS: dict[str, int] = {}
for _seconds, _names in (
    (1, ("s", "sec", "secs", "second", "seconds")),
    (60, ("m", "min", "mins", "minute", "minutes")),
    (3600, ("h", "hr", "hrs", "hour", "hours")),
    (86400, ("d", "day", "days")),
    (604800, ("w", "wk", "wks", "week", "weeks")),
):
    for _name in _names:
        _UNITS[_name] = _seconds

_NUMBER = r"[0-9]{1,15}(?:\.[0-9]{1,6})?"
_PART = re.compile(rf"\s*({_NUMBER})\s*([a-z]+)", re.ASCII)
_CLOCK = re.compile(r"([0-9]{1,6}):([0-5]?[0-9])(?::([0-5]?[0-9]))?", re.ASCII)
_BARE = re.compile(_NUMBER, re.ASCII)

#: Anything longer than this is refused before arithmetic (the configured maximum is checked later).
ABSURD = timedelta(days=3660)


def parse_duration(text: str) -> timedelta:
    """The duration ``text`` spells, or :class:`ReminderInputError` saying what is wrong."""
    raw = text.strip().lower()
    if not raw:
        raise ReminderInputError(f"Say how long. {EXAMPLES}")
    if raw.startswith("-"):
        raise ReminderInputError(f"A duration cannot be negative. {EXAMPLES}")
    if any(ch.isdigit() and not ("0" <= ch <= "9") for ch in raw):
        raise ReminderInputError(f"Please use the digits 0-9. {EXAMPLES}")
    seconds = _seconds(raw)
    if seconds is None:
        raise ReminderInputError(f"I don't understand the duration “{text.strip()[:30]}”. {EXAMPLES}")
    if seconds <= 0:
        raise ReminderInputError(f"The duration must be more than zero. {EXAMPLES}")
    if seconds > ABSURD.total_seconds():
        raise ReminderInputError("That is too long for a timer. Use /remind with a date instead.")
    return timedelta(seconds=seconds)


def _seconds(raw: str) -> float | None:
    if _BARE.fullmatch(raw):
        return float(raw)
    clock = _CLOCK.fullmatch(raw)
    if clock:
        a, b, c = clock.groups()
        if c is None:  # m:s
            return int(a) * 60 + int(b)
        return int(a) * 3600 + int(b) * 60 + int(c)  # h:m:s
    total, pos, seen = 0.0, 0, set()
    while pos < len(raw):
        match = _PART.match(raw, pos)
        if not match or match.group(2) not in _UNITS:
            return None
        unit = _UNITS[match.group(2)]
        if unit in seen:
            return None  # "5m 3m" is a typo, not eight minutes
        seen.add(unit)
        total += float(match.group(1)) * unit
        pos = match.end()
        while pos < len(raw) and raw[pos] in " ,":
            pos += 1
    return total if seen else None


def split_duration(words: list[str], max_words: int = 4) -> tuple[timedelta, list[str]]:
    """The duration at the start of ``words`` and the words after it (the label).

    The longest prefix that parses wins, so ``5 min tea`` is five minutes labelled "tea" and
    ``1h 30m`` is ninety minutes. The error is the one for the first word alone.
    """
    for n in range(min(max_words, len(words)), 1, -1):
        try:
            return parse_duration(" ".join(words[:n])), words[n:]
        except ReminderInputError:
            continue
    return parse_duration(words[0] if words else ""), words[1:]


def format_duration(delta: timedelta) -> str:
    """``1 h 30 min``, ``45 s``, ``2 d 3 h``: the two largest units, for chat messages."""
    return human_duration(delta.total_seconds())
