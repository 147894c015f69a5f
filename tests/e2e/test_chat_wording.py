"""What the chat says, tried as a new user would (issue #13, "Say what happened").

The real bot against the emulator and a real local origin: download ids in status messages, a
delivered status that stays delivered, "in under a second", /downloads naming a cancellable id,
rings that say which timer, an answer to plain messages (with a button per link), the server path
shown only to admins, and button data that does not parse answered rather than crashing.
"""

from __future__ import annotations

import random

import pytest

from bot.sandbox.emulator import BotApiEmulator, Message
from tests.e2e.harness import ADMIN, USER, BotProcess
from tests.origin import Origin

pytestmark = pytest.mark.timeout(120)


def history(emulator: BotApiEmulator, message: Message) -> list[str]:
    return [
        text or ""
        for _, text, _ in emulator.get_message(message.chat_id, message.message_id).history
    ]


def final_text(emulator: BotApiEmulator, message: Message, needle: str, timeout: float = 60) -> str:
    return emulator.wait_for(
        lambda: (
            needle in (emulator.get_message(message.chat_id, message.message_id).text or "")
            and emulator.get_message(message.chat_id, message.message_id).text
        ),
        timeout,
        f"{needle!r} in message {message.message_id}",
    )


def test_download_status_names_its_id_and_stays_delivered(
    emulator: BotApiEmulator, bot: BotProcess, origin: Origin
) -> None:
    origin.add_file("/tiny.bin", random.Random(3).randbytes(5000))
    sent = emulator.send_text(USER, USER, f"/download {origin.url('/tiny.bin')}")
    status = emulator.wait_reply(USER, sent)
    done = final_text(emulator, status, "✅")
    assert (
        done.startswith("✅ d1 · tiny.bin") and "in under a second" in done and "in 0 s" not in done
    )
    # Nothing after the delivered text may replace it (a late "Starting…" or progress report).
    listing = emulator.wait_reply(USER, emulator.send_text(USER, USER, "/downloads"))
    assert "d1 tiny.bin — ✅" in listing.text
    assert "/cancel d1" not in listing.text  # a finished one is not offered as the example
    texts = history(emulator, status)
    assert all("✅" in t for t in texts[texts.index(done) :]), texts
    assert any("d1" in t for t in texts if t.startswith(("📄", "⬇️")))


def test_unlabelled_timers_ring_with_their_id_and_duration(
    emulator: BotApiEmulator, bot: BotProcess
) -> None:
    first = emulator.send_text(USER, USER, "/timer 1")
    second = emulator.send_text(USER, USER, "/timer 2")

    def rings() -> list[str]:
        return [
            m.text
            for m in emulator.bot_messages(USER)
            if m.text
            and m.text.startswith("🔔 t")
            and m.reply_to in (first.message_id, second.message_id)
        ]

    texts = emulator.wait_for(lambda: len(rings()) >= 2 and rings(), 30, "both rings")
    assert "🔔 t1 · 1 sec timer" in texts and "🔔 t2 · 2 sec timer" in texts


def test_a_plain_message_gets_a_short_answer(emulator: BotApiEmulator, bot: BotProcess) -> None:
    hello = emulator.send_text(USER, USER, "hello there")
    answer = emulator.wait_reply(USER, hello)
    assert "/download" in answer.text and "/timer" in answer.text and "/help" in answer.text


def test_links_in_a_sentence_get_a_download_button_each(
    emulator: BotApiEmulator, bot: BotProcess, origin: Origin
) -> None:
    data = random.Random(4).randbytes(8000)
    origin.add_file("/a.bin", data)
    text = f"could you grab {origin.url('/a.bin')} and {origin.url('/b.bin')} please"
    asked = emulator.send_text(USER, USER, text)
    offer = emulator.wait_reply(USER, asked)
    assert [b["text"] for b in offer.buttons] == ["⬇️ 127.0.0.1/a.bin", "⬇️ 127.0.0.1/b.bin"]
    query = emulator.press_button(offer, USER, index=0)
    emulator.wait_for(lambda: emulator.callback_answer(query), 10, "the button answered")
    document = emulator.wait_for(
        lambda: next(
            (
                m
                for m in emulator.bot_messages(USER)
                if m.document and m.reply_to == asked.message_id
            ),
            None,
        ),
        60,
        "the file, answering the original message",
    )
    assert document.document["file_name"] == "a.bin"


@pytest.mark.parametrize(
    "data",
    [
        "rm:snooze:123456789012345678901:5m",
        "dl:cancel:99999999999999999999",
        "rm:cancel:x",
        "nonsense",
    ],
)
def test_button_data_that_does_not_parse_is_answered(
    emulator: BotApiEmulator, bot: BotProcess, data: str
) -> None:
    command = emulator.send_text(USER, USER, "/timer 1h")
    confirmation = emulator.wait_reply(USER, command)
    query = emulator.press_button(confirmation, USER, data)
    answer = emulator.wait_for(lambda: emulator.callback_answer(query), 10, "the press answered")
    assert "no longer works" in (answer["text"] or "")
    assert "unhandled error" not in bot.output
    assert "not understood" in bot.output or "does not parse" in bot.output


def test_the_servers_path_of_a_kept_file_is_shown_only_to_admins(
    emulator: BotApiEmulator, make_bot, origin: Origin
) -> None:
    bot = make_bot(max_upload_mb="1")
    origin.add_file("/big.bin", random.Random(5).randbytes(1_200_000))
    for who in (USER, ADMIN):
        sent = emulator.send_text(who, who, f"/download {origin.url('/big.bin')}")
        note = emulator.wait_reply(who, sent, contains="kept on the server", timeout=60)
        while not note.text.startswith("📦"):
            note = emulator.wait_reply(who, note, contains="kept on the server", timeout=60)
        shown = str(bot.data_dir) in note.text
        assert shown == (who == ADMIN), note.text


def test_no_waiting_number_while_a_slot_is_free(
    emulator: BotApiEmulator, bot: BotProcess, origin: Origin
) -> None:
    # The first link is slow to answer (its check takes ~3 s); the second is checked at once but
    # starts after the first, in order. Slots are free all along: no "#2 in line".
    origin.add_file(
        "/slow-check.bin", random.Random(6).randbytes(4000), stall_after=0, stall_seconds=3
    )
    origin.add_file("/quick.bin", random.Random(7).randbytes(4000))
    first = emulator.send_text(USER, USER, f"/download {origin.url('/slow-check.bin')}")
    second = emulator.send_text(USER, USER, f"/download {origin.url('/quick.bin')}")
    for request in (first, second):
        emulator.wait_for(
            lambda r=request: next(
                (
                    m
                    for m in emulator.bot_messages(USER)
                    if m.document and m.reply_to == r.message_id
                ),
                None,
            ),
            60,
            "both files delivered",
        )
    status = next(
        m for m in emulator.bot_messages(USER) if m.reply_to == second.message_id and not m.document
    )
    texts = history(emulator, status)
    assert not any("in line" in t for t in texts), texts


def test_downloads_listing_is_not_behind_the_status_message(
    emulator: BotApiEmulator, make_bot, origin: Origin
) -> None:
    import re

    make_bot(progress_interval="1")
    origin.add_file(
        "/steady.bin", random.Random(8).randbytes(1_500_000), ranges=False, rate=150_000
    )
    sent = emulator.send_text(USER, USER, f"/download {origin.url('/steady.bin')}")
    status = emulator.wait_reply(USER, sent)

    def percent(text: str) -> int | None:
        found = re.search(r"(\d+)%", text or "")
        return int(found.group(1)) if found else None

    emulator.wait_for(
        lambda: (percent(emulator.get_message(USER, status.message_id).text) or 0) >= 20,
        30,
        "the status to pass 20%",
    )
    shown = percent(emulator.get_message(USER, status.message_id).text)
    listing = emulator.wait_reply(USER, emulator.send_text(USER, USER, "/downloads"))
    line = next(line for line in listing.text.splitlines() if line.startswith("d1 "))
    assert percent(line) is not None and percent(line) >= shown, (line, shown)
    assert "e.g. /cancel d1" in listing.text  # the running one is the example
