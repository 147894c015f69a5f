"""Timers and reminders at scale: start-up load, ring lateness, and a burst of rings in 100 chats.

Three measurements, each with a peer measured in the same run (a ratio, not an absolute bar):

1. **Start-up load**: 10,000 pending rows in a fresh SQLite file, then ``ReminderService.start()``
   and one poll of the ring loop (nothing is loaded per row). Time and memory held; peer: reading
   the same rows as ORM objects.
2. **Ring lateness** with 1,000 pending, due over 4 s: ring time minus due time, p50/p99, from
   the service's ring callback. Peer: the same due times with bare ``loop.call_at``.
3. **Burst**: the real ``errandbot run`` against the Bot API emulator; 100 users in 100 private
   chats each set ``/timer 5`` at once; when do the 100 rings arrive, and at what peak rate per
   second (Telegram's global limit is 30/s; python-telegram-bot's AIORateLimiter spaces them).

Not a test: it never fails on timing. Run on loopback only:

    .venv/bin/python bench/reminders.py [--pending 10000] [--lateness 1000] [--chats 100]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select  # noqa: E402

from bot.reminders import claims  # noqa: E402
from bot.reminders.service import ReminderService  # noqa: E402
from bot.reminders.store import Reminder, ReminderState  # noqa: E402
from bot.storage import open_database  # noqa: E402
from tests.reminders.rows import add_timers  # noqa: E402


def fill(sessions, count: int, first_due: float, spacing: float) -> None:
    add_timers(sessions, count, first_due, spacing * (count - 1))


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def bench_load(count: int, tmp: Path) -> None:
    _, sessions = open_database(f"sqlite:///{tmp / 'load.db'}")
    fill(sessions, count, time.time() + 3600, 1.0)

    started = time.perf_counter()
    with sessions() as session:
        rows = session.scalars(
            select(Reminder).where(Reminder.state == ReminderState.PENDING)
        ).all()
    peer = time.perf_counter() - started
    assert len(rows) == count
    del rows

    async def ring(_row, _late) -> None:
        return None

    async def load() -> float:
        """Start-up, then one poll of the ring loop (claim what is due, read the next due time):
        nothing is loaded per pending row any more."""
        service = ReminderService(sessions, ring)
        started = time.perf_counter()
        service.start()
        tick = claims.claim_due(
            sessions,
            "bench",
            now=time.time(),
            horizon=time.time(),
            not_before=0.0,
            lease=10.0,
            limit=100,
        )
        took = time.perf_counter() - started
        assert not tick.claimed and tick.next_at is not None
        await service.stop()
        return took

    async def memory() -> float:
        """Python memory still held once started (tracemalloc): none per pending row."""
        tracemalloc.start()
        service = ReminderService(sessions, ring)
        service.start()
        await asyncio.sleep(0.5)
        held = tracemalloc.get_traced_memory()[0] / 2**20
        tracemalloc.stop()
        await service.stop()
        return held

    took, held = asyncio.run(load()), asyncio.run(memory())
    print(
        f"load {count} pending: {took:.2f} s, {held:.1f} MB held after loading "
        f"(peer: ORM read alone {peer:.2f} s; ratio {took / peer:.1f}x)"
    )


def bench_lateness(count: int, tmp: Path) -> None:
    _, sessions = open_database(f"sqlite:///{tmp / 'late.db'}")
    first = time.time() + 2.0
    fill(sessions, count, first, 4.0 / count)

    async def service_run() -> list[float]:
        late: list[float] = []
        done = asyncio.Event()

        async def ring(row, _late: timedelta) -> None:
            late.append(time.time() - row.due_at)
            if len(late) == count:
                done.set()

        service = ReminderService(sessions, ring)
        service.start()
        await asyncio.wait_for(done.wait(), 30)
        await service.stop()
        return late

    async def peer_run() -> list[float]:
        loop = asyncio.get_running_loop()
        late: list[float] = []
        done = asyncio.Event()
        base = time.time() + 1.0

        def fire(due: float) -> None:
            late.append(time.time() - due)
            if len(late) == count:
                done.set()

        for i in range(count):
            due = base + i * 4.0 / count
            loop.call_at(loop.time() + (due - time.time()), fire, due)
        await asyncio.wait_for(done.wait(), 30)
        return late

    ours, peer = asyncio.run(service_run()), asyncio.run(peer_run())
    p50, p99, peer50, peer99 = (
        pct(ours, 0.5) * 1000,
        pct(ours, 0.99) * 1000,
        pct(peer, 0.5) * 1000,
        pct(peer, 0.99) * 1000,
    )
    print(
        f"ring lateness, {count} pending over 4 s: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max "
        f"{max(ours) * 1000:.1f} ms "
        f"(peer loop.call_at: p50 {peer50:.1f} ms, p99 {peer99:.1f} ms)"
    )


def bench_burst(chats: int, tmp: Path) -> None:
    from bot.sandbox.emulator import BotApiEmulator
    from tests.e2e.harness import BotProcess, all_answered, rings_of

    with BotApiEmulator() as emulator:
        data = tmp / "burst"
        data.mkdir()
        bot = BotProcess(emulator, data, {"ALLOWED_USERS": "*", "LOG_LEVEL": "WARNING"}).start()
        try:
            users = range(5000, 5000 + chats)
            commands = {u: emulator.send_text(u, u, "/timer 5") for u in users}
            emulator.wait_for(lambda: all_answered(emulator, commands), 60, "every confirmation")

            def rings():
                return [m for u, c in commands.items() for m in rings_of(emulator, u, c)]

            emulator.wait_for(lambda: len(rings()) >= chats, 60, "every ring")
            got = rings()
            due = {c.chat_id: c.date + 5 for c in commands.values()}
            late = [m.date - due[m.chat_id] for m in got]
            times = sorted(m.date for m in got)
            peak = max(sum(1 for t in times if s <= t < s + 1.0) for s in times)
            commands_spread = max(c.date for c in commands.values()) - min(
                c.date for c in commands.values()
            )
            print(
                f"burst: {chats} timers in {chats} chats "
                f"(set within {commands_spread:.2f} s): all rang "
                f"{times[-1] - times[0]:.2f} s apart first to last; peak {peak} rings in any 1 s "
                f"(Telegram limit 30/s); lateness p50 {statistics.median(late):.2f} s, max "
                f"{max(late):.2f} s"
            )
        finally:
            bot.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pending", type=int, default=10_000)
    parser.add_argument("--lateness", type=int, default=1_000)
    parser.add_argument("--chats", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench_load(args.pending, Path(tmp))
        bench_lateness(args.lateness, Path(tmp))
        if args.chats:
            bench_burst(args.chats, Path(tmp))


if __name__ == "__main__":
    main()
