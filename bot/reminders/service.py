"""The reminder service: create, list, cancel, snooze and ring timers and reminders, on time.

The ringing itself is :mod:`bot.reminders.ringing`: in each process that runs work, a loop claims
the rows that are due (each by exactly one process, :mod:`bot.reminders.claims`), rings them and
records each right after. Rows in the database are the truth; nothing is kept in memory per
pending row, so any number of pending rows costs nothing until they fall due, and any process
may ring a row another process created. This module is the face the chat layer calls.

After a crash, what came due while the bot was down rings at once (its lateness is passed to the
ring callback) if it is within ``MISSED_GRACE``; older ones are handed to the ``missed``
callback so the chat layer can list them in one message per chat. A recurring reminder rings
once for all it missed and moves to its next occurrence.

Ringing is at-least-once: the ring callback returns only once the chat has the ring
(:attr:`RingOutcome.DELIVERED`; the chat layer retries sends until then) or it cannot ever have it
(:attr:`RingOutcome.UNDELIVERABLE`: that row alone becomes ``undelivered``). Only then is the row
marked done; a crash, a stop or an unexpected error before that leaves it pending, to ring again
(after :data:`~bot.reminders.ringing.RETRY_UNEXPECTED`, or by another process, or at the next
start).

Each row records the request that created it (:func:`bot.inbox.mark_handled`, same transaction),
so a command delivered twice creates one row; the per-user limit is checked and the row inserted
under one lock, so concurrent commands cannot pass it together.
"""

from __future__ import annotations

import logging
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.inbox import mark_handled
from bot.reminders.alarms import Alarms
from bot.reminders.duration import split_duration
from bot.reminders.errors import Problem, ReminderInputError
from bot.reminders.ringing import MissedCallback, RingCallback, RingLoop, RingOutcome, next_due
from bot.reminders.store import LABEL_MAX, Reminder, ReminderKind, ReminderState
from bot.reminders.user_zones import UserZones
from bot.reminders.when import parse_when

if TYPE_CHECKING:
    from apscheduler.schedulers.base import BaseScheduler

    from bot.config import Settings

log = logging.getLogger(__name__)


#: Rings later than this are announced as "late by …" (a healthy ring is a few ms late).
LATE_THRESHOLD = timedelta(seconds=2)


@dataclass(frozen=True)
class Limits:
    """What one user may ask for; every refusal names the limit."""

    max_pending_per_user: int = 50
    max_duration: timedelta = timedelta(days=366)
    min_interval: timedelta = timedelta(minutes=5)
    missed_grace: timedelta = timedelta(hours=24)
    label_max: int = LABEL_MAX

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            max_pending_per_user=settings.max_pending_per_user,
            max_duration=timedelta(days=settings.max_duration_days),
            min_interval=timedelta(minutes=settings.min_recurrence_minutes),
            missed_grace=timedelta(hours=settings.missed_grace_hours),
        )


@dataclass(frozen=True)
class Owner:
    """Who asks, and where: the chat the reminder rings in and the message it answers."""

    chat_id: int
    user_id: int
    user_name: str = ""
    chat_type: str = "private"
    reply_to: int | None = None
    thread_id: int | None = None  # the forum topic it was asked in: rings go there too


def clean_label(text: str, limits: Limits) -> str:
    """Whitespace collapsed; refuses control characters and labels over the length limit."""
    label = " ".join(text.split())
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") for ch in label):
        raise ReminderInputError(Problem.LABEL_CONTROL)
    if len(label) > limits.label_max:
        raise ReminderInputError(Problem.LABEL_TOO_LONG, length=len(label), limit=limits.label_max)
    return label


class ReminderService:
    """Timers and reminders for every chat, rung by the ring loop (:attr:`rings`).

    ``shared_database``: other processes ring from the same database (the process role's, i.e.
    PostgreSQL); the ring loop then polls for their rows (:class:`RingLoop`).
    ``scheduler``: the process's scheduler for the chat layer's alarms (countdown edits), started
    and stopped by its owner; None makes one of its own, started by :meth:`start` and stopped by
    :meth:`shutdown` (tests, benchmarks). ``missed``: lists rows missed while nothing ran.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        ring: RingCallback,
        *,
        limits: Limits = Limits(),
        default_tz: str = "UTC",
        clock: Callable[[], float] = time.time,
        scheduler: BaseScheduler | None = None,
        missed: MissedCallback | None = None,
        shared_database: bool = False,
    ) -> None:
        self.sessions = sessions
        self.ring = ring
        self._insert_lock = threading.Lock()  # the pending-count check and the insert, together
        self.limits = limits
        self.zones = UserZones(sessions, default_tz)
        self.clock = clock
        self.alarms = Alarms(scheduler)
        self.rings = RingLoop(
            sessions,
            ring,
            clock,
            shared=shared_database,
            missed=missed,
            missed_grace=limits.missed_grace,
        )

    @property
    def scheduler(self) -> BaseScheduler:
        """The scheduler the chat layer's alarms (countdown edits) are jobs on."""
        return self.alarms.scheduler

    # --- lifecycle -------------------------------------------------------------------------

    def start(self, *, ring: bool = True) -> None:
        """Start an own scheduler and, when ``ring`` (this process runs work), the ring loop;
        inside a running event loop."""
        self.alarms.start()
        if ring:
            self.rings.start()
            log.info("reminders: ringing due rows as %s", self.rings.claimant)

    async def stop(self) -> None:
        """Stop the ring loop: rings in flight are cancelled and released (they stay pending, to
        ring in another process or at the next start); stop an own scheduler."""
        await self.rings.stop()
        self.alarms.stop()

    def shutdown(self) -> None:
        """:meth:`stop` without waiting (no loop to wait on): claims left run out by their
        lease."""
        self.rings.stop_now()
        self.alarms.stop()

    # --- creating --------------------------------------------------------------------------

    def add_timer(self, owner: Owner, args: str, request_id: int | None = None) -> Reminder:
        """``/timer DURATION [label]``; raises :class:`ReminderInputError` with a short answer.

        ``request_id`` (the update's id) is marked handled in the row's transaction."""
        delta, rest = split_duration(args.split())
        self._check_span(delta)
        now = self.clock()
        return self._insert(
            owner,
            ReminderKind.TIMER,
            now + delta.total_seconds(),
            " ".join(rest),
            recurrence=None,
            duration=delta.total_seconds(),
            request_id=request_id,
        )

    def add_reminder(self, owner: Owner, args: str, request_id: int | None = None) -> Reminder:
        """``/remind WHEN TEXT``; raises :class:`ReminderInputError` naming the part not
        understood."""
        now = datetime.fromtimestamp(self.clock(), UTC)
        plan = parse_when(args, now, self.zones.zone_of(owner.user_id), self.limits.min_interval)
        self._check_span(plan.due - now)
        return self._insert(
            owner,
            ReminderKind.REMINDER,
            plan.due.timestamp(),
            plan.text,
            recurrence=plan.recurrence.spec() if plan.recurrence else None,
            tz=plan.zone.key if plan.zone else None,
            request_id=request_id,
        )

    def snooze(self, reminder_id: int, choice: str, owner: Owner) -> Reminder:
        """A new one-off copy of a rung reminder: ``5m``, ``1h`` or ``tomorrow`` (same time)."""
        with self.sessions() as session:
            original = session.get(Reminder, reminder_id)
        if original is None:
            raise ReminderInputError(Problem.NO_SUCH_REMINDER)
        now = self.clock()
        if choice == "5m":
            due = now + 300
        elif choice == "1h":
            due = now + 3600
        elif choice == "tomorrow":
            due = now + 86400
        else:
            raise ReminderInputError(Problem.BAD_SNOOZE)
        owner = Owner(
            original.chat_id,
            original.user_id,
            original.user_name,
            original.chat_type,
            owner.reply_to,
            original.thread_id,
        )
        return self._insert(
            owner,
            original.kind,
            due,
            original.label,
            recurrence=None,
            duration=due - now if original.kind == ReminderKind.TIMER else None,
        )

    def _check_span(self, delta: timedelta) -> None:
        if delta > self.limits.max_duration:
            raise ReminderInputError(Problem.TOO_FAR, days=self.limits.max_duration.days)

    def _insert(
        self,
        owner: Owner,
        kind: str,
        due_at: float,
        label: str,
        *,
        recurrence: str | None,
        duration: float | None = None,
        tz: str | None = None,
        request_id: int | None = None,
    ) -> Reminder:
        label = clean_label(label, self.limits)
        tz = tz or self.zones.zone_of(owner.user_id).key
        with self._insert_lock, self.sessions() as session:
            pending = (
                session.scalar(
                    select(func.count())
                    .select_from(Reminder)
                    .where(
                        Reminder.user_id == owner.user_id, Reminder.state == ReminderState.PENDING
                    )
                )
                or 0
            )
            if pending >= self.limits.max_pending_per_user:
                raise ReminderInputError(
                    Problem.TOO_MANY_PENDING,
                    pending=pending,
                    limit=self.limits.max_pending_per_user,
                )
            row = Reminder(
                kind=kind,
                chat_id=owner.chat_id,
                chat_type=owner.chat_type,
                thread_id=owner.thread_id,
                user_id=owner.user_id,
                user_name=owner.user_name[:64],
                label=label,
                due_at=due_at,
                recurrence=recurrence,
                tz=tz,
                reply_to=owner.reply_to,
                duration=duration,
                state=ReminderState.PENDING,
                created_at=self.clock(),
            )
            session.add(row)
            mark_handled(session, request_id)
            session.commit()
        self.rings.wake_at(row.due_at)
        return row

    # --- reading and cancelling ------------------------------------------------------------

    def get(self, reminder_id: int) -> Reminder | None:
        with self.sessions() as session:
            return session.get(Reminder, reminder_id)

    def pending_in_chat(self, chat_id: int, user_id: int | None = None) -> list[Reminder]:
        """Pending rows in a chat by due time; only ``user_id``'s when given."""
        query = select(Reminder).where(
            Reminder.chat_id == chat_id, Reminder.state == ReminderState.PENDING
        )
        if user_id is not None:
            query = query.where(Reminder.user_id == user_id)
        with self.sessions() as session:
            return list(session.scalars(query.order_by(Reminder.due_at)).all())

    def counting_down(self) -> list[Reminder]:
        """Pending timers with a confirmation to edit: their countdowns resume after a restart."""
        query = select(Reminder).where(
            Reminder.state == ReminderState.PENDING,
            Reminder.kind == ReminderKind.TIMER,
            Reminder.status_message_id.is_not(None),
        )
        with self.sessions() as session:
            return list(session.scalars(query).all())

    def pending_count(self) -> int:
        with self.sessions() as session:
            return (
                session.scalar(
                    select(func.count())
                    .select_from(Reminder)
                    .where(Reminder.state == ReminderState.PENDING)
                )
                or 0
            )

    def cancel(self, reminder_id: int) -> Reminder | None:
        """Cancel a pending row; None when it is not pending (rung, cancelled, unknown)."""
        with self.sessions() as session:
            row = session.get(Reminder, reminder_id)
            if row is None or row.state != ReminderState.PENDING:
                return None
            row.state = ReminderState.CANCELLED
            session.commit()
        self.rings.forget(reminder_id)
        return row

    def resume(self, reminder_ids: list[int]) -> list[Reminder]:
        """Make undeliverable rows (their chat was unreachable) pending and scheduled again.

        A one-off whose time passed meanwhile rings at once, saying how late; a recurring one
        moves to its next occurrence (or, when its repeat ended meanwhile, rings once, late, like
        a one-off). Returns the rows resumed.
        """
        now = self.clock()
        with self.sessions() as session:
            rows = list(
                session.scalars(
                    select(Reminder).where(
                        Reminder.id.in_(reminder_ids), Reminder.state == ReminderState.UNDELIVERABLE
                    )
                ).all()
            )
            for row in rows:
                row.state = ReminderState.PENDING
                row.claimed_by = row.claimed_until = None
                following = next_due(row, now) if row.recurrence and row.due_at < now else None
                if following is not None:
                    row.due_at = following.timestamp()
            session.commit()
        for row in rows:
            self.rings.wake_at(row.due_at)
        return rows

    def set_status_message(self, reminder_id: int, message_id: int) -> None:
        with self.sessions() as session:
            row = session.get(Reminder, reminder_id)
            if row is not None:
                row.status_message_id = message_id
                session.commit()


def is_late(late: timedelta) -> bool:
    """Whether a ring this late should say so (a healthy ring is a few ms late)."""
    return late >= LATE_THRESHOLD


__all__ = [
    "Limits",
    "Owner",
    "ReminderInputError",
    "ReminderService",
    "RingOutcome",
    "is_late",
]
