"""Issue #16 end to end, with the real processes on one machine: two ``errandbot run`` replicas
(webhook, ``RUN_WORKER=false``) behind nginx on ``deploy/nginx-replicas.conf``, two
``errandbot worker`` processes and one PostgreSQL database (:mod:`tests.e2e.scalerig`).

- 200 chats each set a timer due in the same few seconds and a worker is ``kill -9``ed as they
  fall due: every chat gets its ring, at most the ones in flight at the kill twice;
- 4 downloads whose worker is ``kill -9``ed: all delivered with the right sha256 (the other
  worker resumes them from the shared download folder);
- a replica ``kill -9``ed: the next commands are still answered (nginx moves on to the other);
- ``/cancel`` through the replica that did not take the ``/download`` stops it within a second;
- the database restarted: a command sent while it is down is answered once it is back, and a
  timer set before rings once.

The standby poller is tests/e2e/test_replicas.py's; downloads and cancel with one front,
tests/e2e/test_workers.py's.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.sandbox.emulator import BotApiEmulator, Message
from tests.deploy import nginxproc
from tests.e2e.harness import OTHER, USER, rings_of
from tests.e2e.scalerig import START_TIMEOUT, ScaleRig, scale_rig
from tests.e2e.test_workers import (
    RATE,
    SIZE,
    SLOW,
    FourDownloads,
    check_cancelled_in_chat,
    started_on,
)
from tests.origin import Origin
from tests.pgcluster import Cluster

pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.skipif(not nginxproc.NGINX, reason="nginx not installed (the balancer)"),
]


@pytest.fixture
def rig(emulator: BotApiEmulator, postgres_url: str, tmp_path: Path) -> Iterator[ScaleRig]:
    env = {name.upper(): value for name, value in SLOW.items()}
    with scale_rig(emulator, postgres_url, tmp_path / "rig", env=env) as started:
        yield started


def ask_each(rig: ScaleRig, chats: range, text: str) -> None:
    """Every chat sends ``text``; each gets its answer (in turn, with a deadline)."""
    sent = {chat: rig.emulator.send_text(chat, chat, text) for chat in chats}
    for chat, message in sent.items():
        rig.emulator.wait_reply(chat, message, timeout=30)


def test_200_timers_ring_once_each_with_a_worker_killed_as_they_fall_due(rig: ScaleRig) -> None:
    emulator = rig.emulator
    chats = range(7001, 7201)
    commands = {chat: emulator.send_text(chat, chat, "/timer 20 stretch") for chat in chats}
    for chat, command in commands.items():
        assert "20 sec" in emulator.wait_reply(chat, command, timeout=60).text
    rung = lambda: [chat for chat, c in commands.items() if rings_of(emulator, chat, c)]  # noqa: E731
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
    counts = {chat: len(rings_of(emulator, chat, c)) for chat, c in commands.items()}
    assert all("stretch" in rings_of(emulator, chat, c)[0].text for chat, c in commands.items())
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


def test_downloads_of_a_killed_worker_are_all_delivered(rig: ScaleRig, origin: Origin) -> None:
    emulator = rig.emulator
    doomed, rescuer = rig.workers
    rescuer.terminate()  # so that the doomed worker takes all four
    four = FourDownloads.running_on(doomed, emulator, origin)
    rescuer.start(START_TIMEOUT)
    rig.kill9(doomed)
    four.check_resumed_and_delivered(emulator)
    assert len(started_on(rescuer)) == 4
    sent = sum(origin.bytes_sent(p) for p in four.files)
    assert sent < 1.5 * SIZE * len(four.files), "resumed, not redone"


def test_cancel_through_the_other_replica_stops_the_download(rig: ScaleRig, origin: Origin) -> None:
    emulator = rig.emulator
    origin.add_file("/slow.bin", random.Random(7).randbytes(SIZE * 4), rate=RATE)
    command = emulator.send_text(USER, USER, f"/download {origin.url('/slow.bin')}")
    rig.poll(
        lambda: any(started_on(w) for w in rig.workers) and origin.bytes_sent("/slow.bin") > 20_000,
        60,
        "the download running on a worker",
    )
    [job_id] = {job for w in rig.workers for job in started_on(w)}
    # the /download is the only update so far; nginx takes the replicas in turn, so the next
    # update goes to the other one (checked below)
    [(tried, _)] = rig.balancer.requests()
    took = tried[-1]
    before = len(rig.balancer.requests())
    sent_at = time.monotonic()
    cancel = emulator.send_text(USER, USER, f"/cancel d{job_id}")
    rig.poll(
        lambda: (
            rig.query("SELECT state FROM download_jobs WHERE id = :id", id=job_id)
            == [("cancelled",)]
        ),
        10,
        "the row cancelled",
        every=0.01,
    )
    stopped = time.monotonic() - sent_at
    check_cancelled_in_chat(emulator, command, cancel)
    [(tried, status)] = rig.balancer.requests()[before:]
    assert status == 200 and tried[-1] != took, "the /cancel went to the other replica"
    print(f"\n/cancel through the other replica: stopped in {stopped * 1000:.0f} ms")
    assert stopped < 1.0, f"stopped {stopped:.2f} s after /cancel"


def test_a_database_restart_loses_nothing(rig: ScaleRig, postgres_cluster: Cluster) -> None:
    emulator = rig.emulator
    timer = emulator.send_text(USER, USER, "/timer 15 tea")
    emulator.wait_reply(USER, timer, timeout=30)
    asked: list[Message] = []

    def while_down() -> None:
        refused = len([s for _, s in emulator.webhook_deliveries if s != 200])
        asked.append(emulator.send_text(OTHER, OTHER, "/timers"))
        rig.wait_for(
            lambda: len([s for _, s in emulator.webhook_deliveries if s != 200]) > refused,
            30,
            "the command refused by a replica while the database is down",
        )

    postgres_cluster.restart(while_down)
    back = time.monotonic()
    emulator.wait_reply(OTHER, asked[0], timeout=60)
    answered = time.monotonic() - back
    rig.wait_for(lambda: rings_of(emulator, USER, timer), 60, "the timer's ring")
    rig.poll(
        lambda: rig.query("SELECT state FROM reminders") == [("done",)], 30, "the ring recorded"
    )
    assert len(rings_of(emulator, USER, timer)) == 1
    assert all(p.proc is not None and p.proc.poll() is None for p in rig.processes), rig.logs()
    print(f"\nthe command sent while the database was down answered {answered:.1f} s after")
