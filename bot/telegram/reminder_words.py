"""How the reminder core's refusals read in the chat: one sentence per
:class:`~bot.reminders.errors.Problem`, all in this one place, translated through the catalog
(the core itself has no words).

Each answer says what was not understood and shows an example that works. The core gives the
readings of an ambiguous phrase as data (a :class:`~bot.reminders.errors.CalendarDay`, a ``time``,
a :class:`~bot.reminders.errors.Part`); they are worded here, dates and times formatted by Babel
with a pattern each catalog chooses.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from babel.dates import format_date, format_datetime, format_time

from bot.i18n import N_, _, current_locale
from bot.reminders.duration import format_duration
from bot.reminders.errors import CalendarDay, Part, Problem, ReminderInputError

EXAMPLES = N_(
    "Examples: /remind in 10 minutes stretch, /remind tomorrow 9am standup, /remind 明天早上9点 "
    "开会"
)
TIMER_EXAMPLES = N_("Examples: /timer 90 (seconds), /timer 5m tea, /timer 1h30m, /timer 半小时")
REPEAT_EXAMPLES = N_("Examples: /remind every monday 10:00 report, /remind 每天早上8点 吃药")
ZONE_EXAMPLES = N_("Examples: /tz Europe/Berlin, /tz Asia/Shanghai")

#: Each problem's sentence and the examples shown after it (translated separately, shared).
_WORDS: dict[Problem, tuple[str, str | None]] = {
    Problem.EMPTY: (N_("Say when and what."), EXAMPLES),
    Problem.NO_WHEN: (N_("I could not find a time in “{text}”."), EXAMPLES),
    Problem.NOT_UNDERSTOOD: (N_("I don't understand “{part}”."), EXAMPLES),
    Problem.TIME_IN_TEXT: (
        N_(
            "There is a second time, “{part}”, inside the text; I won't guess which one you mean. "
            "Example: /remind tomorrow 5pm call mom"
        ),
        None,
    ),
    Problem.FOREIGN_DIGITS: (N_("Please use the digits 0-9."), EXAMPLES),
    Problem.BAD_TIME: (
        N_("“{part}” is not a time of day. Examples: 18:30, 6pm, 凌晨2点, 下午3点."),
        None,
    ),
    Problem.BAD_DATE: (
        N_("“{part}” is not a date in the calendar. Examples: dec 24, 2026-12-24, 12月24日."),
        None,
    ),
    Problem.AMBIGUOUS_DATE: (
        N_("“{part}” could be {first} or {second}. Examples: 11 dec, 2026-12-11."),
        None,
    ),
    Problem.AMBIGUOUS_TIME: (
        N_("“{part}” could be {first} or {second}. Examples: 5am, 5pm, 17:00, 下午5点."),
        None,
    ),
    Problem.AMBIGUOUS_MIDNIGHT: (
        N_(
            "“{part}” could be the start or the end of that day. Examples: saturday 00:00, friday "
            "23:59."
        ),
        None,
    ),
    Problem.AMBIGUOUS_ZONE: (
        N_(
            "“{part}” is the name of more than one time zone ({readings}). Example: at 15:00 "
            "Asia/Shanghai."
        ),
        None,
    ),
    Problem.UNKNOWN_ZONE: (
        N_("“{part}” is not a time zone I know. Examples: UTC, GMT+8, Europe/London."),
        None,
    ),
    Problem.IN_THE_PAST: (N_("That is in the past ({when}); pick a time to come."), EXAMPLES),
    Problem.PASSED_THIS_WEEK: (
        N_("“{part}” has already passed this week. Example: next monday 10:00."),
        None,
    ),
    Problem.CONFLICT: (N_("The time gives the {part} twice; give it once."), EXAMPLES),
    Problem.MISMATCH: (
        N_("“{first}” and “{second}” do not fit together; give one of them."),
        EXAMPLES,
    ),
    Problem.UNKNOWN_UNIT: (
        N_("“{part}” has a unit I don't know. Examples: in 2 weeks, in 3 months, 两周后."),
        None,
    ),
    Problem.UNIT_MISSING: (N_("“{part}” needs a unit. Examples: in 90 minutes, 90分钟后."), None),
    Problem.NOT_POSITIVE: (N_("The duration must be more than zero."), TIMER_EXAMPLES),
    Problem.NEGATIVE: (N_("A duration cannot be negative."), TIMER_EXAMPLES),
    Problem.NO_DURATION: (N_("Say how long."), TIMER_EXAMPLES),
    Problem.DURATION_NOT_UNDERSTOOD: (
        N_("I don't understand the duration “{part}”."),
        TIMER_EXAMPLES,
    ),
    Problem.TIMER_TOO_LONG: (
        N_(
            "That is too long for a timer. Use /remind with a date instead. Example: /remind "
            "2026-12-24 18:00 dinner"
        ),
        None,
    ),
    Problem.TOO_FAR: (
        N_(
            "That is more than the longest allowed, {days} days. Example: /remind in 3 months renew"
        ),
        None,
    ),
    Problem.REPEAT_TOO_OFTEN: (
        N_("The shortest repeat is every {minimum}; “{part}” is more often than that."),
        REPEAT_EXAMPLES,
    ),
    Problem.REPEAT_NOT_UNDERSTOOD: (N_("I don't understand the repeat “{part}”."), REPEAT_EXAMPLES),
    Problem.REPEAT_ENDS_BEFORE_START: (
        N_(
            "The repeat would end ({until}) before it first rings. Example: /remind every day 9:00 "
            "until 2027-01-31 pills"
        ),
        None,
    ),
    Problem.BAD_CRON: (
        N_(
            "“{part}” is not a cron expression I can run (five fields: minute hour day month "
            "weekday; not both a day and a weekday). Example: /remind cron 0 9 * * 1-5 standup"
        ),
        None,
    ),
    Problem.LABEL_CONTROL: (
        N_("The text has invisible control characters; please type it again without them."),
        None,
    ),
    Problem.LABEL_TOO_LONG: (
        N_("The text is too long ({length} characters; the limit is {limit})."),
        None,
    ),
    Problem.TOO_MANY_PENDING: (
        N_(
            "You already have {pending} pending timers and reminders, the most allowed ({limit}). "
            "Cancel some first: /timers"
        ),
        None,
    ),
    Problem.BAD_ZONE_NAME: (N_("“{name}” is not a time zone I know."), ZONE_EXAMPLES),
    Problem.NO_SUCH_REMINDER: (N_("That reminder no longer exists. See /timers"), None),
    Problem.BAD_SNOOZE: (N_("Snooze for 5m, 1h or tomorrow."), None),
}


#: The parts of a time phrase, as the core names them in CONFLICT / MISMATCH.
_PART_NAMES = {
    Part.OFFSET: N_("duration (in …)"),
    Part.DAY: N_("day"),
    Part.TIME: N_("time of day"),
    Part.ZONE: N_("zone"),
    Part.REPEAT: N_("repeat"),
    Part.UNTIL: N_("end date"),
    Part.COUNT: N_("number of times"),
}

#: CLDR patterns for the readings of an ambiguous date (``12 November`` / ``11月12日``): each
#: catalog gives the order and words its readers expect.
DAY_MONTH = N_("d MMMM")
DAY_MONTH_YEAR = N_("d MMMM y")
#: A time of day, a date and a moment, as every message shows them (digits, 24-hour).
TIME = "HH:mm"
DATE = "yyyy-MM-dd"
MOMENT = "yyyy-MM-dd HH:mm"


def _value(value: Any) -> str:
    """A parameter of the core, in the reader's language (the person's own words as they are)."""
    locale = current_locale()
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, Part):
        return _(_PART_NAMES[value])
    if isinstance(value, CalendarDay):
        pattern = _(DAY_MONTH) if value.year is None else _(DAY_MONTH_YEAR)
        return format_date(date(value.year or 2000, value.month, value.day), pattern, locale=locale)
    if isinstance(value, datetime):  # before date: a datetime is a date too
        return format_datetime(value, MOMENT, locale=locale)
    if isinstance(value, date):
        return format_date(value, DATE, locale=locale)
    if isinstance(value, time):
        return format_time(value, TIME, locale=locale)
    if isinstance(value, tuple | list):
        return _(" or ").join(_value(v) for v in value)
    return str(value)


def explain(error: ReminderInputError) -> str:
    """The sentence for ``error``, with its parameters filled in."""
    sentence, examples = _WORDS[error.problem]
    text = _(sentence).format(**{key: _value(value) for key, value in error.params.items()})
    return (
        _("{sentence} {examples}").format(sentence=text, examples=_(examples)) if examples else text
    )


#: ``/help remind``: the short version of docs/time-phrases.md.
HELP_REMIND = N_("""/remind WHEN TEXT — or TEXT WHEN. Examples:
in 10 minutes stretch · call mom in 2 hours · at 6pm dinner · tomorrow 9am standup
friday 17:00 · next monday 10:00 · dec 24 18:00 · 24.12. · the 15th · 2026-12-24 18:00
every day 9:00 pills · every monday wednesday friday 7am gym · weekdays 8:30
every other wednesday 10:00 · every month on the last day rent · every year on dec 24
every day 9:00 until 2027-01-31 · every 2 hours for 5 times · cron 0 9 * * 1-5 standup
at 15:00 UTC · tomorrow 10:00 Europe/London · GMT+8
10分钟后喝水 · 明天早上9点开会 · 下午3点半 · 周五下午5点 · 下周一10:00 · 12月24日18:00
每天早上8点吃药 · 每周一三五 · 工作日9点 · 每月1号 · 每月最后一天 · 每隔两周 · 每30分钟
A date without a time rings at 09:00; morning 09:00, afternoon 15:00, evening 18:00,
tonight 20:00, eod 17:00. Every confirmation shows the day, date, time and zone understood.
All forms: docs/time-phrases.md""")
