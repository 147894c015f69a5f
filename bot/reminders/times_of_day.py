"""Times of day as people say them: ``6pm``, ``6 pm``, ``6 p.m.``, ``18:30``, ``noon``,
``midnight``, ``morning``, ``tonight``, ``eod``; ``9点``, ``下午3点半``, ``早上8点``, ``15:30``,
``中午12点``, ``凌晨2点``, ``今晚8点``, ``3点一刻``.

Named parts of the day ring at one documented time each (:data:`NAMED`). A bare hour (``at 6``,
``9点``) is read on the 24-hour clock. Anything that could be two times is refused rather than
guessed: ``晚上12点`` and ``friday midnight`` (the start or the end of the day?), ``晚上2点``
(2:00 the next night, say ``凌晨2点``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

from bot.reminders.errors import Problem, ReminderInputError
from bot.reminders.numbers import take_chinese
from bot.reminders.tokens import Kind, Tokens

#: What a named part of the day means, everywhere (documented in docs/time-phrases.md).
NAMED = {
    "morning": time(9, 0),
    "afternoon": time(15, 0),
    "evening": time(18, 0),
    "tonight": time(20, 0),
    "night": time(20, 0),
    "noon": time(12, 0),
    "midday": time(12, 0),
    "midnight": time(0, 0),
    "eod": time(17, 0),
}
#: A date without a time rings at this time, whatever form the date had.
DEFAULT_TIME = time(9, 0)


#: Chinese parts of the day: how an hour said after them is read, and the time when said alone.
#: ``day`` is the day they also name (今晚 is tonight), as days after today.
@dataclass(frozen=True)
class _Period:
    name: str
    alone: time | None
    day: int | None = None


_ZH_PERIODS: tuple[tuple[str, _Period], ...] = tuple(
    (word, period)
    for words, period in (
        (("今天早上", "今早"), _Period("morning", time(9, 0), 0)),
        (("今天上午",), _Period("morning", time(9, 0), 0)),
        (("今天中午",), _Period("noon", time(12, 0), 0)),
        (("今天下午",), _Period("afternoon", time(15, 0), 0)),
        (("今天晚上", "今晚"), _Period("evening", time(20, 0), 0)),
        (("明天早上", "明早"), _Period("morning", time(9, 0), 1)),
        (("明天晚上", "明晚"), _Period("evening", time(20, 0), 1)),
        (("凌晨",), _Period("small", None)),
        (("早上", "早晨", "清晨", "上午"), _Period("morning", time(9, 0))),
        (("中午",), _Period("noon", time(12, 0))),
        (("下午", "午后"), _Period("afternoon", time(15, 0))),
        (("傍晚",), _Period("dusk", time(18, 0))),
        (("晚上", "夜里", "夜晚", "晚间"), _Period("evening", time(20, 0))),
    )
    for word in words
)


@dataclass(frozen=True)
class TimeOfDay:
    """A wall-clock time; ``named`` keeps the word (``midnight``…) and ``day`` the day a word
    like ``tonight`` or ``明早`` also says (days after today), so that the caller can check it."""

    at: time
    named: str | None = None
    day: int | None = None


def _check(hour: int, minute: int, part: str) -> time:
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise ReminderInputError(Problem.BAD_TIME, part=part)
    return time(hour, minute)


def _meridiem(t: Tokens, i: int) -> tuple[str, int] | None:
    """``am``/``pm``/``a.m.``/``p.m.`` at ``i`` and the index after it."""
    word = t.text(i)
    if word in ("am", "pm"):
        return word, i + 1
    if (
        word in ("a", "p")
        and t.text(i + 1) == "."
        and t.joined(i + 1)
        and t.text(i + 2) == "m"
        and t.joined(i + 2)
    ):
        end = i + 3
        if t.text(end) == "." and t.joined(end):
            end += 1
        return word + "m", end
    return None


def _english(t: Tokens, i: int, original: str, bare_ok: bool) -> tuple[TimeOfDay, int] | None:
    word = t.text(i)
    if word in ("noon", "midday", "midnight", "tonight", "eod"):
        return TimeOfDay(NAMED[word], word, 0 if word == "tonight" else None), i + 1
    if (end := t.seq(i, "end", "of", "day")) or (end := t.seq(i, "end", "of", "the", "day")):
        return TimeOfDay(NAMED["eod"], "eod"), end
    for lead in (("this",), ("in", "the"), ("at",), ()):
        j = t.seq(i, *lead) if lead else i
        if j is None:
            continue
        name = t.text(j)
        if name in ("morning", "afternoon", "evening", "night") and (
            lead != ("at",) or name == "night"
        ):
            return TimeOfDay(NAMED[name], name, 0 if lead == ("this",) else None), j + 1
    hour = t.num(i)
    if hour is None or len(t.text(i)) > 2:
        return None
    j, minute, minute_given = i + 1, 0, False
    if t.text(j) in (":", ".") and t.joined(j) and t.kind(j + 1) == Kind.NUM and t.joined(j + 1):
        if len(t.text(j + 1)) != 2:
            return None
        separator = t.text(j)
        minute, j, minute_given = int(t.text(j + 1)), j + 2, True
        if separator == "." and _meridiem(t, j) is None:
            return None  # 24.12 is a date; 6.30 only with am/pm
    half = _meridiem(t, j)
    if half is not None:
        if not 1 <= hour <= 12:
            raise ReminderInputError(Problem.BAD_TIME, part=t.span(i, half[1], original))
        hour = hour % 12 + (12 if half[0] == "pm" else 0)
        return TimeOfDay(_check(hour, minute, t.span(i, half[1], original))), half[1]
    if (end := t.seq(j, "o", "'", "clock")) is not None:
        _refuse_twelve_hour(hour, t.span(i, end, original))
        return TimeOfDay(_check(hour, minute, t.span(i, end, original))), end
    if minute_given or bare_ok:
        if t.kind(j) in (Kind.NUM,) or (t.joined(j) and t.kind(j) == Kind.WORD):
            return None  # 18:30x, 6x: not a time
        if not minute_given:
            _refuse_twelve_hour(hour, t.span(i, j, original))
        return TimeOfDay(_check(hour, minute, t.span(i, j, original))), j
    return None


def _refuse_twelve_hour(hour: int, part: str, low: int = 1, high: int = 12) -> None:
    """``at 5``: 05:00 or 17:00? A bare hour that a 12-hour clock could mean is refused with
    both readings (``at 0`` and ``at 13``…``at 23`` are clear)."""
    if low <= hour <= high:
        other = (hour + 12) % 24
        raise ReminderInputError(
            Problem.AMBIGUOUS_TIME, part=part, first=time(hour % 24), second=time(other)
        )


def _zh_hour(t: Tokens, i: int) -> tuple[int, int] | None:
    if t.kind(i) == Kind.NUM:
        value = t.num(i)
        return (value, i + 1) if value is not None and len(t.text(i)) <= 2 else None
    found = take_chinese(t, i)
    return (int(found[0]), found[1]) if found else None


def _chinese(t: Tokens, i: int, original: str) -> tuple[TimeOfDay, int] | None:
    period: _Period | None = None
    j = i
    for word, candidate in _ZH_PERIODS:
        end = t.cjk(i, word)
        if end is not None:
            period, j = candidate, end
            break
    if period is not None and t.text(j) in ("的",):
        j += 1
    start_hour = j
    found = _zh_hour(t, j)
    hour = minute = None
    by_colon = False
    if found is not None:
        hour, k = found
        if t.text(k) in ("点", "點", "时", "時") and (k == start_hour or t.joined(k)):
            k += 1
            minute = 0
            if t.text(k) == "半":
                minute, k = 30, k + 1
            elif t.text(k) == "整":
                k += 1
            elif (end := t.cjk(k, "一刻")) is not None:
                minute, k = 15, end
            elif (end := t.cjk(k, "三刻")) is not None:
                minute, k = 45, end
            elif t.kind(k) == Kind.NUM and t.joined(k) and len(t.text(k)) <= 2:
                minute, k = int(t.text(k)), k + 1
                if t.text(k) in ("分",):
                    k += 1
            elif (cn := take_chinese(t, k)) is not None and t.text(cn[1]) == "分":
                minute, k = int(cn[0]), cn[1] + 1
            j = k
        elif (
            t.kind(j) == Kind.NUM
            and t.text(k) == ":"
            and t.joined(k)
            and t.kind(k + 1) == Kind.NUM
            and t.joined(k + 1)
            and len(t.text(k + 1)) == 2
        ):
            minute, j, by_colon = int(t.text(k + 1)), k + 2, True
        else:
            hour = None
    if hour is None:
        if period is None or period.alone is None:
            return None
        return TimeOfDay(period.alone, period.name, period.day), j
    part = t.span(i, j, original)
    assert minute is not None
    if period is not None:
        hour = _zh_period_hour(period, hour, part)
    elif hour == 24:
        raise ReminderInputError(Problem.AMBIGUOUS_MIDNIGHT, part=part)
    elif not by_colon:
        _refuse_twelve_hour(hour, part, 1, 6)  # 3点开会: 03:00 or 15:00? (9点 is 09:00)
    return TimeOfDay(_check(hour, minute, part), None, period.day if period else None), j


def _zh_period_hour(period: _Period, hour: int, part: str) -> int:
    """The 24-hour hour of ``hour`` said after a part of the day; refuses what it cannot be."""
    if period.name == "small":
        if hour == 12:
            return 0
        if 0 <= hour <= 6:
            return hour
    elif period.name == "morning":
        if 0 <= hour <= 12:
            return hour
    elif period.name == "noon":
        if hour in (11, 12):
            return hour
        if 1 <= hour <= 3:
            return hour + 12
    elif period.name in ("afternoon", "dusk"):
        if 1 <= hour <= 11:
            return hour + 12
        if 12 <= hour <= 23:
            return hour
    elif period.name == "evening":
        if hour in (0, 12, 24):
            raise ReminderInputError(Problem.AMBIGUOUS_MIDNIGHT, part=part)
        if 5 <= hour <= 11:
            return hour + 12
        if 17 <= hour <= 23:
            return hour
    raise ReminderInputError(Problem.BAD_TIME, part=part)


def take_time_of_day(
    t: Tokens, i: int, original: str, *, bare_ok: bool = False
) -> tuple[TimeOfDay, int] | None:
    """A time of day at ``i`` and the index after it; None when there is none.

    ``bare_ok``: a bare hour (``6``) counts, as it does right after ``at``.
    """
    if t.kind(i) == Kind.CJK or (t.kind(i) == Kind.NUM and t.kind(i + 1) == Kind.CJK):
        found = _chinese(t, i, original)
        if found is not None:
            return found
    return _english(t, i, original, bare_ok)
