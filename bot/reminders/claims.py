"""Claiming due reminder rows so that each due ring is rung by exactly one process.

Every process that runs work claims the pending rows of the ``reminders`` table that are due
(:func:`claim_due`), when they fall due and, where processes share the database, on a short
poll. One statement takes them: an ``UPDATE … WHERE id IN (SELECT … ORDER BY due_at
LIMIT n FOR UPDATE SKIP LOCKED) RETURNING …`` that stamps each row with the claimant's name and a
**lease** (``claimed_until``). On PostgreSQL, ``SKIP LOCKED`` lets several processes claim at the
same moment without waiting on each other or taking the same row, and the index on
``(state, due_at)`` keeps the search to the rows that are due; on SQLite (one process) the same
statement runs under SQLite's single writer lock, which it holds only for the statement.

Why a lease and not a row lock held for the send: a ring may wait seconds in the send queue
(Telegram allows 30 messages a second for the whole bot) and is retried through an outage, and a
held lock needs a database connection per ring in flight (hundreds per process) and, on SQLite,
would hold the one write lock across the send. A lease costs two columns: the claimant renews it
while its rings are in flight (:func:`renew`), and if the process dies (``kill -9``, machine gone)
the lease runs out and another process claims the row and rings it. Only a ring sent but not yet
recorded when its process died can therefore ring twice.

The ring is recorded right after the send (:func:`settle`) by one conditional ``UPDATE`` that
matches the claimant's name: a one-off becomes ``done`` (or ``undeliverable``), a repeat moves to
its next time and is released, in the same statement. A claim lost meanwhile (the lease ran out
and someone else took the row, or the row was cancelled) changes nothing.

Rows that came due longer ago than the grace period (everything was down) are not rung but
claimed by :func:`claim_missed` and settled by :func:`settle_missed`: a one-off becomes
``missed``, a repeat moves past what it missed; whoever claimed them lists them in their chat once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.dml import UpdateBase

from bot.reminders.recurrence import Recurrence
from bot.reminders.store import Reminder, ReminderState


def next_due(row: Reminder, after: float) -> datetime | None:
    """The next ring of a repeating row; None once its repeat has ended (until / count)."""
    recurrence = Recurrence.from_spec(row.recurrence or "")
    return recurrence.next_after(
        datetime.fromtimestamp(after, UTC), ZoneInfo(row.tz), anchor=row.due
    )


def claimable(now: float) -> ColumnElement[bool]:
    """Pending, and nobody's lease on it is running."""
    return (Reminder.state == ReminderState.PENDING) & or_(
        Reminder.claimed_until.is_(None), Reminder.claimed_until < now
    )


def claim_statement(
    where: ColumnElement[bool], claimant: str, until: float, limit: int
) -> UpdateBase:
    """``UPDATE reminders SET claimed_by, claimed_until WHERE id IN (SELECT id … WHERE ``where``
    ORDER BY due_at LIMIT ``limit`` FOR UPDATE SKIP LOCKED) RETURNING *``."""
    chosen = (
        select(Reminder.id)
        .where(where)
        .order_by(Reminder.due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    return (
        update(Reminder)
        .where(Reminder.id.in_(chosen))
        .values(claimed_by=claimant, claimed_until=until)
        .returning(Reminder)
        .execution_options(synchronize_session=False)
    )


def _claim(
    session: Session, where: ColumnElement[bool], claimant: str, until: float, limit: int
) -> list[Reminder]:
    rows = list(session.scalars(claim_statement(where, claimant, until, limit)).all())
    session.commit()
    return sorted(rows, key=lambda row: row.due_at)


@dataclass(frozen=True)
class Tick:
    """What one poll found: the rows this process now rings, and when the next row is due."""

    claimed: list[Reminder]
    next_at: float | None


def claim_due(
    sessions: sessionmaker[Session],
    claimant: str,
    *,
    now: float,
    horizon: float,
    not_before: float,
    lease: float,
    limit: int,
) -> Tick:
    """Claim up to ``limit`` pending rows due by ``horizon`` (``now`` or a little later: the
    caller rings each at its time), but not before ``not_before`` (older ones are
    :func:`claim_missed`'s), earliest first, for ``lease`` seconds; and say when the next pending
    row after ``horizon`` falls due, so the caller can sleep until then."""
    with sessions() as session:
        claimed: list[Reminder] = []
        if limit > 0:
            where = claimable(now) & (Reminder.due_at <= horizon) & (Reminder.due_at >= not_before)
            claimed = _claim(session, where, claimant, now + lease, limit)
        next_at = session.scalar(
            select(func.min(Reminder.due_at)).where(
                Reminder.state == ReminderState.PENDING, Reminder.due_at > horizon
            )
        )
        session.commit()
    return Tick(claimed, next_at)


def claim_missed(
    sessions: sessionmaker[Session],
    claimant: str,
    *,
    now: float,
    before: float,
    lease: float,
    limit: int,
) -> list[Reminder]:
    """Claim up to ``limit`` pending rows that came due before ``before`` (missed while nobody
    ran), for :func:`settle_missed`."""
    with sessions() as session:
        where = claimable(now) & (Reminder.due_at < before)
        return _claim(session, where, claimant, now + lease, limit)


def _mine(row_id: int, claimant: str) -> ColumnElement[bool]:
    return (
        (Reminder.id == row_id)
        & (Reminder.claimed_by == claimant)
        & (Reminder.state == ReminderState.PENDING)
    )


def settle(
    sessions: sessionmaker[Session],
    row: Reminder,
    claimant: str,
    *,
    state: ReminderState | None = None,
    due_at: float | None = None,
) -> bool:
    """Record a claimed row's ring and release it: ``state`` (done, undeliverable, missed) and/or
    a new ``due_at`` (a repeat's next time), in one statement. False when the claim was lost."""
    values: dict[str, object] = {"claimed_by": None, "claimed_until": None}
    if state is not None:
        values["state"] = state
    if due_at is not None:
        values["due_at"] = due_at
    with sessions() as session:
        result = session.execute(
            update(Reminder)
            .where(_mine(row.id, claimant))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        session.commit()
    return bool(getattr(result, "rowcount", 0))


def settle_missed(
    sessions: sessionmaker[Session], rows: Sequence[Reminder], claimant: str, now: float
) -> list[Reminder]:
    """Mark claimed, long-missed rows: a one-off ``missed``, a repeat moved to its next time after
    ``now`` (``missed`` once its repeat ended). Returns the rows this call settled."""
    settled: list[Reminder] = []
    for row in rows:
        following = next_due(row, now) if row.recurrence else None
        if following is not None:
            done = settle(sessions, row, claimant, due_at=following.timestamp())
        else:
            done = settle(sessions, row, claimant, state=ReminderState.MISSED)
        if done:
            settled.append(row)
    return settled


def renew(sessions: sessionmaker[Session], ids: Sequence[int], claimant: str, until: float) -> None:
    """Extend this claimant's lease on ``ids`` (rings still in flight) to ``until``."""
    if not ids:
        return
    with sessions() as session:
        session.execute(
            update(Reminder)
            .where(Reminder.id.in_(list(ids)), Reminder.claimed_by == claimant)
            .values(claimed_until=until)
            .execution_options(synchronize_session=False)
        )
        session.commit()


def _release(
    sessions: sessionmaker[Session], whose: ColumnElement[bool], until: float | None
) -> int:
    with sessions() as session:
        result = session.execute(
            update(Reminder)
            .where(whose, Reminder.state == ReminderState.PENDING)
            .values(claimed_by=None, claimed_until=until)
            .execution_options(synchronize_session=False)
        )
        session.commit()
    return int(getattr(result, "rowcount", 0) or 0)


def release(
    sessions: sessionmaker[Session], ids: Sequence[int], claimant: str, until: float | None = None
) -> None:
    """Give up this claimant's claim on ``ids``: claimable by anyone at ``until`` (None: now)."""
    if ids:
        _release(sessions, Reminder.id.in_(list(ids)) & (Reminder.claimed_by == claimant), until)


def release_all(sessions: sessionmaker[Session], claimant: str | None = None) -> int:
    """Release every claim of ``claimant`` (a loop that stops), or of anyone (a database no
    other process shares, at start-up: the claimant that held them is this process's previous
    run, gone). Returns how many were released."""
    whose = (
        Reminder.claimed_by.is_not(None) if claimant is None else Reminder.claimed_by == claimant
    )
    return _release(sessions, whose, None)
