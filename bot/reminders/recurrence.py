"""Recurring reminders: a small grammar and "when is the next one", across DST changes.

Forms (after the word ``every``): ``day 9:00``, ``monday 10:00``, ``weekday 8:30`` (Mon–Fri),
``2h`` / ``30 min`` / ``1d``. Calendar forms keep their wall-clock time in the user's zone, so a
9:00 reminder stays at 9:00 after the clocks change; interval forms are a fixed number of
seconds apart. A wall time that does not exist on the day (skipped by a spring-forward) rings at
the same offset after the gap, as ``zoneinfo`` resolves it; a repeated one rings the first time.

The stored form is :meth:`Recurrence.spec`, e.g. ``day 09:00``, ``mon 10:00``, ``every 7200``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.reminders.clock import take_time
from bot.reminders.duration import format_duration, parse_duration
from bot.reminders.errors import ReminderInputError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_WORDS = {name: i for i, name in enumerate(DAYS)}
_DAY_WORDS.update({full: i for i, full in enumerate(
    ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))})
_DAY_WORDS.update({"tues": 1, "thur": 3, "thurs": 3})

EXAMPLES = "Examples: /remind every day 9:00 standup, /remind every monday 10:00 report"


@dataclass(frozen=True)
class Recurrence:
    """Which days (0=Monday) at what wall time, or a fixed interval in seconds."""

    days: tuple[int, ...] = ()
    at: time | None = None
    interval: float | None = None

    def spec(self) -> str:
        if self.interval is not None:
            return f"every {self.interval:g}"
        hhmm = self.at.strftime("%H:%M") if self.at else "09:00"
        if len(self.days) == 7:
            return f"day {hhmm}"
        if self.days == (0, 1, 2, 3, 4):
            return f"weekday {hhmm}"
        return f"{','.join(DAYS[d] for d in self.days)} {hhmm}"

    @classmethod
    def from_spec(cls, spec: str) -> Recurrence:
        head, _, rest = spec.partition(" ")
        if head == "every":
            return cls(interval=float(rest))
        at = time.fromisoformat(rest)
        if head == "day":
            return cls(days=tuple(range(7)), at=at)
        if head == "weekday":
            return cls(days=(0, 1, 2, 3, 4), at=at)
        return cls(days=tuple(DAYS.index(d) for d in head.split(",")), at=at)

    def describe(self) -> str:
        """``every day at 09:00``, ``every Monday at 10:00``, ``every 2 h``."""
        if self.interval is not None:
            return f"every {format_duration(timedelta(seconds=self.interval))}"
        hhmm = self.at.strftime("%H:%M") if self.at else ""
        if len(self.days) == 7:
            what = "day"
        elif self.days == (0, 1, 2, 3, 4):
            what = "weekday"
        else:
            what = ", ".join(
                ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")[d]
                for d in self.days)
        return f"every {what} at {hhmm}"

    def next_after(self, after: datetime, zone: ZoneInfo, anchor: datetime | None = None) -> datetime:
        """The first occurrence strictly after ``after`` (aware), as an aware UTC datetime.

        Interval recurrences step from ``anchor`` (the previous due time) so that they do not
        drift by the lateness of each ring.
        """
        if self.interval is not None:
            step = timedelta(seconds=self.interval)
            base = anchor or after
            if base > after:
                return base.astimezone(UTC)
            missed = (after - base) // step + 1
            return (base + missed * step).astimezone(UTC)
        assert self.at is not None
        local = after.astimezone(zone)
        for offset in range(0, 8):
            day = local.date() + timedelta(days=offset)
            if day.weekday() not in self.days:
                continue
            candidate = datetime.combine(day, self.at, tzinfo=zone).astimezone(UTC)
            if candidate > after:
                return candidate
        raise AssertionError("a weekly recurrence always has a next occurrence within 8 days")


def parse_recurrence(words: list[str], min_interval: timedelta) -> tuple[Recurrence, list[str]]:
    """Parse the words after ``every``; return the recurrence and the remaining words (the text)."""
    if not words:
        raise ReminderInputError(f"Every what? {EXAMPLES}")
    head = words[0].lower().rstrip(",")
    if head in ("day", "daily") or head in _DAY_WORDS or head in ("weekday", "weekdays"):
        if head in ("day", "daily"):
            days: tuple[int, ...] = tuple(range(7))
        elif head in ("weekday", "weekdays"):
            days = (0, 1, 2, 3, 4)
        else:
            days = (_DAY_WORDS[head],)
        rest = words[1:]
        if rest and rest[0].lower() == "at":
            rest = rest[1:]
        found = take_time(rest)
        if found is None:
            raise ReminderInputError(f"At what time every {head}? Write it like 9:00 or 9am. {EXAMPLES}")
        at, used = found
        return Recurrence(days=days, at=at), rest[used:]
    # every 2h / every 30 min / every 1h30m
    for n in (2, 1):
        if len(words) < n:
            continue
        try:
            step = parse_duration(" ".join(words[:n]))
        except ReminderInputError:
            continue
        if step < min_interval:
            raise ReminderInputError(
                f"The shortest repeat is every {format_duration(min_interval)}; "
                f"“every {' '.join(words[:n])}” is more often than that.")
        return Recurrence(interval=step.total_seconds()), words[n:]
    raise ReminderInputError(f"I don't understand “every {words[0][:30]}”. {EXAMPLES}")
