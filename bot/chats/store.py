"""Tables about chats themselves: which ids were upgraded to which, which chats are unreachable,
and which downloads were stopped because of it (so that a resume can start them again)."""

from __future__ import annotations

import enum

from sqlalchemy import BigInteger, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.db_base import Base


class GoneReason(enum.StrEnum):
    """Why the bot cannot post in a chat any more."""

    REMOVED = "removed"  # removed (or banned) from a group
    BLOCKED = "blocked"  # blocked by the person, in a private chat
    FORBIDDEN = "forbidden"  # Telegram answered 403 without a membership update (yet)


class ChatMigration(Base):
    """A group upgraded to a supergroup: Telegram gave it ``new_chat_id`` in place of
    ``old_chat_id``."""

    __tablename__ = "chat_migrations"

    old_chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    new_chat_id: Mapped[int] = mapped_column(BigInteger, index=True)
    migrated_at: Mapped[float] = mapped_column(Float)


class GoneChat(Base):
    """A chat the bot cannot post in (removed from the group, blocked by the person)."""

    __tablename__ = "gone_chats"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    reason: Mapped[str] = mapped_column(String(16))
    since: Mapped[float] = mapped_column(Float)


class PausedDownload(Base):
    """A download stopped because its chat became unreachable; a resume starts it again."""

    __tablename__ = "paused_downloads"

    job_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    chat_id: Mapped[int] = mapped_column(BigInteger, index=True)
