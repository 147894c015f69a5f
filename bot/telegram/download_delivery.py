"""Handing a finished download to the chat: the file as a document, or where it is kept.

A file up to ``MAX_UPLOAD_MB`` is sent (streamed from disk, or by path to a local Bot API server)
with its progress and a Cancel button on the status message, and the chat shows "sending a file"
meanwhile; a larger one stays on the server and the chat is told where (the path for the bot's
admins, a link when ``PUBLIC_BASE_URL`` is set). The job is marked delivered only once Telegram
has the file, so a restart sends again what was not handed over.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from telegram import Message, ReplyParameters
from telegram.constants import ChatAction
from telegram.error import TelegramError

from bot.downloads.jobs import DownloadJob
from bot.i18n import _, use
from bot.media.record import load_info
from bot.telegram import download_status as render
from bot.telegram import send_queue
from bot.telegram.media_delivery import send_media
from bot.telegram.permissions import is_bot_admin
from bot.telegram.status_board import StatusBoard, cancel_markup
from bot.telegram.upload import UploadProgress, send_file

log = logging.getLogger(__name__)

CHAT_ACTION_EVERY = 4.5  # Telegram shows a chat action for 5 s


@dataclass
class ActiveUpload:
    """A delivery under way: the task sending the file, its progress, and who cancelled it."""

    task: asyncio.Task[Message | None]
    progress: UploadProgress
    cancelled_by: str | None = None


class DownloadDelivery:
    """Sends finished files to their chats, one task each; can cancel a send under way."""

    def __init__(self, board: StatusBoard) -> None:
        self.board = board
        self.app = board.app
        self._uploads: dict[int, ActiveUpload] = {}

    async def deliver(self, job: DownloadJob) -> None:
        """Send the finished file as a document, or say where it is kept when it is too big, in
        the language the download was asked in."""
        with use(job.lang):
            await self._deliver(job)

    async def _deliver(self, job: DownloadJob) -> None:
        service = self.board.service
        job = service.get(job.id) or job
        path = service.file_path(job)
        if path is None or not path.is_file():
            self.board.edit(
                job, render.failed(job, _("the finished file is gone from the server")), None
            )
            return
        reply = (
            ReplyParameters(message_id=job.request_message_id, allow_sending_without_reply=True)
            if job.request_message_id
            else None
        )
        size = path.stat().st_size
        if size <= service.max_upload:
            await self._show_uploading(
                job.chat_id, job.thread_id
            )  # before the upload, so it never races it
            if not await self._send(job, path, size, reply, caption=render.caption(job)):
                return
            service.mark_delivered(job.id)
            self.board.edit(job, render.done(job, sent=True), None, final=True)
            return
        settings = service.settings
        link = None
        if settings.public_base_url:
            link = f"{settings.public_base_url}/{job.folder}/{quote(job.name or '')}"
        shown_path = str(path) if is_bot_admin(settings, job.user_id) else None  # admins only
        text = render.kept(job, shown_path, link, service.max_upload, settings.retention_hours)

        async def tell(chat_id: int) -> Message:
            return await self.app.bot.send_message(
                chat_id,
                text,
                message_thread_id=job.thread_id,
                reply_parameters=reply if chat_id == job.chat_id else None,
            )

        try:
            if await self.board.chat_send(job.chat_id, tell) is None:
                return
        except TelegramError as exc:
            log.warning("telling chat %s about kept d%s failed: %s", job.chat_id, job.id, exc)
            self.board.edit(
                job, render.failed(job, _("finished, but I could not post where it is kept")), None
            )
            return
        service.mark_delivered(job.id)
        self.board.edit(job, render.done(job, sent=False), None, final=True)

    async def _send(
        self, job: DownloadJob, path: Path, size: int, reply: ReplyParameters | None, **params: Any
    ) -> bool:
        """Send the file (streamed from disk, or by path in local mode) to the job's chat and topic,
        showing its progress with a Cancel button; True once Telegram has it. ``params`` go to
        ``send_document`` as they are."""
        loop = asyncio.get_running_loop()
        local = self.board.service.settings.telegram_local_mode
        progress = UploadProgress(size, by_path=local)

        media = load_info(path.parent)  # a video or audio from a page (bot.media): sent as one
        send = send_file if media is None else functools.partial(send_media, info=media)

        async def upload(chat_id: int) -> Message:
            sent: Message = await send(
                self.app.bot,
                chat_id,
                path,
                filename=job.name or path.name,
                local_mode=local,
                progress=progress,
                message_thread_id=job.thread_id,
                reply_parameters=reply if chat_id == job.chat_id else None,
                **params,
            )
            return sent

        sending = loop.create_task(self.board.chat_send(job.chat_id, upload))
        upload_state = self._uploads[job.id] = ActiveUpload(sending, progress)
        helpers = [
            loop.create_task(self._keep_showing_uploading(job.chat_id, job.thread_id)),
            loop.create_task(self._tick_upload(job, progress)),
        ]
        try:
            if await sending is None:
                return False  # the chat is unreachable; kept undelivered until it is back
        except asyncio.CancelledError:
            by = upload_state.cancelled_by
            current = asyncio.current_task()
            if by is None or (current is not None and current.cancelling()):
                raise  # the bot is stopping: the file is sent again at the next start
            log.info("sending d%s cancelled by %s", job.id, by)
            await asyncio.to_thread(self.board.service.cancel_delivery, job.id, by)
            self.board.edit(job, render.upload_cancelled(job, by), None, final=True)
            return False
        except TelegramError as exc:
            log.warning("sending d%s failed: %s", job.id, exc)
            self.board.edit(
                job,
                render.failed(job, _("could not send the file: {error}").format(error=exc)),
                None,
            )
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
        status = self.board.status(job)
        if status is None:
            return
        soon = True  # "now sending" is a change of state (a short upload would end before the
        # progress interval); the figures after it are progress
        try:
            while True:
                await status.show(
                    self.app,
                    render.uploading(job, progress),
                    cancel_markup(job.id),
                    soon=soon,
                    options=send_queue.STATE_EDIT if soon else send_queue.PROGRESS,
                )
                soon = False
                await asyncio.sleep(max(0.5, status.last_edit + status.interval - time.monotonic()))
        except asyncio.CancelledError:
            pass

    async def _show_uploading(self, chat_id: int, thread_id: int | None = None) -> None:
        try:
            await self.app.bot.send_chat_action(
                chat_id, ChatAction.UPLOAD_DOCUMENT, message_thread_id=thread_id
            )
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
