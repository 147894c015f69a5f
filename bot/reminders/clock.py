"""Times of day as people type them: ``9am``, ``9 am``, ``18:30``, ``5:30pm``, ``noon``.

Shared by one-off reminders (``at 18:30``) and recurrences (``every day 9:00``).
"""

from __future__ import annotations

import re
from datetime import time

_TIME = re.compile(r"([0-9]{1,2})(?:[:.h]([0-9]{2}))?\s*(am|pm|a\.m\.|p\.m\.)?", re.ASCII)
_NAMED = {"noon": time(12, 0), "midday": time(12, 0), "midnight": time(0, 0)}


def take_time(words: list[str]) -> tuple[time, int] | None:
    """The time of day at the start of ``words`` and how many words it used, or None.

    A bare number (``9``) counts only with am/pm or a colon, so that "at 5 things" is not
    mistaken for five o'clock silently... except right after ``at``, where the caller allows it.
    """
    if not words:
        return None
    first = words[0].lower()
    if first in _NAMED:
        return _NAMED[first], 1
    for used in (2, 1):
        if len(words) < used:
            continue
        text = "".join(words[:used]).lower()
        match = _TIME.fullmatch(text)
        if not match:
            continue
        hour, minute, half = int(match.group(1)), int(match.group(2) or 0), match.group(3)
        if used == 2 and not half:
            continue
        if half is None and match.group(2) is None:
            return None  # bare "9": ambiguous, see take_bare_hour
        if half:
            if not 1 <= hour <= 12:
                return None
            hour = hour % 12 + (12 if half.startswith("p") else 0)
        if hour > 23 or minute > 59:
            return None
        return time(hour, minute), used
    return None


def take_bare_hour(words: list[str]) -> tuple[time, int] | None:
    """``at 18`` / ``at 9``: a bare hour, accepted only where the word ``at`` makes it clear."""
    if words and re.fullmatch(r"[0-9]{1,2}", words[0], re.ASCII) and int(words[0]) <= 23:
        return time(int(words[0]), 0), 1
    return take_time(words)
