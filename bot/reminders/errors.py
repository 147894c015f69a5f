"""The one exception the reminder core raises for input it cannot use: a code and parameters.

The core knows nothing of the reply language. Each refusal is an :class:`Problem` code with the
values the sentence needs (the fragment not understood, the limit hit, the two readings of an
ambiguous date); the chat layer turns them into words in the reader's language. Every code must
have wording there: a test checks it.

Parameters are data, never words: the person's own text (``part``, a ``str``), numbers, a
:class:`~datetime.time` or :class:`CalendarDay` for the readings of an ambiguous time or date, a
:class:`Part` for the part of a phrase said twice or not fitting another, a ``datetime`` or ``date``
for a moment in the past or an end date, a ``timedelta`` for a length of time.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Part(StrEnum):
    """The parts of a time phrase, as :attr:`Problem.CONFLICT` and :attr:`Problem.MISMATCH` name
    them."""

    OFFSET = "offset"  # in 2 hours
    DAY = "day"
    TIME = "time"  # of day
    ZONE = "zone"
    REPEAT = "repeat"
    UNTIL = "until"  # the end date of a repeat
    COUNT = "count"  # for 5 times


@dataclass(frozen=True)
class CalendarDay:
    """A day of the calendar, the year only when the phrase gave one: a reading of ``12/11``."""

    month: int
    day: int
    year: int | None = None


class Problem(StrEnum):
    """Why a timer or reminder was refused."""

    EMPTY = "empty"  # nothing said
    NO_WHEN = "no_when"  # no time found at all; params: text
    NOT_UNDERSTOOD = "not_understood"  # a part that looks like time but is not; params: part
    TIME_IN_TEXT = "time_in_text"  # a second time inside the text; params: part
    FOREIGN_DIGITS = "foreign_digits"  # digits other than 0-9 / full-width
    BAD_TIME = "bad_time"  # 25:00, 13pm; params: part
    BAD_DATE = "bad_date"  # feb 30; params: part
    AMBIGUOUS_DATE = "ambiguous_date"  # 12/11; params: part, first, second (CalendarDay)
    AMBIGUOUS_TIME = "ambiguous_time"  # at 5, 3点; params: part, first, second (time)
    AMBIGUOUS_MIDNIGHT = "ambiguous_midnight"  # friday midnight; params: part
    AMBIGUOUS_ZONE = "ambiguous_zone"  # CST; params: part, readings
    UNKNOWN_ZONE = "unknown_zone"  # params: part
    # 5 minutes ago, yesterday, a passed time; params: when (the word, or a datetime)
    IN_THE_PAST = "in_the_past"
    PASSED_THIS_WEEK = "passed_this_week"  # "this monday" on a Wednesday; params: part
    CONFLICT = "conflict"  # a part said twice (two days, two times); params: part (Part)
    # parts that cannot both hold (Fri 2026-12-24, in 2 hours at 10am); params: first, second (Part,
    # or the words)
    MISMATCH = "mismatch"
    UNKNOWN_UNIT = "unknown_unit"  # "in 1 fortnight"; params: part
    UNIT_MISSING = "unit_missing"  # "in 90"; params: part
    NOT_POSITIVE = "not_positive"  # 0 minutes
    NEGATIVE = "negative"  # -5
    NO_DURATION = "no_duration"  # /timer with nothing after it
    DURATION_NOT_UNDERSTOOD = "duration_not_understood"  # /timer abc; params: part
    TIMER_TOO_LONG = "timer_too_long"
    TOO_FAR = "too_far"  # over MAX_DURATION_DAYS; params: days
    REPEAT_TOO_OFTEN = "repeat_too_often"  # under MIN_RECURRENCE_MINUTES; params: minimum, part
    REPEAT_NOT_UNDERSTOOD = "repeat_not_understood"  # "every blue"; params: part
    REPEAT_ENDS_BEFORE_START = (
        "repeat_ends_before_start"  # until a date before the first ring; params: until (date)
    )
    BAD_CRON = "bad_cron"  # params: part, reason
    LABEL_CONTROL = "label_control"  # invisible control characters
    LABEL_TOO_LONG = "label_too_long"  # params: length, limit
    TOO_MANY_PENDING = "too_many_pending"  # params: pending, limit
    BAD_ZONE_NAME = "bad_zone_name"  # /tz garbage; params: name
    NO_SUCH_REMINDER = "no_such_reminder"
    BAD_SNOOZE = "bad_snooze"


class ReminderInputError(ValueError):
    """Input that cannot become a timer or reminder: ``problem`` and the ``params`` to word it.

    ``str()`` is a debugging form (code and parameters), not a sentence for people: the chat
    layer words the problem.
    """

    def __init__(self, problem: Problem, **params: Any) -> None:
        super().__init__(problem.value, params)
        self.problem = problem
        self.params = params

    def __str__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{self.problem.value}({inner})"
