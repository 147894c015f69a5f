"""Durations: ``/timer 5`` (seconds), ``90s``, ``5 min``, ``1h30m``, ``2.5m``, ``1:30``,
``an hour``, ``half an hour``, ``2 hours and 30 minutes``, ``3 weeks``, ``1 month``; ``10分钟``,
``半小时``, ``一个半小时``, ``2小时30分钟``, ``两周``, ``一个月``, ``一刻钟``.

A duration is a :class:`Span`: calendar months, calendar days and exact seconds. Months and days
are counted on the calendar in the person's zone (``in 1 month`` from Jan 31 is Feb 28 or 29, at
the same wall-clock time; ``in 1 day`` is the same time tomorrow even across a DST change);
hours, minutes and seconds are elapsed time. An unknown unit is refused, never read as seconds.

A bare number means seconds for ``/timer`` (as in the seed's countdown and python-telegram-bot's
timerbot), and ``1:30`` is minutes and seconds there; ``/remind`` asks for a unit instead.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from bot.humanize import human_duration
from bot.reminders.errors import Problem, ReminderInputError
from bot.reminders.numbers import take_chinese, take_digits, take_number
from bot.reminders.tokens import Kind, Tokens, has_foreign_digits, normalise, tokenize

SECOND, MINUTE, HOUR, DAY, WEEK, MONTH, YEAR = "s", "min", "h", "d", "w", "mo", "y"

EN_UNIT_WORDS: dict[str, str] = {}
for _unit, _names in (
    (SECOND, ("s", "sec", "secs", "second", "seconds")),
    (MINUTE, ("m", "min", "mins", "minute", "minutes")),
    (HOUR, ("h", "hr", "hrs", "hour", "hours")),
    (DAY, ("d", "day", "days")),
    (WEEK, ("w", "wk", "wks", "week", "weeks")),
    (MONTH, ("mo", "mos", "month", "months")),
    (YEAR, ("y", "yr", "yrs", "year", "years")),
):
    for _name in _names:
        EN_UNIT_WORDS[_name] = _unit

#: Chinese unit words, longest first (个小时 before 小时).
ZH_UNIT_WORDS: tuple[tuple[str, str], ...] = (
    ("个小时", HOUR),
    ("个钟头", HOUR),
    ("小时", HOUR),
    ("钟头", HOUR),
    ("分钟", MINUTE),
    ("秒钟", SECOND),
    ("个星期", WEEK),
    ("个礼拜", WEEK),
    ("星期", WEEK),
    ("礼拜", WEEK),
    ("个月", MONTH),
    ("分", MINUTE),
    ("秒", SECOND),
    ("天", DAY),
    ("周", WEEK),
    ("年", YEAR),
)
_SECONDS = {SECOND: 1, MINUTE: 60, HOUR: 3600}
#: Anything longer than this is refused before arithmetic (the configured maximum is checked later).
ABSURD = timedelta(days=3660)


@dataclass(frozen=True)
class Span:
    """A duration on the calendar: ``months`` and ``days`` keep the wall-clock time, ``seconds``
    is elapsed time."""

    months: int = 0
    days: int = 0
    seconds: float = 0.0

    def __add__(self, other: Span) -> Span:
        return Span(
            self.months + other.months, self.days + other.days, self.seconds + other.seconds
        )

    @property
    def calendar_only(self) -> bool:
        """Whole days/weeks/months/years: ``in 3 days at 10am`` can take a time of day."""
        return self.seconds == 0

    def rough(self) -> timedelta:
        """An upper bound, for limits: a month counted as 31 days."""
        return timedelta(days=self.months * 31 + self.days, seconds=self.seconds)

    def after(self, local: datetime) -> datetime:
        """``local`` (aware, in the person's zone) moved by this span; months clip to the month's
        last day (Jan 31 + 1 month = Feb 28/29)."""
        moved = local
        if self.months:
            day = add_months(moved.date(), self.months)
            moved = moved.replace(year=day.year, month=day.month, day=day.day)
        if self.days:
            day = moved.date() + timedelta(days=self.days)
            moved = moved.replace(year=day.year, month=day.month, day=day.day)
        if self.seconds:  # elapsed time is counted on the UTC line, not the wall clock
            return moved.astimezone(UTC) + timedelta(seconds=self.seconds)
        return moved

    def describe(self) -> str:
        """English words for a span (``2 months 3 d``), as :func:`format_duration` does for time."""
        parts = []
        if self.months:
            years, months = divmod(self.months, 12)
            if years:
                parts.append(f"{years} year{'s' if years > 1 else ''}")
            if months:
                parts.append(f"{months} month{'s' if months > 1 else ''}")
        if self.days:
            parts.append(f"{self.days} day{'s' if self.days > 1 else ''}")
        if self.seconds:
            parts.append(format_duration(timedelta(seconds=self.seconds)))
        return " ".join(parts) or "0 s"


def add_months(day: date, months: int) -> date:
    """``day`` plus ``months``, the day clipped to the month's last (Jan 31 + 1 = Feb 28/29)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def _unit_at(t: Tokens, i: int) -> tuple[str, int] | None:
    """A unit word at ``i`` (English word or Chinese characters) and the index after it."""
    if t.kind(i) == Kind.WORD and t.text(i) in EN_UNIT_WORDS:
        return EN_UNIT_WORDS[t.text(i)], i + 1
    if t.kind(i) == Kind.CJK:
        found = t.cjk_any(i, (w for w, _ in ZH_UNIT_WORDS))
        if found:
            return dict(ZH_UNIT_WORDS)[found[0]], found[1]
    return None


def _span_of(amount: float, unit: str) -> Span:
    if unit in _SECONDS:
        return Span(seconds=amount * _SECONDS[unit])
    whole = int(amount)
    frac = amount - whole
    if unit == DAY:
        return Span(days=whole, seconds=frac * 86400)
    if unit == WEEK:
        return Span(days=whole * 7) + _span_of(frac * 7, DAY)
    if frac:  # 1.5 months has no calendar meaning
        raise ReminderInputError(Problem.NOT_UNDERSTOOD, part=f"{amount:g} {unit}")
    return Span(months=whole * (12 if unit == YEAR else 1))


def _take_part(t: Tokens, i: int) -> tuple[Span, int, str] | None:
    """One ``number unit`` (or half / quarter form) at ``i``: the span, the index after, the
    unit."""
    # 一刻钟 / 三刻钟
    for phrase, minutes in (("一刻钟", 15), ("三刻钟", 45)):
        end = t.cjk(i, phrase)
        if end is not None:
            return Span(seconds=minutes * 60), end, MINUTE
    # half an hour, half a minute / 半小时, 半个小时
    if t.text(i) == "half":
        j = i + 1 + (t.text(i + 1) in ("an", "a"))
        unit = _unit_at(t, j)
        if unit and unit[0] in (SECOND, MINUTE, HOUR, DAY):
            return _span_of(0.5, unit[0]), unit[1], unit[0]
        return None
    if (
        t.text(i) == "半"
        and (unit := _unit_at(t, i + 1))
        and unit[0] in (SECOND, MINUTE, HOUR, DAY)
    ):
        return _span_of(0.5, unit[0]), unit[1], unit[0]
    if (
        t.text(i) == "半"
        and t.text(i + 1) == "个"
        and (unit := _unit_at(t, i + 2))
        and unit[0] in (MINUTE, HOUR)
    ):
        return _span_of(0.5, unit[0]), unit[1], unit[0]
    # a number: digits, English words, a/an, Chinese numerals
    if t.text(i) in ("a", "an"):
        amount, j = 1.0, i + 1
    else:
        found = take_number(t, i)
        if found is None:
            return None
        amount, j = found
    # one and a half hours
    if t.seq(j, "and", "a", "half"):
        amount, j = amount + 0.5, j + 3
    if t.text(j) == "-" and t.joined(j) and t.kind(j + 1) == Kind.WORD:
        j += 1  # 5-minute
    # 一个半小时: N 个 半 unit
    if t.text(j) == "个" and t.text(j + 1) == "半" and (unit := _unit_at(t, j + 2)):
        return _span_of(amount + 0.5, unit[0]), unit[1], unit[0]
    unit = _unit_at(t, j)
    if unit is None:
        return None
    end = unit[1]
    # an hour and a half
    if t.seq(end, "and", "a", "half"):
        amount, end = amount + 0.5, end + 3
    return _span_of(amount, unit[0]), end, unit[0]


def take_span(t: Tokens, i: int) -> tuple[Span, int] | None:
    """The longest duration at ``i`` (``2 hours and 30 minutes``, ``1h30m``, ``2小时30分钟``).

    A unit may not repeat (``5m 3m`` is a typo, not eight minutes); ``1h30`` is 1 h 30 min.
    """
    first = _take_part(t, i)
    if first is None:
        return None
    total, j, seen = first[0], first[1], {first[2]}
    last_unit = first[2]
    while True:
        k = j
        if t.text(k) in ("and", ",") and t.kind(k + 1) != Kind.MARK:
            k += 1
        part = _take_part(t, k)
        if part is None or part[2] in seen:
            break
        total, j = total + part[0], part[1]
        seen.add(part[2])
        last_unit = part[2]
    # 1h30 / 1小时30: the minutes after hours without their unit
    if (
        last_unit == HOUR
        and t.joined(j)
        and (digits := take_digits(t, j))
        and digits[0] < 60
        and MINUTE not in seen
        and t.kind(digits[1]) != Kind.MARK
    ):
        total, j = total + Span(seconds=digits[0] * 60), digits[1]
    return total, j


def _clock(t: Tokens, i: int) -> tuple[float, int] | None:
    """``1:30`` (minutes:seconds) or ``1:30:00`` (hours:minutes:seconds) for ``/timer``."""
    a = t.num(i)
    if a is None or t.text(i + 1) != ":" or not t.joined(i + 1) or not t.joined(i + 2):
        return None
    b = t.num(i + 2)
    if b is None or b > 59 or len(t.text(i + 2)) != 2:
        return None
    if t.text(i + 3) == ":" and t.joined(i + 3) and t.joined(i + 4):
        c = t.num(i + 4)
        if c is None or c > 59 or len(t.text(i + 4)) != 2:
            return None
        return a * 3600 + b * 60 + c, i + 5
    return a * 60 + b, i + 3


def take_timer(t: Tokens, i: int = 0) -> tuple[timedelta, int] | None:
    """A ``/timer`` duration at ``i``: a span, ``m:s``, ``h:m:s``, or a bare number of seconds."""
    if (clock := _clock(t, i)) is not None:
        return timedelta(seconds=clock[0]), clock[1]
    span = take_span(t, i)
    if span is not None:
        if span[0].months:
            raise ReminderInputError(Problem.TIMER_TOO_LONG)
        return span[0].rough(), span[1]
    bare = take_digits(t, i, decimal=True)
    # ``5喝水`` may be a unit we do not know glued to the number: refused; ``5 喝水`` is a label.
    if bare is not None and (t.kind(bare[1]) != Kind.CJK or not t.joined(bare[1])):
        return timedelta(seconds=bare[0]), bare[1]
    return None


def parse_duration(text: str) -> timedelta:
    """The duration ``text`` spells entirely, or :class:`ReminderInputError` saying why not."""
    delta, rest = split_duration(text.split())
    if rest:
        raise ReminderInputError(Problem.DURATION_NOT_UNDERSTOOD, part=text.strip()[:30])
    return delta


def split_duration(words: list[str]) -> tuple[timedelta, list[str]]:
    """The duration at the start of ``words`` and the words after it (the label).

    The longest duration wins, so ``5 min tea`` is five minutes labelled "tea", ``1h 30m`` is
    ninety minutes and ``5分钟喝水`` is five minutes labelled "喝水".
    """
    original = " ".join(words)
    text = normalise(original)
    if not text.strip():
        raise ReminderInputError(Problem.NO_DURATION)
    if has_foreign_digits(text):
        raise ReminderInputError(Problem.FOREIGN_DIGITS)
    t = Tokens(tokenize(text))
    if t.text(0) == "-" and t.kind(1) == Kind.NUM and t.joined(1):
        raise ReminderInputError(Problem.NEGATIVE)
    if t.kind(0) == Kind.NUM and len(t.text(0)) > 6:
        raise ReminderInputError(Problem.TIMER_TOO_LONG)
    found = take_timer(t)
    if found is None:
        raise ReminderInputError(Problem.DURATION_NOT_UNDERSTOOD, part=original.split()[0][:30])
    delta, end = found
    if end < t.n and t.joined(end) and t.kind(end) != Kind.CJK:
        # 5x, 12:40!1mo: the duration runs into something that is not a label
        raise ReminderInputError(Problem.DURATION_NOT_UNDERSTOOD, part=original.split()[0][:30])
    if delta > ABSURD:
        raise ReminderInputError(Problem.TIMER_TOO_LONG)
    if delta <= timedelta(0):
        raise ReminderInputError(Problem.NOT_POSITIVE)
    rest = original[t.items[end].start :] if end < t.n else ""
    return delta, rest.split()


def format_duration(delta: timedelta) -> str:
    """``1 h 30 min``, ``45 s``, ``2 d 3 h``: the two largest units, for chat messages."""
    return human_duration(delta.total_seconds())


__all__ = [
    "ABSURD",
    "Span",
    "add_months",
    "format_duration",
    "parse_duration",
    "split_duration",
    "take_chinese",
    "take_span",
    "take_timer",
]
