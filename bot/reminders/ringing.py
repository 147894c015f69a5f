"""The ring loop: claim the reminder rows that are due, ring each once, record it right after.

Split from :mod:`bot.reminders.service` (which creates, lists and cancels rows) because this is
the part with its own rules. It runs in every process that runs work (with SQLite, the one
``errandbot run``; with PostgreSQL, each worker and each front that also works), and all of them
share one path:

- **Claim.** Just before the earliest pending row falls due (each claim also reads when that
  is), when this process adds a row that is due sooner (:meth:`RingLoop.wake_at`) and, where
  other processes share the database (:attr:`RingLoop.shared`, the process role's
  ``shared_database``: PostgreSQL), every :attr:`RingLoop.poll` seconds for the rows they add, it
  claims the rows due within :attr:`RingLoop.ahead` with a lease (:mod:`bot.reminders.claims`);
  each rings at its due time (unless cancelled meanwhile). With one process (SQLite) every row
  comes through this one, which wakes itself for it: it does not poll.
  Each due row is claimed by exactly one process; at most :attr:`RingLoop.max_in_flight` rings
  are in flight per process, so a backlog spreads over the processes.
- **Ring.** Each claimed row is rung by its own task: the ring callback returns only once the
  chat has the ring or never can. Meanwhile the loop renews the leases of the rings in flight.
- **Record.** Right after the send, one statement marks the row done (or undeliverable), or moves
  a repeat to its next time, and releases it. Only a ring in flight when its process dies can
  therefore repeat: its lease runs out within :attr:`RingLoop.lease` seconds and another process
  rings it. A stop (the task is cancelled) releases the claims at once, so another process, or the
  next start, rings them; an unexpected error releases the row to be tried
  :data:`RETRY_UNEXPECTED` later.
- **Missed.** Rows that came due more than the grace period ago (everything was down) are not
  rung: one-offs become ``missed`` and repeats move past what they missed, and the rows are handed
  to the ``missed`` callback to be listed in their chats; whichever process claims them does so,
  once (at the loop's start and every :data:`MISSED_SWEEP` after).

Database calls run on worker threads (``asyncio.to_thread``): the event loop never waits on the
database, and no database lock is held across a send.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.reminders import claims
from bot.reminders.claims import next_due
from bot.reminders.store import Reminder, ReminderState

log = logging.getLogger(__name__)


class RingOutcome(enum.StrEnum):
    """What became of a ring: the chat has it, or it never can (blocked, chat gone)."""

    DELIVERED = "delivered"
    UNDELIVERABLE = "undeliverable"


#: ``await ring(reminder, late_by)``: deliver a ring, retrying as needed, and say how it went;
#: ``late_by`` is how late it is (>= 0). Raising leaves the row pending, tried again later.
RingCallback = Callable[[Reminder, timedelta], Awaitable[RingOutcome | None]]
#: ``await missed(rows)``: list rows missed while nothing ran (already marked so) in their chats.
MissedCallback = Callable[[list[Reminder]], Awaitable[None]]

#: After a ring callback raised something unexpected, try that row again this much later.
RETRY_UNEXPECTED = timedelta(seconds=60)
#: A loop that does not poll wakes this long after the retry time of such a row (its lease is
#: on the wall clock, the wake-up on the event loop's: a margin for the two to drift apart).
RETRY_WAKE_MARGIN = 1.0
#: How often the loop looks for rows missed longer than the grace period (besides at its start).
MISSED_SWEEP = 60.0
#: Missed rows claimed per statement in a sweep.
MISSED_BATCH = 500
#: Tries to record a ring that was sent while the database is away (about a minute in all).
RECORD_TRIES = 8
#: How long a stop waits for rings already sent to be recorded.
STOP_RECORD_WAIT = 5.0


def claimant_name() -> str:
    """This loop's name in ``claimed_by``: host and pid (for people reading the table) and a
    random tail (a restarted process with the same pid is another claimant)."""
    host = socket.gethostname()[:32]
    return f"{host}:{os.getpid()}:{secrets.token_hex(4)}"


__all__ = ["RingLoop", "RingOutcome", "RingCallback", "MissedCallback", "next_due"]


class RingLoop:
    """Claims due rows and rings them (see the module docstring); one per process that works.

    ``shared``: other processes ring from the same table (the process role's ``shared_database``,
    PostgreSQL), so the loop polls for their rows and leaves their claims alone; without it, this
    process is the only one (SQLite): it wakes for what it adds and for the next due row, and
    claims left at its start are its previous run's, released. ``poll``: with ``shared``, seconds
    between looks for rows other processes added (and, in any case, before another try after a
    look failed); ``ahead``: rows due this much later are claimed now and rung on time (fewer,
    larger claims when many fall due together); ``lease``: how long a claim lasts unless renewed
    (a dead process's rings are taken over after this); ``max_in_flight``: rings at once in this
    process.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        ring: RingCallback,
        clock: Callable[[], float],
        *,
        shared: bool,
        missed: MissedCallback | None = None,
        missed_grace: timedelta = timedelta(hours=24),
        poll: float = 0.25,
        ahead: float = 0.25,
        lease: float = 10.0,
        max_in_flight: int = 100,
    ) -> None:
        self.sessions = sessions
        self.ring = ring
        self.missed = missed
        self.clock = clock
        self.missed_grace = missed_grace
        self.shared = shared
        self.poll = poll
        self.ahead = ahead
        self.lease = lease
        self.max_in_flight = max_in_flight
        self.claimant = claimant_name()
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._recording: set[int] = set()  # sent, being recorded: a stop lets them finish
        self._early: set[int] = set()  # claimed ahead, waiting for their time
        self._forgotten: set[int] = set()  # cancelled here; a claim that crossed the cancel
        self._wake = asyncio.Event()
        self._wake_at: float | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start claiming and ringing (inside the running event loop)."""
        if self._task is None:
            self._stopping = False
            self._loop = asyncio.get_running_loop()
            self._task = self._loop.create_task(self._run(), name="ring-loop")

    async def stop(self) -> None:
        """Stop claiming; cancel the rings in flight and release their rows to be rung by
        another process (or at the next start)."""
        self._stopping = True
        ringing = [rid for rid in self._in_flight if rid not in self._recording]
        recording = [t for rid, t in self._in_flight.items() if rid in self._recording]
        tasks = [t for t in (self._task, *(self._in_flight[rid] for rid in ringing)) if t]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if recording:  # sent: let them record (else they would ring again), briefly
            await asyncio.wait(recording, timeout=STOP_RECORD_WAIT)
            for task in recording:
                task.cancel()
        self._task = None
        self._in_flight.clear()
        # Everything still claimed: the rings cancelled, and a claim the cancelled poll made.
        released = await asyncio.to_thread(claims.release_all, self.sessions, self.claimant)
        if released:
            log.info("%d rings not rung at stop released; they stay pending", released)

    def stop_now(self) -> None:
        """Cancel everything without waiting (no running loop to await on): the leases run out."""
        for task in (self._task, *self._in_flight.values()):
            if task is not None:
                task.cancel()

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def wake_at(self, due_at: float) -> None:
        """Look for due rows at ``due_at`` (a row this process added); any thread may call this."""
        self._from_any_thread(self._set_wake, due_at)

    def forget(self, row_id: int) -> None:
        """A row was cancelled in this process: if it was claimed ahead of its time and waits for
        it, it does not ring. (A cancel in another process within :attr:`ahead` of the due time
        comes too late, as one a moment after it would: the ring goes, the row stays cancelled.)
        Any thread may call this."""
        self._from_any_thread(self._forget, row_id)

    def _from_any_thread(self, method: Callable[[Any], None], arg: object) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return  # not ringing here (a pure front), or stopped
        try:
            loop.call_soon_threadsafe(method, arg)
        except RuntimeError:  # the loop closed meanwhile
            pass

    def _forget(self, row_id: int) -> None:
        # Remembered too: a claim that read the row before the cancel may hand it over after
        # this (its task not made yet, or not started): the ring checks here before it goes.
        self._forgotten.add(row_id)
        task = self._in_flight.get(row_id)
        if task is not None and row_id in self._early:
            task.cancel()

    def _set_wake(self, due_at: float) -> None:
        if self._wake_at is None or due_at < self._wake_at:
            self._wake_at = due_at
            self._wake.set()

    # --- the loop --------------------------------------------------------------------------

    async def _run(self) -> None:
        if not self.shared:
            # One process (SQLite): claims left by its previous run (kill -9) need no lease to
            # run out before they ring.
            released = await asyncio.to_thread(claims.release_all, self.sessions)
            if released:
                log.info("%d rings claimed by the previous run released", released)
        next_sweep, failures = 0.0, 0
        next_renew = self.clock() + self.lease / 4
        while not self._stopping:
            # A row cancelled before this claim starts cannot be claimed: only rows in flight
            # need their cancel remembered.
            self._forgotten.intersection_update(self._in_flight)
            # Cleared before the claim, not after: a ring that ends during the claim (a slot
            # freed) or a row added meanwhile wakes the sleep that follows it.
            self._wake.clear()
            now = self.clock()
            try:
                if now >= next_sweep:
                    await self._sweep_missed(now)
                    next_sweep = now + MISSED_SWEEP
                if now >= next_renew:
                    await self._renew(now)
                    next_renew = now + self.lease / 4
                tick = await asyncio.to_thread(
                    claims.claim_due,
                    self.sessions,
                    self.claimant,
                    now=now,
                    horizon=now + self.ahead,
                    not_before=now - self.missed_grace.total_seconds(),
                    lease=self.lease,
                    limit=self.max_in_flight - len(self._in_flight),
                )
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception:  # the database is away: say so now and then, try again
                failures += 1
                if failures == 1 or failures % 100 == 0:
                    log.exception(
                        "claiming due reminders failed (%d times); trying again", failures
                    )
                tick = claims.Tick([], None)
            for row in tick.claimed:
                if row.id not in self._in_flight:  # (our own lease, renewed late: already ringing)
                    task = asyncio.create_task(self._ring(row), name=f"ring-t{row.id}")
                    self._in_flight[row.id] = task
            await self._sleep(self._look_again(now, failures > 0, next_sweep, next_renew), tick)

    def _look_again(self, now: float, failed: bool, next_sweep: float, next_renew: float) -> float:
        """When to claim again at the latest: a poll later where the database is shared, or
        after a claim that failed; with one process, at the next sweep for missed rows, or the
        next lease renewal while rings are in flight (due rows wake it as they come)."""
        if self.shared or failed:
            return now + self.poll
        return min(next_sweep, next_renew) if self._in_flight else next_sweep

    async def _sleep(self, look_again: float, tick: claims.Tick) -> None:
        """Until ``look_again`` (the next poll; without one, the next sweep or lease renewal),
        the next row's due time, or a wake (a row added here, a ring finished while all slots
        were taken), whichever comes first."""
        until = look_again
        if tick.next_at is not None:
            until = min(until, tick.next_at - self.ahead)
        if self._wake_at is not None:
            until = min(until, self._wake_at - self.ahead)
        delay = until - self.clock()
        if delay > 0:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for loses a cancellation that
            # arrives as the event is set (a stop cancelling the rings, which set it as they end).
            try:
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            except TimeoutError:
                pass
        if self._wake_at is not None and self._wake_at - self.ahead <= self.clock():
            self._wake_at = None

    async def _renew(self, now: float) -> None:
        if self._in_flight:
            await asyncio.to_thread(
                claims.renew, self.sessions, list(self._in_flight), self.claimant, now + self.lease
            )

    async def _sweep_missed(self, now: float) -> None:
        before = now - self.missed_grace.total_seconds()
        while True:
            rows = await asyncio.to_thread(
                claims.claim_missed,
                self.sessions,
                self.claimant,
                now=now,
                before=before,
                lease=self.lease,
                limit=MISSED_BATCH,
            )
            if not rows:
                return
            settled = await asyncio.to_thread(
                claims.settle_missed, self.sessions, rows, self.claimant, now
            )
            log.info("%d reminders missed while nothing ran; listing them", len(settled))
            if settled and self.missed is not None:
                try:
                    await self.missed(settled)
                except Exception:  # the rows are settled; a note that failed is only logged
                    log.exception("listing missed reminders failed")
            if len(rows) < MISSED_BATCH:
                return

    # --- one ring --------------------------------------------------------------------------

    async def _ring(self, row: Reminder) -> None:
        try:
            early = row.due_at - self.clock()
            if early > 0:  # claimed ahead of its time: ring on time (unless forgotten meanwhile)
                self._early.add(row.id)
                await asyncio.sleep(early)
                self._early.discard(row.id)
            if row.id in self._forgotten:  # cancelled here as (or just after) it was claimed
                return
            await self._ring_and_record(row)
        except asyncio.CancelledError:
            if row.id not in self._early:
                raise
            # forgotten before its time (cancelled here): nothing to ring; its claim is moot
        finally:
            self._early.discard(row.id)
            self._forgotten.discard(row.id)
            self._in_flight.pop(row.id, None)
            self._recording.discard(row.id)
            self._wake.set()  # room for another claim

    async def _ring_and_record(self, row: Reminder) -> None:
        late = timedelta(seconds=max(0.0, self.clock() - row.due_at))
        try:
            outcome = await self.ring(row, late)
        except asyncio.CancelledError:  # stopping: stop() releases the row
            log.info("t%d not rung yet at shutdown; it stays pending", row.id)
            raise
        except Exception:  # one failed ring must not stop the others; this one stays pending
            log.exception("ringing t%d failed; trying again in %s", row.id, RETRY_UNEXPECTED)
            retry_at = self.clock() + RETRY_UNEXPECTED.total_seconds()
            await asyncio.to_thread(
                claims.release, self.sessions, [row.id], self.claimant, retry_at
            )
            if not self.shared:  # no poll finds it once its lease is over: wake for it
                delay = retry_at - self.clock() + RETRY_WAKE_MARGIN
                asyncio.get_running_loop().call_later(delay, self._wake.set)
            return
        self._recording.add(row.id)
        following = next_due(row, max(self.clock(), row.due_at)) if row.recurrence else None
        if outcome is RingOutcome.UNDELIVERABLE:
            log.warning("t%d is undeliverable to chat %s; marked so", row.id, row.chat_id)
            recorded = await self._record(row, state=ReminderState.UNDELIVERABLE)
        elif following is not None:
            recorded = await self._record(row, due_at=following.timestamp())
            self._set_wake(following.timestamp())
        else:
            recorded = await self._record(row, state=ReminderState.DONE)
        if not recorded:
            log.info("t%d rang, but its row changed meanwhile (cancelled, paused or taken)", row.id)

    async def _record(
        self, row: Reminder, *, state: ReminderState | None = None, due_at: float | None = None
    ) -> bool:
        """:func:`claims.settle`, tried again while the database is away (the row stays in
        flight, its lease renewed); after :data:`RECORD_TRIES` the lease is left to run out and
        the row rings again: at least once."""
        for attempt in range(RECORD_TRIES):
            try:
                return await asyncio.to_thread(
                    claims.settle, self.sessions, row, self.claimant, state=state, due_at=due_at
                )
            except Exception:
                log.warning("recording t%d failed (try %d)", row.id, attempt + 1, exc_info=True)
                await asyncio.sleep(min(2.0**attempt, 10.0))
        return False
