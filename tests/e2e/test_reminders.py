"""Timers and reminders end to end: the real ``errandbot run`` against the Bot API emulator.

Timing is read from the emulator's own clock (``Message.date`` is stamped when a message is
created), after waiting on a condition with a deadline; nothing sleeps and hopes.
"""

from __future__ import annotations

import re
import time

import pytest

from bot.sandbox.emulator import BotApiEmulator, Message
from tests.e2e.harness import GROUP, OTHER, USER, BotProcess

pytestmark = pytest.mark.timeout(60)


def _rings(emulator: BotApiEmulator, chat: int, command: Message) -> list[Message]:
    """Bot messages in ``chat`` that ring for ``command``: replies to it with snooze buttons."""
    return [
        m
        for m in emulator.bot_messages(chat)
        if m.reply_to == command.message_id
        and m.buttons
        and "snooze" in m.buttons[0]["callback_data"]
    ]


def _wait_rings(
    emulator: BotApiEmulator, chat: int, command: Message, count: int = 1, timeout: float = 10.0
) -> list[Message]:
    return emulator.wait_for(
        lambda: len(_rings(emulator, chat, command)) >= count and _rings(emulator, chat, command),
        timeout,
        f"{count} ring(s)",
    )


def _ref(text: str) -> str:
    return re.search(r"\bt\d+\b", text).group(0)


def test_timer_2_rings_two_seconds_later_as_a_new_message(
    emulator: BotApiEmulator, bot: BotProcess
) -> None:
    command = emulator.send_text(USER, USER, "/timer 2 tea")
    confirmation = emulator.wait_reply(USER, command)
    assert confirmation.text.startswith("⏳ 2 sec — rings at ") and "(UTC)" in confirmation.text
    assert confirmation.buttons[0]["text"] == "Cancel"
    ring = _wait_rings(emulator, USER, command)[0]
    assert abs(ring.date - command.date - 2.0) <= 0.5, ring.date - command.date
    assert ring.message_id != confirmation.message_id  # a new message, which notifies
    assert "tea" in ring.text and "late" not in ring.text
    assert [b["text"] for b in ring.buttons] == ["+5 min", "+1 h", "tomorrow"]
    # The confirmation stops being a countdown and says it rang.
    emulator.wait_for(
        lambda: "rang at" in emulator.get_message(USER, confirmation.message_id).text,
        5,
        "the confirmation to say it rang",
    )


def test_remind_list_and_cancel(emulator: BotApiEmulator, bot: BotProcess) -> None:
    tz = emulator.send_text(USER, USER, "/tz Europe/Berlin")
    assert "Europe/Berlin" in emulator.wait_reply(USER, tz).text
    command = emulator.send_text(USER, USER, "/remind in 10m stretch")
    confirmation = emulator.wait_reply(USER, command)
    assert "stretch" in confirmation.text and "(Europe/Berlin)" in confirmation.text
    ref = _ref(confirmation.text)

    listing = emulator.wait_reply(USER, emulator.send_text(USER, USER, "/timers"))
    assert ref in listing.text and "stretch" in listing.text

    cancel = emulator.send_text(USER, USER, f"/cancel {ref}")
    assert f"Cancelled {ref}" in emulator.wait_reply(USER, cancel).text
    after = emulator.wait_reply(USER, emulator.send_text(USER, USER, "/reminders"))
    assert ref not in after.text and "Nothing pending" in after.text

    bad = emulator.send_text(USER, USER, "/remind whenever stretch")
    answer = emulator.wait_reply(USER, bad).text
    assert "whenever" in answer and "Examples:" in answer


def test_group_cancel_member_refused_admin_allowed(
    emulator: BotApiEmulator, bot: BotProcess
) -> None:
    command = emulator.send_text(GROUP, USER, "/timer 1h standup")
    ref = _ref(emulator.wait_reply(GROUP, command).text)

    listing = emulator.wait_reply(GROUP, emulator.send_text(GROUP, OTHER, "/timers"))
    assert ref in listing.text  # in a group everyone sees the group's pending ones

    refused = emulator.send_text(GROUP, OTHER, f"/cancel {ref}")
    answer = emulator.wait_reply(GROUP, refused).text
    assert "Only @user42" in answer and "admin" in answer

    emulator.set_member_status(GROUP, OTHER, "administrator")
    allowed = emulator.send_text(GROUP, OTHER, f"/cancel {ref}")
    assert f"Cancelled {ref}" in emulator.wait_reply(GROUP, allowed).text


def test_group_ring_mentions_creator_and_snooze_button(
    emulator: BotApiEmulator, bot: BotProcess
) -> None:
    command = emulator.send_text(GROUP, USER, "/timer 1 pizza")
    ring = _wait_rings(emulator, GROUP, command)[0]
    assert "@user42" in ring.text and "pizza" in ring.text

    emulator.press_button(ring, USER, index=0)  # +5 min
    snoozed = emulator.wait_reply(GROUP, ring, contains="Snoozed")
    ref = _ref(snoozed.text)
    listing = emulator.wait_reply(GROUP, emulator.send_text(GROUP, USER, "/timers"))
    assert ref in listing.text and "pizza" in listing.text


def test_anonymous_admin_timer_rings_for_the_group(
    emulator: BotApiEmulator, bot: BotProcess
) -> None:
    """Written as the group (anonymous admin): owned by the group, named by its title, no mention by
    id."""
    command = emulator.send_text(GROUP, OTHER, "/timer 1 tea", as_chat=GROUP)
    ring = _wait_rings(emulator, GROUP, command)[0]
    assert (
        f"Group {GROUP}" in ring.text
        and "tea" in ring.text
        and "GroupAnonymousBot" not in ring.text
    )

    command = emulator.send_text(GROUP, OTHER, "/timer 1h standup", as_chat=GROUP)
    ref = _ref(emulator.wait_reply(GROUP, command).text)
    refused = emulator.send_text(GROUP, USER, f"/cancel {ref}")
    assert f"Only Group {GROUP}" in emulator.wait_reply(GROUP, refused).text
    allowed = emulator.send_text(GROUP, USER, f"/cancel {ref}", as_chat=GROUP)  # any of its admins
    assert f"Cancelled {ref}" in emulator.wait_reply(GROUP, allowed).text


def test_timer_due_during_kill_9_rings_late_after_restart(
    emulator: BotApiEmulator, bot: BotProcess
) -> None:
    command = emulator.send_text(USER, USER, "/timer 2 oven")
    emulator.wait_reply(USER, command)
    bot.kill()
    due = command.date + 2
    emulator.wait_for(
        lambda: time.time() > due + 2, 10, "the timer to come due while the bot is down"
    )
    assert not _rings(emulator, USER, command)
    bot.start()
    ring = _wait_rings(emulator, USER, command)[0]
    assert "oven" in ring.text and "late by" in ring.text


def test_missed_beyond_grace_listed_once(emulator: BotApiEmulator, make_bot) -> None:
    bot = make_bot(missed_grace_hours="0")
    command = emulator.send_text(USER, USER, "/timer 1 kettle")
    emulator.wait_reply(USER, command)
    bot.kill()
    emulator.wait_for(
        lambda: time.time() > command.date + 2, 10, "the timer to come due while the bot is down"
    )
    bot.start()
    missed = emulator.wait_reply(USER, command, contains="Missed while I was offline")
    assert "kettle" in missed.text
    assert not _rings(emulator, USER, command)


def test_recurring_reminder_fires_twice(emulator: BotApiEmulator, make_bot) -> None:
    make_bot(min_recurrence_minutes="0.02")  # 1.2 s, so that "every 2s" is allowed in a test
    command = emulator.send_text(USER, USER, "/remind every 2s drink water")
    assert "every 2 sec" in emulator.wait_reply(USER, command).text
    first, second = _wait_rings(emulator, USER, command, count=2)[:2]
    assert "drink water" in second.text
    assert 1.5 <= second.date - first.date <= 2.5


BAD_TIMER_INPUT = [
    "",
    "0",
    "-5",
    "٣",
    "99999999999999",
    "abc",
    "5" * 1200,
    "5 \x07bell",
    "1:99",
    "1.2.3h",
]
BAD_REMIND_INPUT = [
    "",
    "in",
    "at 25:00 x",
    "every 1s spam",
    "2020-01-01 past",
    "every",
    "in ٣m x",
    "x" * 1200,
]


def test_bad_input_gets_a_short_answer(emulator: BotApiEmulator, bot: BotProcess) -> None:
    for command, bad in [("/timer", a) for a in BAD_TIMER_INPUT] + [
        ("/remind", a) for a in BAD_REMIND_INPUT
    ]:
        sent = emulator.send_text(USER, USER, f"{command} {bad}")
        answer = emulator.wait_reply(USER, sent).text
        assert len(answer) < 300 and "Traceback" not in answer, (bad, answer)
        assert any(
            w in answer for w in ("Example", "control characters", "too long", "shortest")
        ), (bad, answer)
    tz = emulator.wait_reply(USER, emulator.send_text(USER, USER, "/tz Mars/Olympus")).text
    assert "not a time zone" in tz and "/tz Europe/Berlin" in tz


def test_countdown_is_edited_at_a_safe_pace_and_cancel_button_works(
    emulator: BotApiEmulator, bot: BotProcess
) -> None:
    command = emulator.send_text(USER, USER, "/timer 14 eggs")
    confirmation = emulator.wait_reply(USER, command)
    assert "14 sec left" in confirmation.text or "13 sec left" in confirmation.text
    edited = emulator.wait_for(
        lambda: len(emulator.get_message(USER, confirmation.message_id).history) > 1,
        15,
        "the countdown's first edit",
    )
    assert edited
    history = emulator.get_message(USER, confirmation.message_id).history
    assert history[1][0] - history[0][0] >= 9.5  # 10 s under a minute, never faster than 3 s
    assert "4 sec left" in history[1][1] or "3 sec left" in history[1][1]

    emulator.press_button(emulator.get_message(USER, confirmation.message_id), USER, index=0)
    emulator.wait_for(
        lambda: "cancelled" in emulator.get_message(USER, confirmation.message_id).text,
        5,
        "the countdown to say it was cancelled",
    )
    emulator.wait_for(
        lambda: time.time() > command.date + 15, 10, "the cancelled timer's due time to pass"
    )
    assert not _rings(emulator, USER, command)
