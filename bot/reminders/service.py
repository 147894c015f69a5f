"""The reminder service: create, list, cancel, snooze and ring timers and reminders, on time.

Rows in the database are the truth; APScheduler's in-memory job store is only the alarm clock
for them. At start-up :meth:`ReminderService.start` reads every pending row and adds one
``date`` job per row (no thread per timer: the scheduler runs the ring coroutine on the bot's
event loop). The scheduler is the process's one, given by whoever owns it (the bot gives
python-telegram-bot's ``JobQueue.scheduler``); :mod:`bot.reminders.alarms` explains how rings run
on it (late rather than never; cancelled, not awaited, when the bot stops).

After a crash, what came due while the bot was down rings at once (its lateness is passed to the
ring callback) if it is within ``MISSED_GRACE``; older ones are returned from :meth:`start` as
"missed" so the chat layer can list them in one message per chat. A recurring reminder rings
once for all it missed and moves to its next occurrence.

Ringing is at-least-once: the ring callback returns only once the chat has the ring
(:attr:`RingOutcome.DELIVERED`; the chat layer retries sends until then) or it cannot ever have it
(:attr:`RingOutcome.UNDELIVERABLE`: that row alone becomes ``undelivered``). Only then is the row
marked done; a crash, a stop or an unexpected error before that leaves it pending, to ring again
(after :data:`RETRY_UNEXPECTED`, or at the next start).

Each row records the request that created it (:func:`bot.inbox.mark_handled`, same transaction),
so a command delivered twice creates one row; the per-user limit is checked and the row inserted
under one lock, so concurrent commands cannot pass it together.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import threading
import time
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.inbox import mark_handled
from bot.reminders.alarms import Alarms
from bot.reminders.duration import split_duration
from bot.reminders.errors import Problem, ReminderInputError
from bot.reminders.recurrence import Recurrence
from bot.reminders.store import LABEL_MAX, Reminder, ReminderKind, ReminderState
from bot.reminders.user_zones import UserZones
from bot.reminders.when import parse_when

if TYPE_CHECKING:
    from apscheduler.schedulers.base import BaseScheduler

    from bot.config import Settings

log = logging.getLogger(__name__)


class RingOutcome(enum.StrEnum):
    """What became of a ring: the chat has it, or it never can (blocked, chat gone)."""

    DELIVERED = "delivered"
    UNDELIVERABLE = "undeliverable"


#: ``await ring(reminder, late_by)``: deliver a ring, retrying as needed, and say how it went;
#: ``late_by`` is how late it is (>= 0). Raising leaves the row pending, tried again later.
RingCallback = Callable[[Reminder, timedelta], Awaitable[RingOutcome]]

#: After a ring callback raised something unexpected, try that row again this much later.
RETRY_UNEXPECTED = timedelta(seconds=60)

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


@dataclass
class StartupReport:
    """What :meth:`ReminderService.start` found: how many rows it scheduled, which were missed."""

    scheduled: int = 0
    late: int = 0
    missed: dict[int, list[Reminder]] = field(default_factory=dict)


def clean_label(text: str, limits: Limits) -> str:
    """Whitespace collapsed; refuses control characters and labels over the length limit."""
    label = " ".join(text.split())
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") for ch in label):
        raise ReminderInputError(Problem.LABEL_CONTROL)
    if len(label) > limits.label_max:
        raise ReminderInputError(Problem.LABEL_TOO_LONG, length=len(label), limit=limits.label_max)
    return label


class ReminderService:
    """Timers and reminders for every chat, rung by jobs on the process's one APScheduler.

    ``scheduler``: the process's scheduler, started and stopped by its owner; None makes one of
    its own, started by :meth:`start` and stopped by :meth:`shutdown` (tests, benchmarks).
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
    ) -> None:
        self.sessions = sessions
        self.ring = ring
        self._insert_lock = threading.Lock()  # the pending-count check and the insert, together
        self.limits = limits
        self.zones = UserZones(sessions, default_tz)
        self.clock = clock
        self.alarms = Alarms(scheduler)

    @property
    def scheduler(self) -> BaseScheduler:
        """The scheduler the rings are jobs on (``t{id}``)."""
        return self.alarms.scheduler

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> StartupReport:
        """Schedule every pending row (inside a running event loop); start an own scheduler."""
        report = StartupReport()
        now = self.clock()
        grace = self.limits.missed_grace.total_seconds()
        with self.sessions() as session:
            # Plain tuples, not ORM objects: 10,000 pending rows load in a fraction of a second.
            pending = session.execute(
                select(Reminder.id, Reminder.due_at).where(Reminder.state == ReminderState.PENDING)
            ).all()
            overdue = {rid for rid, due_at in pending if due_at < now - grace}
            moved: dict[int, float] = {}  # recurring ones, moved past what they missed
            if overdue:
                for row in session.scalars(select(Reminder).where(Reminder.id.in_(overdue))):
                    report.missed.setdefault(row.chat_id, []).append(row)
                    following = self._next_due(row, now) if row.recurrence else None
                    if following is not None:
                        row.due_at = moved[row.id] = following.timestamp()
                    else:
                        row.state = ReminderState.MISSED
                session.commit()
        for rid, due_at in pending:
            if rid in overdue and rid not in moved:
                continue  # a one-off, missed: listed, not rung
            due_at = moved.get(rid, due_at)
            if due_at <= now:
                report.late += 1
            self._schedule(rid, due_at)
            report.scheduled += 1
        self.alarms.start()
        log.info(
            "reminders: %d scheduled (%d late), %d chats with missed ones",
            report.scheduled,
            report.late,
            len(report.missed),
        )
        return report

    def shutdown(self) -> None:
        """Cancel the rings in progress (they stay pending); stop an own scheduler."""
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
        self._schedule(row.id, row.due_at)
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
        self.alarms.clear(f"t{reminder_id}")
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
                following = (
                    self._next_due(row, now) if row.recurrence and row.due_at < now else None
                )
                if following is not None:
                    row.due_at = following.timestamp()
            session.commit()
        for row in rows:
            self._schedule(row.id, row.due_at)
        return rows

    def set_status_message(self, reminder_id: int, message_id: int) -> None:
        with self.sessions() as session:
            row = session.get(Reminder, reminder_id)
            if row is not None:
                row.status_message_id = message_id
                session.commit()

    # --- ringing ---------------------------------------------------------------------------

    def _schedule(self, reminder_id: int, due_at: float) -> None:
        self.alarms.set(
            f"t{reminder_id}", datetime.fromtimestamp(due_at, UTC), self._fire, reminder_id
        )

    def _next_due(self, row: Reminder, after: float) -> datetime | None:
        """The next ring of a repeating row; None once its repeat has ended (until / count)."""
        recurrence = Recurrence.from_spec(row.recurrence or "")
        return recurrence.next_after(
            datetime.fromtimestamp(after, UTC), ZoneInfo(row.tz), anchor=row.due
        )

    async def _fire(self, reminder_id: int) -> None:
        now = self.clock()
        with self.sessions() as session:
            row = session.get(Reminder, reminder_id)
            if row is None or row.state != ReminderState.PENDING:
                return
        late = timedelta(seconds=max(0.0, now - row.due_at))
        try:
            outcome = await self.ring(row, late)
        except asyncio.CancelledError:  # the bot is stopping (Alarms.stop): rung next start
            log.info("t%d not rung yet at shutdown; it stays pending", reminder_id)
            return
        except Exception:  # one failed ring must not stop the others; this one stays pending
            log.exception("ringing t%d failed; trying again in %s", reminder_id, RETRY_UNEXPECTED)
            self._schedule(reminder_id, self.clock() + RETRY_UNEXPECTED.total_seconds())
            return
        with self.sessions() as session:
            row = session.get(Reminder, reminder_id)
            if row is None or row.state != ReminderState.PENDING:
                return
            following = self._next_due(row, max(now, row.due_at)) if row.recurrence else None
            if outcome is RingOutcome.UNDELIVERABLE:
                row.state = ReminderState.UNDELIVERABLE
                log.warning("t%d is undeliverable to chat %s; marked so", reminder_id, row.chat_id)
            elif following is not None:
                row.due_at = following.timestamp()
                self._schedule(row.id, row.due_at)
            else:
                row.state = ReminderState.DONE
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
    "StartupReport",
    "is_late",
]
