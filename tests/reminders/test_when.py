"""Reminder times: each form, DST edges, "past today means tomorrow", and a property test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.reminders.errors import ReminderInputError
from bot.reminders.recurrence import Recurrence
from bot.reminders.when import parse_when

BERLIN = ZoneInfo("Europe/Berlin")
#: Friday 2026-03-27, 18:00 in Berlin (17:00 UTC); DST starts Sunday 2026-03-29 at 02:00.
NOW = datetime(2026, 3, 27, 17, 0, tzinfo=UTC)


def local(text: str, now: datetime = NOW, zone: ZoneInfo = BERLIN):
    plan = parse_when(text, now, zone)
    return plan.due.astimezone(zone).strftime("%Y-%m-%d %H:%M %a"), plan.text, plan.recurrence


@pytest.mark.parametrize(("text", "due", "rest"), [
    ("in 10m stretch", "2026-03-27 18:10 Fri", "stretch"),
    ("in 1h 30m walk", "2026-03-27 19:30 Fri", "walk"),
    ("at 18:30 call mom", "2026-03-27 18:30 Fri", "call mom"),
    ("at 17:30 call mom", "2026-03-28 17:30 Sat", "call mom"),  # past today → tomorrow
    ("at 19 dinner", "2026-03-27 19:00 Fri", "dinner"),
    ("tomorrow 9am standup", "2026-03-28 09:00 Sat", "standup"),
    ("tomorrow at 9:15 standup", "2026-03-28 09:15 Sat", "standup"),
    ("friday 5pm", "2026-04-03 17:00 Fri", ""),  # 5pm today has passed → next Friday
    ("friday 7pm beers", "2026-03-27 19:00 Fri", "beers"),
    ("monday 10:00 report", "2026-03-30 10:00 Mon", "report"),
    ("2026-12-24 18:00 dinner", "2026-12-24 18:00 Thu", "dinner"),
    ("9am gym", "2026-03-28 09:00 Sat", "gym"),
    ("noon lunch", "2026-03-28 12:00 Sat", "lunch"),
    ("december 24 6pm party", "2026-12-24 18:00 Thu", "party"),
])
def test_one_off_forms(text: str, due: str, rest: str) -> None:
    got_due, got_rest, recurrence = local(text)
    assert (got_due, got_rest, recurrence) == (due, rest, None)


def test_at_across_spring_forward_keeps_wall_time() -> None:
    # Saturday 2026-03-28 12:00 Berlin; "tomorrow 9am" is after the clocks go forward: 07:00 UTC.
    plan = parse_when("tomorrow 9am x", datetime(2026, 3, 28, 11, 0, tzinfo=UTC), BERLIN)
    assert plan.due == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)


def test_nonexistent_wall_time_rings_after_the_gap() -> None:
    plan = parse_when("tomorrow 2:30 x", datetime(2026, 3, 28, 11, 0, tzinfo=UTC), BERLIN)
    assert plan.due.astimezone(BERLIN).strftime("%H:%M") == "03:30"


@pytest.mark.parametrize(("text", "spec", "first"), [
    ("every day 9:00 pills", "day 09:00", "2026-03-28 09:00 Sat"),
    ("every monday 10:00 report", "mon 10:00", "2026-03-30 10:00 Mon"),
    ("every weekday 8:30 bus", "weekday 08:30", "2026-03-30 08:30 Mon"),
    ("every 2h water", "every 7200", "2026-03-27 20:00 Fri"),
])
def test_recurring_forms(text: str, spec: str, first: str) -> None:
    due, _, recurrence = local(text)
    assert recurrence.spec() == spec and due == first
    assert Recurrence.from_spec(spec) == recurrence


def test_daily_recurrence_keeps_wall_time_across_dst() -> None:
    daily = Recurrence.from_spec("day 09:00")
    first = daily.next_after(NOW, BERLIN)
    second = daily.next_after(first, BERLIN)
    third = daily.next_after(second, BERLIN)
    assert [d.astimezone(BERLIN).strftime("%d %H:%M") for d in (first, second, third)] == ["28 09:00", "29 09:00", "30 09:00"]
    assert second - first == timedelta(hours=23)  # the short day
    # And in autumn, the long day.
    autumn = datetime(2026, 10, 23, 12, 0, tzinfo=UTC)  # clocks go back on the 25th
    a, b = daily.next_after(autumn, BERLIN), daily.next_after(daily.next_after(autumn, BERLIN), BERLIN)
    assert b - a == timedelta(hours=25)


def test_interval_recurrence_does_not_drift_with_lateness() -> None:
    every = Recurrence(interval=3600)
    anchor = NOW
    assert every.next_after(NOW + timedelta(minutes=3), BERLIN, anchor=anchor) == NOW + timedelta(hours=1)
    assert every.next_after(NOW + timedelta(hours=5, minutes=1), BERLIN, anchor=anchor) == NOW + timedelta(hours=6)


@pytest.mark.parametrize(("text", "says"), [
    ("", "when and what"), ("whenever x", "“whenever x”"), ("at 25:00 x", "at 25:00"),
    ("every 1m spam", "shortest repeat"), ("every day spam", "what time"), ("2026-02-30 x", "not a date"),
    ("2020-01-01 x", "in the past"), ("in ٣m x", "digits 0-9"), ("in soon x", "in soon"), ("every", "Every what"),
])
def test_refusals_name_the_part(text: str, says: str) -> None:
    with pytest.raises(ReminderInputError) as error:
        parse_when(text, NOW, BERLIN)
    assert says in str(error.value)


_words = st.sampled_from(["in", "at", "every", "tomorrow", "friday", "day", "9am", "18:30", "10m", "2h",
                          "2026-12-24", "x", "-1", "0", "99999999999", "٣", "noon", "weekday", ":", "am"])


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.lists(_words, max_size=5).map(" ".join), st.text(max_size=30)))
def test_any_input_is_in_the_future_or_a_clear_error(text: str) -> None:
    try:
        plan = parse_when(text, NOW, BERLIN)
    except ReminderInputError as error:
        assert 0 < len(str(error)) < 300
    else:
        assert plan.due > NOW
