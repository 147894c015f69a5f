"""Each person's time zone (``/tz``), which their timers and reminders are read and shown in.

Apart from :class:`~bot.reminders.service.ReminderService` because it is a small store of its own:
one row per person who chose a zone (:class:`~bot.reminders.store.UserZone`), everyone else on
``DEFAULT_TZ``. The grammar's zones *inside a phrase* (``at 15:00 Europe/London``) are
:mod:`bot.reminders.zones`.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session, sessionmaker

from bot.reminders.errors import Problem, ReminderInputError
from bot.reminders.store import UserZone


def zone_named(name: str) -> ZoneInfo:
    """The IANA zone ``name`` (``Europe/Berlin``), or :class:`ReminderInputError`."""
    candidate = name.strip()
    if (
        not candidate
        or len(candidate) > 64
        or not all(ch.isascii() and (ch.isalnum() or ch in "/_+-") for ch in candidate)
    ):
        raise ReminderInputError(Problem.BAD_ZONE_NAME, name=name.strip()[:40])
    try:
        return ZoneInfo(candidate)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ReminderInputError(Problem.BAD_ZONE_NAME, name=candidate) from None


class UserZones:
    """Who chose which zone; ``default_tz`` for everyone who did not."""

    def __init__(self, sessions: sessionmaker[Session], default_tz: str = "UTC") -> None:
        self.sessions = sessions
        self.default_tz = default_tz

    def zone_of(self, user_id: int) -> ZoneInfo:
        with self.sessions() as session:
            row = session.get(UserZone, user_id)
            return ZoneInfo(row.tz if row else self.default_tz)

    def set_zone(self, user_id: int, name: str) -> ZoneInfo:
        """Store ``name`` as ``user_id``'s zone; :class:`ReminderInputError` when it is none."""
        zone = zone_named(name)
        with self.sessions() as session:
            session.merge(UserZone(user_id=user_id, tz=zone.key))
            session.commit()
        return zone
