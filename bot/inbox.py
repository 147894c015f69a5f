"""Requests received and not yet handled: what makes "acknowledged" mean "stored".

Telegram forgets an update once the bot has confirmed it (the next ``getUpdates`` offset, or a
200 to a webhook POST). A crash between that moment and the command's row being written lost the
command. So every incoming request is written here *before* it is confirmed, and marked handled
when its work is done; at start-up the ones never handled are handled again.

The same table makes repeats harmless: a request whose id is already marked handled is skipped
(Telegram redelivers what was not confirmed before a crash). A command that creates a row (a
timer, a download) marks its request handled **in the same transaction** as the row
(:func:`mark_handled` on the caller's session), so a crash can never leave the row without the
mark, or the mark without the row.

Nothing here knows Telegram: a request is an integer id and an opaque text payload. The payload is
dropped once handled (a message's text need not stay on disk); the id stays for
:data:`KEEP_HANDLED` so that late redeliveries are still recognised.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import BigInteger, Float, Text, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from bot.db_base import Base

KEEP_HANDLED = 2 * 86400.0  # seconds a handled id is remembered


class ReceivedRequest(Base):
    """One incoming request (a Telegram update), by its id."""

    __tablename__ = "received_requests"

    request_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    payload: Mapped[str | None] = mapped_column(Text, nullable=True)
    received_at: Mapped[float] = mapped_column(Float)
    handled_at: Mapped[float | None] = mapped_column(Float, nullable=True, index=True)


@dataclass(frozen=True)
class Pending:
    """A request stored but never handled (the process stopped first)."""

    request_id: int
    payload: str


def store(sessions: sessionmaker, request_id: int, payload: str) -> bool:
    """Write a request before it is acknowledged; False when its id was already stored."""
    try:
        with sessions.begin() as session:
            session.add(
                ReceivedRequest(request_id=request_id, payload=payload, received_at=time.time())
            )
    except IntegrityError:
        return False
    return True


def mark_handled(session: Session, request_id: int | None) -> None:
    """Mark ``request_id`` handled inside the caller's transaction (commit is the caller's)."""
    if request_id is None:
        return
    session.execute(
        update(ReceivedRequest)
        .where(ReceivedRequest.request_id == request_id, ReceivedRequest.handled_at.is_(None))
        .values(handled_at=time.time(), payload=None)
    )


def finish(sessions: sessionmaker, request_id: int) -> None:
    """Mark ``request_id`` handled in a transaction of its own (work without a row of its own)."""
    with sessions.begin() as session:
        mark_handled(session, request_id)


def is_handled(sessions: sessionmaker, request_id: int) -> bool:
    with sessions() as session:
        handled = session.scalar(
            select(ReceivedRequest.handled_at).where(ReceivedRequest.request_id == request_id)
        )
    return handled is not None


def unhandled(sessions: sessionmaker) -> list[Pending]:
    """Requests stored and never handled, oldest first."""
    with sessions() as session:
        rows = session.execute(
            select(ReceivedRequest.request_id, ReceivedRequest.payload)
            .where(ReceivedRequest.handled_at.is_(None))
            .order_by(ReceivedRequest.request_id)
        ).all()
    return [Pending(rid, payload or "") for rid, payload in rows]


def prune(sessions: sessionmaker, now: float | None = None) -> int:
    """Forget handled ids older than :data:`KEEP_HANDLED`; returns how many."""
    cutoff = (now or time.time()) - KEEP_HANDLED
    with sessions.begin() as session:
        result = session.execute(delete(ReceivedRequest).where(ReceivedRequest.handled_at < cutoff))
    return result.rowcount or 0
