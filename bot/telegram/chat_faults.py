"""What a Bot API call's ``ChatMigrated`` or ``Forbidden`` means for Errand, in one place.

Both say something about the chat, not about the call, so retrying is pointless (the send
queue's retry policy treats them as final) and a traceback is noise:

- ``ChatMigrated``: the group was upgraded to a supergroup; its rows move to the new id
  (:meth:`bot.chats.lifecycle.ChatLifecycle.migrate`) and the message goes there instead;
- ``Forbidden``: the bot was removed from the group or blocked by the person; the chat is marked
  unreachable, its reminders paused and downloads stopped, with one warning line.

Call sites use :meth:`ChatFaults.send`
(``await faults.send(chat_id, lambda chat: bot.send_message(chat, …))``), or, where an error was
already caught, :meth:`ChatFaults.handle`. Membership updates and service messages reach the same
lifecycle through :mod:`bot.telegram.handlers.chats`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from telegram.error import ChatMigrated, Forbidden

from bot.chats.lifecycle import ChatLifecycle, GoneReason, Migration, Paused
from bot.config import Settings
from bot.telegram.api_errors import ChatFault, chat_fault

log = logging.getLogger(__name__)

T = TypeVar("T")


#: Called after rows moved: ``listener(migration)`` (the download notifier re-points its status
#: messages, for instance).
MoveListener = Callable[[Migration], None]


class ChatFaults:
    """The chat layer's side of :class:`~bot.chats.lifecycle.ChatLifecycle`: errors in, rows
    moved."""

    def __init__(self, lifecycle: ChatLifecycle, settings: Settings) -> None:
        self.lifecycle = lifecycle
        self.settings = settings
        self._move_listeners: list[MoveListener] = []

    def on_moved(self, listener: MoveListener) -> None:
        self._move_listeners.append(listener)

    # --- the narrow entry points -----------------------------------------------------------

    async def send(self, chat_id: int, call: Callable[[int], Awaitable[T]]) -> T | None:
        """``await call(chat_id)``, following an upgrade once and giving up on a gone chat.

        Returns what ``call`` returned, or None when the chat is unreachable (then nothing was
        sent and the chat is marked; the caller just stops). Other errors propagate.
        """
        chat_id = self.lifecycle.current_id(chat_id)
        if self.lifecycle.is_gone(chat_id):
            return None
        try:
            return await call(chat_id)
        except (ChatMigrated, Forbidden) as exc:
            fault = self.handle(chat_id, exc)
        if fault is None or fault.new_chat_id is None:  # gone (a ChatMigrated is always a fault)
            return None
        try:
            return await call(fault.new_chat_id)
        except Forbidden as exc:
            self.handle(fault.new_chat_id, exc)
            return None

    def handle(self, chat_id: int, error: BaseException) -> ChatFault | None:
        """Apply what ``error`` says about ``chat_id`` (move its rows, or mark it gone).

        Returns the fault, or None when ``error`` is not a chat fault (the caller deals with it).
        """
        fault = chat_fault(chat_id, error)
        if fault is None:
            return None
        if fault.new_chat_id is not None:
            self.moved(chat_id, fault.new_chat_id)
        else:
            self.gone(chat_id, GoneReason.FORBIDDEN, str(error))
        return fault

    # --- what each fault does --------------------------------------------------------------

    def moved(self, old_chat_id: int, new_chat_id: int) -> Migration:
        """The group ``old_chat_id`` is now the supergroup ``new_chat_id``: move its rows."""
        migration = self.lifecycle.migrate(old_chat_id, new_chat_id)
        if migration.first_time:
            log.warning(
                "chat %s was upgraded to a supergroup, now chat %s; moved %s",
                old_chat_id,
                new_chat_id,
                ", ".join(f"{n} {table}" for table, n in migration.moved.items()) or "nothing",
            )
            self.warn_allowed_id(new_chat_id)
        for listener in self._move_listeners:
            listener(migration)
        return migration

    def gone(self, chat_id: int, reason: GoneReason, detail: str = "") -> Paused | None:
        """The bot cannot post in ``chat_id``: one warning line, then pause what is there."""
        paused = self.lifecycle.mark_gone(chat_id, reason)
        if paused is not None:
            why = (
                f"403 {detail}"
                if reason is GoneReason.FORBIDDEN
                else f"{reason.value} {detail}".strip()
            )
            log.warning(
                "chat %s is unreachable (%s): paused %d timers/reminders, stopped %d downloads; "
                "they can be resumed there once the bot is back",
                chat_id,
                why,
                len(paused.reminders),
                len(paused.downloads),
            )
        return paused

    def is_gone(self, chat_id: int) -> bool:
        return self.lifecycle.is_gone(chat_id)

    # --- ALLOWED_USERS under a new id ------------------------------------------------------

    def allowed_as(self, chat_id: int) -> int | None:
        """The id under which ``chat_id`` is listed in ALLOWED_USERS, if only an earlier id is."""
        allowed = self.settings.allowed_users
        if chat_id in allowed:
            return None
        for earlier in self.lifecycle.earlier_ids(chat_id):
            if earlier in allowed and earlier < 0:
                return earlier
        return None

    def warn_allowed_id(self, chat_id: int) -> None:
        """Say once which id the admin should put in ALLOWED_USERS for an upgraded group."""
        earlier = self.allowed_as(chat_id)
        if earlier is not None and not self.settings.allowed_users.everyone:
            log.warning(
                "ALLOWED_USERS lists group %s, which Telegram upgraded to a supergroup with the "
                "new id %s; it stays allowed, but put %s in ALLOWED_USERS in place of %s",
                earlier,
                chat_id,
                chat_id,
                earlier,
            )


__all__ = ["ChatFault", "ChatFaults"]
