"""The parts of an update a handler was registered for: its message, chat, sender, button press.

python-telegram-bot types every part of an ``Update`` as optional, because one ``Update`` class
carries every kind of update. A handler, though, only runs for the kinds its filter admits: a
``CommandHandler`` always has a message and a chat, a ``CallbackQueryHandler`` a button press.
These functions state that once instead of an ``if x is None`` (or a silent ``AttributeError``)
in every handler, so the type checker sees a ``Message`` rather than ``Message | None``. When the
part is missing after all (a handler registered with the wrong filter), :class:`MissingPart`
names the part and the update, and the error handler logs it with a reference.

Use ``message_of(update)`` in a command or message handler, ``query_of(update)`` in a button
handler; keep reading ``update.effective_…`` directly where a part may really be absent (the
gate and the error handler see every kind of update).
"""

from __future__ import annotations

from typing import TypeVar

from telegram import CallbackQuery, Chat, ChatMemberUpdated, Message, Update, User

T = TypeVar("T")


class MissingPart(LookupError):
    """An update lacks the part its handler was registered for."""

    def __init__(self, part: str, update: Update) -> None:
        super().__init__(f"update {update.update_id} has no {part}")
        self.part = part


def message_of(update: Update) -> Message:
    """The message (new, edited or of a button) the handler was called for."""
    return _present(update.effective_message, "message", update)


def chat_of(update: Update) -> Chat:
    """The chat the update happened in."""
    return _present(update.effective_chat, "chat", update)


def user_of(update: Update) -> User:
    """The person who sent the update (for a message written as a chat: Telegram's placeholder)."""
    return _present(update.effective_user, "user", update)


def query_of(update: Update) -> CallbackQuery:
    """The button press of a ``CallbackQueryHandler``'s update."""
    return _present(update.callback_query, "button press", update)


def member_change_of(update: Update) -> ChatMemberUpdated:
    """The bot's own membership change of a ``ChatMemberHandler.MY_CHAT_MEMBER`` update."""
    return _present(update.my_chat_member, "membership change", update)


def _present(part: T | None, name: str, update: Update) -> T:
    if part is None:
        raise MissingPart(name, update)
    return part
