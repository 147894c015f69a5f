"""The download service: accept requests, enforce limits, queue, run the engine, survive restarts.

This is the part of ``/download`` that knows nothing of Telegram. It takes plain values (a URL, who
asked, in which chat) and reports what happens through one callback, :class:`Event`, called from
worker threads; the chat layer turns events into messages on its event loop. Jobs are database
rows (:mod:`bot.downloads.jobs`), each with its own folder under ``DOWNLOAD_DIR`` named by an
unguessable token, so a file kept on the server can be linked to without being guessable and two
jobs never clash over a name.

Life of a job: ``submit`` stores it and probes the URL on a worker thread (name and size are known
before any byte moves); limits are checked against the probed size; then it waits in the
:class:`~bot.downloads.registry.Registry` queue until a slot is free (``MAX_ACTIVE_DOWNLOADS``,
``MAX_ACTIVE_PER_USER``), runs, and ends done, failed or cancelled. At start-up, jobs that were
running or queued when the bot stopped are queued again, running ones first, and the engine
resumes their partial files.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import sessionmaker

from bot.config import Settings
from bot.downloads.jobs import DownloadJob, JobState
from bot.downloads.ledger import Ledger
from bot.downloads.registry import Registry
from bot.humanize import human_size
from bot.inbox import mark_handled

log = logging.getLogger(__name__)

MB = 1024 * 1024
PROBE_WORKERS = 4
PROBES_PER_USER = PROBE_WORKERS // 2  # one user's share of the probe workers
MAX_PENDING_PER_USER = 20  # queued + running per user, so one person cannot fill the queue
PROGRESS_SAVE_INTERVAL = 5.0  # seconds between writes of a running job's progress to the database
# A download process stopped from outside is resumed at once this many times per job (more means
# something keeps killing it); a signal to the whole group gets this long to reach the bot too.
MAX_INTERRUPTIONS = 3
PAUSE_SETTLE = 2.0
LIMIT_CHECK_INTERVAL = 0.5  # seconds between checks of a running job's quota and disk


class Refused(Exception):
    """A request that will not be started; ``str()`` says which limit and by how much."""


@dataclass(frozen=True)
class Event:
    """Something happened to a job. ``kind`` is one of: ``checking`` (being probed), ``ready``
    (probed and queued), ``started``, ``resumed`` (re-queued after a restart), ``progress``,
    ``retrying`` (a request failed and is tried again), ``notice`` (something worth saying, e.g.
    "using one connection: …", in ``reason``), ``done``, ``failed``, ``cancelled``, ``choose`` (a media page: best, smaller or audio? see
    :meth:`DownloadService.choose`)."""

    kind: str
    job: DownloadJob
    progress: Any = None  # bot.downloads.engine.Progress for "progress"
    reason: str | None = None
    position: int | None = None  # place in the queue for "ready"/"resumed", None when starting
    retry: Any = None  # bot.downloads.progress.Retrying for "retrying"
    choices: Any = None  # bot.media.survey.Survey for "choose" (a media page offering several)


Listener = Callable[[Event], None]


def _midnight_utc(now: float) -> float:
    return now - (now % 86400)


class DownloadService:
    """Queue and run downloads for many users; thread-safe; reports through ``listener``."""

    def __init__(self, settings: Settings, sessions: sessionmaker, listener: Listener | None = None):
        self.settings = settings
        self.sessions = sessions
        self.listener: Listener = listener or (lambda event: None)
        self.root = settings.downloads_path.resolve()
        self.registry = Registry(settings.max_active_downloads, settings.max_active_per_user)
        # Runs and probes have separate pools: a user whose links hang at the probe must not hold
        # up downloads that are ready to run.
        self._pool = ThreadPoolExecutor(max_workers=settings.max_active_downloads, thread_name_prefix="download")
        self._probe_pool = ThreadPoolExecutor(max_workers=PROBE_WORKERS, thread_name_prefix="probe")
        self._probing: dict[int, Any] = {}  # job id -> the Downloader probing it (to cancel it)
        self._stopping = threading.Event()
        self._progress_saved: dict[int, float] = {}
        self._job_cache: dict[int, tuple[float, DownloadJob | None]] = {}
        self._submit_lock = threading.Lock()
        self._interruptions: dict[int, int] = {}
        self._probe_lock = threading.Lock()
        self._probes_active: dict[int, int] = {}  # user id -> probes running
        self._probes_waiting: dict[int, deque[int]] = {}  # user id -> job ids waiting for a probe
        self.ledger = Ledger()
        self._limit_checked: dict[int, float] = {}
        self._choosing: dict[int, tuple[threading.Timer, str, Any]] = {}  # job id -> (default timer, name, survey)
        self._choosing_lock = threading.Lock()

    # ------------------------------------------------------------------ public API
    @property
    def max_upload(self) -> int:
        return self.settings.max_upload_mb * MB

    def submit(self, *, chat_id: int, user_id: int, user_name: str, url: str, name: str | None,
               request_message_id: int | None, status_message_id: int | None = None,
               thread_id: int | None = None, request_id: int | None = None, asked: str | None = None,
               item: int | None = None) -> DownloadJob:
        """Store a new job and probe it in the background; raise :class:`Refused` if over a limit
        that is known without probing (the daily quota already used up).

        The limits are checked and the row inserted under one lock (concurrent requests cannot
        pass a limit together); ``request_id`` is marked handled in the row's transaction.
        ``asked``: for a web page, ``file`` keeps the page, ``best``/``small``/``audio`` pick its
        media (bot.media); ``item``: which item of a playlist page."""
        with self._submit_lock:
            return self._submit(chat_id=chat_id, user_id=user_id, user_name=user_name, url=url,
                                name=name, request_message_id=request_message_id,
                                status_message_id=status_message_id, thread_id=thread_id,
                                request_id=request_id, asked=asked, item=item)

    def _submit(self, *, chat_id: int, user_id: int, user_name: str, url: str, name: str | None,
                request_message_id: int | None, status_message_id: int | None,
                thread_id: int | None, request_id: int | None, asked: str | None = None,
                item: int | None = None) -> DownloadJob:
        with self.sessions() as session:
            pending = session.scalar(select(func.count()).select_from(DownloadJob).where(
                DownloadJob.user_id == user_id,
                DownloadJob.state.in_([JobState.QUEUED, JobState.RUNNING])))
        if pending >= MAX_PENDING_PER_USER:
            raise Refused(f"you already have {pending} downloads waiting or running (the limit is "
                          f"{MAX_PENDING_PER_USER}); cancel one or wait")
        used = self.bytes_today(user_id)
        quota = self.settings.daily_quota_mb * MB
        if quota and used >= quota:
            raise Refused(f"your daily quota of {human_size(quota)} is used up; it resets at 00:00 UTC")
        with self.sessions.begin() as session:
            job = DownloadJob(chat_id=chat_id, thread_id=thread_id, user_id=user_id, user_name=user_name[:128], url=url,
                              requested_name=name, folder=secrets.token_urlsafe(18),
                              request_message_id=request_message_id, status_message_id=status_message_id,
                              state=JobState.QUEUED)
            session.add(job)
            mark_handled(session, request_id)
        if asked:
            from bot.media.pages import save_asked

            save_asked(self.root / job.folder, asked, item)
        self.registry.enqueue(job.id, user_id, ready=False)  # its place in line, from now
        self._submit_probe(job.id, user_id)
        return job

    def set_status_message(self, job_id: int, message_id: int) -> None:
        self._update(job_id, status_message_id=message_id)

    def get(self, job_id: int) -> DownloadJob | None:
        with self.sessions() as session:
            return session.get(DownloadJob, job_id)

    def list_jobs(self, user_id: int | None, chat_id: int | None, recent: int = 5) -> list[DownloadJob]:
        """Active and queued jobs, then the last ``recent`` finished ones, of one user and/or one
        chat (None: any)."""
        with self.sessions() as session:
            base = select(DownloadJob)
            if user_id is not None:
                base = base.where(DownloadJob.user_id == user_id)
            if chat_id is not None:
                base = base.where(DownloadJob.chat_id == chat_id)
            open_jobs = session.scalars(
                base.where(DownloadJob.state.in_([JobState.QUEUED, JobState.RUNNING])).order_by(DownloadJob.id)
            ).all()
            finished = session.scalars(
                base.where(DownloadJob.state.not_in([JobState.QUEUED, JobState.RUNNING]))
                .order_by(DownloadJob.id.desc()).limit(recent)
            ).all()
        return [*open_jobs, *finished]

    def position(self, job_id: int) -> int | None:
        return self.registry.position(job_id)

    def cancel(self, job_id: int, by: str) -> bool:
        """Cancel a queued or running job; False when it is already finished."""
        job = self.get(job_id)
        if job is None or job.job_state.finished:
            return False
        running = self.registry.running(job_id)
        if running is not None:
            running.cancelled_by = by
            if running.downloader is not None:
                running.downloader.cancel(keep_partial=False)
            return True  # the worker reports "cancelled" when the engine has stopped
        self._forget_choice(job_id)
        self.registry.dequeue(job_id)
        # Finished first, then the probe woken: its error then sees a cancelled job and stays quiet.
        self._finish(job_id, JobState.CANCELLED, error=f"cancelled by {by}")
        probing = self._probing.get(job_id)
        if probing is not None:
            probing.cancel()
        self._remove_folder(job)
        self._emit("cancelled", job_id, reason=by)
        self._pump()
        return True

    def mark_delivered(self, job_id: int) -> None:
        self._update(job_id, delivered=True)

    def cancel_delivery(self, job_id: int, by: str) -> None:
        """The file was complete, but sending it was cancelled: the job ends cancelled and its
        folder goes, as for a cancelled download (else a restart would send it again)."""
        job = self.get(job_id)
        if job is None:
            return
        self._finish(job_id, JobState.CANCELLED, error=f"cancelled by {by}")
        self._remove_folder(job)

    def file_path(self, job: DownloadJob) -> Path | None:
        if not job.name:
            return None
        return self.root / job.folder / job.name

    def bytes_today(self, user_id: int, exclude: int | None = None) -> int:
        """Bytes this user has downloaded or reserved since 00:00 UTC (failed jobs count what moved).

        Running downloads count what they have really received when that is more than their
        announced size (:mod:`bot.downloads.ledger`); ``exclude`` leaves one job out.
        """
        since = _midnight_utc(time.time())
        live = self.ledger.running_ids()
        skip = live | ({exclude} if exclude is not None else set())
        with self.sessions() as session:
            total = session.scalar(
                select(func.coalesce(func.sum(
                    func.coalesce(DownloadJob.size, DownloadJob.done_bytes)), 0))
                .where(DownloadJob.user_id == user_id, DownloadJob.created_at >= since,
                       DownloadJob.id.not_in(skip),
                       DownloadJob.state.in_([JobState.QUEUED, JobState.RUNNING, JobState.DONE,
                                              JobState.EXPIRED]))
            )
            failed = session.scalar(
                select(func.coalesce(func.sum(DownloadJob.done_bytes), 0))
                .where(DownloadJob.user_id == user_id, DownloadJob.created_at >= since,
                       DownloadJob.id.not_in(skip),
                       DownloadJob.state.in_([JobState.FAILED, JobState.CANCELLED]))
            )
        running = self.ledger.counted_for(user_id)
        if exclude is not None and exclude in live:
            running -= self.ledger.counted_for_job(exclude)
        return int(total or 0) + int(failed or 0) + running

    def stats(self) -> dict[str, int]:
        running, queued = self.registry.counts()
        since = _midnight_utc(time.time())
        with self.sessions() as session:
            today = session.scalar(select(func.coalesce(func.sum(DownloadJob.done_bytes), 0))
                                   .where(DownloadJob.created_at >= since))
        return {"running": running, "queued": queued, "bytes_today": int(today or 0)}

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> list[DownloadJob]:
        """Re-queue what was running or waiting when the bot stopped; returns the resumed jobs."""
        resumed: list[DownloadJob] = []
        with self.sessions.begin() as session:
            jobs = session.scalars(
                select(DownloadJob).where(DownloadJob.state.in_([JobState.RUNNING, JobState.QUEUED]))
                .order_by(DownloadJob.id)
            ).all()
            for job in jobs:
                if job.state == JobState.RUNNING:
                    job.resumed = True
                    job.state = JobState.QUEUED
                    resumed.append(job)
            undelivered = session.scalars(
                select(DownloadJob).where(DownloadJob.state == JobState.DONE,
                                          DownloadJob.delivered.is_(False))
            ).all()
        running_first = [j for j in jobs if j.resumed] + [j for j in jobs if not j.resumed]
        for job in running_first:
            if job.name is None and not job.resumed:
                self.registry.enqueue(job.id, job.user_id, ready=False)
                self._submit_probe(job.id, job.user_id)  # never probed: probe again
            else:
                self.registry.enqueue(job.id, job.user_id)
        for job in running_first:
            if job.name is not None or job.resumed:
                self._emit("resumed", job.id, position=self.registry.position(job.id))
        for job in undelivered:
            self._emit("done", job.id)  # finished on disk but not handed over before the stop
        self._pump()
        return resumed

    def stop(self, timeout: float = 5.0) -> None:
        """Stop all workers, keeping partial files so the next start resumes them."""
        self._stopping.set()
        for job_id in list(self._choosing):  # asked again after the restart (never probed to the end)
            self._forget_choice(job_id)
        for probing in list(self._probing.values()):
            probing.cancel(keep_partial=True)
        for running in self.registry.all_running():
            running.stopping = True
            if running.downloader is not None:
                running.downloader.cancel(keep_partial=True)
        deadline = time.monotonic() + timeout
        while self.registry.counts()[0] and time.monotonic() < deadline:
            time.sleep(0.05)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._probe_pool.shutdown(wait=False, cancel_futures=True)

    def housekeeping(self) -> int:
        """Remove files older than RETENTION_HOURS and stray partials; returns folders removed."""
        cutoff = time.time() - self.settings.retention_hours * 3600
        removed = 0
        with self.sessions.begin() as session:
            old = session.scalars(
                select(DownloadJob).where(
                    or_(DownloadJob.state == JobState.DONE,
                        DownloadJob.state.in_([JobState.FAILED, JobState.CANCELLED])),
                    DownloadJob.finished_at < cutoff)
            ).all()
            for job in old:
                if self._remove_folder(job):
                    removed += 1
                if job.state == JobState.DONE:
                    job.state = JobState.EXPIRED
        return removed

    # ------------------------------------------------------------------ workers
    def _guarded(self, fn: Callable[..., None], job_id: int, *args: Any) -> None:
        try:
            fn(job_id, *args)
        except Exception:  # noqa: BLE001 - a worker must never die silently
            log.exception("download d%s: unexpected error", job_id)
            self._finish(job_id, JobState.FAILED, error="internal error (see the bot's log)")
            self._emit("failed", job_id, reason="internal error (see the bot's log)")
            self.registry.dequeue(job_id)
            self.registry.finish(job_id)
            self._pump()

    def _options(self, max_bytes: int | None = None):
        from bot.downloads.engine import DownloadOptions

        options = DownloadOptions.from_settings(self.settings, verify_resumed=True)
        if max_bytes is not None:
            options.max_bytes = max_bytes
        return options

    def _budget(self, job: DownloadJob) -> tuple[int, str]:
        """The bytes this job may receive at most, and what to say if it reaches them.

        The engine stops at this many bytes whatever the server announced (a size that grows
        after the probe cannot walk around the quota or the disk): what MAX_FILE_MB, this
        user's quota and the disk (above the reserve and what others still have to write) can
        still take; the smallest one says why.
        """
        max_file = self.settings.max_file_mb * MB
        limits = [(max_file, f"the file is over the {human_size(max_file)} limit (MAX_FILE_MB)")]
        quota = self.settings.daily_quota_mb * MB
        if quota:
            used = self.bytes_today(job.user_id, exclude=job.id)
            limits.append((max(0, quota - used), f"it would exceed your daily quota of {human_size(quota)} "
                                                 f"({human_size(used)} used today)"))
        free = (shutil.disk_usage(self.root).free - self.settings.disk_reserve_mb * MB
                - self._pending_bytes(exclude=job.id))
        limits.append((free, f"not enough disk space: {human_size(max(0, free))} is free above the reserve"))
        size, reason = min(limits, key=lambda limit: limit[0])
        return max(1, size), reason

    def _over_limit(self, job_id: int, user_id: int) -> str | None:
        """Checked as bytes arrive: the reason to stop this job now, or None.

        The quota counts every running download of the user at what it really received; the disk
        must keep its reserve plus what running downloads of known size still have to write
        (reserved for them when they were accepted), so a download of unknown size, or one
        receiving more than it announced, is the one stopped.
        """
        quota = self.settings.daily_quota_mb * MB
        if quota:
            used = self.bytes_today(user_id)
            if used > quota:
                return (f"it would exceed your daily quota of {human_size(quota)} "
                        f"({human_size(used)} received or reserved today)")
        if self.ledger.counted_for_job(job_id) > self.ledger.announced_for_job(job_id):
            free = shutil.disk_usage(self.root).free - self.ledger.still_to_come()
            reserve = self.settings.disk_reserve_mb * MB
            if free < reserve:
                return f"not enough disk space: the disk is down to its reserve of {human_size(reserve)}"
        return None

    def _downloader(self, job: DownloadJob, on_progress=None, isolated: bool = False,
                    max_bytes: int | None = None):
        """The engine for ``job``: in this process for the probe, in a child process for the bytes."""
        from bot.downloads.engine import Downloader
        from bot.downloads.isolated import IsolatedDownloader

        folder = self.root / job.folder
        folder.mkdir(parents=True, exist_ok=True)
        kind = IsolatedDownloader if isolated else Downloader
        if isolated:
            from bot.media.isolated import IsolatedMediaDownloader
            from bot.media.pages import is_media_job

            if is_media_job(folder):  # the probe found a page to extract: bot.media fetches it
                kind = IsolatedMediaDownloader
        return kind(job.url, dest_dir=folder, options=self._options(max_bytes), on_progress=on_progress,
                    on_retry=lambda retry: self._emit("retrying", job.id, retry=retry),
                    on_notice=lambda text: self._emit("notice", job.id, reason=text),
                    name=job.name or job.requested_name)

    def _submit_probe(self, job_id: int, user_id: int) -> None:
        """Probe on a worker, but at most ``PROBES_PER_USER`` of one user's at once: the others
        wait in that user's own line, so links that hang cannot take every probe worker."""
        with self._probe_lock:
            if self._probes_active.get(user_id, 0) >= PROBES_PER_USER:
                self._probes_waiting.setdefault(user_id, deque()).append(job_id)
                return
            self._probes_active[user_id] = self._probes_active.get(user_id, 0) + 1
        self._probe_pool.submit(self._guarded, self._probe_slot, job_id, user_id)

    def _probe_slot(self, job_id: int, user_id: int) -> None:
        try:
            self._probe(job_id)
        finally:
            with self._probe_lock:
                waiting = self._probes_waiting.get(user_id)
                following = waiting.popleft() if waiting else None
                if following is None:
                    self._probes_active[user_id] -= 1
            if following is not None and not self._stopping.is_set():
                self._probe_pool.submit(self._guarded, self._probe_slot, following, user_id)

    def _probe(self, job_id: int) -> None:
        from bot.downloads.engine import DownloadError
        from bot.downloads.errors import why_of

        job = self.get(job_id)
        if job is None or job.job_state.finished:
            return
        downloader = self._downloader(job)
        self._probing[job_id] = downloader
        self._emit("checking", job_id)
        try:
            probe = downloader.probe()
            media = self._media_page(job, probe)
            self._check_limits(job, None if media else probe.size)
            survey = self._survey(job, probe.final_url) if media else None
        except (DownloadError, Refused) as exc:
            if self._stopping.is_set():
                return  # probed again at the next start
            current = self.get(job_id)
            if current is None or current.job_state.finished:
                return  # cancelled while checking: "cancelled" was reported, nothing more
            self.registry.dequeue(job_id)
            why = why_of(exc)  # the chat layer words it (bot.telegram.download_reasons)
            self._finish(job_id, JobState.FAILED, error=why.dump())
            self._remove_folder(job)
            self._emit("failed", job_id, reason=why)
            return
        finally:
            self._probing.pop(job_id, None)
        name = probe.name
        if survey is not None:  # a media page: its title says more than "watch.html" while it runs
            from bot.downloads.naming import sanitize

            name = sanitize(survey.title)
        if survey is not None and survey.needs_asking and not self.get(job_id).job_state.finished:
            self._ask(job_id, survey, name)
            return
        self._probed(job_id, job.user_id, name, None if media else probe.size)

    def _probed(self, job_id: int, user_id: int, name: str, size: int | None) -> None:
        """Name and size known (and, for a media page, the choice made): wait for a slot."""
        self._update(job_id, name=name, size=size)
        job = self.get(job_id)
        if job is None or job.job_state.finished:  # cancelled while probing
            return
        self.registry.enqueue(job_id, user_id)  # no-op unless re-probed after a restart
        self.registry.mark_ready(job_id)
        self._pump()
        position = self.registry.position(job_id)
        if position is not None:  # still waiting; a started job reports "started" itself
            self._emit("ready", job_id, position=position)

    # ------------------------------------------------------------------ media pages (bot.media)
    def choose(self, job_id: int, mode: Any) -> bool:
        """Take ``mode`` (a :class:`bot.media.plan.MediaMode`) for a media page waiting for a choice;
        False when it is not waiting (already chosen, cancelled, finished)."""
        from bot.media.pages import choose

        with self._choosing_lock:
            waiting = self._choosing.pop(job_id, None)
        if waiting is None:
            return False
        timer, name, survey = waiting
        timer.cancel()
        job = self.get(job_id)
        if job is None or job.job_state.finished:
            return False
        choose(self.root / job.folder, mode, survey)
        self._probed(job_id, job.user_id, name, None)
        return True

    def waiting_choice(self, job_id: int) -> Any:
        """The survey a job waiting for a choice was asked with (None when it is not waiting)."""
        with self._choosing_lock:
            waiting = self._choosing.get(job_id)
        return waiting[2] if waiting else None

    def _ask(self, job_id: int, survey: Any, name: str) -> None:
        timer = threading.Timer(self.settings.media_choice_wait, self._guarded_choose, (job_id, survey.default))
        timer.daemon = True
        with self._choosing_lock:
            self._choosing[job_id] = (timer, name, survey)
        timer.start()
        self._emit("choose", job_id, choices=survey)

    def _guarded_choose(self, job_id: int, mode: Any) -> None:
        try:
            self.choose(job_id, mode)
        except Exception:  # noqa: BLE001 - a timer thread must not die silently
            log.exception("download d%s: taking the default choice failed", job_id)

    def _forget_choice(self, job_id: int) -> None:
        with self._choosing_lock:
            waiting = self._choosing.pop(job_id, None)
        if waiting is not None:
            waiting[0].cancel()

    def _survey(self, job: DownloadJob, url: str) -> Any:
        """What a media page offers, when the person has not said what they want; None otherwise."""
        from bot.downloads.errors import DownloadCancelled
        from bot.media.pages import survey_for

        def cancelled() -> bool:  # looked at twice a second while the page is read
            current = self.get(job.id)
            return self._stopping.is_set() or current is None or current.job_state.finished

        try:
            return survey_for(self.settings, self.root / job.folder, url, self.max_upload, cancelled)
        except DownloadCancelled:
            if self._stopping.is_set():
                raise  # probed (and asked) again at the next start
            return None  # cancelled while reading: _probed sees the finished job and stops there

    def _media_page(self, job: DownloadJob, probe: Any) -> bool:
        """True when the probe found a page (or manifest) whose media bot.media will fetch; its
        size is unknown until then, so the byte budget of the run applies."""
        from bot.media.pages import MediaUnavailable, media_request

        try:
            return media_request(self.settings, self.root / job.folder, probe.content_type, probe.final_url) is not None
        except MediaUnavailable as exc:
            raise Refused(str(exc)) from None

    def _check_limits(self, job: DownloadJob, size: int | None) -> None:
        if size is None:
            return  # unknown size: the engine enforces MAX_FILE_MB while streaming
        max_file = self.settings.max_file_mb * MB
        if size > max_file:
            raise Refused(f"the file is {human_size(size)}, over the {human_size(max_file)} limit "
                          f"(MAX_FILE_MB) by {human_size(size - max_file)}")
        quota = self.settings.daily_quota_mb * MB
        if quota:
            used = self.bytes_today(job.user_id)  # includes this job only once its size is known
            if used + size > quota:
                raise Refused(f"it would exceed your daily quota of {human_size(quota)} by "
                              f"{human_size(used + size - quota)} ({human_size(used)} used today)")
        reserve = self.settings.disk_reserve_mb * MB
        free = shutil.disk_usage(self.root).free
        pending = self._pending_bytes()
        if size + pending + reserve > free:
            raise Refused(f"not enough disk space: it needs {human_size(size)}, and "
                          f"{human_size(max(0, free - reserve - pending))} is free above the reserve")

    def _pending_bytes(self, exclude: int | None = None) -> int:
        """Bytes still to be written by queued and running jobs (but ``exclude``)."""
        with self.sessions() as session:
            rows = session.execute(
                select(DownloadJob.size, DownloadJob.done_bytes)
                .where(DownloadJob.state.in_([JobState.QUEUED, JobState.RUNNING]), DownloadJob.size.is_not(None),
                       DownloadJob.id != (exclude if exclude is not None else -1))
            ).all()
        return sum(max(0, size - done) for size, done in rows)

    def _pump(self) -> None:
        if self._stopping.is_set():
            return
        started = self.registry.take_startable()
        for running in started:
            self._pool.submit(self._guarded, self._run, running.job_id)
        if started:  # everyone behind moved up: tell them their new place
            for job_id, place in self.registry.positions().items():
                job = self.get(job_id)
                if job is not None and job.name is not None:
                    self._emit("ready", job_id, position=place)

    def _run(self, job_id: int) -> None:
        from bot.downloads.engine import DownloadCancelled, DownloadError
        from bot.downloads.errors import DownloadPaused, TooLarge
        from bot.downloads.reasons import Why

        running = self.registry.running(job_id)
        job = self.get(job_id)
        if running is None or job is None:
            return
        if job.job_state.finished:
            self.registry.finish(job_id)
            return
        self._update(job_id, state=JobState.RUNNING, started_at=job.started_at or time.time())
        budget = self._budget(job)
        self.ledger.start(job_id, job.user_id, job.size)
        downloader = self._downloader(job, on_progress=lambda p: self._on_progress(job_id, p), isolated=True,
                                      max_bytes=budget[0])
        running.downloader = downloader
        if running.cancelled_by:  # cancelled between being taken and getting a downloader
            downloader.cancel(keep_partial=False)
        self._emit("started", job_id)
        requeue = False
        try:
            result = downloader.run()
        except DownloadPaused as exc:
            requeue = self._paused(job_id, running, str(exc))
        except DownloadCancelled:
            if running.over_limit:
                self._finish(job_id, JobState.FAILED, error=running.over_limit)
                self._remove_folder(job)
                self._emit("failed", job_id, reason=running.over_limit)
            elif running.stopping:
                log.info("download d%s paused for shutdown; it resumes at the next start", job_id)
            else:
                by = running.cancelled_by or "someone"
                self._finish(job_id, JobState.CANCELLED, error=f"cancelled by {by}")
                self._remove_folder(job)
                self._emit("cancelled", job_id, reason=by)
        except DownloadError as exc:
            why = Why.text(budget[1]) if isinstance(exc, TooLarge) else exc.why
            self._finish(job_id, JobState.FAILED, error=why.dump())
            self._remove_folder(job)
            self._emit("failed", job_id, reason=why)
        else:
            self._update(job_id, name=result.path.name, size=result.size, done_bytes=result.size,
                         sha256=result.sha256, elapsed=result.elapsed)
            self._finish(job_id, JobState.DONE)
            self._emit("done", job_id)
        finally:
            self.ledger.end(job_id)
            self._limit_checked.pop(job_id, None)
            self.registry.finish(job_id)
            self._progress_saved.pop(job_id, None)
            self._job_cache.pop(job_id, None)
            if requeue:
                self.registry.enqueue(job_id, job.user_id, front=True)
                self._emit("resumed", job_id, position=self.registry.position(job_id))
            self._pump()

    def _paused(self, job_id: int, running, reason: str) -> bool:
        """The download process was stopped from outside, its partial file kept. True: queue it
        again now; False: leave it for the next start (the bot is stopping) or give up.

        A signal to the whole process group reaches the download process first, often a moment
        before the bot itself: wait that moment, so that a stopping bot does not restart it.
        """
        if running.stopping or self._stopping.wait(PAUSE_SETTLE):
            log.info("download d%s paused for shutdown; it resumes at the next start", job_id)
            return False
        count = self._interruptions[job_id] = self._interruptions.get(job_id, 0) + 1
        if count > MAX_INTERRUPTIONS:
            job = self.get(job_id)
            self._finish(job_id, JobState.FAILED, error=reason)
            if job is not None:
                self._remove_folder(job)
            self._emit("failed", job_id, reason="the download process was stopped too many times")
            return False
        log.warning("download d%s: %s (%d of %d)", job_id, reason, count, MAX_INTERRUPTIONS)
        self._update(job_id, state=JobState.QUEUED, resumed=True)
        return True

    def _on_progress(self, job_id: int, progress: Any) -> None:
        now = time.monotonic()
        self.ledger.received(job_id, progress.done)
        if now - self._limit_checked.get(job_id, 0.0) >= LIMIT_CHECK_INTERVAL:
            self._limit_checked[job_id] = now
            running = self.registry.running(job_id)
            if running is not None and running.over_limit is None:
                reason = self._over_limit(job_id, running.user_id)
                if reason is not None and running.downloader is not None:
                    log.info("download d%s stopped: %s", job_id, reason)
                    running.over_limit = reason
                    running.downloader.cancel(keep_partial=False)
        if now - self._progress_saved.get(job_id, 0.0) >= PROGRESS_SAVE_INTERVAL:
            self._progress_saved[job_id] = now
            self._update(job_id, done_bytes=progress.done, size=progress.total)
        job = self._cached_job(job_id)
        if job is not None:
            self.listener(Event("progress", job, progress=progress))

    def _cached_job(self, job_id: int) -> DownloadJob | None:
        # Progress is frequent; the listener only needs ids and names, which do not change while
        # running, so one row read per second at most is plenty.
        cache = self._job_cache
        hit = cache.get(job_id)
        if hit is None or time.monotonic() - hit[0] > 1.0:
            hit = (time.monotonic(), self.get(job_id))
            cache[job_id] = hit
        return hit[1]

    # ------------------------------------------------------------------ rows and files
    def _update(self, job_id: int, **values: Any) -> None:
        with self.sessions.begin() as session:
            session.execute(update(DownloadJob).where(DownloadJob.id == job_id).values(**values))

    def _finish(self, job_id: int, state: JobState, error: str | None = None) -> None:
        self._update(job_id, state=state, error=error, finished_at=time.time())

    def _remove_folder(self, job: DownloadJob) -> bool:
        folder = (self.root / job.folder).resolve()
        if folder.parent != self.root or not folder.exists():
            return False
        shutil.rmtree(folder, ignore_errors=True)
        return True

    def _emit(self, kind: str, job_id: int, **kw: Any) -> None:
        job = self.get(job_id)
        if job is not None:
            try:
                self.listener(Event(kind, job, **kw))
            except Exception:  # noqa: BLE001 - a listener bug must not kill a download
                log.exception("download listener failed on %s for d%s", kind, job_id)
