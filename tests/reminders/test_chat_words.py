"""The chat layer's side of the grammar: the confirmation's absolute date, and a countdown edit
that Telegram reports as "not modified" is not an error (it is not a grammar refusal either)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from telegram.error import BadRequest

from bot.telegram.reminder_notifier import ReminderNotifier
from bot.telegram.reminder_status import absolute_when


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
