"""The download service: accept requests, enforce limits, queue, run the engine, survive restarts.

This is the part of ``/download`` that knows nothing of Telegram. It takes plain values (a URL, who
asked, in which chat) and reports what happens through one callback, an
:class:`~bot.downloads.events.Event`, called from worker threads; the chat layer turns events into
messages on its event loop. Jobs are database rows, each with its own folder under
``DOWNLOAD_DIR`` (:mod:`bot.downloads.jobstore`).

Life of a job: ``submit`` stores it and probes the URL on a worker thread (name and size are known
before any byte moves; :mod:`bot.downloads.probing`); limits are checked against the probed size
(:mod:`bot.downloads.limits`); then it waits in the :class:`~bot.downloads.registry.Registry`
queue until a slot is free (``MAX_ACTIVE_DOWNLOADS``, ``MAX_ACTIVE_PER_USER``;
:mod:`bot.downloads.workers`), runs (:mod:`bot.downloads.running`), and ends done, failed or
cancelled. At start-up, jobs that were running or queued when the bot stopped are queued again,
running ones first, and the engine resumes their partial files.

With PostgreSQL (several processes, one database) the queue is shared instead: ``submit`` stores
the row and hands it to the :class:`~bot.downloads.sharing.SharedQueue`, a worker that takes it
calls ``taken.take`` (:mod:`bot.downloads.taking`: probe, run and report here, as above), and
``cancel`` reaches whichever worker runs it. Nothing is re-queued at start-up then: the shared
queue holds the jobs.

This class is the face the chat layer calls; each part behind it is its own small object.
"""

from __future__ import annotations

import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.downloads.choices import MediaChoices
from bot.downloads.downloader import DownloaderFactory
from bot.downloads.events import EventKind, Listener, Reporter
from bot.downloads.jobs import DownloadJob, JobState
from bot.downloads.jobstore import JobStore, midnight_utc
from bot.downloads.ledger import Ledger
from bot.downloads.limits import Limits
from bot.downloads.parts import ServiceParts
from bot.downloads.probing import Prober
from bot.downloads.reasons import Reason, Why
from bot.downloads.registry import Registry, WaitReason
from bot.downloads.running import JobRunner
from bot.downloads.sharing import SharedQueue, Withdrawn
from bot.downloads.taking import TakenJobs
from bot.downloads.workers import Workers

if TYPE_CHECKING:
    from bot.media.plan import MediaMode
    from bot.media.survey import Survey


@dataclass(frozen=True)
class DownloadStats:
    """What ``/stats`` shows of downloads."""

    running: int
    queued: int
    bytes_today: int  # received since 00:00 UTC, by everyone


class DownloadService:
    """Queue and run downloads for many users; thread-safe; reports through ``listener``."""

    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        listener: Listener | None = None,
        shared: SharedQueue | None = None,
    ):
        self.settings = settings
        self._shared = shared  # PostgreSQL mode: the queue every process shares
        self.root = settings.downloads_path.resolve()
        self._store = JobStore(sessions, self.root)
        self._registry = Registry(settings.max_active_downloads, settings.max_active_per_user)
        self._ledger = Ledger()
        self._limits = Limits(settings, self._store, self._ledger)
        self._reporter = Reporter(self._store.get, listener or (lambda event: None))
        self._stopping = threading.Event()
        self._submit_lock = threading.Lock()
        downloaders = DownloaderFactory(
            settings,
            self._store,
            on_retry=lambda job_id, retry: self._reporter.emit(
                EventKind.RETRYING, job_id, retry=retry
            ),
            on_notice=lambda job_id, why: self._reporter.emit(EventKind.NOTICE, job_id, reason=why),
        )
        parts = ServiceParts(
            settings,
            self._store,
            self._registry,
            self._ledger,
            self._limits,
            self._reporter,
            downloaders,
            self._stopping,
        )
        # Runs and probes have separate pools: a user whose links hang at the probe must not hold
        # up downloads that are ready to run.
        self._workers = Workers(parts, run=lambda job_id: self._runner.run(job_id))
        self._runner = JobRunner(parts, pump=self._workers.pump)
        self._choices = MediaChoices(parts, admit=self._workers.admit)
        self._prober = Prober(parts, self._choices, self._workers)
        #: The jobs a worker took from the shared queue (PostgreSQL mode; bot.work.downloads).
        self.taken = TakenJobs(parts, self._prober, self._workers, self.cancel, self._end_cancelled)

    # ------------------------------------------------------------------ requests
    @property
    def max_upload(self) -> int:
        return self._limits.max_upload

    def submit(
        self,
        *,
        chat_id: int,
        user_id: int,
        user_name: str,
        url: str,
        name: str | None,
        request_message_id: int | None,
        status_message_id: int | None = None,
        thread_id: int | None = None,
        request_id: int | None = None,
        asked: str | None = None,
        item: int | None = None,
    ) -> DownloadJob:
        """Store a new job and probe it in the background; raise
        :class:`~bot.downloads.errors.Refused` if over a limit that is known without probing (too
        many open jobs, the daily quota already used up).

        The limits are checked and the row inserted under one lock (concurrent requests cannot
        pass a limit together); ``request_id`` is marked handled in the row's transaction.
        ``asked``: for a web page, ``file`` keeps the page, ``best``/``small``/``audio`` pick its
        media (bot.media); ``item``: which item of a playlist page."""
        shared = self._shared
        with self._submit_lock, shared.exclusive(user_id) if shared else nullcontext():
            self._limits.check_request(user_id)
            job = self._store.add(
                chat_id=chat_id,
                thread_id=thread_id,
                user_id=user_id,
                user_name=user_name,
                url=url,
                name=name,
                request_message_id=request_message_id,
                status_message_id=status_message_id,
                request_id=request_id,
            )
            if asked:
                from bot.media.pages import save_asked

                save_asked(self._store.folder(job), asked, item)
            if shared is None:
                self._registry.enqueue(job.id, user_id, ready=False)  # its place in line, from now
                self._prober.submit(job.id, user_id)
        if shared is not None:
            shared.submitted(job.id)  # after the row's commit: a worker may take it at once
        return job

    def cancel(self, job_id: int, by: str) -> bool:
        """Cancel a queued or running job; False when it is already finished."""
        job = self.get(job_id)
        if job is None or job.job_state.finished:
            return False
        if self._shared is not None and not self.taken.holds(job_id):
            return self._withdraw(job, by, self._shared)
        running = self._registry.running(job_id)
        if running is not None:
            running.cancelled_by = by
            if running.downloader is not None:
                running.downloader.cancel(keep_partial=False)
            return True  # the worker reports "cancelled" when the engine has stopped
        self._choices.forget(job_id)
        self._registry.dequeue(job_id)
        # Finished first, then the probe woken: its error then sees a cancelled job and stays quiet.
        self._store.finish(
            job_id, JobState.CANCELLED, error=Why.of(Reason.CANCELLED_BY, by=by).dump()
        )
        self._prober.cancel(job_id)
        self._store.remove_folder(job)
        self._reporter.emit(EventKind.CANCELLED, job_id, by=by)
        self._workers.pump()
        return True

    def _withdraw(self, job: DownloadJob, by: str, shared: SharedQueue) -> bool:
        """Cancel a job this process does not hold: still in the shared queue, or run by another
        worker (which reads who cancelled from the row: ``taken.cancel_as_asked``)."""
        self._store.update(job.id, error=Why.of(Reason.CANCELLED_BY, by=by).dump())
        if shared.withdraw(job.id) is Withdrawn.RUNNING:
            return True  # that worker reports "cancelled" when its engine has stopped
        current = self.get(job.id)
        if current is None or current.job_state.finished:
            return False
        self._end_cancelled(job, by)
        return True

    def _end_cancelled(self, job: DownloadJob, by: str) -> None:
        self._store.end(job, JobState.CANCELLED, error=Why.of(Reason.CANCELLED_BY, by=by).dump())
        self._reporter.emit(EventKind.CANCELLED, job.id, by=by)

    def choose(self, job_id: int, mode: MediaMode) -> bool:
        """Take ``mode`` for a media page waiting for a choice; False when it is not waiting
        (already chosen, cancelled, finished). With a shared queue, a choice another worker is
        waiting for is passed on to it (True while the job is open: that worker decides)."""
        if self._shared is not None and self._choices.waiting(job_id) is None:
            job = self.get(job_id)
            if job is None or job.job_state.finished:
                return False
            self._shared.relay_choice(job_id, mode.value)
            return True
        return self._choices.choose(job_id, mode)

    def waiting_choice(self, job_id: int) -> Survey | None:
        """The survey a job waiting for a choice was asked with (None when it is not waiting)."""
        return self._choices.waiting(job_id)

    # ------------------------------------------------------------------ jobs and their files
    def get(self, job_id: int) -> DownloadJob | None:
        return self._store.get(job_id)

    def list_jobs(
        self, user_id: int | None, chat_id: int | None, recent: int = 5
    ) -> list[DownloadJob]:
        """Active and queued jobs, then the last ``recent`` finished ones, of one user and/or one
        chat (None: any)."""
        return self._store.list_jobs(user_id, chat_id, recent)

    def position(self, job_id: int) -> int | None:
        return self._registry.position(job_id)

    def positions(self) -> dict[int, int]:
        """Every waiting job's 1-based place in the queue."""
        return self._registry.positions()

    def wait_reason(self, user_id: int) -> WaitReason | None:
        """Why this user's queued job waits, when it is not for a free slot."""
        return self._registry.wait_reason(user_id)

    def set_status_message(self, job_id: int, message_id: int) -> None:
        self._store.update(job_id, status_message_id=message_id)

    def mark_delivered(self, job_id: int) -> None:
        self._store.update(job_id, delivered=True)

    def cancel_delivery(self, job_id: int, by: str) -> None:
        """The file was complete, but sending it was cancelled: the job ends cancelled and its
        folder goes, as for a cancelled download (else a restart would send it again)."""
        job = self.get(job_id)
        if job is None:
            return
        self._store.end(job, JobState.CANCELLED, error=Why.of(Reason.CANCELLED_BY, by=by).dump())

    def file_path(self, job: DownloadJob) -> Path | None:
        return self._store.file_path(job)

    def bytes_today(self, user_id: int, exclude: int | None = None) -> int:
        """Bytes this user has downloaded or reserved since 00:00 UTC (see :class:`Limits`)."""
        return self._limits.bytes_today(user_id, exclude)

    def stats(self) -> DownloadStats:
        if self._shared is not None:  # every worker's, from the rows
            running, queued = self._store.open_counts()
        else:
            running, queued = self._registry.counts()
        return DownloadStats(running, queued, self._store.moved_since(midnight_utc(time.time())))

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> list[DownloadJob]:
        """Re-queue what was running or waiting when the bot stopped; returns the resumed jobs.

        With a shared queue nothing is re-queued here: it holds every open job, and a worker that
        stopped has its jobs taken by another (:mod:`bot.work.downloads`)."""
        if self._shared is not None:
            return []
        jobs, undelivered = self._store.reopen()
        for job in jobs:
            if job.name is None and not job.resumed:
                self._registry.enqueue(job.id, job.user_id, ready=False)
                self._prober.submit(job.id, job.user_id)  # never probed: probe again
            else:
                self._registry.enqueue(job.id, job.user_id)
        for job in jobs:
            if job.name is not None or job.resumed:
                self._reporter.emit(
                    EventKind.RESUMED, job.id, position=self._registry.position(job.id)
                )
        for job in undelivered:
            self._reporter.emit(
                EventKind.DONE, job.id
            )  # finished on disk but not handed over before the stop
        self._workers.pump()
        return [job for job in jobs if job.resumed]

    def stop(self, timeout: float = 5.0) -> None:
        """Stop all workers, keeping partial files so the next start resumes them."""
        self._stopping.set()
        self._prober.stop()
        for running in self._registry.all_running():
            running.stopping = True
            if running.downloader is not None:
                running.downloader.cancel(keep_partial=True)
        self._workers.stop(timeout)

    def housekeeping(self) -> int:
        """Remove files older than RETENTION_HOURS and stray partials; returns folders removed."""
        return self._store.expire(time.time() - self.settings.retention_hours * 3600)
