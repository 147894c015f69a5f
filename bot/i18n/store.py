"""Who chose which reply language: a person (``/lang`` in private) or a group (``/lang`` by an
admin).

Read on every update, written rarely: answers are cached in memory after the first read and the
cache is updated on every write, so an update costs no database query once its sender and chat are
known. (Several front processes on one PostgreSQL database would each keep their own cache; a
change made through one is seen by the others after a restart.)
"""

from __future__ import annotations

import threading
import time
from enum import StrEnum

from sqlalchemy import BigInteger, Float, String, delete
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker

from bot.db_base import Base


class Scope(StrEnum):
    PERSON = "person"
    CHAT = "chat"


class LanguageChoice(Base):
    """One stored ``/lang`` choice; no row means "automatic" (the sender's Telegram language)."""

    __tablename__ = "language_choices"

    scope: Mapped[str] = mapped_column(String(8), primary_key=True)
    ident: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    code: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[float] = mapped_column(Float, default=time.time)


class LanguageChoices:
    """Read and write ``/lang`` choices, cached in memory."""

    def __init__(self, sessions: sessionmaker) -> None:
        self.sessions = sessions
        self._cache: dict[tuple[Scope, int], str | None] = {}
        self._lock = threading.Lock()

    def get(self, scope: Scope, ident: int) -> str | None:
        """The stored code for a person or chat, None for automatic."""
        key = (scope, ident)
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        with self.sessions() as session:
            row = session.get(LanguageChoice, (scope.value, ident))
            code = row.code if row is not None else None
        with self._lock:
            self._cache.setdefault(key, code)
            return self._cache[key]

    def set(self, scope: Scope, ident: int, code: str | None) -> None:
        """Store ``code`` for a person or chat; None goes back to automatic."""
        with self.sessions.begin() as session:
            session.execute(
                delete(LanguageChoice).where(
                    LanguageChoice.scope == scope.value, LanguageChoice.ident == ident
                )
            )
            if code is not None:
                session.add(LanguageChoice(scope=scope.value, ident=ident, code=code))
        with self._lock:
            self._cache[(scope, ident)] = code

    def move_chat(self, old_id: int, new_id: int) -> None:
        """A group upgraded to a supergroup keeps its language under its new id."""
        code = self.get(Scope.CHAT, old_id)
        if code is not None and self.get(Scope.CHAT, new_id) is None:
            self.set(Scope.CHAT, new_id, code)
