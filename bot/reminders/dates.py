"""Days as people say them: ``today``, ``tomorrow``, ``the day after tomorrow``, ``friday``,
``next friday``, ``this friday``, ``dec 24``, ``24 december``, ``the 15th``, ``2026-12-24``,
``24.12.``, ``24.12.2026``; ``今天``, ``明天``, ``后天``, ``大后天``, ``周五``, ``下周一``,
``这周六``, ``12月24日``, ``2026年12月24日``, ``15号``.

A :class:`DayRef` is what was said; :func:`resolve_day` turns it into a date once the time of day
is known, because "friday 7pm" on a Friday evening is today at 19:00 but next week at 21:00.
Definitions (also in docs/time-phrases.md): ``friday`` is the next Friday whose time is still to
come; ``this friday`` / ``这周五`` is the Friday of this week (Monday to Sunday) and is refused
once passed; ``next friday`` / ``下周五`` is the Friday of next week; ``dec 24`` without a year is
the next Dec 24 to come; ``the 15th`` / ``15号`` the next 15th to come (months without a 31st are
skipped, not clipped). A slash date is read only when one reading is possible: ``12/11`` is refused
with both readings.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import Enum
from zoneinfo import ZoneInfo

from bot.reminders.errors import CalendarDay, Problem, ReminderInputError
from bot.reminders.numbers import take_chinese
from bot.reminders.tokens import Kind, Tokens

WEEKDAYS_EN = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WEEKDAY_WORDS = {name: i for i, name in enumerate(WEEKDAYS_EN)}
WEEKDAY_WORDS.update({name[:3]: i for i, name in enumerate(WEEKDAYS_EN)})
WEEKDAY_WORDS.update({"tues": 1, "thur": 3, "thurs": 3, "weds": 2})
#: Abbreviations that are also everyday English words.
EVERYDAY_WORDS = frozenset({"sun", "sat", "wed", "mon"})
MONTHS_EN = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
MONTH_WORDS = {name: i + 1 for i, name in enumerate(MONTHS_EN)}
MONTH_WORDS.update({name[:3]: i + 1 for i, name in enumerate(MONTHS_EN)})
MONTH_WORDS["sept"] = 9
ZH_WEEKDAYS = {
    "一": 0,
    "二": 1,
    "三": 2,
    "四": 3,
    "五": 4,
    "六": 5,
    "日": 6,
    "天": 6,
    "1": 0,
    "2": 1,
    "3": 2,
    "4": 3,
    "5": 4,
    "6": 5,
    "7": 6,
}
ZH_WEEK_WORDS = ("星期", "礼拜", "禮拜", "周", "週")
ORDINAL_SUFFIXES = ("st", "nd", "rd", "th")


class Roll(Enum):
    """What happens when the first reading has already passed."""

    NONE = "none"  # a fixed day: refused when passed
    WEEK = "week"  # a bare weekday: the same weekday next week
    MONTH = "month"  # the 15th: the next month that has it
    YEAR = "year"  # dec 24: next year
    THIS_WEEK = "this_week"  # this friday: refused with its own reason


@dataclass(frozen=True)
class DayRef:
    """A day as said: a first candidate date and what to do when that day and time have passed.

    ``monthday`` is set for ``the 15th`` (the candidate is then the next month that has it).
    """

    day: date
    roll: Roll
    part: str
    monthday: int | None = None
    month_day: tuple[int, int] | None = None


def _valid(year: int, month: int, day: int, part: str) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise ReminderInputError(Problem.BAD_DATE, part=part) from None


def _ordinal(t: Tokens, i: int) -> tuple[int, int] | None:
    """``15th``, ``1st``, ``15``: a day number 1..31 at ``i`` and the index after it."""
    value = t.num(i)
    if value is None or not 1 <= value <= 31 or len(t.text(i)) > 2:
        return None
    j = i + 1
    if t.text(j) in ORDINAL_SUFFIXES and t.joined(j):
        j += 1
    return value, j


def _year(t: Tokens, i: int) -> tuple[int, int] | None:
    j = i + 1 if t.text(i) == "," else i
    value = t.num(j)
    if value is not None and len(t.text(j)) == 4 and t.text(j + 1) != ":":
        return value, j + 1
    return None


def _month_word(t: Tokens, i: int) -> tuple[int, int] | None:
    word = t.text(i)
    if t.kind(i) == Kind.WORD and word in MONTH_WORDS:
        j = i + 1
        if t.text(j) == "." and t.joined(j) and len(word) <= 4:
            j += 1
        return MONTH_WORDS[word], j
    return None


def _month_date(t: Tokens, i: int, local: date, original: str) -> tuple[DayRef, int] | None:
    """``dec 24``, ``december 24th, 2026``, ``24 december``, ``the 24th of december``."""
    start = i
    if (month := _month_word(t, i)) is not None:
        found = _ordinal(t, month[1])
        if found is None:
            return None
        day, j = found
        month_no = month[0]
    else:
        j = i + 1 if t.text(i) == "the" else i
        found = _ordinal(t, j)
        if found is None:
            return None
        day, j = found
        if t.text(j) == "of":
            j += 1
        month = _month_word(t, j)
        if month is None:
            return None
        month_no, j = month
    year = _year(t, j)
    part = t.span(start, year[1] if year else j, original)
    if year is not None:
        return DayRef(_valid(year[0], month_no, day, part), Roll.NONE, part), year[1]
    if day > calendar.monthrange(2024, month_no)[1]:  # Feb 30 in no year
        raise ReminderInputError(Problem.BAD_DATE, part=part)
    return _next_month_day(local, month_no, day, part), j


def _next_month_day(local: date, month: int, day: int, part: str) -> DayRef:
    year = local.year
    while True:
        try:
            return DayRef(date(year, month, day), Roll.YEAR, part, month_day=(month, day))
        except ValueError:  # Feb 29 in a common year
            year += 1


def _numeric_date(t: Tokens, i: int, local: date, original: str) -> tuple[DayRef, int] | None:
    """``2026-12-24``, ``2026/12/24``, ``24.12.``, ``24.12.2026``, ``01.01``, ``24/12``."""
    a = t.num(i)
    if a is None or not t.joined(i + 1) or t.text(i + 1) not in ("-", "/", "."):
        return None
    sep = t.text(i + 1)
    b = t.num(i + 2)
    if b is None or not t.joined(i + 2):
        return None
    j = i + 3
    c = None
    if t.text(j) == sep and t.joined(j) and t.kind(j + 1) == Kind.NUM and t.joined(j + 1):
        c, j = t.num(j + 1), j + 2
    elif t.text(j) == "." and sep == "." and t.joined(j):
        j += 1  # 24.12.
    if t.joined(j) and t.kind(j) in (Kind.NUM, Kind.WORD):
        return None
    part = t.span(i, j, original)
    if len(t.text(i)) == 4:  # year first: ISO
        if c is None:
            return None
        return DayRef(_valid(a, b, c, part), Roll.NONE, part), j
    if c is not None and len(t.text(j - 1)) != 4:
        return None
    if sep == "-":
        return None
    if sep == ".":
        day, month = a, b
    else:  # slash: refused when both readings are possible (a zero makes neither a date)
        if 1 <= a <= 12 and 1 <= b <= 12 and a != b:
            raise ReminderInputError(
                Problem.AMBIGUOUS_DATE,
                part=part,
                first=CalendarDay(month=b, day=a, year=c),
                second=CalendarDay(month=a, day=b, year=c),
            )
        day, month = (a, b) if a > 12 else (b, a)
    if c is not None:
        return DayRef(_valid(c, month, day, part), Roll.NONE, part), j
    if not (1 <= month <= 12) or day > calendar.monthrange(2024, month)[1] or day < 1:
        raise ReminderInputError(Problem.BAD_DATE, part=part)
    return _next_month_day(local, month, day, part), j


def _monthday(t: Tokens, i: int, local: date, original: str) -> tuple[DayRef, int] | None:
    """``the 15th``, ``15th`` (the suffix is required without ``the``)."""
    j = i + 1 if t.text(i) == "the" else i
    value = t.num(j)
    if value is None or len(t.text(j)) > 2:
        return None
    if not (t.text(j + 1) in ORDINAL_SUFFIXES and t.joined(j + 1)):
        return None
    if not 1 <= value <= 31:
        raise ReminderInputError(Problem.BAD_DATE, part=t.span(i, j + 2, original))
    return _next_monthday(local, value, t.span(i, j + 2, original)), j + 2


def _next_monthday(local: date, value: int, part: str) -> DayRef:
    year, month = local.year, local.month
    while value > calendar.monthrange(year, month)[1]:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return DayRef(date(year, month, value), Roll.MONTH, part, monthday=value)


def _weekday_en(t: Tokens, i: int, local: date, original: str) -> tuple[DayRef, int] | None:
    which = t.text(i)
    j = i + 1 if which in ("next", "this", "coming") else i
    word = t.text(j)
    if t.kind(j) != Kind.WORD or word not in WEEKDAY_WORDS:
        return None
    if (
        word in EVERYDAY_WORDS
        and j == i
        and t.text(i - 1) not in ("on", "every", "by", "until")
        and t.kind(j + 1) == Kind.WORD
    ):
        return None  # "sun tan lotion", "sat down": a weekday only where it is plainly one
    end = j + 1
    if t.text(end) == "." and t.joined(end):
        end += 1
    if j == i:  # "Sat 2026-03-28", "friday, dec 24": the date decides, the weekday must agree
        k = end + 1 if t.text(end) == "," else end
        dated = _numeric_date(t, k, local, original) or _month_date(t, k, local, original)
        if dated is not None:
            if dated[0].day.weekday() != WEEKDAY_WORDS[word]:
                raise ReminderInputError(
                    Problem.MISMATCH, first=t.span(i, end, original), second=dated[0].part
                )
            return dated
    return _weekday_ref(
        local, WEEKDAY_WORDS[word], which if j > i else "", t.span(i, end, original)
    ), end


def _weekday_ref(local: date, weekday: int, which: str, part: str) -> DayRef:
    monday = local - timedelta(days=local.weekday())
    if which == "next":
        return DayRef(monday + timedelta(days=7 + weekday), Roll.NONE, part)
    if which == "nextnext":
        return DayRef(monday + timedelta(days=14 + weekday), Roll.NONE, part)
    if which == "this":
        return DayRef(monday + timedelta(days=weekday), Roll.THIS_WEEK, part)
    return DayRef(local + timedelta(days=(weekday - local.weekday()) % 7), Roll.WEEK, part)


_ZH_RELATIVE = (
    ("大后天", 3),
    ("後天", 2),
    ("后天", 2),
    ("明天", 1),
    ("明日", 1),
    ("今天", 0),
    ("今日", 0),
)
_ZH_PAST = ("昨天", "前天", "昨日")
_ZH_WHICH = (
    ("下下个", "nextnext"),
    ("下下", "nextnext"),
    ("下个", "next"),
    ("下", "next"),
    ("这个", "this"),
    ("這個", "this"),
    ("这", "this"),
    ("這", "this"),
    ("本", "this"),
)


def _weekday_zh(t: Tokens, i: int, local: date, original: str) -> tuple[DayRef, int] | None:
    which, j = "", i
    if (found := t.cjk_any(i, (w for w, _ in _ZH_WHICH))) is not None:
        which, j = dict(_ZH_WHICH)[found[0]], found[1]
    week = t.cjk_any(j, ZH_WEEK_WORDS)
    if week is None:
        return None
    k = week[1]
    day = t.text(k)
    if day not in ZH_WEEKDAYS or not t.joined(k) or (t.kind(k) == Kind.NUM and len(day) != 1):
        return None
    if day == "天" and week[0] == "周":
        return None  # 周天 is not a day people write; 周日 is
    return _weekday_ref(local, ZH_WEEKDAYS[day], which, t.span(i, k + 1, original)), k + 1


def _zh_number(t: Tokens, i: int) -> tuple[int, int] | None:
    if t.kind(i) == Kind.NUM:
        value = t.num(i)
        return (value, i + 1) if value is not None else None
    found = take_chinese(t, i)
    return (int(found[0]), found[1]) if found else None


def _date_zh(t: Tokens, i: int, local: date, original: str) -> tuple[DayRef, int] | None:
    """``2026年12月24日``, ``12月24号``, ``15号``, ``十五日``."""
    first = _zh_number(t, i)
    if first is None:
        return None
    year = None
    j = first[1]
    if t.text(j) == "年" and first[0] >= 1000:
        year = first[0]
        first = _zh_number(t, j + 1)
        if first is None:
            return None
        j = first[1]
    if t.text(j) == "月":
        month = first[0]
        second = _zh_number(t, j + 1)
        if second is None or t.text(second[1]) not in ("日", "号", "號"):
            return None
        day, j = second[0], second[1] + 1
        part = t.span(i, j, original)
        if year is not None:
            return DayRef(_valid(year, month, day, part), Roll.NONE, part), j
        if not 1 <= month <= 12 or not 1 <= day <= calendar.monthrange(2024, month)[1]:
            raise ReminderInputError(Problem.BAD_DATE, part=part)
        return _next_month_day(local, month, day, part), j
    if year is None and t.text(j) in ("号", "號", "日"):
        part = t.span(i, j + 1, original)
        if not 1 <= first[0] <= 31:
            raise ReminderInputError(Problem.BAD_DATE, part=part)
        return _next_monthday(local, first[0], part), j + 1
    return None


def take_day(t: Tokens, i: int, local: date, original: str) -> tuple[DayRef, int] | None:
    """A day at ``i`` (see the module docstring) and the index after it; None when there is none.

    Raises for days in the past (``yesterday``) and impossible dates (``feb 30``).
    """
    word = t.text(i)
    kind = t.kind(i)
    if kind == Kind.WORD:
        if word in ("today", "tod"):
            return DayRef(local, Roll.NONE, word), i + 1
        if word in ("tomorrow", "tmr", "tmrw", "tomorow"):
            return DayRef(local + timedelta(days=1), Roll.NONE, word), i + 1
        for words in (("the", "day", "after", "tomorrow"), ("day", "after", "tomorrow")):
            if (end := t.seq(i, *words)) is not None:
                return DayRef(local + timedelta(days=2), Roll.NONE, t.span(i, end, original)), end
        if word == "yesterday":
            raise ReminderInputError(Problem.IN_THE_PAST, when=word)
        return (
            _weekday_en(t, i, local, original)
            or _month_date(t, i, local, original)
            or _monthday(t, i, local, original)
        )
    if kind == Kind.NUM:
        return (
            _numeric_date(t, i, local, original)
            or _month_date(t, i, local, original)
            or _monthday(t, i, local, original)
            or _date_zh(t, i, local, original)
        )
    if kind == Kind.CJK:
        for word, days in _ZH_RELATIVE:
            if (end := t.cjk(i, word)) is not None:
                return DayRef(local + timedelta(days=days), Roll.NONE, word), end
        if (found := t.cjk_any(i, _ZH_PAST)) is not None:
            raise ReminderInputError(Problem.IN_THE_PAST, when=found[0])
        return _weekday_zh(t, i, local, original) or _date_zh(t, i, local, original)
    return None


def resolve_day(ref: DayRef, at: time, now: datetime, zone: ZoneInfo) -> datetime:
    """The aware local datetime of ``ref`` at ``at``: the first reading, rolled on when passed."""
    due = datetime.combine(ref.day, at, tzinfo=zone)
    if due > now:
        return due
    if ref.roll is Roll.WEEK:
        return datetime.combine(ref.day + timedelta(days=7), at, tzinfo=zone)
    if ref.roll is Roll.MONTH and ref.monthday is not None:
        following = ref.day + timedelta(days=32 - ref.day.day)
        return datetime.combine(
            _next_monthday(following.replace(day=1), ref.monthday, ref.part).day, at, tzinfo=zone
        )
    if ref.roll is Roll.YEAR and ref.month_day is not None:
        month, day = ref.month_day
        return datetime.combine(
            _next_month_day(date(ref.day.year + 1, 1, 1), month, day, ref.part).day, at, tzinfo=zone
        )
    if ref.roll is Roll.THIS_WEEK:
        raise ReminderInputError(Problem.PASSED_THIS_WEEK, part=ref.part)
    raise ReminderInputError(Problem.IN_THE_PAST, when=due)
