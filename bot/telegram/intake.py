"""How updates come in: stored before they are acknowledged, each handled once, chats taking turns.

Three pieces, each plugged into python-telegram-bot where it offers a seam:

- :class:`StoringQueue` is the Application's ``update_queue``. Both long polling and the webhook
  ``await update_queue.put(update)`` *before* they confirm the update to Telegram (the next
  ``getUpdates`` offset; the webhook's 200), so writing the update to :mod:`bot.inbox` inside
  ``put`` means an acknowledged update is a stored one. An update already stored is a redelivery
  (Telegram resends what was not confirmed before a crash) and is not queued again.
- :class:`ErrandApplication` marks each update handled once its handlers finished, and
  :func:`replay_unhandled` queues, at start-up, what was stored but never handled. A command that
  creates a row marks its update handled in the row's own transaction (see :mod:`bot.inbox`), so
  a crash right after the row was written does not run the command twice.
- :class:`PerChatUpdateProcessor` lets each chat run only a few of its updates at once, so one
  chat's flood of commands cannot take every handler slot while a quiet chat waits.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable
from typing import Any

from sqlalchemy.orm import sessionmaker
from telegram import Update
from telegram.ext import Application, BaseUpdateProcessor

from bot import inbox

log = logging.getLogger(__name__)

PRUNE_EVERY = 3600.0  # seconds between clean-ups of remembered update ids


class StoringQueue(asyncio.Queue):
    """An ``update_queue`` whose ``put`` stores the update first (see the module docstring)."""

    def __init__(self, sessions: sessionmaker) -> None:
        super().__init__()
        self.sessions = sessions

    async def put(self, item: Any) -> None:
        if isinstance(item, Update):
            payload = json.dumps(item.to_dict(), ensure_ascii=False)
            if not await asyncio.to_thread(inbox.store, self.sessions, item.update_id, payload):
                log.info(
                    "update %s was delivered again; already stored, not queued twice",
                    item.update_id,
                )
                return
        await super().put(item)

    async def put_stored(self, item: Any) -> None:
        """Queue an update that is already in the inbox (a replay)."""
        await super().put(item)


class ErrandApplication(Application):
    """The Application, plus: an update is marked handled once its handlers are done."""

    async def process_update(self, update: object) -> None:
        await super().process_update(update)
        if isinstance(update, Update):
            sessions = self.bot_data["services"].sessions
            try:
                await asyncio.to_thread(inbox.finish, sessions, update.update_id)
            except Exception:  # noqa: BLE001 - the worst case is handling it again after a restart
                log.warning("could not mark update %s handled", update.update_id, exc_info=True)


async def replay_unhandled(app: Application) -> int:
    """Queue every update stored but never handled (the bot stopped first); returns how many."""
    sessions = app.bot_data["services"].sessions
    pending = await asyncio.to_thread(inbox.unhandled, sessions)
    queue: StoringQueue = app.update_queue  # type: ignore[assignment]
    for item in pending:
        try:
            update = Update.de_json(json.loads(item.payload), app.bot)
        except (ValueError, TypeError, KeyError):
            log.warning("stored update %s cannot be read back; skipped", item.request_id)
            await asyncio.to_thread(inbox.finish, sessions, item.request_id)
            continue
        await queue.put_stored(update)
    if pending:
        log.info(
            "%d update(s) received before the last stop and never handled: handling them now",
            len(pending),
        )
    await _prune(sessions)
    if app.job_queue is not None:  # and every hour, so a bot that never restarts stays small

        async def prune_job(_context) -> None:
            await _prune(sessions)

        app.job_queue.run_repeating(prune_job, PRUNE_EVERY, first=PRUNE_EVERY, name="inbox-prune")
    return len(pending)


async def _prune(sessions: sessionmaker) -> None:
    removed = await asyncio.to_thread(inbox.prune, sessions)
    if removed:
        log.debug("forgot %d handled update ids", removed)


def _chat_of(update: object) -> int | None:
    if isinstance(update, Update) and update.effective_chat is not None:
        return update.effective_chat.id
    if isinstance(update, Update) and update.effective_user is not None:
        return update.effective_user.id
    return None


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """At most ``per_chat`` updates of one chat run at once, at most ``max_concurrent_updates`` in
    all.

    A chat's extra updates wait for their chat's turn *before* taking one of the overall slots,
    so a flood from one chat leaves the other slots to everyone else.
    """

    def __init__(self, max_concurrent_updates: int = 256, per_chat: int = 4) -> None:
        super().__init__(max_concurrent_updates)
        self.per_chat = per_chat
        self._chats: dict[int | None, tuple[asyncio.Semaphore, int]] = {}

    # PTB marks process_update final: its own version takes the overall slot first. Waiting for
    # the chat's turn has to come before that, so this overrides it all the same (PTB 22.x).
    async def process_update(self, update: object, coroutine: Awaitable[Any]) -> None:  # type: ignore[misc]
        chat = _chat_of(update)
        semaphore, users = self._chats.get(chat, (None, 0))
        if semaphore is None:
            semaphore = asyncio.Semaphore(self.per_chat)
        self._chats[chat] = (semaphore, users + 1)
        try:
            async with semaphore:
                await super().process_update(update, coroutine)
        finally:
            semaphore, users = self._chats[chat]
            if users <= 1:
                del self._chats[chat]
            else:
                self._chats[chat] = (semaphore, users - 1)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        await coroutine

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass
