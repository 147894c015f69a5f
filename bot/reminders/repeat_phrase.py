"""A repeat in the grammar's own English (``every 2 weeks on monday at 09:00``): the inverse of
:mod:`bot.reminders.repeats`, so that a phrase made here reads back to the same schedule (a test
walks every kind of repeat through both).

It names a repeat inside the core's refusals (``part``), and is what the chat layer shows when it
has no better words; people's own language is :mod:`bot.telegram.repeat_words`.
"""

from __future__ import annotations

from bot.reminders.recurrence import Recurrence, Unit

DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def phrase(rec: Recurrence) -> str:
    """``rec`` in the grammar's own English (``every 2 weeks on monday at 09:00``), which reads
    back to the same schedule."""
    at = f" at {rec.at:%H:%M}" if rec.at else ""
    if rec.unit is Unit.INTERVAL:
        seconds = int(rec.seconds)
        if seconds % 3600 == 0:
            text = f"every {seconds // 3600} hours"
        elif seconds % 60 == 0:
            text = f"every {seconds // 60} minutes"
        else:
            text = f"every {seconds} seconds"
    elif rec.unit is Unit.DAY:
        text = f"every {rec.every} days{at}" if rec.every > 1 else f"every day{at}"
    elif rec.unit is Unit.WEEK:
        named = {(0, 1, 2, 3, 4): "weekday", (5, 6): "weekend"}
        days = (rec.every == 1 and named.get(rec.weekdays)) or " ".join(
            DAY_NAMES[d].lower() for d in rec.weekdays
        )
        text = f"every {rec.every} weeks on {days}{at}" if rec.every > 1 else f"every {days}{at}"
    elif rec.unit is Unit.MONTH:
        if rec.nth is not None:
            n, weekday = rec.nth
            which = "last" if n == -1 else ordinal(n)
            what = f"the {which} {DAY_NAMES[weekday].lower()}"
        elif rec.monthday == -1:
            what = "the last day"
        else:
            what = f"the {ordinal(rec.monthday or 1)}"
        every = f"every {rec.every} months" if rec.every > 1 else "every month"
        text = f"{every} on {what}{at}"
    elif rec.unit is Unit.YEAR:
        text = f"every year on {MONTH_NAMES[(rec.month or 1) - 1].lower()} {rec.monthday}{at}"
    else:
        text = f"cron {rec.cron}"
    if rec.until is not None:
        text += f" until {rec.until.isoformat()}"
    if rec.count is not None:
        text += f" for {rec.count} times"
    return text


def ordinal(n: int) -> str:
    """``1st``, ``2nd``, ``11th``, ``23rd``."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
