"""Chat turns: one chat's updates are handled one at a time, in the order they were sent, by
every process that takes updates.

Why a turn and not just Telegram's order: Telegram (and the emulator) send a chat's updates one
after another, but the next one follows the receiver's 200, and the 200 means "stored", not
"handled" (:mod:`bot.telegram.intake`). Behind a load balancer, a chat's next update can reach
another replica while the first is still being handled; in one process, several updates of a
chat may run at once. Either way a slow first reply could come after a quick second one.

A turn is an :class:`asyncio.Lock` per chat in this process and, where processes share the
database (the process role's ``shared_database``: PostgreSQL), a session advisory lock keyed by
the chat (:mod:`bot.db.locks`), taken with ``pg_try_advisory_lock`` on the
one connection this process keeps for turns and tried again every few milliseconds while another
process holds it. Chosen over the blocking ``pg_advisory_xact_lock``: that holds a pooled
connection per waiting chat, and a burst across many chats would drain the pool the handlers
themselves need. The server releases a dead process's locks, so a ``kill -9`` leaves no chat
stuck. Inside its turn, :class:`~bot.telegram.intake.ErrandApplication` handles what the chat sent
earlier and nobody handled yet, then the update, each only if not handled already: that gives
update-id order and exactly-once across processes.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Generic, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from bot.db.locks import AdvisoryLocks, two_keys

log = logging.getLogger(__name__)
T = TypeVar("T")

#: The first key of every chat turn's advisory lock ("Er"); the second is the folded chat id.
TURN_SPACE = 0x4572
#: Seconds between tries while another process holds a chat's turn: doubling from the first.
RETRY_FIRST, RETRY_MOST = 0.005, 0.05
#: Tries to reconnect (a second apart) before a turn gives up on a failed database connection.
RECONNECTS = 10


class PerChat(Generic[T]):
    """One ``T`` per chat, made by ``factory`` on first use and dropped when its last user is
    done: chats with nothing in flight cost nothing."""

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._items: dict[int | None, tuple[T, int]] = {}  # chat -> (item, users)

    @contextmanager
    def use(self, chat: int | None) -> Iterator[T]:
        item, users = self._items.get(chat) or (self._factory(), 0)
        self._items[chat] = (item, users + 1)
        try:
            yield item
        finally:
            item, users = self._items[chat]
            if users <= 1:
                del self._items[chat]
            else:
                self._items[chat] = (item, users - 1)

    def __len__(self) -> int:
        return len(self._items)


class ChatTurns:
    """``async with turns.turn(chat_id):`` – the chat's turn, here and (PostgreSQL) everywhere."""

    def __init__(self, shared: Engine | None = None, name: str | None = None) -> None:
        """``shared``: the (PostgreSQL) database through which other processes take this bot's
        updates too, given where the process role says so (``shared_database``): turns are then
        held there as well; None: turns in this process only. ``name``: the lock connection's
        ``application_name``, as ``pg_stat_activity`` shows it."""
        self._local: PerChat[asyncio.Lock] = PerChat(asyncio.Lock)
        self._shared = (
            AdvisoryLocks(shared, name or f"errandbot-turns pid {os.getpid()}")
            if shared is not None
            else None
        )

    @property
    def shared(self) -> bool:
        """Whether a turn is held across processes, not only in this one."""
        return self._shared is not None

    @asynccontextmanager
    async def turn(self, chat_id: int) -> AsyncIterator[None]:
        with self._local.use(chat_id) as lock:
            async with lock:
                if self._shared is None:
                    yield
                    return
                keys = two_keys(TURN_SPACE, chat_id)
                await self._take(keys)
                try:
                    yield
                finally:
                    await asyncio.to_thread(self._shared.unlock, *keys)

    async def _take(self, keys: tuple[int, int]) -> None:
        assert self._shared is not None
        wait, failures = RETRY_FIRST, 0
        while True:
            try:
                if await asyncio.to_thread(self._shared.try_lock, *keys):
                    return
            except DBAPIError:
                failures += 1
                if failures > RECONNECTS:
                    raise
                log.warning("the chat turns' database connection failed; reconnecting")
                await asyncio.sleep(1.0)
                continue
            await asyncio.sleep(wait)
            wait = min(wait * 2, RETRY_MOST)

    def close(self) -> None:
        if self._shared is not None:
            self._shared.close()
