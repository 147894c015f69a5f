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

Several processes may take requests from one database (webhook replicas behind a load
balancer): the primary key makes :func:`receive` atomic across them (a second insert of an id
waits for the first and then fails), and it tells the caller whether the id was new, stored but
not yet handled (perhaps by a process that died: the caller may handle it, under its chat's turn),
or handled already. A request may carry its chat: :func:`earlier_unhandled` lists what a chat
sent before a request and nobody handled yet, so that whoever holds the chat's turn handles those
first, whichever process stored them.

Nothing here knows Telegram: a request is an integer id, an optional chat id and an opaque text
payload. The payload is dropped once handled (a message's text need not stay on disk); the id
stays for :data:`KEEP_HANDLED` so that late redeliveries are still recognised.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import BigInteger, Float, Index, Text, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from bot.db_base import Base

KEEP_HANDLED = 2 * 86400.0  # seconds a handled id is remembered


class ReceivedRequest(Base):
    """One incoming request (a Telegram update), by its id."""

    __tablename__ = "received_requests"
    __table_args__ = (Index("ix_received_requests_chat_id", "chat_id", "request_id"),)

    request_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    payload: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: The chat the request came from (None: none, or stored before migration 0005).
    chat_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    received_at: Mapped[float] = mapped_column(Float)
    handled_at: Mapped[float | None] = mapped_column(Float, nullable=True, index=True)


@dataclass(frozen=True)
class Pending:
    """A request stored but never handled (the process stopped first)."""

    request_id: int
    payload: str


class Receipt(StrEnum):
    """What :func:`receive` found."""

    NEW = "new"  # stored now
    PENDING = "pending"  # stored before (a redelivery, or another process has it), not handled
    HANDLED = "handled"  # stored and handled before: a repeat to skip


def receive(
    sessions: sessionmaker, request_id: int, payload: str, chat_id: int | None = None
) -> Receipt:
    """Write a request before it is acknowledged, unless its id is already stored."""
    try:
        with sessions.begin() as session:
            session.add(
                ReceivedRequest(
                    request_id=request_id,
                    payload=payload,
                    chat_id=chat_id,
                    received_at=time.time(),
                )
            )
    except IntegrityError:
        return Receipt.HANDLED if is_handled(sessions, request_id) else Receipt.PENDING
    return Receipt.NEW


def store(sessions: sessionmaker, request_id: int, payload: str) -> bool:
    """Write a request before it is acknowledged; False when its id was already stored."""
    return receive(sessions, request_id, payload) is Receipt.NEW


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


def unhandled(sessions: sessionmaker, received_before: float | None = None) -> list[Pending]:
    """Requests stored and never handled (only those received before ``received_before``, if
    given), oldest first."""
    query = select(ReceivedRequest.request_id, ReceivedRequest.payload).where(
        ReceivedRequest.handled_at.is_(None)
    )
    if received_before is not None:
        query = query.where(ReceivedRequest.received_at < received_before)
    with sessions() as session:
        rows = session.execute(query.order_by(ReceivedRequest.request_id)).all()
    return [Pending(rid, payload or "") for rid, payload in rows]


def earlier_unhandled(sessions: sessionmaker, chat_id: int, request_id: int) -> list[Pending]:
    """What ``chat_id`` sent before ``request_id`` that nobody handled yet, oldest first."""
    with sessions() as session:
        rows = session.execute(
            select(ReceivedRequest.request_id, ReceivedRequest.payload)
            .where(
                ReceivedRequest.chat_id == chat_id,
                ReceivedRequest.request_id < request_id,
                ReceivedRequest.handled_at.is_(None),
            )
            .order_by(ReceivedRequest.request_id)
        ).all()
    return [Pending(rid, payload or "") for rid, payload in rows]


def prune(sessions: sessionmaker, now: float | None = None) -> int:
    """Forget handled ids older than :data:`KEEP_HANDLED`; returns how many."""
    cutoff = (now or time.time()) - KEEP_HANDLED
    with sessions.begin() as session:
        result = session.execute(delete(ReceivedRequest).where(ReceivedRequest.handled_at < cutoff))
    return result.rowcount or 0
