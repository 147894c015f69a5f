"""Ring loops in real processes on one database, for the tests (and benchmarks) of ring claiming.

:func:`start_ring_process` starts a child process (``spawn``: a fresh interpreter, its own
connections) running the real :class:`~bot.reminders.ringing.RingLoop` until it is killed. Its
ring callback stands in for Telegram: it waits ``send_delay`` seconds (a send), then writes the
ring (with the time the callback was called) to the ``ring_log`` table in its own transaction —
what "the chat has the ring" means here — and returns delivered. A ``kill -9`` between that
write and the loop's record is a ring in flight.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import time
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

LOG_TABLE = """
CREATE TABLE IF NOT EXISTS ring_log (
    reminder_id integer NOT NULL,
    due_at double precision NOT NULL,
    claimant varchar(64) NOT NULL,
    at double precision NOT NULL
)
"""


@dataclass(frozen=True)
class LoopOptions:
    lease: float = 2.0
    poll: float = 0.25
    max_in_flight: int = 20
    send_delay: tuple[float, float] = (0.005, 0.03)


def _run(url: str, options: LoopOptions, ready) -> None:  # in the child process
    from sqlalchemy.orm import sessionmaker

    from bot.reminders.ringing import RingLoop, RingOutcome
    from bot.storage import make_engine

    engine = make_engine(url)
    sessions = sessionmaker(engine, expire_on_commit=False)
    insert = sa.text(
        "INSERT INTO ring_log (reminder_id, due_at, claimant, at) VALUES (:id, :due, :who, :at)"
    )

    def log_ring(row_id: int, due_at: float, who: str, at: float) -> None:
        with engine.begin() as conn:
            conn.execute(insert, {"id": row_id, "due": due_at, "who": who, "at": at})

    async def main() -> None:
        async def ring(row, late: timedelta) -> RingOutcome:
            called = time.time()  # the ring's time: when it is handed to "Telegram"
            await asyncio.sleep(random.uniform(*options.send_delay))
            await asyncio.to_thread(log_ring, row.id, row.due_at, row.claimed_by or "", called)
            return RingOutcome.DELIVERED

        loop = RingLoop(
            sessions,
            ring,
            time.time,
            shared=True,
            poll=options.poll,
            lease=options.lease,
            max_in_flight=options.max_in_flight,
        )
        loop.start()
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


def start_ring_process(url: str, options: LoopOptions) -> multiprocessing.Process:
    """A ring loop in a new process, returned once it runs (within 60 s)."""
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    process = context.Process(target=_run, args=(url, options, ready), daemon=True)
    process.start()
    if not ready.wait(60):
        process.kill()
        raise RuntimeError("the ring process did not start within 60 s")
    return process


def ring_log(url: str) -> list[tuple[int, float, str, float]]:
    """Every ring written so far: (reminder id, due time rung, claimant, when)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT reminder_id, due_at, claimant, at FROM ring_log ORDER BY at")
            )
            return [(r[0], r[1], r[2], r[3]) for r in rows]
    finally:
        engine.dispose()
