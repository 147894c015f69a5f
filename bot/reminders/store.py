"""Tables for timers and reminders, and each user's time zone.

A timer and a reminder are the same row with a different ``kind``: both ring in a chat at a due
time, the difference is only how they were asked for and shown. Due times are UTC seconds since
the epoch (a float): SQLite has no time-zone-aware type, and a number compares and sorts plainly.
The ``state`` (:class:`ReminderState`) moves from ``pending`` to ``done``, ``cancelled`` or
``missed``; only pending rows ring, each due one claimed by one process for a short lease
(``claimed_by``, ``claimed_until``: :mod:`bot.reminders.claims`). A pending row whose chat the
bot can no longer post in (removed from the group, blocked) becomes ``undeliverable`` until
someone there resumes it (:mod:`bot.chats`).
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import BigInteger, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.db_base import Base

LABEL_MAX = 200


class ReminderState(enum.StrEnum):
    """Where a row is in its life; stored as its value (a plain string column)."""

    PENDING = "pending"  # scheduled: it will ring
    DONE = "done"  # rang (a repeat moves on instead, and stays pending)
    CANCELLED = "cancelled"
    MISSED = "missed"  # came due while the bot was down longer than the grace period
    UNDELIVERABLE = "undeliverable"  # its chat cannot be written to; paused until resumed


class ReminderKind(enum.StrEnum):
    """How it was asked for: ``/timer`` (a countdown) or ``/remind`` (a time and maybe a repeat)."""

    TIMER = "timer"
    REMINDER = "reminder"


class Reminder(Base):
    """One timer or reminder; shown to people as ``t{id}``."""

    __tablename__ = "reminders"
    __table_args__ = (
        Index("ix_reminders_state_due", "state", "due_at"),
        Index("ix_reminders_user_state", "user_id", "state"),
        Index("ix_reminders_chat_state", "chat_id", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    chat_type: Mapped[str] = mapped_column(String(16), default="private")
    #: The forum topic (``message_thread_id``) the command came from; None outside topics.
    thread_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    user_id: Mapped[int] = mapped_column(BigInteger)
    user_name: Mapped[str] = mapped_column(String(64), default="")
    label: Mapped[str] = mapped_column(String(LABEL_MAX), default="")
    due_at: Mapped[float] = mapped_column(Float)
    recurrence: Mapped[str | None] = mapped_column(String(160), nullable=True)
    tz: Mapped[str] = mapped_column(String(64), default="UTC")
    reply_to: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    status_message_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    duration: Mapped[float | None] = mapped_column(Float, nullable=True)
    state: Mapped[str] = mapped_column(String(16), default=ReminderState.PENDING)
    created_at: Mapped[float] = mapped_column(Float)
    #: The reply language it was created in (a catalog code, e.g. ``zh``), for the ring; None:
    #: English.
    lang: Mapped[str | None] = mapped_column(String(16), nullable=True)
    #: The ring loop that claimed this row for its due ring (:mod:`bot.reminders.claims`), and
    #: until when (UTC seconds): a lease, renewed while the ring is retried. A claim whose lease
    #: has run out (its process died) may be taken by any other; None when nobody rings it now.
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claimed_until: Mapped[float | None] = mapped_column(Float, nullable=True)

    @property
    def ref(self) -> str:
        """The id people type: ``t12``."""
        return f"t{self.id}"

    @property
    def due(self) -> datetime:
        return datetime.fromtimestamp(self.due_at, UTC)

    @property
    def in_group(self) -> bool:
        return self.chat_type != "private"


class UserZone(Base):
    """A user's IANA time zone, set with ``/tz``; users without a row use ``DEFAULT_TZ``."""

    __tablename__ = "user_zones"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tz: Mapped[str] = mapped_column(String(64))
