"""Rings shared by real processes on PostgreSQL (issue #16): a front that rings nothing
(``RUN_WORKER=false``) and two ``errandbot worker`` processes against the Bot API emulator.

Many chats set a timer due in the same few seconds; one worker is ``kill -9``-ed as they fall
due. Every chat gets its ring — the other worker rings what the dead one had claimed once its
lease runs out — and only the rings the dead one had in flight may come twice. Together the
processes keep to Telegram's 30 messages a second (the shared limiter in PostgreSQL).
"""

from __future__ import annotations

import collections
import os
import signal

import pytest

from bot.sandbox.emulator import BotApiEmulator, Message
from tests.e2e.harness import BotProcess, all_answered, rings_of
from tests.e2e.test_postgres import rows
from tests.telegram.paceproc import peak

pytestmark = pytest.mark.timeout(240)

CHATS = 60
FIRST_USER = 7000


def rings(emulator: BotApiEmulator, commands: dict[int, Message]) -> list[Message]:
    return [m for user, command in commands.items() for m in rings_of(emulator, user, command)]


def test_every_chat_rung_once_across_workers_and_a_kill_9(
    emulator: BotApiEmulator, make_bot, postgres_url: str
) -> None:
    users = range(FIRST_USER, FIRST_USER + CHATS)
    env = {"database_url": postgres_url, "allowed_users": "*"}
    make_bot(run_worker="false", **env)
    workers: list[BotProcess] = [make_bot(command="worker", **env) for _ in range(2)]

    commands = {u: emulator.send_text(u, u, "/timer 8") for u in users}
    emulator.wait_for(lambda: all_answered(emulator, commands), 90, "every confirmation")
    # As they fall due: kill the worker that holds claims on rows not yet recorded.
    emulator.wait_for(lambda: len(rings(emulator, commands)) >= CHATS // 4, 60, "a quarter rung")
    claimed = dict(
        rows(
            postgres_url,
            "SELECT claimed_by, count(*) FROM reminders WHERE state = 'pending' "
            "AND claimed_by IS NOT NULL GROUP BY claimed_by",
        )
    )
    victim = max(
        workers, key=lambda w: sum(n for c, n in claimed.items() if f":{w.proc.pid}:" in c)
    )
    in_flight = {
        r[0]
        for r in rows(
            postgres_url,
            "SELECT chat_id FROM reminders WHERE state = 'pending' "
            f"AND claimed_by LIKE '%:{victim.proc.pid}:%'",
        )
    }
    assert in_flight, f"no claims held at the kill: {claimed}"
    os.kill(victim.proc.pid, signal.SIGKILL)
    victim.proc.wait(10)

    emulator.wait_for(
        lambda: {m.chat_id for m in rings(emulator, commands)} == set(users),
        90,
        "a ring in every chat",
    )
    emulator.wait_for(
        lambda: rows(postgres_url, "SELECT DISTINCT state FROM reminders") == [("done",)],
        30,
        "every row recorded as rung",
    )
    got = rings(emulator, commands)
    per_chat = collections.Counter(m.chat_id for m in got)
    twice = {chat for chat, n in per_chat.items() if n > 1}
    assert twice <= in_flight, (twice, in_flight)
    assert all(n <= 2 for n in per_chat.values()), per_chat
    # None early; and the whole deployment kept to 30 messages in any second.
    due = {c.chat_id: c.date + 8 for c in commands.values()}
    assert all(m.date >= due[m.chat_id] - 0.05 for m in got)
    sent = [m.date for u in users for m in emulator.bot_messages(u)]
    assert peak(sent, 1.0) <= 30, peak(sent, 1.0)
