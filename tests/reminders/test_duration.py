"""Timer durations: every documented form, and refusals that say what is wrong."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.reminders.duration import format_duration, parse_duration, split_duration
from bot.reminders.errors import ReminderInputError
from bot.telegram.reminder_words import explain


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("5", 5),
        ("90", 90),
        ("90s", 90),
        ("5m", 300),
        ("5 min", 300),
        ("5 minutes", 300),
        ("2h", 7200),
        ("1h30m", 5400),
        ("1h 30m", 5400),
        ("1d", 86400),
        ("1w", 604800),
        ("2.5m", 150),
        ("1:30", 90),
        ("1:30:00", 5400),
        ("0.5", 0.5),
        ("3 HOURS", 10800),
        ("５", 5),
        ("an hour", 3600),
        ("half an hour", 1800),
        ("2 hours and 30 minutes", 9000),
        ("5分钟", 300),
        ("半小时", 1800),
        ("1小时30分", 5400),
        ("一个半小时", 5400),
        ("一刻钟", 900),
        ("两周", 1209600),
    ],
)
def test_forms(text: str, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "how long"),
        ("0", "more than zero"),
        ("0m", "more than zero"),
        ("-5", "negative"),
        ("٣", "digits 0-9"),
        ("99999999999", "too long"),
        ("abc", "don't understand"),
        ("5m 3m", "don't understand"),
        ("1:70", "don't understand"),
        ("5 parsecs", "don't understand"),
    ],
)
def test_refusals(text: str, says: str) -> None:
    with pytest.raises(ReminderInputError) as error:
        parse_duration(text)
    assert says in explain(error.value)
    assert len(explain(error.value)) < 200


def test_split_takes_the_longest_duration_prefix() -> None:
    assert split_duration("5 min tea".split()) == (timedelta(minutes=5), ["tea"])
    assert split_duration("5 tea time".split()) == (timedelta(seconds=5), ["tea", "time"])
    assert split_duration("1h 30m pasta".split()) == (timedelta(minutes=90), ["pasta"])
    assert split_duration(["5分钟喝水"]) == (timedelta(minutes=5), ["喝水"])


def test_a_bare_number_then_a_chinese_label_is_seconds() -> None:
    """``/timer 2 泡茶`` reads like ``/timer 2 tea``; only a number glued to Chinese (an unknown
    unit, perhaps) is refused."""
    assert split_duration(["2", "泡茶"]) == (timedelta(seconds=2), ["泡茶"])
    with pytest.raises(ReminderInputError):
        split_duration(["5喝水"])


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (5, "5 sec"),
        (90, "1 min 30 sec"),
        (5400, "1 hr 30 min"),
        (3601, "1 hr 1 sec"),
        (90000, "1 day 1 hr"),
        (0, "0 sec"),
    ],
)
def test_format(seconds: float, text: str) -> None:
    assert format_duration(timedelta(seconds=seconds)) == text


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_any_input_is_a_positive_duration_or_a_clear_error(text: str) -> None:
    try:
        delta = parse_duration(text)
    except ReminderInputError as error:
        assert 0 < len(explain(error)) < 300
    else:
        assert timedelta(0) < delta <= timedelta(days=3660)
