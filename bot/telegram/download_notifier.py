"""Turns download events into chat messages: live status edits, delivery, failure reasons.

Events arrive on worker threads; :meth:`DownloadNotifier.listener` hands each one to the event
loop with ``loop.call_soon_threadsafe`` and never calls the Bot API itself. On the loop, each job's
status message is edited through one :class:`StatusMessage`, which keeps edits at least
``PROGRESS_INTERVAL`` apart, skips edits that would change nothing, and backs off when Telegram
answers 429 — progress is the first thing to give way under flood control.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from urllib.parse import quote

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters
from telegram.constants import ChatAction
from telegram.error import BadRequest, RetryAfter, TelegramError
from telegram.ext import Application

from bot.downloads.jobs import DownloadJob
from bot.downloads.service import DownloadService, Event
from bot.telegram import download_status as render
from bot.telegram import send_queue
from bot.telegram.permissions import is_bot_admin
from bot.telegram.retry import retry_after_seconds
from bot.telegram.send_queue import SendOptions

log = logging.getLogger(__name__)

UPLOAD_TIMEOUT = 600.0  # seconds for one sendDocument: 50 MB on a slow uplink
CHAT_ACTION_EVERY = 4.5  # Telegram shows a chat action for 5 s


def cancel_markup(job_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton("Cancel", callback_data=f"dl:cancel:{job_id}")]])


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

    async def show(self, app: Application, text: str, markup: InlineKeyboardMarkup | None, *,
                   final: bool = False, options: SendOptions | None = None) -> None:
        """Edit to ``text`` unless unchanged; wait out the interval since the last edit first.

        Once a ``final`` text (delivered, failed, cancelled) was asked for, nothing else replaces
        it: a late "Starting…" or progress report must not flip a delivered download back."""
        if self.final and not final:
            return
        self.final = self.final or final
        async with self.lock:
            if text == self.last_text or (self.final and not final):
                return
            wait = self.last_edit + self.interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                await app.bot.edit_message_text(text, chat_id=self.chat_id, message_id=self.message_id,
                                                reply_markup=markup, rate_limit_args=options)
            except RetryAfter as exc:  # the rate limiter gave up: skip this edit, slow down
                self.last_edit = time.monotonic() + retry_after_seconds(exc)
                return
            except BadRequest as exc:
                if "not modified" not in str(exc).lower():
                    log.warning("could not edit status of message %s: %s", self.message_id, exc)
            except TelegramError as exc:
                log.warning("could not edit status of message %s: %s", self.message_id, exc)
                return
            self.last_text = text
            self.last_edit = time.monotonic()


class DownloadNotifier:
    """Bridges :class:`DownloadService` events (threads) to Telegram messages (event loop)."""

    def __init__(self, app: Application, service_ref: dict) -> None:
        self.app = app
        self._service_ref = service_ref
        self.loop: asyncio.AbstractEventLoop | None = None
        self._status: dict[int, StatusMessage] = {}
        self._latest: dict[int, object] = {}
        self._tickers: dict[int, asyncio.Task] = {}
        self._tasks: set[asyncio.Task] = set()

    @property
    def service(self) -> DownloadService:
        return self._service_ref["downloads"]

    @property
    def interval(self) -> float:
        return self.service.settings.progress_interval

    # ------------------------------------------------------------------ from worker threads
    def listener(self, event: Event) -> None:
        """Called on any thread; only schedules work on the loop."""
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(self._dispatch, event)
        except RuntimeError:  # loop closed during shutdown
            pass

    # ------------------------------------------------------------------ on the loop
    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def status(self, job: DownloadJob) -> StatusMessage | None:
        if job.status_message_id is None:
            return None
        existing = self._status.get(job.id)
        if existing is None:
            existing = self._status[job.id] = StatusMessage(job.chat_id, job.status_message_id, self.interval)
        return existing

    def _dispatch(self, event: Event) -> None:
        if self.loop is None:  # closed after this call was scheduled
            return
        job = event.job
        max_upload = self.service.max_upload
        if event.kind == "progress":
            self._latest[job.id] = event.progress
            if job.id not in self._tickers:
                self._tickers[job.id] = asyncio.get_running_loop().create_task(self._tick(job))
            return
        if event.kind == "ready":
            text = render.queued(job, event.position, max_upload, self._why_waiting(job, event.position))
            self._edit(job, text, cancel_markup(job.id))
        elif event.kind == "resumed":
            text = render.resumed(job, event.position, max_upload)
            self._edit(job, text, cancel_markup(job.id))
        elif event.kind == "started":
            self._edit(job, render.starting(job, max_upload), cancel_markup(job.id))
        elif event.kind == "done":
            self._stop_ticker(job.id)
            self._spawn(self.deliver(job))
        elif event.kind == "failed":
            self._stop_ticker(job.id)
            self._edit(job, render.failed(job, event.reason or "failed"), None, final=True)
        elif event.kind == "cancelled":
            self._stop_ticker(job.id)
            self._edit(job, render.cancelled(job, event.reason or "someone"), None, final=True)

    def _edit(self, job: DownloadJob, text: str, markup: InlineKeyboardMarkup | None, *,
              final: bool = False) -> None:
        status = self.status(job)
        if status is not None:
            self._spawn(status.show(self.app, text, markup, final=final))

    def _why_waiting(self, job: DownloadJob, position: int | None) -> str | None:
        """Why a waiting job waits, when it is not for a free slot: "#2 in line" while a slot is
        free reads as a bug (it waits for the same person's earlier link to be checked, or for
        their own running downloads)."""
        registry = self.service.registry
        if position is None:
            return None
        if registry.active_for(job.user_id) >= registry.max_per_user:
            return (f"⏳ Waiting: your other downloads are running "
                    f"(at most {registry.max_per_user} at a time each).")
        running, _ = registry.counts()
        if running < registry.max_active:
            return "⏳ Next: waiting for your earlier link to be checked first (they start in order)."
        return None

    def latest_progress(self, job_id: int):
        """The newest progress report of a running job (what its status message shows), or None."""
        return self._latest.get(job_id)

    def _stop_ticker(self, job_id: int) -> None:
        task = self._tickers.pop(job_id, None)
        if task is not None:
            task.cancel()
        self._latest.pop(job_id, None)

    async def _tick(self, job: DownloadJob) -> None:
        """Show the newest progress of a running job, at the status message's pace."""
        status = self.status(job)
        if status is None:
            return
        try:
            while True:
                progress = self._latest.get(job.id)
                if progress is not None:
                    await status.show(self.app, render.running(job, progress, self.service.max_upload),
                                      cancel_markup(job.id), options=send_queue.PROGRESS)
                await asyncio.sleep(max(0.5, status.last_edit + status.interval - time.monotonic()))
        except asyncio.CancelledError:
            pass

    async def deliver(self, job: DownloadJob) -> None:
        """Send the finished file as a document, or say where it is kept when it is too big."""
        service = self.service
        job = service.get(job.id) or job
        path = service.file_path(job)
        if path is None or not path.is_file():
            self._edit(job, render.failed(job, "the finished file is gone from the server"), None, final=True)
            return
        reply = ReplyParameters(message_id=job.request_message_id, allow_sending_without_reply=True) \
            if job.request_message_id else None
        size = path.stat().st_size
        if size <= service.max_upload:
            await self._show_uploading(job.chat_id)  # before the upload, so it never races it
            action = asyncio.get_running_loop().create_task(self._keep_showing_uploading(job.chat_id))
            try:
                with path.open("rb") as fh:
                    await self.app.bot.send_document(
                        job.chat_id, document=fh, filename=job.name, caption=render.caption(job),
                        reply_parameters=reply, read_timeout=UPLOAD_TIMEOUT, write_timeout=UPLOAD_TIMEOUT,
                    )
            except TelegramError as exc:
                log.warning("sending d%s failed: %s", job.id, exc)
                self._edit(job, render.failed(job, f"could not send the file: {exc}"), None, final=True)
                return
            finally:
                action.cancel()
            service.mark_delivered(job.id)
            self._edit(job, render.done(job, sent=True), None, final=True)
            return
        settings = service.settings
        link = None
        if settings.public_base_url:
            link = f"{settings.public_base_url}/{job.folder}/{quote(job.name or '')}"
        try:
            await self.app.bot.send_message(
                job.chat_id, render.kept(job, str(path) if is_bot_admin(settings, job.user_id) else None, link,
                                         service.max_upload, settings.retention_hours),
                reply_parameters=reply,
            )
        except TelegramError as exc:
            log.warning("telling chat %s about kept d%s failed: %s", job.chat_id, job.id, exc)
            self._edit(job, render.failed(job, "finished, but I could not post where it is kept"), None,
                       final=True)
            return
        service.mark_delivered(job.id)
        self._edit(job, render.done(job, sent=False), None, final=True)

    async def _show_uploading(self, chat_id: int) -> None:
        try:
            await self.app.bot.send_chat_action(chat_id, ChatAction.UPLOAD_DOCUMENT)
        except TelegramError:
            pass  # only a courtesy

    async def _keep_showing_uploading(self, chat_id: int) -> None:
        """Telegram shows a chat action for about 5 s: repeat it while a long upload runs."""
        try:
            while True:
                await asyncio.sleep(CHAT_ACTION_EVERY)
                await self._show_uploading(chat_id)
        except asyncio.CancelledError:
            pass

    async def close(self) -> None:
        """Stop showing progress. Downloads report until the service has paused them; from now on
        those reports are dropped, or each would start a ticker that the closing loop destroys."""
        self.loop = None
        tasks = [*self._tickers.values(), *self._tasks]
        self._tickers.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
