"""Issue #16 end to end, with the real processes on one machine: two ``errandbot run`` replicas
(webhook, ``RUN_WORKER=false``) behind nginx on ``deploy/nginx-replicas.conf``, two
``errandbot worker`` processes and one PostgreSQL database (:mod:`tests.e2e.scalerig`).

- a replica ``kill -9``ed: the next commands are still answered (nginx moves on to the other);
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.sandbox.emulator import BotApiEmulator
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
