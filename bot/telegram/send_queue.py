"""The fair send queue: every Bot API call goes through here, within Telegram's limits, in order
of importance, and each chat waits only for its own turn.

Why not python-telegram-bot's ``AIORateLimiter``: it has one global queue, so 600 replies owed to
one flooding chat delayed another user's ``/help`` by 20 s. This is the same extension point
(:class:`~telegram.ext.BaseRateLimiter`) with three rules:

- **Limits, per chat and overall.** A message-sending call (``send*``, ``copy*``, ``forward*``)
  waits until its chat's window allows it — at most :attr:`Limits.private` messages in a private
  chat per window (about one a second, with a short burst), at most 20 a minute in a group — and
  until the bot's overall pace allows it (30 a second, spaced 1/30 s apart). Edits (``edit*``)
  are paced the same way in a window of their own per chat, so a chat watching its downloads'
  progress does not wait longer for its replies. Other
  calls (``getChatMember``, ``answerCallbackQuery``, chat actions…) are not messages and pass
  straight through.
- **Fair across chats.** Among chats whose window is open, the one served longest ago goes
  next; a chat with 600 replies owed gets one slot per turn like everyone else.
- **Important first.** Within that, rings go before replies, and replies before progress edits
  (:class:`Priority`), also within one chat's own queue: a ring to a flooding chat jumps its
  queue of replies. Progress edits also leave :data:`PROGRESS_HEADROOM` of each chat's window
  unused, so a chat watching four downloads still gets its next reply at once.

Failed calls are retried by the one :class:`~bot.telegram.retry.RetryPolicy` chosen for the call
(``rate_limit_args=SendOptions(...)``, or the default for its endpoint); after a 429 the chat is
paused for ``retry_after`` before anything else is sent to it. A retry goes back into the queue
rather than holding a slot while it waits.

With several processes (PostgreSQL mode) the limits are the deployment's, not each process's:
before each message the dispatcher also asks the shared pace in the database
(:mod:`bot.telegram.shared_pace`), and a refusal pauses the whole queue (the overall limit) or the
chat (a group's) for as long as it says.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from telegram.error import NetworkError, RetryAfter
from telegram.ext import BaseRateLimiter

from bot.telegram import retry
from bot.telegram.retry import RetryPolicy, retry_after_seconds
from bot.telegram.shared_pace import SharedPace

log = logging.getLogger(__name__)


class Priority(IntEnum):
    """Lower goes first."""

    RING = 0
    REPLY = 1
    PROGRESS = 2


@dataclass(frozen=True)
class SendOptions:
    """What a caller passes as ``rate_limit_args``: how important the call is and how patient."""

    priority: Priority | None = None
    policy: RetryPolicy | None = None


#: A ring: first in line, tried until sent or undeliverable.
RING = SendOptions(Priority.RING, retry.RING)
#: A progress edit: last in line, not retried (the next one says the same or newer).
PROGRESS = SendOptions(Priority.PROGRESS, retry.ONCE)
#: An edit that says something changed (queued, started, delivered): before progress edits.
STATE_EDIT = SendOptions(Priority.REPLY, retry.EDIT)

#: Sends of a chat's window that progress edits leave free for replies and rings.
PROGRESS_HEADROOM = 1

_UPLOADS = {
    "sendDocument",
    "sendPhoto",
    "sendVideo",
    "sendAudio",
    "sendAnimation",
    "sendVoice",
    "sendMediaGroup",
}


def is_message(endpoint: str) -> bool:
    """Calls that put or change a message in a chat, which Telegram's per-chat limits count."""
    if endpoint == "sendChatAction":
        return False
    return endpoint.startswith(("send", "edit", "copy", "forward"))


#: Start-up and set-up calls: python-telegram-bot's own bootstrap loop decides about retrying, and
#: a bad token or no network must be reported at once, not after a minute of tries.
_LIFECYCLE = {"getMe", "deleteWebhook", "setWebhook", "getWebhookInfo", "logOut", "close"}


def defaults_for(endpoint: str) -> tuple[Priority, RetryPolicy]:
    """The priority and retry policy of a call whose ``rate_limit_args`` do not say."""
    if endpoint in _LIFECYCLE:
        return Priority.REPLY, retry.ONCE
    if endpoint.startswith("edit"):
        return Priority.PROGRESS, retry.EDIT
    if endpoint in _UPLOADS:
        return Priority.REPLY, retry.UPLOAD
    return Priority.REPLY, retry.REPLY


@dataclass(frozen=True)
class Limits:
    """Telegram's limits (Bots FAQ): ``private`` and ``group`` are (messages, window seconds)."""

    overall_per_second: float = 30.0
    private: tuple[int, float] = (5, 5.0)
    group: tuple[int, float] = (20, 60.0)


@dataclass
class _Window:
    """At most ``limit`` sends in any ``seconds``; paused until ``paused_until`` after a 429."""

    limit: int
    seconds: float
    sent: deque[float] = field(default_factory=deque)
    paused_until: float = 0.0

    def ready_at(self, now: float, headroom: int = 0) -> float:
        """When the next send may go; ``headroom`` sends of the window are kept for others."""
        while self.sent and now - self.sent[0] >= self.seconds:
            self.sent.popleft()
        at = self.paused_until
        allowed = max(1, self.limit - headroom)
        if len(self.sent) >= allowed:
            at = max(at, self.sent[len(self.sent) - allowed] + self.seconds)
        return at

    def take(self, now: float) -> None:
        self.sent.append(now)


@dataclass(order=True)
class _Ticket:
    priority: int
    seq: int
    chat: Any = field(compare=False)
    granted: asyncio.Future = field(compare=False)


class FairRateLimiter(BaseRateLimiter[SendOptions]):
    """See the module docstring. One dispatcher task grants slots; callers wait on a future."""

    def __init__(
        self,
        limits: Limits = Limits(),
        clock: Callable[[], float] = time.monotonic,
        shared: SharedPace | None = None,
    ) -> None:
        self.limits = limits
        self.clock = clock
        self.shared = shared
        self._queues: dict[Any, list[_Ticket]] = {}
        self._windows: dict[Any, _Window] = {}
        self._served: dict[Any, float] = {}
        self._seq = itertools.count()
        self._next_global = 0.0
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None

    async def initialize(self) -> None:
        """Nothing to do: the dispatcher starts with the first message (a start-up that fails
        on ``getMe`` must not leave a task behind)."""

    async def shutdown(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self.shared is not None:
            await self.shared.close()
        for queue in self._queues.values():
            for ticket in queue:
                if not ticket.granted.done():  # a Bot API error, which every caller handles
                    ticket.granted.set_exception(NetworkError("not sent: the bot is stopping"))
        self._queues.clear()

    # ------------------------------------------------------------------ the extension point
    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: SendOptions | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        priority, policy = defaults_for(endpoint)
        if rate_limit_args is not None:
            priority = (
                rate_limit_args.priority if rate_limit_args.priority is not None else priority
            )
            policy = rate_limit_args.policy or policy
        counted = is_message(endpoint)
        chat = data.get("chat_id")
        if counted and endpoint.startswith("edit"):
            chat = (chat, "edits")  # edits have a window of their own (see the module docstring)
        started = self.clock()
        attempt = 0
        while True:
            attempt += 1
            if counted:
                await self._turn(chat, priority)
            try:
                return await callback(*args, **kwargs)
            except Exception as exc:
                if isinstance(exc, RetryAfter):
                    self._pause(chat, retry_after_seconds(exc))
                wait = policy.delay(attempt, exc, self.clock() - started)
                if wait is None:
                    raise
                log.info(
                    "%s to chat %s failed (%s: %s); try %d in %.1f s",
                    endpoint,
                    chat,
                    type(exc).__name__,
                    exc,
                    attempt + 1,
                    wait,
                )
            await asyncio.sleep(wait)

    # ------------------------------------------------------------------ queueing
    def _window(self, chat: Any) -> _Window:
        window = self._windows.get(chat)
        if window is None:
            chat_id = chat[0] if isinstance(chat, tuple) else chat
            private = isinstance(chat_id, int) and chat_id > 0
            limit, seconds = self.limits.private if private else self.limits.group
            window = self._windows[chat] = _Window(limit, seconds)
        return window

    def _pause(self, chat: Any, seconds: float) -> None:
        window = self._window(chat)
        window.paused_until = max(window.paused_until, self.clock() + seconds)

    async def _turn(self, chat: Any, priority: Priority) -> None:
        if self._task is None or self._wake is None:
            self._wake = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(
                self._dispatch(self._wake), name="fair-send-queue"
            )
        ticket = _Ticket(
            int(priority), next(self._seq), chat, asyncio.get_running_loop().create_future()
        )
        heapq.heappush(self._queues.setdefault(chat, []), ticket)
        self._wake.set()
        try:
            await ticket.granted
        except asyncio.CancelledError:
            queue = self._queues.get(chat)
            if queue and ticket in queue:
                queue.remove(ticket)
                heapq.heapify(queue)
            raise

    def _pick(self, now: float) -> tuple[_Ticket | None, float | None]:
        """The next ticket to grant now, or (None, seconds until one could be)."""
        best: tuple[int, float, Any] | None = None
        soonest: float | None = None
        for chat, queue in list(self._queues.items()):
            while queue and queue[0].granted.done():  # cancelled while waiting
                heapq.heappop(queue)
            if not queue:
                del self._queues[chat]
                continue
            headroom = PROGRESS_HEADROOM if queue[0].priority >= Priority.PROGRESS else 0
            at = self._window(chat).ready_at(now, headroom)
            if at > now:
                soonest = at if soonest is None else min(soonest, at)
                continue
            key = (queue[0].priority, self._served.get(chat, 0.0), chat)
            if best is None or key[:2] < best[:2]:
                best = key
        if best is None:
            return None, None if soonest is None else soonest - now
        return heapq.heappop(self._queues[best[2]]), 0.0

    async def _shared_turn(self, ticket: _Ticket) -> bool:
        """Whether the shared pace lets ``ticket`` go now; if not, it goes back in its queue and
        the queue (overall) or its chat (a group's limit) waits as long as the pace says."""
        assert self.shared is not None
        edit = isinstance(ticket.chat, tuple)
        chat_id = ticket.chat[0] if edit else ticket.chat
        progress = ticket.priority >= Priority.PROGRESS
        verdict = await self.shared.take(chat_id, edit=edit, progress=progress)
        if verdict.granted or ticket.granted.done():
            return not ticket.granted.done()
        heapq.heappush(self._queues.setdefault(ticket.chat, []), ticket)
        now = self.clock()
        if progress:  # only this chat's edits wait: rings and replies may take the next slot
            self._pause(ticket.chat, max(verdict.overall, verdict.chat))
        elif verdict.overall > 0:
            self._next_global = max(self._next_global, now + verdict.overall)
        if verdict.chat > 0:
            self._pause(ticket.chat, verdict.chat)
        return False

    async def _dispatch(self, wake: asyncio.Event) -> None:
        gap = 1.0 / self.limits.overall_per_second
        while True:
            now = self.clock()
            if self._next_global > now:
                await asyncio.sleep(self._next_global - now)
                continue
            ticket, wait = self._pick(now)
            if ticket is None:
                wake.clear()
                try:  # asyncio.timeout: Python 3.11's wait_for can lose shutdown's cancel
                    async with asyncio.timeout(wait):
                        await wake.wait()
                except TimeoutError:
                    pass
                continue
            if self.shared is not None and not await self._shared_turn(ticket):
                continue
            if not self._queues.get(ticket.chat):
                self._queues.pop(ticket.chat, None)
            now = self.clock()
            self._window(ticket.chat).take(now)
            self._served[ticket.chat] = now
            self._next_global = now + gap
            ticket.granted.set_result(None)
            if len(self._served) > 10_000:  # forget chats not served for a while
                cutoff = now - 3600
                self._served = {c: t for c, t in self._served.items() if t > cutoff}
                self._windows = {
                    c: w
                    for c, w in self._windows.items()
                    if c in self._queues or (w.sent and w.sent[-1] > cutoff)
                }
