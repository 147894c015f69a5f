"""Ring outcomes and the per-user limit, with a real SQLite file and a real APScheduler (issue #13).

A ring is marked done only once the ring callback says Telegram took it; an undeliverable one
marks that row alone; a callback that raises leaves the row pending. The pending limit holds when
many requests arrive at once.
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest

from bot import inbox
from bot.reminders.errors import ReminderInputError
from bot.reminders.ringing import RETRY_UNEXPECTED
from bot.reminders.service import Limits, Owner, ReminderService, RingOutcome
from bot.reminders.store import Reminder, ReminderState
from bot.storage import open_database

pytestmark = pytest.mark.timeout(30)
ME = Owner(chat_id=42, user_id=42, user_name="@me")


def service(tmp_path: Path, ring, clock=time.time, **limits) -> ReminderService:
    _, sessions = open_database(f"sqlite:///{tmp_path / 'errand.db'}")
    return ReminderService(sessions, ring, limits=Limits(**limits), clock=clock)


def slow_clock() -> float:
    """A clock that takes 10 ms to read: the service reads it between its limit check and its
    insert, so concurrent requests overlap there as they do on a busy machine."""
    time.sleep(0.01)
    return time.time()


def test_pending_limit_holds_under_concurrent_requests(tmp_path: Path) -> None:
    async def ring(row: Reminder, late: timedelta) -> RingOutcome:
        return RingOutcome.DELIVERED

    svc = service(tmp_path, ring, clock=slow_clock, max_pending_per_user=5)
    start = threading.Barrier(16)

    def add(i: int) -> bool:
        start.wait()
        try:
            svc.add_timer(ME, f"{i + 60}m")
        except ReminderInputError:
            return False
        return True

    with ThreadPoolExecutor(16) as pool:
        accepted = sum(pool.map(add, range(16)))
    assert accepted == 5 and len(svc.pending_in_chat(42)) == 5


def test_a_request_is_marked_handled_with_its_row(tmp_path: Path) -> None:
    async def ring(row: Reminder, late: timedelta) -> RingOutcome:
        return RingOutcome.DELIVERED

    svc = service(tmp_path, ring)
    assert inbox.store(svc.sessions, 77, "{}")
    assert not inbox.store(svc.sessions, 77, "{}")  # a redelivery is recognised
    svc.add_timer(ME, "1h", request_id=77)
    assert inbox.is_handled(svc.sessions, 77) and inbox.unhandled(svc.sessions) == []


@pytest.mark.parametrize(
    "outcome,state",
    [
        (RingOutcome.DELIVERED, ReminderState.DONE),
        (RingOutcome.UNDELIVERABLE, ReminderState.UNDELIVERABLE),
    ],
)
def test_ring_outcome_decides_the_rows_state(
    tmp_path: Path, outcome: RingOutcome, state: str
) -> None:
    async def scenario() -> tuple[str, str]:
        rang = asyncio.Event()

        async def ring(row: Reminder, late: timedelta) -> RingOutcome:
            rang.set()
            return outcome

        svc = service(tmp_path, ring)
        svc.start()
        first = svc.add_timer(ME, "0.2")
        other = svc.add_timer(ME, "1h")
        await asyncio.wait_for(rang.wait(), 5)
        for _ in range(50):
            if svc.get(first.id).state != ReminderState.PENDING:
                break
            await asyncio.sleep(0.05)
        svc.shutdown()
        return svc.get(first.id).state, svc.get(other.id).state

    assert asyncio.run(scenario()) == (state, ReminderState.PENDING)


def test_a_ring_callback_that_raises_leaves_the_row_pending(tmp_path: Path) -> None:
    async def scenario() -> str:
        rang = asyncio.Event()

        async def ring(row: Reminder, late: timedelta) -> RingOutcome:
            rang.set()
            raise RuntimeError("the Bot API went away")

        svc = service(tmp_path, ring)
        svc.start()
        row = svc.add_timer(ME, "0.2")
        await asyncio.wait_for(rang.wait(), 5)
        deadline = time.monotonic() + 10
        while svc.get(row.id).claimed_by is not None:  # released, to be tried again later
            assert time.monotonic() < deadline, "never released"
            await asyncio.sleep(0.02)
        rung_at = time.time()
        again = svc.get(row.id)
        await svc.stop()
        return again.state, again.claimed_until - rung_at

    state, retry_in = asyncio.run(scenario())
    # Pending, and claimable again (by any process) about RETRY_UNEXPECTED later.
    assert state == ReminderState.PENDING
    assert RETRY_UNEXPECTED.total_seconds() - 5 < retry_in <= RETRY_UNEXPECTED.total_seconds()


def test_a_stop_releases_the_rings_in_flight_at_once(tmp_path: Path) -> None:
    """A ring still waiting for Telegram at a stop (SIGTERM) stays pending and is released, not
    left to its lease: another process (or the next start) rings it at once."""

    async def scenario() -> Reminder:
        sending = asyncio.Event()

        async def ring(row: Reminder, late: timedelta) -> RingOutcome:
            sending.set()
            await asyncio.Event().wait()  # Telegram never answers
            return RingOutcome.DELIVERED

        svc = service(tmp_path, ring)
        svc.start()
        row = svc.add_timer(ME, "0.1")
        await asyncio.wait_for(sending.wait(), 5)
        assert svc.get(row.id).claimed_by == svc.rings.claimant
        await svc.stop()
        return svc.get(row.id)

    row = asyncio.run(scenario())
    assert (row.state, row.claimed_by, row.claimed_until) == (ReminderState.PENDING, None, None)


def test_a_timer_cancelled_after_its_claim_ahead_of_time_does_not_ring(tmp_path: Path) -> None:
    """Rows due within RingLoop.ahead are claimed early and rung on time; a cancel in between
    (here, in the same process) still stops the ring."""

    async def scenario() -> list[int]:
        rung: list[int] = []

        async def ring(row: Reminder, late: timedelta) -> RingOutcome:
            rung.append(row.id)
            return RingOutcome.DELIVERED

        svc = service(tmp_path, ring)
        svc.rings.ahead = 1.0
        svc.start()
        doomed = svc.add_timer(ME, "1.5")
        deadline = time.monotonic() + 10
        while svc.get(doomed.id).claimed_by is None:  # claimed, waiting for its time
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        assert svc.cancel(doomed.id) is not None
        marker = svc.add_timer(ME, "1.8")
        while not rung:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        await svc.stop()
        assert marker.id in rung
        return rung

    assert asyncio.run(scenario()) == [2]
