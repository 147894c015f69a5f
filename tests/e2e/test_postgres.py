"""The real ``errandbot run`` with ``DATABASE_URL`` on the private PostgreSQL server (issue #16):
it creates its tables there through the migrations, answers and rings a timer, a reminder pending
at a ``kill -9`` rings once after the restart, and a download is delivered and recorded. Nothing
is written to a SQLite file."""

from __future__ import annotations

import hashlib
import random

import pytest
import sqlalchemy as sa

from bot.db.migrate import scripts
from bot.sandbox.emulator import BotApiEmulator, Message
from tests.e2e.harness import USER, BotProcess
from tests.origin import Origin

pytestmark = pytest.mark.timeout(120)


def rings(emulator: BotApiEmulator, command: Message) -> list[Message]:
    return [
        m
        for m in emulator.bot_messages(USER)
        if m.reply_to == command.message_id
        and m.buttons
        and "snooze" in m.buttons[0]["callback_data"]
    ]


def rows(url: str, query: str) -> list[tuple]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(query))]
    finally:
        engine.dispose()


def test_timer_is_answered_and_rung_with_postgres(
    emulator: BotApiEmulator, make_bot, postgres_url
) -> None:
    bot: BotProcess = make_bot(database_url=postgres_url)
    command = emulator.send_text(USER, USER, "/timer 2 tea")
    assert emulator.wait_reply(USER, command, timeout=30).text.startswith("⏳ 2 sec")
    ring = emulator.wait_for(lambda: rings(emulator, command), 30, "the ring")[0]
    assert "tea" in ring.text
    emulator.wait_for(
        lambda: rows(postgres_url, "SELECT label, state FROM reminders") == [("tea", "done")],
        15,
        "the row marked done in PostgreSQL",
    )
    assert rows(postgres_url, "SELECT version_num FROM alembic_version") == [
        (scripts().get_current_head(),)
    ]
    assert not (bot.data_dir / "errand.db").exists()


def test_reminder_pending_at_kill_9_rings_once_after_restart(
    emulator: BotApiEmulator, make_bot, postgres_url
) -> None:
    bot: BotProcess = make_bot(database_url=postgres_url)
    command = emulator.send_text(USER, USER, "/remind in 5s stretch")
    emulator.wait_reply(USER, command, timeout=30)
    assert rows(postgres_url, "SELECT label, state FROM reminders") == [("stretch", "pending")]
    bot.kill()
    assert not rings(emulator, command)

    bot.start(timeout=60)
    ring = emulator.wait_for(lambda: rings(emulator, command), 60, "the ring after the restart")[0]
    assert "stretch" in ring.text
    emulator.wait_for(
        lambda: rows(postgres_url, "SELECT state FROM reminders") == [("done",)],
        15,
        "the row marked done",
    )
    assert len(rings(emulator, command)) == 1


def test_download_is_delivered_and_recorded_in_postgres(
    emulator: BotApiEmulator, make_bot, postgres_url
) -> None:
    make_bot(database_url=postgres_url)
    data = random.Random(16).randbytes(300_000)
    digest = hashlib.sha256(data).hexdigest()
    with Origin() as origin:
        origin.add_file("/notes.bin", data)
        sent = emulator.send_text(USER, USER, f"/download {origin.url('/notes.bin')}")
        document = emulator.wait_for(
            lambda: next(
                (
                    m
                    for m in emulator.bot_messages(USER)
                    if m.document and m.reply_to == sent.message_id
                ),
                None,
            ),
            60,
            "the document",
        )
    assert document.document["sha256"] == digest
    emulator.wait_for(
        lambda: (
            rows(postgres_url, "SELECT name, state, sha256, size, delivered FROM download_jobs")
            == [("notes.bin", "done", digest, len(data), True)]
        ),
        15,
        "the job recorded as delivered",
    )
    listing = emulator.send_text(USER, USER, "/downloads")
    assert "notes.bin" in emulator.wait_reply(USER, listing, timeout=30).text
