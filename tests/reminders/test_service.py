"""The reminder service with a real SQLite file and a real APScheduler on an asyncio loop."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.reminders.errors import ReminderInputError
from bot.reminders.recurrence import Recurrence
from bot.reminders.service import Limits, Owner, ReminderService
from bot.reminders.store import Reminder, ReminderState
from bot.storage import open_database
from bot.telegram.reminder_words import explain
from tests.reminders.rows import add, pending

pytestmark = pytest.mark.timeout(30)
ME = Owner(chat_id=42, user_id=42, user_name="@me")


class Rings:
    """The ring callback: records (id, late, when rung, the due time rung) and lets a test await
    the n-th ring."""

    def __init__(self) -> None:
        self.got: list[tuple[int, timedelta, float, float]] = []
        self.event = asyncio.Event()

    async def __call__(self, row: Reminder, late: timedelta) -> None:
        self.got.append((row.id, late, time.time(), row.due_at))
        self.event.set()

    async def wait(self, count: int, timeout: float = 10.0) -> None:
        """Until ``count`` rings came; the timeout is a generous bound on a busy machine, not the
        punctuality under test."""

        async def enough() -> None:
            while len(self.got) < count:
                self.event.clear()
                await self.event.wait()

        await asyncio.wait_for(enough(), timeout)


async def settled(service: ReminderService, row_id: int, state: str, timeout: float = 5) -> None:
    """Until the row is in ``state`` (recorded on a worker thread just after its ring)."""
    deadline = time.monotonic() + timeout
    while service.get(row_id).state != state:
        assert time.monotonic() < deadline, f"t{row_id} is {service.get(row_id).state}"
        await asyncio.sleep(0.02)


def make(tmp_path: Path, missed=None, **limits) -> tuple[ReminderService, Rings]:
    _, sessions = open_database(f"sqlite:///{tmp_path / 'errand.db'}")
    rings = Rings()
    return ReminderService(sessions, rings, limits=Limits(**limits), missed=missed), rings


def test_timer_rings_on_time_and_is_marked_done(tmp_path: Path) -> None:
    async def scenario() -> None:
        service, rings = make(tmp_path)
        service.start()
        row = service.add_timer(ME, "0.3 tea")
        await rings.wait(1)
        ring_id, late, at, _ = rings.got[0]
        # Not before its time, and the lateness it reports is what the clock said when it rang
        # (how late a busy machine makes it is no part of the test; bench/reminders.py measures it).
        assert ring_id == row.id and at >= row.due_at
        assert timedelta(0) <= late <= timedelta(seconds=at - row.due_at)
        await settled(service, row.id, ReminderState.DONE)  # recorded right after the ring
        service.shutdown()

    asyncio.run(scenario())


def test_cancelled_timer_never_rings(tmp_path: Path) -> None:
    async def scenario() -> None:
        service, rings = make(tmp_path)
        service.start()
        doomed = service.add_timer(ME, "0.2")
        marker = service.add_timer(ME, "0.4")
        assert service.cancel(doomed.id).state == ReminderState.CANCELLED
        assert service.cancel(doomed.id) is None  # twice: not pending any more
        await rings.wait(1)
        assert [r[0] for r in rings.got] == [marker.id]
        service.shutdown()

    asyncio.run(scenario())


def test_recurring_reminder_moves_to_next_occurrence(tmp_path: Path) -> None:
    async def scenario() -> None:
        service, rings = make(tmp_path, min_interval=timedelta(seconds=0.2))
        service.start()
        row = service.add_reminder(ME, "every 0.3s blink")
        await rings.wait(3)
        due = [r[3] for r in rings.got[:3]]
        # None rang early.
        assert due[0] == row.due_at and all(r[2] >= r[3] for r in rings.got), rings.got
        # Each ring moved the row to a later occurrence of "every 0.3 s": whole steps of 0.3 s
        # (one step unless a busy machine made a ring later than the next one; then it skips).
        steps = [(b - a) / 0.3 for a, b in zip(due, due[1:], strict=False)]
        assert all(round(n) >= 1 and abs(n - round(n)) < 0.01 for n in steps), steps
        assert (
            service.get(row.id).state == ReminderState.PENDING
            and service.get(row.id).due_at > row.due_at
        )
        service.shutdown()

    asyncio.run(scenario())


def test_limits_name_the_limit(tmp_path: Path) -> None:
    service, _ = make(
        tmp_path, max_pending_per_user=2, max_duration=timedelta(days=1), label_max=10
    )
    service.add_timer(ME, "1h")
    service.add_timer(Owner(chat_id=-1, user_id=42), "1h")
    other = Owner(chat_id=7, user_id=7)
    for call, says in [
        (lambda: service.add_timer(ME, "1h"), "most allowed (2)"),
        (lambda: service.add_timer(other, "2d"), "longest allowed, 1 days"),
        (lambda: service.add_timer(other, "1h a label that is far too long"), "limit is 10"),
        (lambda: service.add_timer(other, "1h bell\x07"), "control characters"),
        (lambda: service.zones.set_zone(7, "Mars/Olympus"), "time zone"),
    ]:
        with pytest.raises(ReminderInputError) as error:
            call()
        assert says in explain(error.value)


def test_a_zone_in_the_phrase_is_the_reminders_zone(tmp_path: Path) -> None:
    service, _ = make(tmp_path)
    row = service.add_reminder(ME, "every day 9:00 Asia/Tokyo stretch")
    assert row.tz == "Asia/Tokyo" and row.label == "stretch"
    assert (
        datetime.fromtimestamp(row.due_at, UTC).astimezone(ZoneInfo("Asia/Tokyo")).strftime("%H:%M")
        == "09:00"
    )


def test_a_repeat_with_a_count_stops_after_its_last_ring(tmp_path: Path) -> None:
    service, rung = make(tmp_path)
    row = service.add_reminder(ME, "every 10 minutes for 2 times water")
    recurrence = Recurrence.from_spec(row.recurrence)
    zone = ZoneInfo(row.tz)
    second = recurrence.next_after(row.due, zone, anchor=row.due)
    assert second is not None and recurrence.next_after(second, zone, anchor=second) is None


def test_start_up_rings_recent_late_and_lists_old_missed(tmp_path: Path) -> None:
    async def scenario() -> None:
        listed: list[list[Reminder]] = []

        async def missed(rows: list[Reminder]) -> None:
            listed.append(rows)

        service, rings = make(tmp_path, missed=missed, missed_grace=timedelta(hours=1))
        now = time.time()
        recent, old, recurring = add(
            service.sessions,
            *(
                pending(42, due, recurrence=recurrence, created_at=now - 9000)
                for due, recurrence in (
                    (now - 60, None),
                    (now - 7200, None),
                    (now - 7200, "every 600"),
                )
            ),
        )
        service.start()
        await rings.wait(1)
        assert [r[0] for r in rings.got] == [recent] and rings.got[0][1] >= timedelta(seconds=59)
        # The old ones were listed once, together, before anything rang.
        assert [[r.id for r in rows] for rows in listed] == [[old, recurring]]
        assert service.get(old).state == ReminderState.MISSED
        again = service.get(recurring)
        assert again.state == ReminderState.PENDING and now < again.due_at <= now + 601
        await service.stop()
        assert service.get(recent).state == ReminderState.DONE

    asyncio.run(scenario())


def test_ten_thousand_pending_cost_nothing_until_due_and_the_due_ones_ring(
    tmp_path: Path,
) -> None:
    """Pending rows are not loaded at start-up (nothing in memory per row): the loop finds the
    ones that fall due by the index on (state, due_at). bench/reminders.py measures lateness."""
    service, rings = make(tmp_path)
    now = time.time()
    add(
        service.sessions,
        *(pending(i, now + 0.5 + i * 0.001 if i < 200 else now + 3600 + i) for i in range(10_000)),
    )

    async def scenario() -> None:
        service.start()
        await rings.wait(200, timeout=20)
        await service.stop()
        assert sorted(r[0] for r in rings.got) == list(range(1, 201))
        assert all(r[2] >= r[3] for r in rings.got)  # none early

    asyncio.run(scenario())


def test_rows_claimed_by_a_previous_run_ring_at_once_with_sqlite(tmp_path: Path) -> None:
    """A kill -9 leaves rows claimed with a running lease; with SQLite (one process) the next
    start rings them at once instead of waiting for the lease."""
    service, rings = make(tmp_path)
    now = time.time()
    add(
        service.sessions,
        pending(
            42, now - 1, created_at=now - 10, claimed_by="host:1:dead", claimed_until=now + 3600
        ),
    )

    async def scenario() -> None:
        service.start()
        await rings.wait(1)
        await settled(service, 1, ReminderState.DONE)
        await service.stop()

    asyncio.run(scenario())
