"""Reminder times: ``in 10m``, ``at 18:30``, ``tomorrow 9am``, ``friday 5pm``, ``2026-12-24 18:00``,
``every monday 10:00`` — and the text that follows them.

The common forms have a small grammar of their own, so they mean exactly one thing ("at 18:30"
past today is tomorrow; "friday" today before the time is today). Anything else that contains a
number or a month name goes to ``dateparser`` as a last resort, preferring future dates.
Every answer is checked to be in the future; anything else is a :class:`ReminderInputError`
that names the part it did not understand and shows two examples.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.reminders.clock import take_bare_hour, take_time
from bot.reminders.duration import split_duration
from bot.reminders.errors import ReminderInputError
from bot.reminders.recurrence import _DAY_WORDS, Recurrence, parse_recurrence

EXAMPLES = "Examples: /remind in 10m stretch, /remind tomorrow 9am standup"
DEFAULT_TIME = time(9, 0)
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})", re.ASCII)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


@dataclass(frozen=True)
class Plan:
    """When a reminder first rings (aware UTC), how it repeats, and what it says."""

    due: datetime
    recurrence: Recurrence | None
    text: str


def parse_when(text: str, now: datetime, zone: ZoneInfo, min_interval: timedelta = timedelta(minutes=5)) -> Plan:
    """Read ``WHEN TEXT`` as typed after ``/remind``, relative to ``now`` (aware) in ``zone``."""
    words = text.split()
    if not words:
        raise ReminderInputError(f"Say when and what. {EXAMPLES}")
    if any(ch.isdigit() and not ("0" <= ch <= "9") for ch in text):
        raise ReminderInputError(f"Please use the digits 0-9. {EXAMPLES}")
    head = words[0].lower()
    local_now = now.astimezone(zone)
    recurrence = None
    if head == "every":
        recurrence, rest = parse_recurrence(words[1:], min_interval)
        due = recurrence.next_after(now, zone, anchor=now if recurrence.interval else None)
        if recurrence.interval:
            due = now + timedelta(seconds=recurrence.interval)
    elif head == "in":
        if len(words) < 2:
            raise ReminderInputError(f"In how long? {EXAMPLES}")
        try:
            delta, rest = split_duration(words[1:])
        except ReminderInputError:
            raise ReminderInputError(f"I don't understand the time “in {words[1][:30]}”. {EXAMPLES}") from None
        due = now + delta
    elif head == "at":
        found = take_bare_hour(words[1:])
        if found is None:
            raise ReminderInputError(f"I don't understand the time “at {' '.join(words[1:2])[:30]}”. {EXAMPLES}")
        at, used = found
        due = _next_wall(local_now, local_now.date(), at, zone)
        rest = words[1 + used:]
    elif head in ("today", "tomorrow", "tonight") or head.rstrip(",") in _DAY_WORDS:
        at, rest = _time_after(words[1:], time(20, 0) if head == "tonight" else DEFAULT_TIME)
        if head == "tomorrow":
            day = local_now.date() + timedelta(days=1)
        elif head in ("today", "tonight"):
            day = local_now.date()
        else:
            ahead = (_DAY_WORDS[head.rstrip(",")] - local_now.weekday()) % 7
            day = local_now.date() + timedelta(days=ahead)
            if _local(day, at, zone) <= now:
                day += timedelta(days=7)
        due = _local(day, at, zone)
        if due <= now:
            raise ReminderInputError(f"{head.capitalize()} at {at.strftime('%H:%M')} has already passed. {EXAMPLES}")
    elif _ISO_DATE.fullmatch(head):
        y, m, d = (int(g) for g in _ISO_DATE.fullmatch(head).groups())
        try:
            day = date(y, m, d)
        except ValueError:
            raise ReminderInputError(f"“{head}” is not a date in the calendar. {EXAMPLES}") from None
        at, rest = _time_after(words[1:], DEFAULT_TIME)
        due = _local(day, at, zone)
    elif (found := take_time(words)) is not None:
        at, used = found
        due = _next_wall(local_now, local_now.date(), at, zone)
        rest = words[used:]
    else:
        due, rest = _natural(words, now, zone)
    if due <= now:
        raise ReminderInputError(
            f"{due.astimezone(zone):%Y-%m-%d %H:%M} is in the past; pick a time to come. {EXAMPLES}")
    return Plan(due=due.astimezone(UTC), recurrence=recurrence, text=" ".join(rest))


def _local(day: date, at: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def _next_wall(local_now: datetime, day: date, at: time, zone: ZoneInfo) -> datetime:
    """``at`` today, or tomorrow when it has passed today ("at 18:30" at 19:00 is tomorrow)."""
    due = _local(day, at, zone)
    if due <= local_now:
        due = _local(day + timedelta(days=1), at, zone)
    return due


def _time_after(words: list[str], default: time) -> tuple[time, list[str]]:
    if words and words[0].lower() == "at":
        found = take_bare_hour(words[1:])
        if found is None:
            raise ReminderInputError(f"I don't understand the time “at {' '.join(words[1:2])[:30]}”. {EXAMPLES}")
        return found[0], words[1 + found[1]:]
    found = take_time(words)
    if found is None:
        return default, words
    return found[0], words[found[1]:]


def _natural(words: list[str], now: datetime, zone: ZoneInfo) -> tuple[datetime, list[str]]:
    """Last resort: the longest prefix (up to 5 words) that ``dateparser`` reads as a future time."""
    import dateparser  # slow to import; only the unusual forms need it

    def plausible(prefix: list[str]) -> bool:
        joined = " ".join(prefix).lower()
        return any(ch.isdigit() for ch in joined) or any(m in joined for m in _MONTHS)

    settings = {
        "PREFER_DATES_FROM": "future",
        "TIMEZONE": zone.key,
        "RETURN_AS_TIMEZONE_AWARE": True,
        "RELATIVE_BASE": now.astimezone(zone).replace(tzinfo=None),
    }
    for n in range(min(5, len(words)), 0, -1):
        prefix = words[:n]
        if not plausible(prefix) or len(" ".join(prefix)) > 60:
            continue
        try:
            parsed = dateparser.parse(" ".join(prefix), languages=["en"], settings=settings)
        except (ValueError, OverflowError, TypeError):
            parsed = None
        if parsed is not None and parsed > now:
            return parsed.astimezone(UTC), words[n:]
    raise ReminderInputError(f"I don't understand when “{' '.join(words[:3])[:40]}” is. {EXAMPLES}")
