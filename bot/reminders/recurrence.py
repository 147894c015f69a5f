"""Recurring schedules: what repeats (:class:`Recurrence`), when the next ring is, and the
stored form.

Calendar repeats (days, weeks, months, years) keep their wall-clock time in the reminder's zone:
a 9:00 reminder stays at 9:00 after the clocks change. A wall time that does not exist that day
(skipped by a spring-forward) rings at the same offset after the gap, as ``zoneinfo`` resolves
``fold=0``; a repeated one (autumn) rings once, the first time. Months clip to their last day
(``every month on the 31st`` rings on Feb 28/29). Interval repeats (``every 2 hours``) are a fixed
number of seconds apart and step from the previous due time, so they never drift. Cron
expressions are the standard five fields (Sunday is 0 or 7), run by APScheduler's CronTrigger.

The stored form (``reminders.recurrence``) is :meth:`Recurrence.spec`, a short text such as
``day 09:00``, ``week mon,wed 10:00 every=2 first=1795000000``, ``month -1 09:00``,
``every 7200``, ``cron 0 9 * * 1-5 until=2027-01-31``. Specs written by earlier releases
(``day 09:00``, ``weekday 08:30``, ``mon,fri 10:00``, ``every 7200``) still read.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from apscheduler.triggers.cron import CronTrigger

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
#: Most rings a "for N times" repeat may have (counting them walks the schedule).
MAX_COUNT = 1000


class Unit(StrEnum):
    INTERVAL = "every"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"
    CRON = "cron"


@dataclass(frozen=True)
class Recurrence:
    """A repeat. Which fields matter depends on ``unit``:

    - ``INTERVAL``: ``seconds`` apart;
    - ``DAY``: every ``every`` days at ``at``;
    - ``WEEK``: on ``weekdays`` (0 = Monday) of every ``every``-th week, at ``at``;
    - ``MONTH``: on ``monthday`` (1..31, -1 = the last day) or the ``nth`` weekday
      (``(2, 1)`` = 2nd Tuesday, ``(-1, 4)`` = last Friday) of every ``every``-th month;
    - ``YEAR``: on ``month`` / ``monthday`` every year;
    - ``CRON``: the five-field ``cron`` expression.

    ``first`` (UTC epoch seconds of the first ring) anchors ``every`` > 1 and ``count``;
    ``until`` (a local date, inclusive) and ``count`` (rings in all) end it.
    """

    unit: Unit
    at: time | None = None
    every: int = 1
    seconds: float = 0.0
    weekdays: tuple[int, ...] = ()
    monthday: int | None = None
    nth: tuple[int, int] | None = None
    month: int | None = None
    cron: str | None = None
    first: float | None = None
    until: date | None = None
    count: int | None = None

    # --- stored form ------------------------------------------------------------------------

    def spec(self) -> str:
        hhmm = self.at.strftime("%H:%M") if self.at else ""
        if self.unit is Unit.INTERVAL:
            head = f"every {self.seconds:g}"
        elif self.unit is Unit.DAY:
            head = f"day {hhmm}"
        elif self.unit is Unit.WEEK:
            head = f"week {','.join(DAYS[d] for d in self.weekdays)} {hhmm}"
        elif self.unit is Unit.MONTH:
            what = f"{self.nth[0]}{DAYS[self.nth[1]]}" if self.nth else str(self.monthday)
            head = f"month {what} {hhmm}"
        elif self.unit is Unit.YEAR:
            head = f"year {self.month:02d}-{self.monthday:02d} {hhmm}"
        else:
            head = f"cron {self.cron}"
        options = []
        if self.every != 1:
            options.append(f"every={self.every}")
        if self.first is not None and (self.every != 1 or self.count):
            options.append(f"first={self.first:.0f}")
        if self.until is not None:
            options.append(f"until={self.until.isoformat()}")
        if self.count is not None:
            options.append(f"count={self.count}")
        return " ".join([head, *options])

    @classmethod
    def from_spec(cls, spec: str) -> Recurrence:
        words, options = [], {}
        for word in spec.split():
            if "=" in word:
                key, _, value = word.partition("=")
                options[key] = value
            else:
                words.append(word)
        return replace(
            cls._from_head(words),
            every=int(options.get("every", 1)),
            first=float(options["first"]) if "first" in options else None,
            until=date.fromisoformat(options["until"]) if "until" in options else None,
            count=int(options["count"]) if "count" in options else None,
        )

    @classmethod
    def _from_head(cls, words: list[str]) -> Recurrence:
        """What repeats, from a spec's words before its ``key=value`` options."""
        head = words[0]
        if head == "every":
            return cls(Unit.INTERVAL, seconds=float(words[1]))
        if head == "cron":
            return cls(Unit.CRON, cron=" ".join(words[1:]))
        at = time.fromisoformat(words[-1])
        if head == "day":
            return cls(Unit.DAY, at=at)
        if head == "weekday":  # earlier releases
            return cls(Unit.WEEK, at=at, weekdays=(0, 1, 2, 3, 4))
        if head == "week":
            return cls(Unit.WEEK, at=at, weekdays=tuple(DAYS.index(d) for d in words[1].split(",")))
        if head == "month":
            what = words[1]
            if what[-1].isalpha():
                return cls(Unit.MONTH, at=at, nth=(int(what[:-3]), DAYS.index(what[-3:])))
            return cls(Unit.MONTH, at=at, monthday=int(what))
        if head == "year":
            month, day = (int(x) for x in words[1].split("-"))
            return cls(Unit.YEAR, at=at, month=month, monthday=day)
        # earlier releases: "mon,wed 10:00"
        return cls(Unit.WEEK, at=at, weekdays=tuple(DAYS.index(d) for d in head.split(",")))

    # --- the next ring ----------------------------------------------------------------------

    def next_after(
        self, after: datetime, zone: ZoneInfo, anchor: datetime | None = None
    ) -> datetime | None:
        """The first ring strictly after ``after`` (aware), as aware UTC; None once it has ended.

        Interval repeats step from ``anchor`` (the previous due time) so that they do not drift
        by the lateness of each ring.
        """
        after = after.astimezone(UTC)
        due: datetime | None
        if self.unit is Unit.INTERVAL:
            step = timedelta(seconds=self.seconds)
            base = anchor or (datetime.fromtimestamp(self.first, UTC) if self.first else after)
            if base > after:
                due = base.astimezone(UTC)
            else:
                due = (base + ((after - base) // step + 1) * step).astimezone(UTC)
        elif self.unit is Unit.CRON:
            due = self._cron_next(after, zone)
        else:
            due = self._calendar_next(after, zone)
        if due is None or not self._within_end(due, zone):
            return None
        return due

    def _within_end(self, due: datetime, zone: ZoneInfo) -> bool:
        if self.until is not None and due.astimezone(zone).date() > self.until:
            return False
        if self.count is not None and self.first is not None:
            return self._index(due, zone) < self.count
        return True

    def _index(self, due: datetime, zone: ZoneInfo) -> int:
        """How many rings come before ``due`` (0 for the first)."""
        first = datetime.fromtimestamp(self.first or 0, UTC)
        if self.unit is Unit.INTERVAL:
            return round((due - first) / timedelta(seconds=self.seconds))
        plain = replace(self, count=None, until=None)
        index, current = 0, first
        while current < due and index <= MAX_COUNT:
            following = plain.next_after(current, zone)
            if following is None:
                break
            current, index = following, index + 1
        return index

    def _candidate_days(self, start: date, origin: date) -> Iterator[date]:
        """Days that match, from ``start`` on, in order (bounded); ``origin`` is the first ring's
        local date, which ``every`` counts from."""
        if self.unit is Unit.DAY:
            day = start
            if self.every > 1 and self.first is not None:
                behind = (day - origin).days % self.every
                day += timedelta(days=(self.every - behind) % self.every)
            for _ in range(400):
                yield day
                day += timedelta(days=self.every)
        elif self.unit is Unit.WEEK:
            origin_week = (origin - timedelta(days=origin.weekday())).toordinal() // 7
            for offset in range(7 * self.every + 14):
                day = start + timedelta(days=offset)
                week = (day - timedelta(days=day.weekday())).toordinal() // 7
                if day.weekday() in self.weekdays and (week - origin_week) % self.every == 0:
                    yield day
        elif self.unit is Unit.MONTH:
            origin_index = origin.year * 12 + origin.month - 1
            index = start.year * 12 + start.month - 1
            for _ in range(12 * self.every + 24):
                year, month = divmod(index, 12)
                month += 1
                if (index - origin_index) % self.every == 0:
                    found = self._day_in_month(year, month)
                    if found is not None and found >= start:
                        yield found
                index += 1
        elif self.unit is Unit.YEAR:
            month, monthday = self.month or 1, self.monthday or 1
            for year in range(start.year, start.year + 9):
                last = calendar.monthrange(year, month)[1]
                day = date(year, month, min(monthday, last))
                if day >= start:
                    yield day

    def _day_in_month(self, year: int, month: int) -> date | None:
        last = calendar.monthrange(year, month)[1]
        if self.nth is not None:
            n, weekday = self.nth
            if n == -1:
                day = last - (date(year, month, last).weekday() - weekday) % 7
            else:
                day = 1 + (weekday - date(year, month, 1).weekday()) % 7 + 7 * (n - 1)
                if day > last:
                    return None
            return date(year, month, day)
        monthday = last if self.monthday == -1 else min(self.monthday or 1, last)
        return date(year, month, monthday)

    def _calendar_next(self, after: datetime, zone: ZoneInfo) -> datetime | None:
        at = self.at or time(9, 0)
        start = after.astimezone(zone).date()
        origin = (
            datetime.fromtimestamp(self.first, UTC).astimezone(zone).date() if self.first else start
        )
        for day in self._candidate_days(start, origin):
            due = datetime.combine(day, at, tzinfo=zone).astimezone(UTC)
            if due > after:
                return due
        return None

    def trigger(self, zone: ZoneInfo) -> CronTrigger:
        """APScheduler's CronTrigger for a cron repeat (day-of-week translated: APScheduler 3
        counts 0 as Monday, cron as Sunday)."""
        from apscheduler.triggers.cron import CronTrigger

        minute, hour, day, month, weekday = (self.cron or "").split()
        return CronTrigger(
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=cron_weekdays(weekday),
            timezone=zone,
        )

    def _cron_next(self, after: datetime, zone: ZoneInfo) -> datetime | None:
        due = self.trigger(zone).get_next_fire_time(None, after + timedelta(microseconds=1))
        return due.astimezone(UTC) if due is not None else None


def cron_weekdays(field: str) -> str:
    """A cron day-of-week field (``1-5``, ``0,6``, ``*/2``, ``mon-fri``) as APScheduler day names.

    Raises ValueError for what cron would not accept.
    """
    if field == "*":
        return "*"
    names = {name: i for i, name in enumerate(CRON_DAYS)}
    chosen: set[int] = set()
    for part in field.lower().split(","):
        body, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValueError(f"bad step in {part}")
        if body == "*":
            low, high = 0, 6
        else:
            low_text, _, high_text = body.partition("-")
            low = names[low_text] if low_text in names else int(low_text)
            high = (
                (names[high_text] if high_text in names else int(high_text)) if high_text else low
            )
            if step_text and not high_text:
                high = 6
        if not (0 <= low <= 7 and 0 <= high <= 7 and low <= high):
            raise ValueError(f"bad day of week {part}")
        chosen.update(d % 7 for d in range(low, high + 1, step))
    return ",".join(CRON_DAYS[d] for d in sorted(chosen))
