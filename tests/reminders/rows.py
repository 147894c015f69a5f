"""Reminder rows written straight to the table, as the service, another process or a previous
run left them: for the tests and benchmarks of the ring loop (which finds rows only in the
table)."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.reminders.store import Reminder, ReminderState


def pending(chat_id: int, due_at: float, **fields: Any) -> Reminder:
    """A pending one-off timer of ``chat_id`` (set by the user of the same id) due at ``due_at``,
    in UTC; ``fields`` set any other column (``kind``, ``recurrence``, ``claimed_by``, …)."""
    values: dict[str, Any] = dict(
        kind="timer",
        chat_id=chat_id,
        user_id=chat_id,
        due_at=due_at,
        tz="UTC",
        state=ReminderState.PENDING,
        created_at=time.time(),
    )
    values.update(fields)
    return Reminder(**values)


def add(sessions: sessionmaker[Session], *rows: Reminder) -> list[int]:
    """Writes ``rows`` in one transaction; their ids."""
    with sessions() as session:
        session.add_all(rows)
        session.commit()
        return [row.id for row in rows]


def add_timers(
    sessions: sessionmaker[Session], count: int, first: float, spread: float, chat_base: int = 1000
) -> None:
    """``count`` pending one-off timers, one per chat from ``chat_base``, due from ``first``
    evenly over ``spread`` seconds."""
    add(
        sessions,
        *(pending(chat_base + i, first + spread * i / max(1, count - 1)) for i in range(count)),
    )
