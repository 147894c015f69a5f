"""One retry policy for every Bot API send: rings, command replies, status edits, documents.

Why one object: a ring, a reply and an upload fail in the same few ways, and each ad-hoc loop
got a different subset of them wrong (a ring was dropped after one 502; an upload after one 500).
Here the failures are sorted once, by exception type (:func:`bot.telegram.api_errors.classify`,
whose table says what each means), and each kind of send only chooses *how patient* it is
(:data:`REPLY`, :data:`EDIT`, :data:`UPLOAD`, :data:`RING`).

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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from bot.telegram.api_errors import Failure, classify, retry_after_seconds

#: ``Failure``, ``classify`` and ``retry_after_seconds`` are importable from here too (the send
#: queue and notifiers took them from this module before the classification had its own).
__all__ = [
    "EDIT",
    "ONCE",
    "REPLY",
    "RING",
    "UPLOAD",
    "Failure",
    "RetryPolicy",
    "classify",
    "retry_after_seconds",
]

T = TypeVar("T")


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

    async def run(
        self,
        call: Callable[[], Awaitable[T]],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> T:
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
