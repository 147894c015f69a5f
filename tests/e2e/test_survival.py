"""Every command and every ring survives Bot API faults and ``kill -9`` (issue #13).

The real ``errandbot run`` against the emulator's fault injection: 5xx and repeated 429 at ring
time and at upload (the ring and the file still arrive, exactly once), a ``kill -9`` right after a
burst of commands (every command answered after the restart, none lost, none doubled).
"""

from __future__ import annotations

import random
import sqlite3

import pytest

from bot.sandbox.emulator import BotApiEmulator, Message
from tests.e2e.harness import GROUP, USER, BotProcess, rings_of
from tests.origin import Origin

pytestmark = pytest.mark.timeout(240)

USERS = [101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112]
WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
ALLOWED = ",".join(str(u) for u in [USER, *USERS])


def db_rows(bot: BotProcess, query: str, args: tuple = ()) -> list[tuple]:
    with sqlite3.connect(bot.data_dir / "errand.db") as conn:
        return conn.execute(query, args).fetchall()


@pytest.mark.parametrize("code,times", [(502, 1), (500, 3), (503, 2), (429, 6)])
def test_ring_survives_server_errors_and_flood_control(
    emulator: BotApiEmulator, make_bot, code: int, times: int
) -> None:
    bot = make_bot()
    command = emulator.send_text(USER, USER, "/timer 3 R")
    emulator.wait_reply(USER, command, contains="⏳")
    # The next sendMessage calls are the ring: fail them `times` times in a row.
    emulator.add_fault("sendMessage", code=code, retry_after=1, times=times)
    ring = emulator.wait_for(
        lambda: rings_of(emulator, USER, command), 60, "the ring after the faults"
    )[0]
    assert "R" in ring.text
    failed = [c for c in emulator.calls_of("sendMessage") if c.status == code]
    assert len(failed) == times
    # Marked done only after Telegram took it, and rung exactly once.
    emulator.wait_for(
        lambda: db_rows(bot, "SELECT state FROM reminders") == [("done",)], 10, "the row done"
    )
    assert len(rings_of(emulator, USER, command)) == 1
    assert "ringing t1 failed" not in bot.output


def test_ring_to_a_chat_that_blocked_the_bot_is_undeliverable_and_others_still_ring(
    emulator: BotApiEmulator, make_bot
) -> None:
    bot = make_bot()
    first = emulator.send_text(USER, USER, "/timer 2 blocked")
    emulator.wait_reply(USER, first, contains="⏳")
    elsewhere = emulator.send_text(GROUP, USER, "/timer 4 in the group")
    emulator.wait_reply(GROUP, elsewhere, contains="⏳")
    emulator.add_fault(
        "sendMessage", code=403, description="Forbidden: bot was blocked by the user"
    )
    emulator.wait_for(
        lambda: db_rows(bot, "SELECT state FROM reminders WHERE id = 1") == [("undeliverable",)],
        30,
        "the blocked ring marked undeliverable",
    )
    # Not retried for ever, not marked done; the owner's timer in another chat still rings.
    emulator.wait_for(
        lambda: rings_of(emulator, GROUP, elsewhere), 30, "the owner's group timer to ring"
    )
    assert rings_of(emulator, USER, first) == []
    assert len([c for c in emulator.calls_of("sendMessage") if c.status == 403]) == 1


def test_document_survives_upload_errors_and_arrives_once(
    emulator: BotApiEmulator, make_bot, origin: Origin
) -> None:
    make_bot()
    data = random.Random(7).randbytes(300_000)
    origin.add_file("/f.bin", data)
    emulator.add_fault("sendDocument", code=500, times=2)
    emulator.add_fault("sendDocument", code=429, retry_after=1, times=1)
    request = emulator.send_text(USER, USER, f"/download {origin.url('/f.bin')}")

    def documents() -> list[Message]:
        return [
            m
            for m in emulator.bot_messages(USER)
            if m.document and m.reply_to == request.message_id
        ]

    document = emulator.wait_for(documents, 90, "the document after the upload errors")[0]
    import hashlib

    assert document.document["sha256"] == hashlib.sha256(data).hexdigest()
    assert len([c for c in emulator.calls_of("sendDocument") if c.status != 200]) == 3
    assert len(documents()) == 1


def kill_once_acknowledged(emulator: BotApiEmulator, bot: BotProcess, polls: int) -> None:
    """``kill -9`` the moment the bot has confirmed (acknowledged) the first batch of the burst:
    the next ``getUpdates`` after the one that returned it carries the confirming offset."""
    emulator.wait_for(
        lambda: len(emulator.calls_of("getUpdates")) > polls, 10, "the burst acknowledged"
    )
    bot.kill()


def _answered(emulator: BotApiEmulator, command: Message, *, document: bool) -> list[Message]:
    return [
        m
        for m in emulator.bot_messages(command.chat_id)
        if m.reply_to == command.message_id and (m.document is not None) == document
    ]


def test_kill_9_after_a_burst_of_downloads_loses_no_command(
    emulator: BotApiEmulator, make_bot, origin: Origin
) -> None:
    origin.add_file("/small.bin", random.Random(1).randbytes(20_000))
    bot = make_bot(allowed_users=ALLOWED)
    polls = len(emulator.calls_of("getUpdates"))
    commands = [
        emulator.send_text(user, user, f"/download {origin.url('/small.bin')}")
        for _ in range(6)
        for user in USERS[:5]
    ]
    kill_once_acknowledged(emulator, bot, polls)
    bot.start()
    for command in commands:
        emulator.wait_for(
            lambda c=command: _answered(emulator, c, document=True),
            200,
            f"a document for command {command.message_id} in chat {command.chat_id}",
        )
    emulator.wait_for(
        lambda: (
            db_rows(bot, "SELECT count(*) FROM received_requests WHERE handled_at IS NULL")
            == [(0,)]
        ),
        30,
        "every stored update handled",
    )
    for command in commands:
        assert len(_answered(emulator, command, document=True)) == 1, command


def test_kill_9_after_120_timers_makes_no_duplicates_and_loses_none(
    emulator: BotApiEmulator, make_bot
) -> None:
    bot = make_bot(allowed_users=ALLOWED)
    polls = len(emulator.calls_of("getUpdates"))
    commands = [
        emulator.send_text(user, user, f"/timer 1h n{i}") for i in range(10) for user in USERS
    ]
    kill_once_acknowledged(emulator, bot, polls)
    bot.start()

    def settled() -> bool:
        handled = db_rows(
            bot, "SELECT count(*) FROM received_requests WHERE handled_at IS NULL"
        ) == [(0,)]
        return (
            handled
            and emulator.pending_updates() == 0
            and db_rows(
                bot, "SELECT count(*) FROM (SELECT DISTINCT chat_id, reply_to FROM reminders)"
            )[0][0]
            == len(commands)
        )

    emulator.wait_for(settled, 120, "all 120 timers stored and every update handled")
    duplicates = db_rows(
        bot,
        "SELECT chat_id, reply_to, count(*) FROM reminders "
        "GROUP BY chat_id, reply_to HAVING count(*) > 1",
    )
    assert duplicates == []
    assert db_rows(bot, "SELECT count(*) FROM reminders")[0][0] == len(commands)


def test_pending_limit_holds_under_a_burst_of_concurrent_reminders(
    emulator: BotApiEmulator, make_bot
) -> None:
    bot = make_bot(allowed_users=ALLOWED, max_pending_per_user="3")
    users = USERS[:8]
    for i in range(8):
        for user in users:
            emulator.send_text(user, user, f"/remind in {i + 1}h stretch {WORDS[i]}")

    def settled() -> bool:
        return (
            emulator.pending_updates() == 0
            and db_rows(bot, "SELECT count(*) FROM received_requests WHERE handled_at IS NULL")
            == [(0,)]
            and db_rows(bot, "SELECT count(*) FROM received_requests")[0][0] >= 8 * len(users)
        )

    emulator.wait_for(settled, 120, "every /remind handled")
    per_user = dict(
        db_rows(
            bot, "SELECT user_id, count(*) FROM reminders WHERE state = 'pending' GROUP BY user_id"
        )
    )
    assert per_user == {user: 3 for user in users}


def test_a_command_reply_survives_server_errors(emulator: BotApiEmulator, bot: BotProcess) -> None:
    emulator.add_fault("sendMessage", code=502, times=2)
    emulator.add_fault("sendMessage", code=429, retry_after=1, times=1)
    sent = emulator.send_text(USER, USER, "/help")
    reply = emulator.wait_reply(USER, sent, timeout=30)
    assert "Commands:" in reply.text
    assert len([m for m in emulator.bot_messages(USER) if "Commands:" in (m.text or "")]) == 1
    assert len([c for c in emulator.calls_of("sendMessage") if c.status != 200]) == 3
