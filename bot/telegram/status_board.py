"""Each download's one status message, edited in place at a pace Telegram accepts.

Each job's status message is edited through one :class:`StatusMessage`, which keeps edits at least
``PROGRESS_INTERVAL`` apart, skips edits that would change nothing, and backs off when Telegram
answers 429 — progress is the first thing to give way under flood control. The
:class:`StatusBoard` holds them all, runs edits as tasks on the loop, and follows a group that was
upgraded to a supergroup (its open jobs get a new status message there).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TelegramError
from telegram.ext import Application

from bot.downloads.jobs import DownloadJob
from bot.i18n import _
from bot.telegram import send_queue
from bot.telegram.retry import retry_after_seconds
from bot.telegram.send_queue import SendOptions
from bot.telegram.services import Services, required

if TYPE_CHECKING:
    from bot.chats.lifecycle import Migration
    from bot.downloads.service import DownloadService
    from bot.telegram.chat_faults import ChatFaults

log = logging.getLogger(__name__)

# A last word (cancelled, failed) or the start of sending answers someone who is waiting: it keeps
# only this gap from the previous edit, not PROGRESS_INTERVAL, so that a cancel reads "cancelled"
# within a second of the press. Telegram's limits hold through the send queue's window per chat.
FINAL_EDIT_GAP = 0.5
T = TypeVar("T")


def cancel_markup(job_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(_("Cancel"), callback_data=f"dl:cancel:{job_id}")]]
    )


@dataclass
class StatusMessage:
    """One job's status message and the pace of its edits."""

    chat_id: int
    message_id: int
    interval: float
    last_text: str | None = None
    last_edit: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    final: bool = False

    async def show(
        self,
        app: Application[Any, Any, Any, Any, Any, Any],
        text: str,
        markup: InlineKeyboardMarkup | None,
        *,
        final: bool = False,
        soon: bool = False,
        options: SendOptions | None = None,
    ) -> None:
        """Edit to ``text`` unless unchanged; wait out the interval since the last edit first
        (only :data:`FINAL_EDIT_GAP` for a ``final`` or ``soon`` one: someone is waiting for it).

        Once a ``final`` text (delivered, failed, cancelled) was asked for, nothing else replaces
        it: a late "Starting…" or progress report must not flip a delivered download back."""
        if self.final and not final:
            return
        self.final = self.final or final
        async with self.lock:
            if text == self.last_text or (self.final and not final):
                return
            gap = min(self.interval, FINAL_EDIT_GAP) if final or soon else self.interval
            wait = self.last_edit + gap - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                await app.bot.edit_message_text(
                    text,
                    chat_id=self.chat_id,
                    message_id=self.message_id,
                    reply_markup=markup,
                    rate_limit_args=options,
                )
            except RetryAfter as exc:  # the rate limiter gave up: skip this edit, slow down
                self.last_edit = time.monotonic() + retry_after_seconds(exc)
                return
            except BadRequest as exc:
                if "not modified" not in str(exc).lower():
                    log.warning("could not edit status of message %s: %s", self.message_id, exc)
            except (ChatMigrated, Forbidden):
                raise  # about the chat, not this edit: the notifier hands it to the chat faults
            except TelegramError as exc:
                log.warning("could not edit status of message %s: %s", self.message_id, exc)
                return
            self.last_text = text
            self.last_edit = time.monotonic()


class StatusBoard:
    """The status messages of all jobs, and the tasks that edit them (on the event loop)."""

    def __init__(self, app: Application[Any, Any, Any, Any, Any, Any], services: Services) -> None:
        self.app = app
        self._services = services
        self._status: dict[int, StatusMessage] = {}
        self.tasks: set[asyncio.Task[Any]] = set()

    @property
    def service(self) -> DownloadService:
        return required(self._services.downloads)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def status(self, job: DownloadJob) -> StatusMessage | None:
        if job.status_message_id is None:
            return None
        existing = self._status.get(job.id)
        if existing is None:
            existing = self._status[job.id] = StatusMessage(
                job.chat_id, job.status_message_id, self.service.settings.progress_interval
            )
        return existing

    def edit(
        self,
        job: DownloadJob,
        text: str,
        markup: InlineKeyboardMarkup | None,
        *,
        final: bool = False,
    ) -> None:
        status = self.status(job)
        if status is not None and not self.chat_gone(status.chat_id):
            self.spawn(self.show(status, text, markup, final=final))

    async def show(
        self,
        status: StatusMessage,
        text: str,
        markup: InlineKeyboardMarkup | None,
        *,
        final: bool = False,
        options: SendOptions | None = send_queue.STATE_EDIT,
    ) -> None:
        chat_id = status.chat_id
        try:
            await status.show(self.app, text, markup, final=final, options=options)
        except (ChatMigrated, Forbidden) as exc:
            if self.faults is not None:
                self.faults.handle(chat_id, exc)
            else:
                log.warning("could not edit status of message %s: %s", status.message_id, exc)

    # ------------------------------------------------------------------ chats that change (#18)
    @property
    def faults(self) -> ChatFaults | None:
        """The chat-fault handler (:mod:`bot.telegram.chat_faults`), once registered."""
        return self._services.chat_faults

    def chat_gone(self, chat_id: int) -> bool:
        return self.faults is not None and self.faults.is_gone(chat_id)

    async def chat_send(self, chat_id: int, call: Callable[[int], Awaitable[T]]) -> T | None:
        faults = self.faults
        return await (call(chat_id) if faults is None else faults.send(chat_id, call))

    def chat_moved(self, migration: Migration) -> None:
        """A group was upgraded: its open jobs get a new status message in the new chat (the old
        messages cannot be edited there), and later edits go to it."""
        for job_id, status in list(self._status.items()):
            if status.chat_id == migration.old_chat_id:
                status.chat_id = migration.new_chat_id
                self.spawn(self._repost_status(job_id, status))

    async def _repost_status(self, job_id: int, status: StatusMessage) -> None:
        async with status.lock:
            text = status.last_text or _("⬇️ d{id} continues here (the group was upgraded).").format(
                id=job_id
            )
            try:
                sent: Message = await self.app.bot.send_message(
                    status.chat_id, text, reply_markup=cancel_markup(job_id)
                )
            except TelegramError as exc:
                log.warning(
                    "could not repost the status of d%s in chat %s: %s", job_id, status.chat_id, exc
                )
                return
            status.message_id, status.last_text, status.last_edit = (
                sent.message_id,
                text,
                time.monotonic(),
            )
        await asyncio.to_thread(self.service.set_status_message, job_id, sent.message_id)
