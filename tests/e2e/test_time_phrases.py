"""The time grammar end to end: a Chinese and an English phrase set through the real bot, shown
with their absolute date, listed, and rung; a refusal says why and stores nothing."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.sandbox.emulator import BotApiEmulator, Message
from tests.e2e.harness import USER, BotProcess, rings_of

pytestmark = pytest.mark.timeout(90)
ABSOLUTE = r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (\d{4}-\d\d-\d\d \d\d:\d\d) \(([^)]+)\)"


def _ring(emulator: BotApiEmulator, command: Message, timeout: float = 20.0) -> Message:
    return emulator.wait_for(
        lambda: next(iter(rings_of(emulator, USER, command)), None), timeout, "the ring"
    )


@pytest.mark.parametrize(
    ("zone", "phrase", "label"),
    [
        ("Asia/Shanghai", "/remind 3秒后 喝水", "喝水"),
        ("Europe/Berlin", "/remind remind me to call mom in 3 seconds", "call mom"),
    ],
)
def test_a_phrase_is_set_listed_and_rung(
    emulator: BotApiEmulator, bot: BotProcess, zone: str, phrase: str, label: str
) -> None:
    emulator.wait_reply(USER, emulator.send_text(USER, USER, f"/tz {zone}"))
    command = emulator.send_text(USER, USER, phrase)
    confirmation = emulator.wait_reply(USER, command).text
    found = re.search(ABSOLUTE, confirmation)
    assert found and found.group(3) == zone and f"“{label}”" in confirmation, confirmation
    # The date shown is the moment understood: 3 s after the command, in the person's zone.
    due = datetime.fromtimestamp(command.date + 3, UTC).astimezone(ZoneInfo(zone))
    assert found.group(2) in {f"{due:%Y-%m-%d %H:%M}"} | {f"{due.replace(second=0):%Y-%m-%d %H:%M}"}
    listing = emulator.wait_reply(USER, emulator.send_text(USER, USER, "/timers")).text
    assert label in listing
    ring = _ring(emulator, command)
    assert label in ring.text and 2.5 <= ring.date - command.date <= 6.0


def test_a_repeat_in_chinese_is_confirmed_in_words(
    emulator: BotApiEmulator, bot: BotProcess
) -> None:
    emulator.wait_reply(USER, emulator.send_text(USER, USER, "/tz Asia/Shanghai"))
    command = emulator.send_text(USER, USER, "/remind 每周一三五早上7点跑步")
    confirmation = emulator.wait_reply(USER, command).text
    assert "every monday wednesday friday at 07:00" in confirmation and "“跑步”" in confirmation
    found = re.search(ABSOLUTE, confirmation)
    assert found and found.group(1) in ("Mon", "Wed", "Fri") and found.group(2).endswith("07:00")
    listing = emulator.wait_reply(USER, emulator.send_text(USER, USER, "/timers")).text
    assert "跑步" in listing and "every monday wednesday friday at 07:00" in listing
    # A zone in the phrase wins over the person's (Asia/Shanghai here) and is shown.
    london = emulator.wait_reply(
        USER, emulator.send_text(USER, USER, "/remind tomorrow 10:00 Europe/London tea")
    ).text
    found = re.search(ABSOLUTE, london)
    assert found and found.group(3) == "Europe/London" and found.group(2).endswith("10:00"), london


def test_an_ambiguous_date_is_refused_with_both_readings(
    emulator: BotApiEmulator, bot: BotProcess
) -> None:
    answer = emulator.wait_reply(USER, emulator.send_text(USER, USER, "/remind 12/11 dentist")).text
    assert "12 November or 11 December" in answer
    listing = emulator.wait_reply(USER, emulator.send_text(USER, USER, "/timers")).text
    assert "Nothing pending" in listing
    usage = emulator.wait_reply(USER, emulator.send_text(USER, USER, "/remind")).text
    assert "/help remind" in usage
    short = emulator.wait_reply(USER, emulator.send_text(USER, USER, "/help remind")).text
    assert "明天早上9点" in short and "docs/time-phrases.md" in short
