"""The chat layer's side of the grammar: the confirmation's absolute date, a countdown edit
that Telegram reports as "not modified" is not an error, and the readings of an ambiguous phrase
worded in the reader's language."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
from telegram.error import BadRequest

from bot.i18n import use
from bot.reminders.errors import CalendarDay, Part, ReminderInputError
from bot.reminders.when import parse_when
from bot.telegram.reminder_notifier import ReminderNotifier
from bot.telegram.reminder_status import absolute_when
from bot.telegram.reminder_words import explain


def test_the_confirmation_date_is_absolute_with_weekday_and_zone() -> None:
    due = datetime(2026, 12, 24, 10, 0, tzinfo=UTC)
    assert absolute_when(due, "Asia/Shanghai") == "Thu 2026-12-24 18:00 (Asia/Shanghai)"
    assert absolute_when(due, "Etc/GMT-8") == "Thu 2026-12-24 18:00 (GMT+8)"


class _Bot:
    async def edit_message_text(self, *args, **kwargs):
        raise BadRequest("Message is not modified: specified new message content is the same")


class _App:
    bot = _Bot()


def test_a_not_modified_edit_is_quietly_ignored() -> None:
    asyncio.run(ReminderNotifier(_App(), None, None).edit_status(1, 2, "same"))


NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def _refusal(phrase: str, lang: str) -> str:
    with pytest.raises(ReminderInputError) as refused:
        parse_when(phrase, NOW, ZoneInfo("Asia/Shanghai"))
    with use(lang):
        return explain(refused.value)


@pytest.mark.parametrize(
    "phrase,readings",
    [
        ("12/11 付房租", ("11月12日", "12月11日")),
        ("12/11/2027 付房租", ("2027年11月12日", "2027年12月11日")),
        ("at 5 call mom", ("05:00", "17:00")),
        ("in 2 hours at 10am x", ("时长", "时刻")),
        ("every 2 hours at 10am x", ("重复", "时刻")),
    ],
)
def test_a_chinese_reply_to_an_ambiguous_phrase_has_no_english_words(phrase: str, readings) -> None:
    """The core gives the readings as data (days, times, parts of a phrase); the chat layer words
    them in the reader's language. Only the person's own words, quoted, stay as they wrote them
    (and command names: /remind)."""
    answer = _refusal(phrase, "zh")
    assert all(reading in answer for reading in readings), answer
    words_of_ours = re.sub(r"“[^”]*”|/[a-z]+", "", answer)
    assert not re.search(r"[A-Za-z]", words_of_ours), answer


def test_the_english_reply_words_the_same_readings_in_english() -> None:
    assert "12 November or 11 December" in _refusal("12/11 x", "en")
    assert "12 November 2027 or 11 December 2027" in _refusal("12/11/2027 x", "en")
    assert "05:00 or 17:00" in _refusal("at 5 call", "en")
    assert "“duration (in …)” and “time of day”" in _refusal("in 2 hours at 10am x", "en")


def test_readings_are_data_not_words() -> None:
    with pytest.raises(ReminderInputError) as date_refused:
        parse_when("12/11 x", NOW, ZoneInfo("UTC"))
    assert date_refused.value.params["first"] == CalendarDay(month=11, day=12)
    assert date_refused.value.params["second"] == CalendarDay(month=12, day=11)
    with pytest.raises(ReminderInputError) as time_refused:
        parse_when("at 5 x", NOW, ZoneInfo("UTC"))
    assert (time_refused.value.params["first"], time_refused.value.params["second"]) == (
        time(5),
        time(17),
    )
    with pytest.raises(ReminderInputError) as mismatch:
        parse_when("in 2 hours at 10am x", NOW, ZoneInfo("UTC"))
    assert (mismatch.value.params["first"], mismatch.value.params["second"]) == (
        Part.OFFSET,
        Part.TIME,
    )
