"""What a Bot API error means, sorted once by type: the one classification every caller uses.

The send queue's retry policy (:mod:`bot.telegram.retry`) asks whether an error is worth another
try; the chat layer's fault handling (:mod:`bot.telegram.chat_faults`) asks what it says about the
chat (upgraded to a supergroup, or the bot removed or blocked). Both read the same
:func:`classify`, so an error is never retried by one and treated as final by the other.

How a failure is sorted (:func:`classify`, by type, never by message text except where
python-telegram-bot gives no type):

========================  ========================================  ===========================
exception                 meaning                                   what the policy does
========================  ========================================  ===========================
``RetryAfter``            429 flood control                         wait ``retry_after`` (plus a
                                                                    little), then try again
``TimedOut``,             the network, or Telegram's side (5xx)     back off exponentially with
``NetworkError``                                                    jitter, then try again
``BadRequest``            our request is wrong for this chat        give up at once
                          (message gone, text empty, chat not
                          found)
``Forbidden``             the bot was blocked or removed            give up:
                                                                    :attr:`Failure.FORBIDDEN`
``ChatMigrated``          a group became a supergroup               give up:
                                                                    :attr:`Failure.CHAT_MIGRATED`
                                                                    (the new id is on the error)
``InvalidToken``, other   configuration or a bug                    give up at once
========================  ========================================  ===========================

The two "chat is gone" outcomes are typed (:func:`chat_fault`) so that whoever owns groups can
act on them (:mod:`bot.telegram.chat_faults` moves the chat's rows to the new id, or pauses a
removed chat's reminders); the retry policy only refuses to retry them.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TimedOut,
)


class Failure(StrEnum):
    """What kind of failure a Bot API error is; see the table in the module docstring."""

    RATE_LIMITED = "rate_limited"
    TRANSIENT = "transient"
    BAD_REQUEST = "bad_request"
    FORBIDDEN = "forbidden"
    CHAT_MIGRATED = "chat_migrated"
    TOO_LARGE = "too_large"
    OTHER = "other"

    @property
    def retryable(self) -> bool:
        return self in (Failure.RATE_LIMITED, Failure.TRANSIENT)

    @property
    def chat_unreachable(self) -> bool:
        """The chat itself cannot be written to (blocked, removed, migrated): not this message's
        fault."""
        return self in (Failure.FORBIDDEN, Failure.CHAT_MIGRATED)


def _is_too_large(exc: NetworkError) -> bool:
    # python-telegram-bot maps HTTP 413 to a plain NetworkError; the status is only in the text.
    return "Request Entity Too Large" in str(exc) or "(413)" in str(exc)


def classify(exc: BaseException) -> Failure:
    """Sort a Bot API exception into a :class:`Failure` by its type (order matters: BadRequest
    and TimedOut are NetworkErrors)."""
    if isinstance(exc, RetryAfter):
        return Failure.RATE_LIMITED
    if isinstance(exc, Forbidden):
        return Failure.FORBIDDEN
    if isinstance(exc, ChatMigrated):
        return Failure.CHAT_MIGRATED
    if isinstance(exc, BadRequest):
        return Failure.BAD_REQUEST
    if isinstance(exc, TimedOut):
        return Failure.TRANSIENT
    if isinstance(exc, NetworkError):
        return Failure.TOO_LARGE if _is_too_large(exc) else Failure.TRANSIENT
    return Failure.OTHER


def retry_after_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns that the int will become a timedelta: both read
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


@dataclass(frozen=True)
class ChatFault:
    """What an error said about a chat: it moved (:attr:`Failure.CHAT_MIGRATED`, with the new id)
    or the bot cannot post there (:attr:`Failure.FORBIDDEN`)."""

    kind: Failure
    chat_id: int
    new_chat_id: int | None = None


def chat_fault(chat_id: int, error: BaseException) -> ChatFault | None:
    """The chat fault behind ``error`` (by :func:`classify`), or None when it is about something
    else."""
    kind = classify(error)
    if not kind.chat_unreachable:
        return None
    new_chat_id = int(error.new_chat_id) if isinstance(error, ChatMigrated) else None
    return ChatFault(kind, chat_id, new_chat_id)


__all__ = ["ChatFault", "Failure", "chat_fault", "classify", "retry_after_seconds"]
