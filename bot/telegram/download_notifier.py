"""Turns download events into chat messages: live status edits, delivery, failure reasons.

Events arrive on worker threads; :meth:`DownloadNotifier.listener` hands each one to the event
loop with ``loop.call_soon_threadsafe`` and never calls the Bot API itself. On the loop, each job's
status message is edited through one :class:`StatusMessage`, which keeps edits at least
``PROGRESS_INTERVAL`` apart, skips edits that would change nothing, and backs off when Telegram
answers 429 — progress is the first thing to give way under flood control.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters
from telegram.constants import ChatAction
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TelegramError
from telegram.ext import Application

from bot.downloads.events import Event, EventKind
from bot.downloads.jobs import DownloadJob, JobState
from bot.downloads.service import DownloadService
from bot.i18n import _, use
from bot.media.record import load_info
from bot.telegram import download_status as render
from bot.telegram import send_queue
from bot.telegram.media_delivery import send_media
from bot.telegram.permissions import is_bot_admin
from bot.telegram.retry import retry_after_seconds
from bot.telegram.send_queue import SendOptions
from bot.telegram.upload import UploadProgress, send_file

log = logging.getLogger(__name__)

CHAT_ACTION_EVERY = 4.5  # Telegram shows a chat action for 5 s
# A last word (cancelled, failed) or the start of sending answers someone who is waiting: it keeps
# only this gap from the previous edit, not PROGRESS_INTERVAL (about one edit a second per chat
# stays within Telegram's limits).
FINAL_EDIT_GAP = 1.0


def cancel_markup(job_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(_("Cancel"), callback_data=f"dl:cancel:{job_id}")]])


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
                   final: bool = False, soon: bool = False, options: SendOptions | None = None) -> None:
        """Edit to ``text`` unless unchanged; wait out the interval since the last edit first
        (only :data:`FINAL_EDIT_GAP` for a ``final`` or ``soon`` one: someone is waiting for it).

        Once a ``final`` text (delivered, failed, cancelled) was asked for, nothing else replaces it: a late
        "Starting…" or progress report must not flip a delivered download back."""
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
                await app.bot.edit_message_text(text, chat_id=self.chat_id, message_id=self.message_id,
                                                reply_markup=markup, rate_limit_args=options)
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


@dataclass
class ActiveUpload:
    """A delivery under way: the task sending the file, its progress, and who cancelled it."""

    task: asyncio.Task
    progress: UploadProgress
    cancelled_by: str | None = None


class DownloadNotifier:
    """Bridges :class:`DownloadService` events (threads) to Telegram messages (event loop)."""

    def __init__(self, app: Application, service_ref: dict) -> None:
        self.app = app
        self._service_ref = service_ref
        self.loop: asyncio.AbstractEventLoop | None = None
        self._status: dict[int, StatusMessage] = {}
        self._latest: dict[int, object] = {}
        self._notes: dict[int, str | None] = {}  # job id -> the latest notice ("using one connection: …")
        self._retrying: dict[int, object] = {}  # job id -> the latest Retrying while bytes do not flow
        self._tickers: dict[int, asyncio.Task] = {}
        self._tasks: set[asyncio.Task] = set()
        self._uploads: dict[int, ActiveUpload] = {}

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
        """Word the event in the language the download was asked in (this runs from no update;
        the tasks it starts inherit the language)."""
        with use(event.job.lang):
            self._dispatch_in_language(event)

    def _dispatch_in_language(self, event: Event) -> None:
        if self.loop is None:  # closed after this call was scheduled
            return
        job = event.job
        max_upload = self.service.max_upload
        if event.kind == EventKind.RETRYING:
            self._retrying[job.id] = event.retry
            if job.job_state != JobState.RUNNING:  # still being checked
                self._edit(job, render.checking(job.url, event.retry), cancel_markup(job.id))
            elif job.id not in self._tickers:  # no byte yet: the ticker shows it once bytes flow
                self._edit(job, f"{render.starting(job, max_upload)}\n{render.retrying(event.retry)}",
                           cancel_markup(job.id))
            return
        if event.kind == EventKind.NOTICE:
            self._notes[job.id] = event.reason
            return
        if event.kind == EventKind.CHECKING:
            self._edit(job, render.checking(job.url), cancel_markup(job.id))
            return
        if event.kind == EventKind.PROGRESS:
            previous = self._latest.get(job.id)
            if previous is None or event.progress.done > previous.done:
                self._retrying.pop(job.id, None)  # bytes flow again
            self._latest[job.id] = event.progress
            if job.id not in self._tickers:
                self._tickers[job.id] = asyncio.get_running_loop().create_task(self._tick(job))
            return
        if event.kind == EventKind.READY:
            text = render.queued(job, event.position, max_upload, self._why_waiting(job, event.position))
            self._edit(job, text, cancel_markup(job.id))
        elif event.kind == EventKind.RESUMED:
            text = render.resumed(job, event.position, max_upload)
            self._edit(job, text, cancel_markup(job.id))
        elif event.kind == EventKind.CHOOSE:  # a media page offering several: buttons (bot.telegram.media_choice)
            from bot.telegram import media_choice

            settings = self.service.settings
            self._edit(job, media_choice.text(job, event.choices, settings.media_choice_wait),
                       media_choice.markup(job.id, event.choices, settings.media_playlist_max))
        elif event.kind == EventKind.STARTED:
            self._edit(job, render.starting(job, max_upload), cancel_markup(job.id))
        elif event.kind == EventKind.DONE:
            self._stop_ticker(job.id)
            self._spawn(self.deliver(job))
        elif event.kind == EventKind.FAILED:
            self._stop_ticker(job.id)
            self._edit(job, render.failed(job, event.reason or _("failed")), None, final=True)
        elif event.kind == EventKind.CANCELLED:
            self._stop_ticker(job.id)
            self._edit(job, render.cancelled(job, event.reason or _("someone")), None, final=True)

    def _edit(self, job: DownloadJob, text: str, markup: InlineKeyboardMarkup | None, *,
              final: bool = False) -> None:
        status = self.status(job)
        if status is not None and not self._chat_gone(status.chat_id):
            self._spawn(self._show(status, text, markup, final=final))

    async def _show(self, status: StatusMessage, text: str, markup: InlineKeyboardMarkup | None, *,
                    final: bool = False, options: SendOptions | None = send_queue.STATE_EDIT) -> None:
        chat_id = status.chat_id
        try:
            await status.show(self.app, text, markup, final=final, options=options)
        except (ChatMigrated, Forbidden) as exc:
            if self._faults is not None:
                self._faults.handle(chat_id, exc)
            else:
                log.warning("could not edit status of message %s: %s", status.message_id, exc)

    # ------------------------------------------------------------------ chats that change (#18)
    @property
    def _faults(self):
        """The chat-fault handler (:mod:`bot.telegram.chat_faults`), once registered."""
        return self._service_ref.get("chat_faults")

    def _chat_gone(self, chat_id: int) -> bool:
        return self._faults is not None and self._faults.is_gone(chat_id)

    async def _chat_send(self, chat_id: int, call):
        faults = self._faults
        return await (call(chat_id) if faults is None else faults.send(chat_id, call))

    def chat_moved(self, migration) -> None:
        """A group was upgraded: its open jobs get a new status message in the new chat (the old
        messages cannot be edited there), and later edits go to it."""
        for job_id, status in list(self._status.items()):
            if status.chat_id == migration.old_chat_id:
                status.chat_id = migration.new_chat_id
                self._spawn(self._repost_status(job_id, status))

    async def _repost_status(self, job_id: int, status: StatusMessage) -> None:
        async with status.lock:
            text = status.last_text or _("⬇️ d{id} continues here (the group was upgraded).").format(id=job_id)
            try:
                sent = await self.app.bot.send_message(status.chat_id, text, reply_markup=cancel_markup(job_id))
            except TelegramError as exc:
                log.warning("could not repost the status of d%s in chat %s: %s", job_id, status.chat_id, exc)
                return
            status.message_id, status.last_text, status.last_edit = sent.message_id, text, time.monotonic()
        await asyncio.to_thread(self.service.set_status_message, job_id, sent.message_id)

    def _why_waiting(self, job: DownloadJob, position: int | None) -> str | None:
        """Why a waiting job waits, when it is not for a free slot: "#2 in line" while a slot is
        free reads as a bug (it waits for the same person's earlier link to be checked, or for
        their own running downloads)."""
        registry = self.service.registry
        if position is None:
            return None
        if registry.active_for(job.user_id) >= registry.max_per_user:
            return _("⏳ Waiting: your other downloads are running (at most {limit} at a time each).").format(
                limit=registry.max_per_user)
        running, _queued = registry.counts()
        if running < registry.max_active:
            return _("⏳ Next: waiting for your earlier link to be checked first (they start in order).")
        return None

    def latest_progress(self, job_id: int):
        """The newest progress report of a running job (what its status message shows), or None."""
        return self._latest.get(job_id)

    def _stop_ticker(self, job_id: int) -> None:
        task = self._tickers.pop(job_id, None)
        if task is not None:
            task.cancel()
        self._latest.pop(job_id, None)
        self._retrying.pop(job_id, None)
        self._notes.pop(job_id, None)

    async def _tick(self, job: DownloadJob) -> None:
        """Show the newest progress of a running job, at the status message's pace."""
        status = self.status(job)
        if status is None:
            return
        try:
            while True:
                progress = self._latest.get(job.id)
                if progress is not None and not self._chat_gone(status.chat_id):
                    await self._show(status, render.running(job, progress, self.service.max_upload,
                                                            self._retrying.get(job.id),
                                                            self._notes.get(job.id)),
                                     cancel_markup(job.id), options=send_queue.PROGRESS)
                await asyncio.sleep(max(0.5, status.last_edit + status.interval - time.monotonic()))
        except asyncio.CancelledError:
            pass

    async def deliver(self, job: DownloadJob) -> None:
        """Send the finished file as a document, or say where it is kept when it is too big, in
        the language the download was asked in."""
        with use(job.lang):
            await self._deliver(job)

    async def _deliver(self, job: DownloadJob) -> None:
        service = self.service
        job = service.get(job.id) or job
        path = service.file_path(job)
        if path is None or not path.is_file():
            self._edit(job, render.failed(job, _("the finished file is gone from the server")), None)
            return
        reply = ReplyParameters(message_id=job.request_message_id, allow_sending_without_reply=True) \
            if job.request_message_id else None
        size = path.stat().st_size
        if size <= service.max_upload:
            await self._show_uploading(job.chat_id, job.thread_id)  # before the upload, so it never races it
            if not await self._send(job, path, size, reply, caption=render.caption(job)):
                return
            service.mark_delivered(job.id)
            self._edit(job, render.done(job, sent=True), None, final=True)
            return
        settings = service.settings
        link = None
        if settings.public_base_url:
            link = f"{settings.public_base_url}/{job.folder}/{quote(job.name or '')}"
        shown_path = str(path) if is_bot_admin(settings, job.user_id) else None  # admins only
        text = render.kept(job, shown_path, link, service.max_upload, settings.retention_hours)

        async def tell(chat_id: int):
            return await self.app.bot.send_message(
                chat_id, text, message_thread_id=job.thread_id,
                reply_parameters=reply if chat_id == job.chat_id else None)

        try:
            if await self._chat_send(job.chat_id, tell) is None:
                return
        except TelegramError as exc:
            log.warning("telling chat %s about kept d%s failed: %s", job.chat_id, job.id, exc)
            self._edit(job, render.failed(job, _("finished, but I could not post where it is kept")), None)
            return
        service.mark_delivered(job.id)
        self._edit(job, render.done(job, sent=False), None, final=True)

    async def _send(self, job: DownloadJob, path: Path, size: int, reply: ReplyParameters | None,
                    **params: Any) -> bool:
        """Send the file (streamed from disk, or by path in local mode) to the job's chat and topic,
        showing its progress with a Cancel button; True once Telegram has it. ``params`` go to
        ``send_document`` as they are."""
        loop = asyncio.get_running_loop()
        local = self.service.settings.telegram_local_mode
        progress = UploadProgress(size, by_path=local)

        media = load_info(path.parent)  # a video or audio from a page (bot.media): sent as one
        send = send_file if media is None else functools.partial(send_media, info=media)

        async def upload(chat_id: int):
            return await send(
                self.app.bot, chat_id, path, filename=job.name or path.name, local_mode=local,
                progress=progress, message_thread_id=job.thread_id,
                reply_parameters=reply if chat_id == job.chat_id else None, **params)

        sending = loop.create_task(self._chat_send(job.chat_id, upload))
        upload_state = self._uploads[job.id] = ActiveUpload(sending, progress)
        helpers = [loop.create_task(self._keep_showing_uploading(job.chat_id, job.thread_id)),
                   loop.create_task(self._tick_upload(job, progress))]
        try:
            if await sending is None:
                return False  # the chat is unreachable; kept undelivered until it is back
        except asyncio.CancelledError:
            by = upload_state.cancelled_by
            if by is None or asyncio.current_task().cancelling():
                raise  # the bot is stopping: the file is sent again at the next start
            log.info("sending d%s cancelled by %s", job.id, by)
            await asyncio.to_thread(self.service.cancel_delivery, job.id, by)
            self._edit(job, render.upload_cancelled(job, by), None)
            return False
        except TelegramError as exc:
            log.warning("sending d%s failed: %s", job.id, exc)
            self._edit(job, render.failed(job, _("could not send the file: {error}").format(error=exc)), None)
            return False
        finally:
            self._uploads.pop(job.id, None)
            for helper in helpers:
                helper.cancel()
        return True

    def cancel_upload(self, job_id: int, by: str) -> bool:
        """Stop sending ``job_id``'s file, if it is being sent; False otherwise."""
        upload = self._uploads.get(job_id)
        if upload is None or upload.task.done():
            return False
        upload.cancelled_by = by
        upload.task.cancel()
        return True

    async def _tick_upload(self, job: DownloadJob, progress: UploadProgress) -> None:
        """Show bytes sent and speed at the status message's pace while the file goes out."""
        status = self.status(job)
        if status is None:
            return
        soon = True  # "now sending" is a change of state (a short upload would end before the
        # progress interval); the figures after it are progress
        try:
            while True:
                await status.show(self.app, render.uploading(job, progress), cancel_markup(job.id),
                                  soon=soon, options=send_queue.STATE_EDIT if soon else send_queue.PROGRESS)
                soon = False
                await asyncio.sleep(max(0.5, status.last_edit + status.interval - time.monotonic()))
        except asyncio.CancelledError:
            pass

    async def _show_uploading(self, chat_id: int, thread_id: int | None = None) -> None:
        try:
            await self.app.bot.send_chat_action(chat_id, ChatAction.UPLOAD_DOCUMENT, message_thread_id=thread_id)
        except TelegramError:
            pass  # only a courtesy

    async def _keep_showing_uploading(self, chat_id: int, thread_id: int | None = None) -> None:
        """Telegram shows a chat action for about 5 s: repeat it while a long upload runs."""
        try:
            while True:
                await asyncio.sleep(CHAT_ACTION_EVERY)
                await self._show_uploading(chat_id, thread_id)
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
