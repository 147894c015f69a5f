"""Repeats as people say them: ``every day``, ``daily``, ``every 2 hours``, ``every other
wednesday``, ``weekdays``, ``every monday wednesday friday``, ``mon-fri``, ``every month on the
1st`` / ``on the last day`` / ``on the 2nd tuesday``, ``on the 15th of every month``, ``every year
on dec 24``, ``cron 0 9 * * 1-5``; ``每天``, ``每周一三五``, ``工作日``, ``周末``, ``每隔两周``,
``每月1号``, ``每月最后一天``, ``每年12月24日``, ``每小时``, ``每30分钟``; and their ends,
``until 2027-01-31``, ``for 10 times``, ``直到2027年1月31日``, ``共10次``.

:func:`take_repeat` returns a :class:`~bot.reminders.recurrence.Recurrence` without its time of
day, anchor or end: the phrase's time (``at 9``, ``早上8点``) and the first ring are joined to it
in :mod:`bot.reminders.when`. A repeat without a time rings at 09:00 (``every morning`` too).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import time

from bot.reminders.dates import MONTH_WORDS, WEEKDAY_WORDS, ZH_WEEK_WORDS, ZH_WEEKDAYS
from bot.reminders.duration import take_span
from bot.reminders.errors import Problem, ReminderInputError
from bot.reminders.numbers import take_chinese, take_english
from bot.reminders.recurrence import Recurrence, Unit, cron_weekdays
from bot.reminders.tokens import Kind, Tokens

_PERIOD_WORDS = {
    "morning": time(9, 0),
    "afternoon": time(15, 0),
    "evening": time(18, 0),
    "night": time(20, 0),
}
_PLURAL_DAYS = {name + "s": i for name, i in WEEKDAY_WORDS.items() if len(name) > 3}
_ORDINAL_WORDS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "last": -1}


@dataclass(frozen=True)
class Repeat:
    """A repeat as said: the recurrence without time or anchor, and a time the words gave
    (``every morning`` → 09:00) if any. ``needs_day``: the weekday, day of month or date comes
    from the first ring (``weekly``, ``every 2 weeks``, ``monthly``)."""

    recurrence: Recurrence
    at: time | None = None
    needs_day: bool = False


def _weekday_list(t: Tokens, i: int) -> tuple[tuple[int, ...], int] | None:
    """``monday wednesday friday``, ``tue and thu``, ``mon, wed``, ``mon-fri``."""
    days: list[int] = []
    j = i
    while True:
        word = t.text(j)
        if t.kind(j) != Kind.WORD or (word not in WEEKDAY_WORDS and word not in _PLURAL_DAYS):
            break
        first = WEEKDAY_WORDS.get(word, _PLURAL_DAYS.get(word, 0))
        j += 1
        if (
            t.text(j) in ("-", "to", "through")
            and (last := WEEKDAY_WORDS.get(t.text(j + 1))) is not None
        ):
            if last < first:
                return None
            days.extend(range(first, last + 1))
            j += 2
        else:
            days.append(first)
        k = j
        if t.text(k) in (",", "and", "&"):
            k += 1
        if t.text(k) in WEEKDAY_WORDS or t.text(k) in _PLURAL_DAYS:
            j = k
            continue
        break
    if not days:
        return None
    return tuple(sorted(set(days))), j


def _monthly_on(t: Tokens, i: int) -> tuple[Recurrence, int] | None:
    """``on the 1st``, ``on the last day``, ``on the 2nd tuesday``, ``on the last friday``: a
    monthly repeat on that day."""
    j = i + 1 if t.text(i) == "on" else i
    if t.text(j) == "the":
        j += 1
    n = None
    if t.kind(j) == Kind.NUM and t.text(j + 1) in ("st", "nd", "rd", "th") and t.joined(j + 1):
        n, j = t.num(j), j + 2
    elif t.text(j) in _ORDINAL_WORDS:
        n, j = _ORDINAL_WORDS[t.text(j)], j + 1
    if n is None:
        return None
    if t.text(j) in WEEKDAY_WORDS:
        if not (1 <= n <= 5 or n == -1):
            return None
        return Recurrence(Unit.MONTH, nth=(n, WEEKDAY_WORDS[t.text(j)])), j + 1
    if t.text(j) == "day":
        j += 1
    if n == -1:
        return Recurrence(Unit.MONTH, monthday=-1), j
    if not 1 <= n <= 31:
        raise ReminderInputError(Problem.BAD_DATE, part=t.text(j - 1))
    return Recurrence(Unit.MONTH, monthday=n), j


def _span_repeat(t: Tokens, i: int, original: str) -> tuple[Repeat, int] | None:
    """``2 hours``, ``30 minutes``, ``3 days``, ``2 weeks``, ``2 months`` after every/每/每隔."""
    found = take_span(t, i)
    if found is None:
        return None
    span, j = found
    part = t.span(i, j, original)
    if span.months and not span.days and not span.seconds:
        unit, every = (
            (Unit.YEAR, span.months // 12)
            if span.months % 12 == 0 and span.months >= 12
            else (Unit.MONTH, span.months)
        )
        if unit is Unit.YEAR and every != 1:
            raise ReminderInputError(Problem.REPEAT_NOT_UNDERSTOOD, part=part)
        return Repeat(Recurrence(unit, every=every), needs_day=True), j
    if span.days and not span.months and not span.seconds:
        if span.days % 7 == 0:
            return Repeat(Recurrence(Unit.WEEK, every=span.days // 7), needs_day=True), j
        return Repeat(Recurrence(Unit.DAY, every=span.days)), j
    if span.months:
        raise ReminderInputError(Problem.REPEAT_NOT_UNDERSTOOD, part=part)
    return Repeat(Recurrence(Unit.INTERVAL, seconds=span.rough().total_seconds())), j


def _every_en(t: Tokens, i: int, original: str) -> tuple[Repeat, int] | None:
    """What follows ``every`` / ``each``."""
    word = t.text(i)
    if word == "day":
        return Repeat(Recurrence(Unit.DAY)), i + 1
    if word in _PERIOD_WORDS:
        return Repeat(Recurrence(Unit.DAY), at=_PERIOD_WORDS[word]), i + 1
    if word == "hour":
        return Repeat(Recurrence(Unit.INTERVAL, seconds=3600)), i + 1
    if word == "minute":
        return Repeat(Recurrence(Unit.INTERVAL, seconds=60)), i + 1
    if word in ("weekday", "weekdays"):
        return Repeat(Recurrence(Unit.WEEK, weekdays=(0, 1, 2, 3, 4))), i + 1
    if word in ("weekend", "weekends"):
        return Repeat(Recurrence(Unit.WEEK, weekdays=(5, 6))), i + 1
    if word == "week":
        return Repeat(Recurrence(Unit.WEEK), needs_day=True), i + 1
    if word == "month":
        on = _monthly_on(t, i + 1)
        if on is None:
            return Repeat(Recurrence(Unit.MONTH), needs_day=True), i + 1
        return Repeat(on[0]), on[1]
    if word == "year":
        j = i + 1 + (t.text(i + 1) == "on")
        if (month := MONTH_WORDS.get(t.text(j))) is not None and (day := t.num(j + 1)) is not None:
            end = j + 2 + (t.text(j + 2) in ("st", "nd", "rd", "th") and t.joined(j + 2))
            return _yearly(month, day, t.span(j, end, original)), end
        if (day := t.num(j)) is not None and (month := MONTH_WORDS.get(t.text(j + 1))) is not None:
            return _yearly(month, day, t.span(j, j + 2, original)), j + 2
        return Repeat(Recurrence(Unit.YEAR), needs_day=True), i + 1
    if word == "other":
        following = t.text(i + 1)
        if following == "day":
            return Repeat(Recurrence(Unit.DAY, every=2)), i + 2
        if following == "week":
            return Repeat(Recurrence(Unit.WEEK, every=2), needs_day=True), i + 2
        if following == "month":
            return Repeat(Recurrence(Unit.MONTH, every=2), needs_day=True), i + 2
        if (days := _weekday_list(t, i + 1)) is not None:
            return Repeat(Recurrence(Unit.WEEK, every=2, weekdays=days[0])), days[1]
        return None
    if (days := _weekday_list(t, i)) is not None:
        return Repeat(Recurrence(Unit.WEEK, weekdays=days[0])), days[1]
    if (month := MONTH_WORDS.get(word)) is not None and (day := t.num(i + 1)) is not None:
        return _yearly(month, day, t.span(i, i + 2, original)), i + 2
    found = _span_repeat(t, i, original)
    if (
        found is not None
        and found[0].recurrence.unit is Unit.WEEK
        and t.text(found[1]) == "on"
        and (days := _weekday_list(t, found[1] + 1)) is not None
    ):
        # every 2 weeks on monday and thursday
        return Repeat(replace(found[0].recurrence, weekdays=days[0])), days[1]
    return found


def _yearly(month: int, day: int, part: str) -> Repeat:
    if not 1 <= day <= (29 if month == 2 else 30 if month in (4, 6, 9, 11) else 31):
        raise ReminderInputError(Problem.BAD_DATE, part=part)
    return Repeat(Recurrence(Unit.YEAR, month=month, monthday=day))


def _cron(t: Tokens, i: int, original: str) -> tuple[Repeat, int] | None:
    """``cron 0 9 * * 1-5``: five fields, each a run of tokens without spaces."""
    j = i + 1 + (t.text(i + 1) == ":" and t.joined(i + 1))
    fields: list[str] = []
    k = j
    while len(fields) < 5 and k < t.n:
        start = k
        k += 1
        while k < t.n and t.joined(k):
            k += 1
        fields.append(t.span(start, k, original))
    if len(fields) < 5:
        raise ReminderInputError(Problem.BAD_CRON, part=t.span(i, k, original), reason="fields")
    expression = " ".join(fields)
    if len(expression) > 100:  # the stored repeat has room for a sensible expression, not an essay
        raise ReminderInputError(Problem.BAD_CRON, part=expression[:40], reason="length")
    minute, hour, monthday, month, weekday = fields
    if monthday != "*" and weekday != "*":
        raise ReminderInputError(Problem.BAD_CRON, part=expression, reason="day_and_weekday")
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger(
            minute=minute,
            hour=hour,
            day=monthday,
            month=month,
            day_of_week=cron_weekdays(weekday),
            timezone="UTC",
        )
    except (ValueError, KeyError, TypeError):
        raise ReminderInputError(Problem.BAD_CRON, part=expression, reason="field") from None
    return Repeat(Recurrence(Unit.CRON, cron=expression)), k


def _every_zh(t: Tokens, i: int, original: str) -> tuple[Repeat, int] | None:
    """What follows ``每`` / ``每隔`` / ``每个``."""
    if t.cjk(i, "天") or t.cjk(i, "日"):
        return Repeat(Recurrence(Unit.DAY)), i + 1
    if (end := t.cjk(i, "工作日")) is not None:
        return Repeat(Recurrence(Unit.WEEK, weekdays=(0, 1, 2, 3, 4))), end
    if (end := t.cjk(i, "周末")) is not None:
        return Repeat(Recurrence(Unit.WEEK, weekdays=(5, 6))), end
    if (end := t.cjk(i, "小时")) is not None:
        return Repeat(Recurrence(Unit.INTERVAL, seconds=3600)), end
    if (end := t.cjk(i, "分钟")) is not None:
        return Repeat(Recurrence(Unit.INTERVAL, seconds=60)), end
    if (week := t.cjk_any(i, ZH_WEEK_WORDS)) is not None:
        days, j = [], week[1]
        while (
            t.text(j) in ZH_WEEKDAYS
            and t.joined(j)
            and t.kind(j) == Kind.CJK
            and not (t.text(j) == "天" and week[0] == "周")
        ):
            days.append(ZH_WEEKDAYS[t.text(j)])
            j += 1
            if t.text(j) in ("、", "，", ",") and t.text(j + 1) in ZH_WEEKDAYS:
                j += 1
        if days:
            return Repeat(Recurrence(Unit.WEEK, weekdays=tuple(sorted(set(days))))), j
        return Repeat(Recurrence(Unit.WEEK), needs_day=True), week[1]
    if (end := t.cjk(i, "月")) is not None:
        if (last := t.cjk(end, "最后一天")) is not None:
            return Repeat(Recurrence(Unit.MONTH, monthday=-1)), last
        number = _zh_or_digits(t, end)
        if number is not None and t.text(number[1]) in ("号", "號", "日"):
            if not 1 <= number[0] <= 31:
                raise ReminderInputError(Problem.BAD_DATE, part=t.span(i, number[1] + 1, original))
            return Repeat(Recurrence(Unit.MONTH, monthday=number[0])), number[1] + 1
        return Repeat(Recurrence(Unit.MONTH), needs_day=True), end
    if (end := t.cjk(i, "年")) is not None:
        month = _zh_or_digits(t, end)
        if month is not None and t.text(month[1]) == "月":
            day = _zh_or_digits(t, month[1] + 1)
            if day is not None and t.text(day[1]) in ("日", "号", "號"):
                return _yearly(month[0], day[0], t.span(end, day[1] + 1, original)), day[1] + 1
        return Repeat(Recurrence(Unit.YEAR), needs_day=True), end
    return _span_repeat(t, i, original)


def _zh_or_digits(t: Tokens, i: int) -> tuple[int, int] | None:
    if t.kind(i) == Kind.NUM:
        value = t.num(i)
        return (value, i + 1) if value is not None else None
    found = take_chinese(t, i)
    return (int(found[0]), found[1]) if found else None


_ONE_WORD = {
    "daily": Repeat(Recurrence(Unit.DAY)),
    "hourly": Repeat(Recurrence(Unit.INTERVAL, seconds=3600)),
    "weekly": Repeat(Recurrence(Unit.WEEK), needs_day=True),
    "monthly": Repeat(Recurrence(Unit.MONTH), needs_day=True),
    "yearly": Repeat(Recurrence(Unit.YEAR), needs_day=True),
    "annually": Repeat(Recurrence(Unit.YEAR), needs_day=True),
    "weekdays": Repeat(Recurrence(Unit.WEEK, weekdays=(0, 1, 2, 3, 4))),
    "weekends": Repeat(Recurrence(Unit.WEEK, weekdays=(5, 6))),
}


def take_repeat(t: Tokens, i: int, original: str) -> tuple[Repeat, int] | None:
    """A repeat at ``i`` and the index after it; None when there is none here."""
    word = t.text(i)
    if t.kind(i) == Kind.WORD:
        if word in ("every", "each"):
            found = _every_en(t, i + 1, original)
            if found is None:
                raise ReminderInputError(
                    Problem.REPEAT_NOT_UNDERSTOOD, part=t.span(i, min(i + 3, t.n), original)
                )
            return found
        if word in _ONE_WORD:
            return _ONE_WORD[word], i + 1
        if word == "cron":
            return _cron(t, i, original)
        if word in _PLURAL_DAYS or (word in WEEKDAY_WORDS and t.text(i + 1) == "-"):
            listed = _weekday_list(t, i)
            if listed is not None and (len(listed[0]) > 1 or word in _PLURAL_DAYS):
                return Repeat(Recurrence(Unit.WEEK, weekdays=listed[0])), listed[1]
        # on the 15th of every month
        j = i + 1 if word == "on" else i
        on = _monthly_on(t, j) if t.text(j) == "the" else None
        if on is not None and (
            t.seq(on[1], "of", "every", "month") or t.seq(on[1], "of", "each", "month")
        ):
            return Repeat(on[0]), on[1] + 3
        return None
    if t.kind(i) == Kind.CJK:
        if (end := t.cjk(i, "每隔")) is not None:
            return _every_zh(t, end, original)
        if (end := t.cjk(i, "每个")) is not None or (end := t.cjk(i, "每")) is not None:
            found = _every_zh(t, end, original)
            if found is None:
                raise ReminderInputError(
                    Problem.REPEAT_NOT_UNDERSTOOD, part=t.span(i, min(i + 3, t.n), original)
                )
            return found
        if (end := t.cjk(i, "工作日")) is not None:
            return Repeat(Recurrence(Unit.WEEK, weekdays=(0, 1, 2, 3, 4))), end
        if (end := t.cjk(i, "周末")) is not None:
            return Repeat(Recurrence(Unit.WEEK, weekdays=(5, 6))), end
    return None


def take_end(t: Tokens, i: int) -> tuple[str, int, int] | None:
    """The start of a repeat's end: ``("until", index of the date)`` or
    ``("count", n, index after)``.

    ``until`` is followed by a day that :mod:`bot.reminders.dates` reads.
    """
    if t.text(i) in ("until", "till", "til") or (
        t.text(i) == "through" and t.kind(i + 1) != Kind.MARK
    ):
        return "until", i + 1, i + 1
    if (end := t.cjk(i, "直到")) is not None or (end := t.cjk(i, "截止到")) is not None:
        return "until", end, end
    j = i + 1 if t.text(i) == "for" else i
    count = t.num(j)
    if count is None and (eng := take_english(t, j)) is not None:
        count, k = eng
    else:
        k = j + 1
    if count is not None and t.text(k) in ("times", "time", "x") and t.kind(j) != Kind.MARK:
        return "count", count, k + 1
    if (end := t.cjk(i, "共")) is not None or (end := t.cjk(i, "重复")) is not None:
        number = _zh_or_digits(t, end)
        if number is not None and t.text(number[1]) == "次":
            return "count", number[0], number[1] + 1
    number = _zh_or_digits(t, i)
    if number is not None and t.text(number[1]) == "次" and t.kind(i) != Kind.MARK:
        return "count", number[0], number[1] + 1
    return None
