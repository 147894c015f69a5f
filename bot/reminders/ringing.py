"""Ringing one reminder when its alarm goes off, and moving its row on afterwards.

Split from :mod:`bot.reminders.service` (which creates, lists and cancels rows) because this is
the part with its own rules: the ring callback returns only once the chat has the ring or never
can; only then is the row marked done, moved to its next occurrence (a repeat), or marked
undeliverable. A stop (the alarm task is cancelled) or an unexpected error leaves the row pending,
so it rings again: at-least-once, never lost.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.reminders.alarms import Alarms
from bot.reminders.recurrence import Recurrence
from bot.reminders.store import Reminder, ReminderState

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


@dataclass
class StartupReport:
    """What :meth:`Ringer.schedule_pending` found: how many rows it scheduled, which were missed."""

    scheduled: int = 0
    late: int = 0
    missed: dict[int, list[Reminder]] = field(default_factory=dict)


def next_due(row: Reminder, after: float) -> datetime | None:
    """The next ring of a repeating row; None once its repeat has ended (until / count)."""
    recurrence = Recurrence.from_spec(row.recurrence or "")
    return recurrence.next_after(
        datetime.fromtimestamp(after, UTC), ZoneInfo(row.tz), anchor=row.due
    )


class Ringer:
    """Sets each row's alarm (job ``t{id}``) and rings it when the alarm goes off."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        ring: RingCallback,
        alarms: Alarms,
        clock: Callable[[], float],
    ) -> None:
        self.sessions = sessions
        self.ring = ring
        self.alarms = alarms
        self.clock = clock

    def schedule_pending(self, missed_grace: timedelta) -> StartupReport:
        """Set an alarm for every pending row. What came due while the bot was down rings at once
        if it is within ``missed_grace``; an older one-off is marked missed and reported; an older
        repeat moves past what it missed (and is reported too)."""
        report = StartupReport()
        now = self.clock()
        grace = missed_grace.total_seconds()
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
                    following = next_due(row, now) if row.recurrence else None
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
            self.schedule(rid, due_at)
            report.scheduled += 1
        return report

    def schedule(self, reminder_id: int, due_at: float) -> None:
        self.alarms.set(
            f"t{reminder_id}", datetime.fromtimestamp(due_at, UTC), self.fire, reminder_id
        )

    async def fire(self, reminder_id: int) -> None:
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
            self.schedule(reminder_id, self.clock() + RETRY_UNEXPECTED.total_seconds())
            return
        with self.sessions() as session:
            row = session.get(Reminder, reminder_id)
            if row is None or row.state != ReminderState.PENDING:
                return
            following = next_due(row, max(now, row.due_at)) if row.recurrence else None
            if outcome is RingOutcome.UNDELIVERABLE:
                row.state = ReminderState.UNDELIVERABLE
                log.warning("t%d is undeliverable to chat %s; marked so", reminder_id, row.chat_id)
            elif following is not None:
                row.due_at = following.timestamp()
                self.schedule(row.id, row.due_at)
            else:
                row.state = ReminderState.DONE
            session.commit()
