"""How updates come in: stored before they are acknowledged, each handled once, chats taking turns.

Three pieces, each plugged into python-telegram-bot where it offers a seam:

- :class:`StoringQueue` is the Application's ``update_queue``. Both long polling and the webhook
  ``await update_queue.put(update)`` *before* they confirm the update to Telegram (the next
  ``getUpdates`` offset; the webhook's 200), so writing the update to :mod:`bot.inbox` inside
  ``put`` means an acknowledged update is a stored one. An update already handled is a repeat
  (Telegram resends what was not confirmed before a crash; a balancer may pass one update to two
  replicas) and is not queued; one stored but not yet handled is queued all the same, since the
  process that stored it may have died: its chat's turn decides who handles it.
- :class:`ErrandApplication` handles each update in its chat's turn (:mod:`bot.telegram.turns`):
  first what the chat sent earlier and nobody handled (whichever process stored it), then the
  update, each only if not handled yet, marked handled once its handlers finished.
  :func:`replay_unhandled` queues, at start-up, what was stored but never handled, and with
  PostgreSQL sweeps every :data:`SWEEP_EVERY` for updates a dead replica stored and left. A
  command that creates a row marks its update handled in the row's own transaction (see
  :mod:`bot.inbox`), so a crash right after the row was written does not run the command twice.
- :class:`PerChatUpdateProcessor` lets each chat run only a few of its updates at once, so one
  chat's flood of commands cannot take every handler slot while a quiet chat waits.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable
from typing import Any

from sqlalchemy.orm import sessionmaker
from telegram import Update
from telegram.ext import Application, BaseUpdateProcessor

from bot import inbox
from bot.telegram.turns import ChatTurns, PerChat

log = logging.getLogger(__name__)

PRUNE_EVERY = 3600.0  # seconds between clean-ups of remembered update ids
#: PostgreSQL mode: seconds between looks for updates stored and left unhandled (a replica died
#: between its 200 and handling), and how old such an update must be to be taken over.
SWEEP_EVERY = SWEEP_AFTER = 10.0


class StoringQueue(asyncio.Queue):
    """An ``update_queue`` whose ``put`` stores the update first (see the module docstring)."""

    def __init__(self, sessions: sessionmaker) -> None:
        super().__init__()
        self.sessions = sessions
        #: Ids queued in this process and not yet through their turn (the sweep skips them).
        self.in_process: set[int] = set()

    async def put(self, item: Any) -> None:
        if isinstance(item, Update):
            payload = json.dumps(item.to_dict(), ensure_ascii=False)
            receipt = await asyncio.to_thread(
                inbox.receive, self.sessions, item.update_id, payload, chat_of(item)
            )
            if receipt is inbox.Receipt.HANDLED:
                log.info("update %s was delivered again; handled already, skipped", item.update_id)
                return
            if receipt is inbox.Receipt.PENDING:
                log.info(
                    "update %s was delivered again before it was handled; its chat's turn "
                    "decides who handles it",
                    item.update_id,
                )
            self.in_process.add(item.update_id)
        await super().put(item)

    async def put_stored(self, item: Any) -> None:
        """Queue an update that is already in the inbox (a replay)."""
        if isinstance(item, Update):
            self.in_process.add(item.update_id)
        await super().put(item)


class ErrandApplication(Application):
    """The Application, plus: each update handled in its chat's turn, once, marked handled when
    its handlers are done (see the module docstring)."""

    @property
    def chat_turns(self) -> ChatTurns:
        turns = self.bot_data.get("chat_turns")
        if turns is None:
            shared = self.bot_data["services"].role.shared_database
            engine = self.bot_data.get("engine") if shared else None
            turns = self.bot_data["chat_turns"] = ChatTurns(engine)
        return turns

    async def process_update(self, update: object) -> None:
        if not isinstance(update, Update):
            return await super().process_update(update)
        sessions = self.bot_data["services"].sessions
        chat = chat_of(update)
        try:
            if chat is None:
                return await self._handle_once(update, sessions)
            async with self.chat_turns.turn(chat):
                earlier = await asyncio.to_thread(
                    inbox.earlier_unhandled, sessions, chat, update.update_id
                )
                for item in earlier:
                    stored = _read_back(item, self.bot)
                    if stored is None:
                        await asyncio.to_thread(inbox.finish, sessions, item.request_id)
                    else:
                        log.info(
                            "update %s of chat %s came earlier and is not handled: first",
                            item.request_id,
                            chat,
                        )
                        await self._handle_once(stored, sessions)
                await self._handle_once(update, sessions)
        finally:
            queue = self.update_queue
            if isinstance(queue, StoringQueue):
                queue.in_process.discard(update.update_id)

    async def _handle_once(self, update: Update, sessions: sessionmaker) -> None:
        if await asyncio.to_thread(inbox.is_handled, sessions, update.update_id):
            log.info("update %s was handled already; skipped", update.update_id)
            return
        log.debug("handling update %s", update.update_id)
        await super().process_update(update)
        try:
            await asyncio.to_thread(inbox.finish, sessions, update.update_id)
        except Exception:  # noqa: BLE001 - the worst case is handling it again after a restart
            log.warning("could not mark update %s handled", update.update_id, exc_info=True)

    async def shutdown(self) -> None:
        await super().shutdown()
        turns = self.bot_data.get("chat_turns")
        if turns is not None:
            await asyncio.to_thread(turns.close)


def _read_back(item: inbox.Pending, bot: Any) -> Update | None:
    try:
        return Update.de_json(json.loads(item.payload), bot)
    except (ValueError, TypeError, KeyError):
        log.warning("stored update %s cannot be read back; skipped", item.request_id)
        return None


async def replay_unhandled(app: Application) -> int:
    """Queue every update stored but never handled (the bot stopped first); returns how many."""
    sessions = app.bot_data["services"].sessions
    pending = await asyncio.to_thread(inbox.unhandled, sessions)
    queue: StoringQueue = app.update_queue  # type: ignore[assignment]
    for item in pending:
        update = _read_back(item, app.bot)
        if update is None:
            await asyncio.to_thread(inbox.finish, sessions, item.request_id)
            continue
        await queue.put_stored(update)
    if pending:
        log.info(
            "%d update(s) received before the last stop and never handled: handling them now",
            len(pending),
        )
    await _prune(sessions)
    if app.job_queue is None:
        return len(pending)
    if app.bot_data["services"].role.shared_database:
        # A replica may die between storing an update and handling it: sweep for those.

        async def sweep_job(_context) -> None:
            await _sweep(app)

        app.job_queue.run_repeating(sweep_job, SWEEP_EVERY, first=SWEEP_EVERY, name="inbox-sweep")
    else:  # every hour, so a bot that never restarts stays small (with PostgreSQL: once per
        # deployment, with the other housekeeping in bot.work.sweeps)

        async def prune_job(_context) -> None:
            await _prune(sessions)

        app.job_queue.run_repeating(prune_job, PRUNE_EVERY, first=PRUNE_EVERY, name="inbox-prune")
    return len(pending)


async def _sweep(app: Application) -> None:
    """Queue the updates stored over :data:`SWEEP_AFTER` ago and not handled nor queued here:
    a replica stored them (its 200 sent) and died before handling them."""
    queue: StoringQueue = app.update_queue  # type: ignore[assignment]
    sessions = app.bot_data["services"].sessions
    left = await asyncio.to_thread(inbox.unhandled, sessions, time.time() - SWEEP_AFTER)
    for item in left:
        if item.request_id in queue.in_process:
            continue
        update = _read_back(item, app.bot)
        if update is not None:
            log.info("update %s was stored and left unhandled: taking it over", item.request_id)
            await queue.put_stored(update)


async def _prune(sessions: sessionmaker) -> None:
    removed = await asyncio.to_thread(inbox.prune, sessions)
    if removed:
        log.debug("forgot %d handled update ids", removed)


def chat_of(update: object) -> int | None:
    """The chat an update belongs to (its sender's, for updates without a chat): its turn."""
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
        self._chats: PerChat[asyncio.Semaphore] = PerChat(lambda: asyncio.Semaphore(per_chat))

    # PTB marks process_update final: its own version takes the overall slot first. Waiting for
    # the chat's turn has to come before that, so this overrides it all the same (PTB 22.x).
    async def process_update(self, update: object, coroutine: Awaitable[Any]) -> None:  # type: ignore[misc]
        with self._chats.use(chat_of(update)) as semaphore:
            async with semaphore:
                await super().process_update(update, coroutine)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        await coroutine

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass
