"""Dates and times in the reader's language, formatted by Babel from CLDR data.

``18:00`` today, ``Thu 18:00`` / ``周四 18:00`` within the week, ``Thu, Dec 24 18:00`` /
``12月24日周四 18:00`` beyond (with the year when it is another year). One place, so that the
countdown, the confirmations, ``/timers`` and the notes about missed rings agree.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, format_skeleton

from bot.i18n import N_, _, current_locale

#: A full date and time, never relative (a confirmation that shows at once a misreading).
#: A CLDR pattern: each catalog gives the order and words its readers expect.
ABSOLUTE = N_("EEE yyyy-MM-dd HH:mm")


def _local(moment: datetime, zone: str | ZoneInfo) -> datetime:
    return moment.astimezone(zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone))


def clock(moment: datetime, zone: str | ZoneInfo) -> str:
    """``18:00`` (24-hour, as every message shows times)."""
    return format_datetime(_local(moment, zone), "HH:mm", locale=current_locale())


def short(moment: datetime, zone: str | ZoneInfo, now: datetime | None = None) -> str:
    """As near as it is: a time today, a weekday and time within six days, else a date."""
    local, today = _local(moment, zone), _local(now or datetime.now(UTC), zone)
    locale = current_locale()
    time = format_datetime(local, "HH:mm", locale=locale)
    if local.date() == today.date():
        return time
    if timedelta(0) < local - today < timedelta(days=6):
        return f"{format_datetime(local, 'EEE', locale=locale)} {time}"
    skeleton = "MMMEd" if local.year == today.year else "yMMMEd"
    return f"{format_skeleton(skeleton, local, locale=locale)} {time}"


def absolute(moment: datetime, zone: str | ZoneInfo) -> str:
    """``Thu 2026-12-24 18:00`` / ``2026年12月24日 周四 18:00``."""
    return format_datetime(_local(moment, zone), _(ABSOLUTE), locale=current_locale())
