"""Recurrence edges: month clipping, the n-th weekday, yearly Feb 29, anchors of "every N", ends,
and cron's weekday numbering (APScheduler 3 counts from Monday, cron from Sunday)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bot.reminders.recurrence import Recurrence, Unit, cron_weekdays

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 1, 1, tzinfo=UTC)


def days(recurrence: Recurrence, n: int, after: datetime = START) -> list[str]:
    got, current = [], after
    for _ in range(n):
        current = recurrence.next_after(current, SHANGHAI, anchor=current)
        if current is None:
            break
        got.append(f"{current.astimezone(SHANGHAI):%Y-%m-%d}")
    return got


def test_the_31st_clips_to_each_months_last_day() -> None:
    assert days(Recurrence(Unit.MONTH, at=time(9), monthday=31), 4) == [
        "2026-01-31",
        "2026-02-28",
        "2026-03-31",
        "2026-04-30",
    ]


def test_a_fifth_weekday_skips_months_without_one() -> None:
    # Fifth Friday: January 2026 has one (30th), February and March do not, May has (29th).
    assert days(Recurrence(Unit.MONTH, at=time(9), nth=(5, 4)), 2) == ["2026-01-30", "2026-05-29"]


def test_last_weekday_of_the_month() -> None:
    assert days(Recurrence(Unit.MONTH, at=time(9), nth=(-1, 0)), 3) == [
        "2026-01-26",
        "2026-02-23",
        "2026-03-30",
    ]


def test_february_29_rings_on_the_28th_in_common_years() -> None:
    assert days(Recurrence(Unit.YEAR, at=time(9), month=2, monthday=29), 3) == [
        "2026-02-28",
        "2027-02-28",
        "2028-02-29",
    ]


def test_every_two_weeks_counts_from_the_first_ring() -> None:
    first = datetime(2026, 1, 7, 1, 0, tzinfo=UTC)  # Wed 09:00 in Shanghai
    every_other = Recurrence(Unit.WEEK, at=time(9), weekdays=(2,), every=2, first=first.timestamp())
    assert days(every_other, 3) == ["2026-01-07", "2026-01-21", "2026-02-04"]


def test_ends_until_and_count() -> None:
    daily = Recurrence(Unit.DAY, at=time(9), until=date(2026, 1, 3))
    assert days(daily, 10) == ["2026-01-01", "2026-01-02", "2026-01-03"]
    first = datetime(2026, 1, 1, 1, 0, tzinfo=UTC)
    counted = Recurrence(Unit.DAY, at=time(9), count=2, first=first.timestamp())
    assert days(counted, 10) == ["2026-01-01", "2026-01-02"]
    assert Recurrence.from_spec(counted.spec()) == counted


@pytest.mark.parametrize(
    ("field", "names"),
    [
        ("1-5", "mon,tue,wed,thu,fri"),
        ("0", "sun"),
        ("7", "sun"),
        ("0,6", "sun,sat"),
        ("*/2", "sun,tue,thu,sat"),
        ("mon-fri", "mon,tue,wed,thu,fri"),
        ("*", "*"),
    ],
)
def test_cron_weekdays_are_cron_numbers(field: str, names: str) -> None:
    assert cron_weekdays(field) == names


@pytest.mark.parametrize("field", ["8", "5-1", "x", "1/0"])
def test_cron_weekdays_refuse_what_cron_would(field: str) -> None:
    with pytest.raises((ValueError, KeyError)):
        cron_weekdays(field)


def test_cron_weekday_one_is_monday() -> None:
    weekly = Recurrence(Unit.CRON, cron="0 9 * * 1")
    assert days(weekly, 2) == ["2026-01-05", "2026-01-12"]  # Mondays
