"""When the ring loop looks for due rows: on a short poll only where other processes share the
database (``shared``, the process role's ``shared_database``: PostgreSQL); with one process
(SQLite) only when something falls due or this process wakes it, and still on time.

A real SQLite file and the real loop on an asyncio loop; the looks are counted from the SQL the
engine runs (each claim also asks when the next row falls due).
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.reminders import ringing
from bot.reminders.ringing import RingLoop, RingOutcome
from bot.reminders.store import Reminder, ReminderState
from bot.storage import open_database
from tests.reminders.rows import add, pending

pytestmark = pytest.mark.timeout(30)


class Database:
    """A fresh SQLite file; counts the ring loop's looks (the next-due query of each claim)."""

    def __init__(self, folder: Path) -> None:
        self.engine, self.sessions = open_database(f"sqlite:///{folder / 'errand.db'}")
        self.looks = 0
        sa.event.listen(self.engine, "before_cursor_execute", self._count)

    def _count(self, conn, cursor, statement: str, *args) -> None:
        if "min(reminders.due_at)" in statement:
            self.looks += 1

    def add(self, due_at: float, chat_id: int = 42) -> int:
        """A pending one-off row, written straight to the table (as another process would)."""
        [row_id] = add(self.sessions, pending(chat_id, due_at))
        return row_id

    def state(self, row_id: int) -> str:
        with self.sessions() as session:
            row = session.get(Reminder, row_id)
            assert row is not None
            return row.state


class Rung:
    """The ring callback: records each ring's row id and time, and fails the first ``fail``."""

    def __init__(self, fail: int = 0) -> None:
        self.rings: list[tuple[int, float]] = []
        self.fail = fail

    async def __call__(self, row: Reminder, late: timedelta) -> RingOutcome:
        self.rings.append((row.id, time.time()))
        if len(self.rings) <= self.fail:
            raise RuntimeError("the Bot API went away")
        return RingOutcome.DELIVERED

    async def until(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.rings) < count:
            assert time.monotonic() < deadline, f"{len(self.rings)} of {count} rings"
            await asyncio.sleep(0.02)


@pytest.mark.parametrize("shared", [True, False], ids=["shared", "one-process"])
def test_an_idle_loop_polls_only_where_the_database_is_shared(tmp_path: Path, shared: bool) -> None:
    db = Database(tmp_path)
    db.add(time.time() + 3600)  # pending, far off

    async def scenario() -> int:
        loop = RingLoop(db.sessions, Rung(), time.time, shared=shared, poll=0.25)
        loop.start()
        await asyncio.sleep(2.0)
        await loop.stop()
        return db.looks

    looks = asyncio.run(scenario())
    if shared:  # every 0.25 s for rows other processes add (a busy machine may lose some)
        assert looks >= 4, looks
    else:  # once at start; the next look is for the row an hour away
        assert looks == 1, looks


def test_with_a_shared_database_a_row_another_process_adds_rings_within_a_poll(
    tmp_path: Path,
) -> None:
    db = Database(tmp_path)
    rung = Rung()

    async def scenario() -> None:
        loop = RingLoop(db.sessions, rung, time.time, shared=True, poll=0.25)
        loop.start()
        await asyncio.sleep(0.5)  # asleep, with nothing pending
        row_id = db.add(time.time())
        await rung.until(1, timeout=10)
        await loop.stop()
        assert rung.rings[0][0] == row_id

    asyncio.run(scenario())


def test_one_process_rings_rows_due_later_and_a_backlog_over_its_slots_without_polling(
    tmp_path: Path,
) -> None:
    """Each due time wakes it; a ring that ends frees a slot and wakes it for the next."""
    db = Database(tmp_path)
    now = time.time()
    later = [db.add(now + 0.5 + i * 0.3, chat_id=i) for i in range(3)]
    backlog = [db.add(now - 1, chat_id=100 + i) for i in range(20)]
    rung = Rung()

    async def scenario() -> None:
        loop = RingLoop(db.sessions, rung, time.time, shared=False, max_in_flight=3)
        loop.start()
        await rung.until(23, timeout=20)
        await loop.stop()

    asyncio.run(scenario())
    assert sorted(row_id for row_id, _ in rung.rings) == sorted(later + backlog)
    assert all(db.state(row_id) == ReminderState.DONE for row_id in later + backlog)


def test_one_process_tries_a_failed_ring_again_at_its_time_without_polling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ringing, "RETRY_UNEXPECTED", timedelta(seconds=1))
    db = Database(tmp_path)
    row_id = db.add(time.time())
    rung = Rung(fail=1)

    async def scenario() -> None:
        loop = RingLoop(db.sessions, rung, time.time, shared=False)
        loop.start()
        await rung.until(2, timeout=15)
        await loop.stop()

    asyncio.run(scenario())
    (first_id, first), (again_id, again) = rung.rings
    assert first_id == again_id == row_id
    # Once its retry time (1 s here) has passed, with the margin for the two clocks.
    assert 1.0 <= again - first < 1.0 + ringing.RETRY_WAKE_MARGIN + 5, again - first
    assert db.state(row_id) == ReminderState.DONE
