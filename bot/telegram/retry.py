"""One retry policy for every Bot API send: rings, command replies, status edits, documents.

Why one object: a ring, a reply and an upload fail in the same few ways, and each ad-hoc loop
got a different subset of them wrong (a ring was dropped after one 502; an upload after one 500).
Here the failures are sorted once, by exception type, and each kind of send only chooses *how
patient* it is (:data:`REPLY`, :data:`EDIT`, :data:`UPLOAD`, :data:`RING`).

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
``Forbidden``             the bot was blocked or removed            give up: :attr:`Failure.FORBIDDEN`
``ChatMigrated``          a group became a supergroup               give up:
                                                                    :attr:`Failure.CHAT_MIGRATED`
                                                                    (the new id is on the error)
``InvalidToken``, other   configuration or a bug                    give up at once
========================  ========================================  ===========================

The two "chat is gone" outcomes are typed so that whoever owns groups can act on them (move the
chat's rows to the new id, mark a removed chat's reminders undeliverable); this module only
refuses to retry them.

Retrying a send whose answer was lost (``TimedOut`` after Telegram stored the message) can show
it twice; for a ring or a reply that is the right trade (twice beats never). Only message-free
calls get no special care: they are idempotent anyway.

The policy is applied in one place, :class:`bot.telegram.send_queue.FairRateLimiter`, which every
Bot API call passes through; callers pick a policy with ``rate_limit_args=SendOptions(...)`` or
get the default for their endpoint.
"""

from __future__ import annotations

import asyncio
import random
import time
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from typing import TypeVar

from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TimedOut,
)

T = TypeVar("T")


class Failure(Enum):
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
        """The chat itself cannot be written to (blocked, removed, migrated): not this message's fault."""
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
class RetryPolicy:
    """How patient one kind of send is.

    ``attempts`` is the most calls in all (None: no limit, for rings); ``budget`` the most seconds
    from the first call to the start of the last one (None: no limit). Between transient failures
    the wait is ``backoff * factor ** n`` seconds, capped at ``max_backoff``, with up to 25 %
    jitter so that many senders do not retry in step; after a 429 it is Telegram's ``retry_after``
    plus ``backoff``/4.
    """

    attempts: int | None = 5
    budget: float | None = 60.0
    backoff: float = 0.5
    factor: float = 2.0
    max_backoff: float = 30.0

    def delay(self, attempt: int, exc: BaseException, elapsed: float) -> float | None:
        """Seconds to wait before call number ``attempt + 1`` after ``exc``; None: give up.

        ``attempt`` counts the calls made so far (1 after the first failure).
        """
        kind = classify(exc)
        if not kind.retryable:
            return None
        if self.attempts is not None and attempt >= self.attempts:
            return None
        if kind is Failure.RATE_LIMITED:
            wait = retry_after_seconds(exc) + self.backoff / 4  # type: ignore[arg-type]
        else:
            wait = min(self.max_backoff, self.backoff * self.factor ** (attempt - 1))
            wait *= 1 + random.random() / 4
        if self.budget is not None and elapsed + wait > self.budget:
            return None
        return wait

    async def run(self, call: Callable[[], Awaitable[T]],
                  sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> T:
        """``await call()`` until it succeeds or this policy gives up (then its error is raised)."""
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                return await call()
            except Exception as exc:
                wait = self.delay(attempt, exc, time.monotonic() - started)
                if wait is None:
                    raise
            await sleep(wait)


#: A command's answer: a few quick tries within a minute.
REPLY = RetryPolicy(attempts=6, budget=60.0)
#: A status or countdown edit: the next one will say the same or newer, so little patience.
EDIT = RetryPolicy(attempts=3, budget=10.0)
#: A finished file: worth several minutes of trying (the bytes are still on disk).
UPLOAD = RetryPolicy(attempts=8, budget=600.0, backoff=2.0, max_backoff=120.0)
#: A ring: it is the promise. Tried until sent or clearly undeliverable; waits grow to 5 minutes.
RING = RetryPolicy(attempts=None, budget=None, backoff=1.0, max_backoff=300.0)
#: No retry: one call, its error raised.
ONCE = RetryPolicy(attempts=1, budget=0.0)
