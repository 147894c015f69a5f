"""Issue #16 end to end, with the real processes on one machine: two ``errandbot run`` replicas
(webhook, ``RUN_WORKER=false``) behind nginx on ``deploy/nginx-replicas.conf``, two
``errandbot worker`` processes and one PostgreSQL database (:mod:`tests.e2e.scalerig`).

- 200 chats each set a timer due in the same few seconds and a worker is ``kill -9``ed as they
  fall due: every chat gets its ring, at most the ones in flight at the kill twice;
- a replica ``kill -9``ed: the next commands are still answered (nginx moves on to the other);
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.sandbox.emulator import BotApiEmulator, Message
from tests.e2e.scalerig import ScaleRig, scale_rig

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def rig(emulator: BotApiEmulator, postgres_url: str, tmp_path: Path) -> Iterator[ScaleRig]:
    with scale_rig(emulator, postgres_url, tmp_path / "rig") as started:
        yield started


def ask_each(rig: ScaleRig, chats: range, text: str) -> None:
    """Every chat sends ``text``; each gets its answer (in turn, with a deadline)."""
    sent = {chat: rig.emulator.send_text(chat, chat, text) for chat in chats}
    for chat, message in sent.items():
        rig.emulator.wait_reply(chat, message, timeout=30)


def rings(rig: ScaleRig, chat: int, command: Message) -> list[Message]:
    """The rings of the timer set by ``command``: replies to it with snooze buttons."""
    return [
        m
        for m in rig.received(chat)
        if m.reply_to == command.message_id
        and any("snooze" in b.get("callback_data", "") for b in m.buttons)
    ]


def test_200_timers_ring_once_each_with_a_worker_killed_as_they_fall_due(rig: ScaleRig) -> None:
    emulator = rig.emulator
    chats = range(7001, 7201)
    commands = {chat: emulator.send_text(chat, chat, "/timer 25 stretch") for chat in chats}
    for chat, command in commands.items():
        assert "25 sec" in emulator.wait_reply(chat, command, timeout=60).text
    rung = lambda: [chat for chat, c in commands.items() if rings(rig, chat, c)]  # noqa: E731
    victim = rig.workers[0]
    assert victim.proc is not None
    held = (
        "SELECT chat_id FROM reminders WHERE state = 'pending' "
        f"AND claimed_by LIKE '%:{victim.proc.pid}:%'"
    )
    # as they fall due: once rings arrive and the victim holds claimed, unrecorded rings
    rig.poll(lambda: rung() and rig.query(held), 60, "rings, some of them the victim's")
    rig.freeze(victim)  # nothing moves between reading what it holds and the kill
    in_flight = {chat for (chat,) in rig.query(held)}
    rig.kill9(victim)
    assert len(rung()) < len(chats), "the kill came after every ring: it tests nothing"

    rig.wait_for(lambda: len(rung()) == len(chats), 120, "every chat's ring")
    counts = {chat: len(rings(rig, chat, c)) for chat, c in commands.items()}
    assert all("stretch" in rings(rig, chat, c)[0].text for chat, c in commands.items())
    twice = {chat for chat, n in counts.items() if n > 1}
    assert max(counts.values()) <= 2, counts
    assert twice <= in_flight, f"rung twice but not in flight at the kill: {twice - in_flight}"
    print(f"\n{len(in_flight)} rings held by the killed worker, {len(twice)} rung twice")
    rig.poll(
        lambda: rig.query("SELECT DISTINCT state FROM reminders") == [("done",)],
        30,
        "every row recorded as rung",
    )


def test_a_replica_killed_the_next_commands_are_still_answered(rig: ScaleRig) -> None:
    chats = range(5001, 5011)
    ask_each(rig, chats, "/help")
    first, second = (r.port for r in rig.replicas)
    before = rig.balancer.requests()
    assert {ports[-1] for ports, _ in before} == {first, second}, "both replicas take updates"

    rig.kill9(rig.replicas[0])
    ask_each(rig, chats, "/timers")
    after = rig.balancer.requests()[len(before) :]
    assert len(after) >= len(chats)
    assert all(status == 200 and ports[-1] == second for ports, status in after), after
    assert any(first in ports for ports, _ in after), "nginx tried the dead replica and moved on"
