"""A chat's life as the bot sees it: upgraded to a supergroup, left unreachable, back again.

Telegram changes groups under a bot's feet. A group upgraded to a supergroup gets a new chat id,
and every later call with the old id fails; a bot removed from a group (or blocked by a person)
gets 403 for every call. Without care, each ring of such a chat is lost, with a traceback. Here:

- :meth:`ChatLifecycle.migrate` moves every row keyed by the old id (:data:`CHAT_KEYED`:
  reminders, downloads, and the chat tables of :mod:`bot.chats.store`) to the new id in one
  transaction and remembers the pair, so that ``ALLOWED_USERS`` naming the old id keeps
  allowing the group (:meth:`ChatLifecycle.earlier_ids`);
- :meth:`ChatLifecycle.mark_gone` stops trying the chat: its pending reminders become
  ``undeliverable``, its open downloads are cancelled, and both are remembered (with any finished
  file not handed over yet);
- :meth:`ChatLifecycle.resume` puts them back once the bot can post there again.

Rows are the truth; the in-memory maps are a cache read on every send (no database read per
ring), filled by :meth:`ChatLifecycle.load` at start-up. All methods are thread-safe.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Select, delete, select, update
from sqlalchemy.orm import InstrumentedAttribute, sessionmaker

from bot.chats.store import ChatMigration, GoneChat, GoneReason, PausedDownload
from bot.downloads.jobs import DownloadJob, JobState
from bot.reminders.store import Reminder, ReminderState

log = logging.getLogger(__name__)

#: Every column that says which chat a row belongs to. A new per-chat table (a group's language,
#: say) adds its column here, and a supergroup upgrade carries its rows along.
CHAT_KEYED: tuple[InstrumentedAttribute, ...] = (
    Reminder.chat_id,
    DownloadJob.chat_id,
    PausedDownload.chat_id,
    GoneChat.chat_id,
)

#: Rows that point at messages of the old chat: after an upgrade those message ids mean nothing
#: in the new chat (the supergroup numbers its messages afresh), so they are cleared. By table name.
OLD_MESSAGE_REFS: dict[str, tuple[str, ...]] = {
    Reminder.__tablename__: ("reply_to", "status_message_id"),
    DownloadJob.__tablename__: ("request_message_id", "status_message_id"),
}

OPEN_JOB_STATES = (JobState.QUEUED, JobState.RUNNING)


@dataclass(frozen=True)
class Migration:
    """What :meth:`ChatLifecycle.migrate` did; ``moved`` counts rows per table."""

    old_chat_id: int
    new_chat_id: int
    moved: dict[str, int]
    first_time: bool

    @property
    def total(self) -> int:
        return sum(self.moved.values())


@dataclass
class Paused:
    """What waits for a chat to be reachable again: reminders and downloads (by id)."""

    reminders: list[Reminder] = field(default_factory=list)
    downloads: list[DownloadJob] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.reminders or self.downloads)


#: ``cancel(job_id, by)`` stops one open download (the download service's ``cancel``).
CancelDownload = Callable[[int, str], bool]


class ChatLifecycle:
    """Chat id changes and reachability, over the database rows of every feature."""

    def __init__(
        self,
        sessions: sessionmaker,
        cancel_download: CancelDownload | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.sessions = sessions
        self.cancel_download = cancel_download
        self.clock = clock
        self._lock = threading.Lock()
        self._moved_to: dict[int, int] = {}  # old id -> new id
        self._gone: dict[int, GoneReason] = {}

    def load(self) -> None:
        """Read the remembered upgrades and unreachable chats (call once at start-up)."""
        with self.sessions() as session:
            moves = {m.old_chat_id: m.new_chat_id for m in session.scalars(select(ChatMigration))}
            gone = {g.chat_id: GoneReason(g.reason) for g in session.scalars(select(GoneChat))}
        with self._lock:
            self._moved_to, self._gone = moves, gone

    # --- upgrades --------------------------------------------------------------------------

    def current_id(self, chat_id: int) -> int:
        """The id to use for ``chat_id`` now: its newest id if it was upgraded, else itself."""
        with self._lock:
            seen = {chat_id}
            while chat_id in self._moved_to and self._moved_to[chat_id] not in seen:
                chat_id = self._moved_to[chat_id]
                seen.add(chat_id)
            return chat_id

    def upgraded_ids(self) -> list[int]:
        """Every chat id known to have been upgraded away from."""
        with self._lock:
            return list(self._moved_to)

    def earlier_ids(self, chat_id: int) -> list[int]:
        """Every id ``chat_id`` had before upgrades (oldest last); empty for a chat never
        upgraded."""
        with self._lock:
            found, frontier = [], [chat_id]
            while frontier:
                current = frontier.pop()
                for old, new in self._moved_to.items():
                    if new == current and old not in found and old != chat_id:
                        found.append(old)
                        frontier.append(old)
            return found

    def migrate(self, old_chat_id: int, new_chat_id: int) -> Migration:
        """Move every row of ``old_chat_id`` to ``new_chat_id`` in one transaction; idempotent.

        Telegram reports one upgrade up to three ways (a service message in the old chat, one in
        the new chat, and the error of the next call with the old id); the second and third move
        nothing and say ``first_time=False``.
        """
        moved: dict[str, int] = {}
        with self.sessions.begin() as session:
            first = session.get(ChatMigration, old_chat_id) is None
            if first:
                session.add(
                    ChatMigration(
                        old_chat_id=old_chat_id, new_chat_id=new_chat_id, migrated_at=self.clock()
                    )
                )
            if session.get(GoneChat, new_chat_id) is not None:  # a stale mark on the new id
                session.execute(delete(GoneChat).where(GoneChat.chat_id == old_chat_id))
            for column in CHAT_KEYED:
                model = column.class_
                refs = {name: None for name in OLD_MESSAGE_REFS.get(model.__tablename__, ())}
                result = session.execute(
                    update(model)
                    .where(column == old_chat_id)
                    .values({column.key: new_chat_id, **refs})
                )
                if result.rowcount:
                    moved[model.__tablename__] = result.rowcount
        with self._lock:
            self._moved_to[old_chat_id] = new_chat_id
            if old_chat_id in self._gone:
                self._gone[new_chat_id] = self._gone.pop(old_chat_id)
        return Migration(old_chat_id, new_chat_id, moved, first)

    # --- reachability ----------------------------------------------------------------------

    def is_gone(self, chat_id: int) -> bool:
        with self._lock:
            return chat_id in self._gone

    def mark_gone(self, chat_id: int, reason: GoneReason) -> Paused | None:
        """Stop trying ``chat_id``: pause its pending reminders, cancel its open downloads.

        Returns what was paused, or None when the chat was already marked (one 403 per ring of a
        chat must not repeat the work, nor the log line).
        """
        with self._lock:
            known = self._gone.get(chat_id)
            if known is None:
                self._gone[chat_id] = reason
            elif reason != GoneReason.FORBIDDEN:  # a membership update says more than a 403
                self._gone[chat_id] = reason
        if known is not None:
            if reason != GoneReason.FORBIDDEN and reason != known:
                self._save_reason(chat_id, reason)
            return None
        paused = Paused()
        with self.sessions.begin() as session:
            session.merge(GoneChat(chat_id=chat_id, reason=reason.value, since=self.clock()))
            paused.reminders = list(
                session.scalars(
                    select(Reminder).where(
                        Reminder.chat_id == chat_id, Reminder.state == ReminderState.PENDING
                    )
                ).all()
            )
            for row in paused.reminders:
                row.state = ReminderState.UNDELIVERABLE
            paused.downloads = list(
                session.scalars(
                    select(DownloadJob).where(
                        DownloadJob.chat_id == chat_id,
                        DownloadJob.state.in_(OPEN_JOB_STATES)
                        | ((DownloadJob.state == JobState.DONE) & DownloadJob.delivered.is_(False)),
                    )
                ).all()
            )
            for job in paused.downloads:
                session.merge(PausedDownload(job_id=job.id, chat_id=chat_id))
        if self.cancel_download is not None:  # a finished file waits for the resume to deliver it
            for job in paused.downloads:
                if job.state != JobState.DONE:
                    self.cancel_download(job.id, "Errand (it could not post in this chat)")
        return paused

    def _save_reason(self, chat_id: int, reason: GoneReason) -> None:
        with self.sessions.begin() as session:
            session.execute(
                update(GoneChat).where(GoneChat.chat_id == chat_id).values(reason=reason.value)
            )

    def mark_back(self, chat_id: int) -> bool:
        """The bot can post in ``chat_id`` again; True when it had been marked unreachable."""
        with self._lock:
            was = self._gone.pop(chat_id, None) is not None
        with self.sessions.begin() as session:
            session.execute(delete(GoneChat).where(GoneChat.chat_id == chat_id))
        return was

    def paused(self, chat_id: int) -> Paused:
        """What was paused in ``chat_id`` and is not resumed yet."""
        with self.sessions() as session:
            return Paused(
                list(session.scalars(_paused_reminders(chat_id)).all()),
                list(session.scalars(_paused_downloads(chat_id)).all()),
            )

    def take_paused(self, chat_id: int) -> Paused:
        """What was paused in ``chat_id``, forgotten as paused: the caller resumes it now.

        Reminders are only listed (the reminder service makes them pending again); downloads
        leave the paused list here, in one transaction, so two admins pressing Resume at once
        cannot start one twice.
        """
        with self.sessions.begin() as session:
            reminders = list(session.scalars(_paused_reminders(chat_id)).all())
            jobs = list(session.scalars(_paused_downloads(chat_id)).all())
            session.execute(delete(PausedDownload).where(PausedDownload.chat_id == chat_id))
        return Paused(reminders, jobs)


def _paused_reminders(chat_id: int) -> Select[Reminder]:
    """The reminders of ``chat_id`` paused while it was unreachable, soonest first."""
    return (
        select(Reminder)
        .where(Reminder.chat_id == chat_id, Reminder.state == ReminderState.UNDELIVERABLE)
        .order_by(Reminder.due_at)
    )


def _paused_downloads(chat_id: int) -> Select[DownloadJob]:
    """The downloads of ``chat_id`` paused while it was unreachable, oldest first."""
    return (
        select(DownloadJob)
        .join(PausedDownload, PausedDownload.job_id == DownloadJob.id)
        .where(PausedDownload.chat_id == chat_id)
        .order_by(DownloadJob.id)
    )


__all__ = ["CHAT_KEYED", "ChatLifecycle", "GoneReason", "Migration", "Paused"]
