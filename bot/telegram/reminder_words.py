"""How the reminder core's refusals read in the chat: one English sentence per
:class:`~bot.reminders.errors.Problem`, all in this one place so that a later gettext catalog
can translate them (the core itself has no words).

Each answer says what was not understood and shows an example that works.
"""

from __future__ import annotations

from datetime import timedelta

from bot.reminders.duration import format_duration
from bot.reminders.errors import Problem, ReminderInputError

EXAMPLES = "Examples: /remind in 10 minutes stretch, /remind tomorrow 9am standup, /remind 明天早上9点 开会"
TIMER_EXAMPLES = "Examples: /timer 90 (seconds), /timer 5m tea, /timer 1h30m, /timer 半小时"
REPEAT_EXAMPLES = "Examples: /remind every monday 10:00 report, /remind 每天早上8点 吃药"
ZONE_EXAMPLES = "Examples: /tz Europe/Berlin, /tz Asia/Shanghai"

_WORDS: dict[Problem, str] = {
    Problem.EMPTY: "Say when and what. " + EXAMPLES,
    Problem.NO_WHEN: "I could not find a time in “{text}”. " + EXAMPLES,
    Problem.NOT_UNDERSTOOD: "I don't understand “{part}”. " + EXAMPLES,
    Problem.TIME_IN_TEXT: "There is a second time, “{part}”, inside the text; I won't guess which "
                          "one you mean. Example: /remind tomorrow 5pm call mom",
    Problem.FOREIGN_DIGITS: "Please use the digits 0-9. " + EXAMPLES,
    Problem.BAD_TIME: "“{part}” is not a time of day. Examples: 18:30, 6pm, 凌晨2点, 下午3点.",
    Problem.BAD_DATE: "“{part}” is not a date in the calendar. Examples: dec 24, 2026-12-24, 12月24日.",
    Problem.AMBIGUOUS_DATE: "“{part}” could be {first} or {second}. Examples: 11 dec, 2026-12-11.",
    Problem.AMBIGUOUS_TIME: "“{part}” could be {first} or {second}. Examples: 5am, 5pm, 17:00, 下午5点.",
    Problem.AMBIGUOUS_MIDNIGHT: "“{part}” could be the start or the end of that day. Examples: "
                                "saturday 00:00, friday 23:59.",
    Problem.AMBIGUOUS_ZONE: "“{part}” is the name of more than one time zone ({readings}). "
                            "Example: at 15:00 Asia/Shanghai.",
    Problem.UNKNOWN_ZONE: "“{part}” is not a time zone I know. Examples: UTC, GMT+8, Europe/London.",
    Problem.IN_THE_PAST: "That is in the past ({when}); pick a time to come. " + EXAMPLES,
    Problem.PASSED_THIS_WEEK: "“{part}” has already passed this week. Example: next monday 10:00.",
    Problem.CONFLICT: "The time gives the {part} twice; give it once. " + EXAMPLES,
    Problem.MISMATCH: "“{first}” and “{second}” do not fit together; give one of them. " + EXAMPLES,
    Problem.UNKNOWN_UNIT: "“{part}” has a unit I don't know. Examples: in 2 weeks, in 3 months, 两周后.",
    Problem.UNIT_MISSING: "“{part}” needs a unit. Examples: in 90 minutes, 90分钟后.",
    Problem.NOT_POSITIVE: "The duration must be more than zero. " + TIMER_EXAMPLES,
    Problem.NEGATIVE: "A duration cannot be negative. " + TIMER_EXAMPLES,
    Problem.NO_DURATION: "Say how long. " + TIMER_EXAMPLES,
    Problem.DURATION_NOT_UNDERSTOOD: "I don't understand the duration “{part}”. " + TIMER_EXAMPLES,
    Problem.TIMER_TOO_LONG: "That is too long for a timer. Use /remind with a date instead. "
                            "Example: /remind 2026-12-24 18:00 dinner",
    Problem.TOO_FAR: "That is more than the longest allowed, {days} days. Example: /remind in 3 months renew",
    Problem.REPEAT_TOO_OFTEN: "The shortest repeat is every {minimum}; “{part}” is more often than "
                              "that. " + REPEAT_EXAMPLES,
    Problem.REPEAT_NOT_UNDERSTOOD: "I don't understand the repeat “{part}”. " + REPEAT_EXAMPLES,
    Problem.REPEAT_ENDS_BEFORE_START: "The repeat would end ({until}) before it first rings. "
                                      "Example: /remind every day 9:00 until 2027-01-31 pills",
    Problem.BAD_CRON: "“{part}” is not a cron expression I can run (five fields: minute hour day "
                      "month weekday; not both a day and a weekday). Example: /remind cron 0 9 * * 1-5 standup",
    Problem.LABEL_CONTROL: "The text has invisible control characters; please type it again without them.",
    Problem.LABEL_TOO_LONG: "The text is too long ({length} characters; the limit is {limit}).",
    Problem.TOO_MANY_PENDING: "You already have {pending} pending timers and reminders, the most "
                              "allowed ({limit}). Cancel some first: /timers",
    Problem.BAD_ZONE_NAME: "“{name}” is not a time zone I know. " + ZONE_EXAMPLES,
    Problem.NO_SUCH_REMINDER: "That reminder no longer exists. See /timers",
    Problem.BAD_SNOOZE: "Snooze for 5m, 1h or tomorrow.",
}


#: The parts of a time phrase, as the core names them in CONFLICT / MISMATCH.
_PART_NAMES = {"offset": "duration (in …)", "day": "day", "time": "time of day", "zone": "zone",
               "repeat": "repeat", "until": "end date", "count": "number of times"}


def _value(value) -> str:
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, tuple | list):
        return " or ".join(str(v) for v in value)
    return _PART_NAMES.get(str(value), str(value))


def explain(error: ReminderInputError) -> str:
    """The sentence for ``error``, with its parameters filled in."""
    template = _WORDS[error.problem]
    return template.format(**{key: _value(value) for key, value in error.params.items()})


#: ``/help remind``: the short version of docs/time-phrases.md.
HELP_REMIND = """/remind WHEN TEXT — or TEXT WHEN. Examples:
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
All forms: docs/time-phrases.md"""
