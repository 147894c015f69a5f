"""A repeat (:class:`~bot.reminders.recurrence.Recurrence`) in the reader's language.

In English it is the grammar's own phrase (``every monday wednesday at 10:00``), which reads back
as a command; other languages word it from its parts through the catalog
(``每星期一、星期三 10:00``), with day and month names from Babel.
"""

from __future__ import annotations

from babel.dates import get_day_names, get_month_names
from babel.lists import format_list

from bot import i18n
from bot.i18n import _, ngettext
from bot.reminders.recurrence import Recurrence, Unit
from bot.reminders.repeat_phrase import phrase


def _days(weekdays: tuple[int, ...]) -> str:
    names = get_day_names("wide", locale=i18n.current_locale())
    if weekdays == (0, 1, 2, 3, 4):
        return _("weekday")
    if weekdays == (5, 6):
        return _("weekend day")
    return format_list([names[d] for d in weekdays], locale=i18n.current_locale())


def _at(rec: Recurrence) -> str:
    return _(" at {time}").format(time=rec.at.strftime("%H:%M")) if rec.at else ""


def _month_day(rec: Recurrence) -> str:
    names = get_day_names("wide", locale=i18n.current_locale())
    if rec.nth is not None:
        n, weekday = rec.nth
        if n == -1:
            return _("the last {weekday}").format(weekday=names[weekday])
        return _("the {n}. {weekday}").format(n=n, weekday=names[weekday])
    if rec.monthday == -1:
        return _("the last day")
    return _("day {n}").format(n=rec.monthday or 1)


def repeat_text(rec: Recurrence) -> str:
    """How often ``rec`` rings, for confirmations, ``/timers`` and rings."""
    if i18n.current().code == i18n.DEFAULT:
        return phrase(rec)
    at, n = _at(rec), rec.every
    if rec.unit is Unit.INTERVAL:
        seconds = int(rec.seconds)
        if seconds % 3600 == 0:
            text = _("every {n} hours").format(n=seconds // 3600)
        elif seconds % 60 == 0:
            text = _("every {n} minutes").format(n=seconds // 60)
        else:
            text = _("every {n} seconds").format(n=seconds)
    elif rec.unit is Unit.DAY:
        text = (_("every day{at}") if n == 1 else _("every {n} days{at}")).format(n=n, at=at)
    elif rec.unit is Unit.WEEK:
        days = _days(rec.weekdays)
        text = (_("every {days}{at}") if n == 1 else _("every {n} weeks on {days}{at}")).format(
            n=n, days=days, at=at
        )
    elif rec.unit is Unit.MONTH:
        day = _month_day(rec)
        text = (
            _("every month on {day}{at}") if n == 1 else _("every {n} months on {day}{at}")
        ).format(n=n, day=day, at=at)
    elif rec.unit is Unit.YEAR:
        month = get_month_names("abbreviated", locale=i18n.current_locale())[rec.month or 1]
        text = _("every year on {month} {day}{at}").format(month=month, day=rec.monthday, at=at)
    else:
        text = _("cron {expression}").format(expression=rec.cron)
    if rec.until is not None:
        text += _(" until {date}").format(date=rec.until.isoformat())
    if rec.count is not None:
        text += ngettext(" for {n} time", " for {n} times", rec.count).format(n=rec.count)
    return text
