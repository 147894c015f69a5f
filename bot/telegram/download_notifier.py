"""Turns download events into chat messages: live status edits, delivery, failure reasons.

Events arrive on worker threads; :meth:`DownloadNotifier.listener` hands each one to the event
loop with ``loop.call_soon_threadsafe`` and never calls the Bot API itself. On the loop, each job's
status message is edited through the :class:`~bot.telegram.status_board.StatusBoard` (at a pace
Telegram accepts), and a finished file is handed over by
:class:`~bot.telegram.download_delivery.DownloadDelivery`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from telegram.ext import Application

from bot.downloads.events import Event, EventKind
from bot.downloads.jobs import DownloadJob, JobState
from bot.downloads.registry import WaitReason
from bot.i18n import _, use
from bot.telegram import download_status as render
from bot.telegram import send_queue
from bot.telegram.download_delivery import DownloadDelivery
from bot.telegram.download_reasons import explain
from bot.telegram.services import Services
from bot.telegram.status_board import StatusBoard, cancel_markup

if TYPE_CHECKING:
    from bot.chats.lifecycle import Migration
    from bot.downloads.progress import Progress, Retrying
    from bot.downloads.reasons import Why
    from bot.downloads.service import DownloadService


class DownloadNotifier:
    """Bridges :class:`DownloadService` events (threads) to Telegram messages (event loop)."""

    def __init__(self, app: Application[Any, Any, Any, Any, Any, Any], services: Services) -> None:
        self.app = app
        self.board = StatusBoard(app, services)
        self.delivery = DownloadDelivery(self.board)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._latest: dict[int, Progress] = {}
        self._notes: dict[
            int, Why | None
        ] = {}  # job id -> the latest notice ("using one connection: …")
        self._retrying: dict[
            int, Retrying
        ] = {}  # job id -> the latest Retrying while bytes do not flow
        self._tickers: dict[int, asyncio.Task[None]] = {}
        #: Jobs whose file is being handed over, from the moment "done" is reported (on the
        #: worker thread) until delivery ends: a queue worker's task waits for it (bot.work).
        self._delivering: set[int] = set()
        #: PostgreSQL mode: passes a cancel of a file being sent to the worker that sends it
        #: (bot.work.downloads; called on a thread).
        self.relay_upload_cancel: Callable[[int, str], None] | None = None

    @property
    def service(self) -> DownloadService:
        return self.board.service

    # ------------------------------------------------------------------ from worker threads
    def listener(self, event: Event) -> None:
        """Called on any thread; only schedules work on the loop."""
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        if event.kind == EventKind.DONE:
            self._delivering.add(event.job.id)
        try:
            loop.call_soon_threadsafe(self._dispatch, event)
        except RuntimeError:  # loop closed during shutdown
            pass

    # ------------------------------------------------------------------ on the loop
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
        edit = self.board.edit
        if event.kind == EventKind.RETRYING and event.retry is not None:
            self._retrying[job.id] = event.retry
            if job.job_state != JobState.RUNNING:  # still being checked
                edit(job, render.checking(job.url, event.retry), cancel_markup(job.id))
            elif job.id not in self._tickers:  # no byte yet: the ticker shows it once bytes flow
                edit(
                    job,
                    f"{render.starting(job, max_upload)}\n{render.retrying(event.retry)}",
                    cancel_markup(job.id),
                )
            return
        if event.kind == EventKind.NOTICE:
            self._notes[job.id] = event.reason
            return
        if event.kind == EventKind.CHECKING:
            edit(job, render.checking(job.url), cancel_markup(job.id))
            return
        if event.kind == EventKind.PROGRESS and event.progress is not None:
            previous = self._latest.get(job.id)
            if previous is None or event.progress.done > previous.done:
                self._retrying.pop(job.id, None)  # bytes flow again
            self._latest[job.id] = event.progress
            if job.id not in self._tickers:
                self._tickers[job.id] = asyncio.get_running_loop().create_task(self._tick(job))
            return
        if event.kind == EventKind.READY:
            text = render.queued(
                job, event.position, max_upload, self._why_waiting(job, event.position)
            )
            edit(job, text, cancel_markup(job.id))
        elif event.kind == EventKind.RESUMED:
            text = render.resumed(job, event.position, max_upload)
            edit(job, text, cancel_markup(job.id))
        elif (
            event.kind == EventKind.CHOOSE and event.choices is not None
        ):  # a media page offering several: buttons (bot.telegram.media_choice)
            from bot.telegram import media_choice

            settings = self.service.settings
            edit(
                job,
                media_choice.text(job, event.choices, settings.media_choice_wait),
                media_choice.markup(job.id, event.choices, settings.media_playlist_max),
            )
        elif event.kind == EventKind.STARTED:
            edit(job, render.starting(job, max_upload), cancel_markup(job.id))
        elif event.kind == EventKind.DONE:
            self._stop_ticker(job.id)
            self.board.spawn(self.deliver(job))
        elif event.kind == EventKind.FAILED:
            self._stop_ticker(job.id)
            edit(job, render.failed(job, explain(event.reason)), None, final=True)
        elif event.kind == EventKind.CANCELLED:
            self._stop_ticker(job.id)
            edit(job, render.cancelled(job, event.by or _("someone")), None, final=True)

    def _why_waiting(self, job: DownloadJob, position: int | None) -> str | None:
        """Why a waiting job waits, when it is not for a free slot: "#2 in line" while a slot is
        free reads as a bug (it waits for the same person's earlier link to be checked, or for
        their own running downloads)."""
        if position is None:
            return None
        reason = self.service.wait_reason(job.user_id)
        if reason == WaitReason.OWN_RUNNING:
            return _(
                "⏳ Waiting: your other downloads are running (at most {limit} at a time each)."
            ).format(limit=self.service.settings.max_active_per_user)
        if reason == WaitReason.EARLIER_PROBE:
            return _(
                "⏳ Next: waiting for your earlier link to be checked first (they start in order)."
            )
        return None

    def latest_progress(self, job_id: int) -> Progress | None:
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
        status = self.board.status(job)
        if status is None:
            return
        try:
            while True:
                progress = self._latest.get(job.id)
                if progress is not None and not self.board.chat_gone(status.chat_id):
                    await self.board.show(
                        status,
                        render.running(
                            job,
                            progress,
                            self.service.max_upload,
                            self._retrying.get(job.id),
                            self._notes.get(job.id),
                        ),
                        cancel_markup(job.id),
                        options=send_queue.PROGRESS,
                    )
                await asyncio.sleep(max(0.5, status.last_edit + status.interval - time.monotonic()))
        except asyncio.CancelledError:
            pass

    # ------------------------------------------------------------------ what others call
    async def deliver(self, job: DownloadJob) -> None:
        """Send the finished file, or say where it is kept (:class:`DownloadDelivery`)."""
        try:
            await self.delivery.deliver(job)
        finally:
            self._delivering.discard(job.id)

    def delivering(self, job_id: int) -> bool:
        """True from "done" until the file was handed over (or that failed)."""
        return job_id in self._delivering

    def cancel_upload(self, job_id: int, by: str) -> bool:
        """Stop sending ``job_id``'s file, if it is being sent; False otherwise."""
        return self.delivery.cancel_upload(job_id, by)

    def chat_moved(self, migration: Migration) -> None:
        """A group was upgraded: its open jobs' status messages move to the new chat."""
        self.board.chat_moved(migration)

    async def close(self) -> None:
        """Stop showing progress. Downloads report until the service has paused them; from now on
        those reports are dropped, or each would start a ticker that the closing loop destroys."""
        self.loop = None
        tasks: list[asyncio.Task[Any]] = [*self._tickers.values(), *self.board.tasks]
        self._tickers.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
