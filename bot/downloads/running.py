"""Running one job: its downloader in a child process, its progress, and how it ends.

A running job receives at most its :class:`~bot.downloads.limits.Budget` of bytes; as bytes
arrive, the limits are checked against what really arrived, and the job that crosses one is
stopped with the reason. It ends done, failed or cancelled — or paused, when its download process
was stopped from outside: then it is queued again at once (a few times), or left for the next
start when the bot itself is stopping.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.downloads.api import DownloadResult
from bot.downloads.diskfloor import KeepsDiskFloor
from bot.downloads.errors import DownloadCancelled, DownloadError, DownloadPaused, TooLarge
from bot.downloads.events import EventKind
from bot.downloads.jobs import DownloadJob, JobState
from bot.downloads.parts import ServiceParts
from bot.downloads.reasons import Reason, Why
from bot.downloads.registry import Running

if TYPE_CHECKING:
    from bot.downloads.progress import Progress

log = logging.getLogger(__name__)

PROGRESS_SAVE_INTERVAL = 5.0  # seconds between writes of a running job's progress to the database
# A download process stopped from outside is resumed at once this many times per job (more means
# something keeps killing it); a signal to the whole group gets this long to reach the bot too.
MAX_INTERRUPTIONS = 3
PAUSE_SETTLE = 2.0
LIMIT_CHECK_INTERVAL = 0.5  # seconds between checks of a running job's quota and disk
JOB_CACHE_AGE = 1.0  # seconds a running job's row is reused for progress events


class JobRunner:
    """Runs the jobs the workers hand it (one per worker thread); thread-safe."""

    def __init__(self, parts: ServiceParts, pump: Callable[[], None]) -> None:
        self.parts = parts
        self.pump = pump  # start what fits now that this job's slot is free
        self._progress_saved: dict[int, float] = {}
        self._limit_checked: dict[int, float] = {}
        self._job_cache: dict[int, tuple[float, DownloadJob | None]] = {}
        self._interruptions: dict[int, int] = {}

    def run(self, job_id: int) -> None:
        running = self.parts.registry.running(job_id)
        job = self.parts.store.get(job_id)
        if running is None or job is None:
            return
        if job.job_state.finished:
            self.parts.registry.finish(job_id)
            return
        self.parts.store.update(
            job_id, state=JobState.RUNNING, started_at=job.started_at or time.time()
        )
        budget = self.parts.limits.budget(job)
        self.parts.ledger.start(job_id, job.user_id, job.size)
        downloader = self.parts.downloaders.for_job(
            job,
            on_progress=lambda p: self._on_progress(job_id, p),
            isolated=True,
            max_bytes=budget.max_bytes,
        )
        running.downloader = downloader
        if isinstance(downloader, KeepsDiskFloor):
            downloader.keep_disk_above(self.parts.limits.disk_floor(job_id))
        if running.cancelled_by:  # cancelled between being taken and getting a downloader
            downloader.cancel(keep_partial=False)
        self.parts.reporter.emit(EventKind.STARTED, job_id)
        requeue = False
        try:
            result = (self._finished(job) if job.resumed else None) or downloader.run()
        except DownloadPaused as exc:
            requeue = self._paused(job_id, running, exc.why)
        except DownloadCancelled:
            self._cancelled(job, running)
        except DownloadError as exc:
            self._fail(job, budget.why if isinstance(exc, TooLarge) else exc.why)
        else:
            over = self.parts.limits.over_quota_at_end(job_id, job.user_id, result.size)
            if over is not None:
                log.info("download d%s not delivered: %s", job_id, over)
                self.parts.store.update(job_id, done_bytes=result.size)  # what moved still counts
                self._fail(job, over)
                return
            self.parts.store.update(
                job_id,
                name=result.path.name,
                size=result.size,
                done_bytes=result.size,
                sha256=result.sha256,
                elapsed=result.elapsed,
            )
            self.parts.store.finish(job_id, JobState.DONE)
            self.parts.reporter.emit(EventKind.DONE, job_id)
        finally:
            self.parts.ledger.end(job_id)
            self._limit_checked.pop(job_id, None)
            self.parts.registry.finish(job_id)
            self._progress_saved.pop(job_id, None)
            self._job_cache.pop(job_id, None)
            if requeue:
                self.parts.registry.enqueue(job_id, job.user_id, front=True)
                self.parts.reporter.emit(
                    EventKind.RESUMED, job_id, position=self.parts.registry.position(job_id)
                )
            self.pump()

    def _finished(self, job: DownloadJob) -> DownloadResult | None:
        """A resumed job whose file was finished on disk before the bot stopped
        (:meth:`~bot.downloads.jobstore.JobStore.finished_file`): its result, hashed here."""
        path = self.parts.store.finished_file(job)
        if path is None:
            return None
        log.info("download d%s was finished on disk before the restart: not fetched again", job.id)
        with path.open("rb") as file:
            sha256 = hashlib.file_digest(file, "sha256").hexdigest()
        elapsed = time.time() - (job.started_at or time.time())
        return DownloadResult(path, path.stat().st_size, sha256, elapsed)

    def _fail(self, job: DownloadJob, why: Why) -> None:
        """The job failed: its folder goes."""
        self.parts.store.end(job, JobState.FAILED, error=why.dump())
        self.parts.reporter.emit(EventKind.FAILED, job.id, reason=why)

    def _cancelled(self, job: DownloadJob, running: Running) -> None:
        """The engine stopped on a cancel: over a limit, the bot stopping, or someone's cancel."""
        if running.over_limit:
            self._fail(job, running.over_limit)
        elif running.stopping:
            log.info("download d%s paused for shutdown; it resumes at the next start", job.id)
        else:
            by = running.cancelled_by or "someone"
            self.parts.store.end(
                job, JobState.CANCELLED, error=Why.of(Reason.CANCELLED_BY, by=by).dump()
            )
            self.parts.reporter.emit(EventKind.CANCELLED, job.id, by=by)

    def _paused(self, job_id: int, running: Running, reason: Why) -> bool:
        """The download process was stopped from outside, its partial file kept. True: queue it
        again now; False: leave it for the next start (the bot is stopping) or give up.

        A signal to the whole process group reaches the download process first, often a moment
        before the bot itself: wait that moment, so that a stopping bot does not restart it.
        """
        if running.stopping or self.parts.stopping.wait(PAUSE_SETTLE):
            log.info("download d%s paused for shutdown; it resumes at the next start", job_id)
            return False
        count = self._interruptions[job_id] = self._interruptions.get(job_id, 0) + 1
        if count > MAX_INTERRUPTIONS:
            job = self.parts.store.get(job_id)
            self.parts.store.finish(job_id, JobState.FAILED, error=reason.dump())
            if job is not None:
                self.parts.store.remove_folder(job)
            self.parts.reporter.emit(
                EventKind.FAILED, job_id, reason=Why.of(Reason.STOPPED_TOO_OFTEN)
            )
            return False
        log.warning("download d%s: %s (%d of %d)", job_id, reason, count, MAX_INTERRUPTIONS)
        job = self.parts.store.get(job_id)
        kept = self.parts.store.kept_bytes(job) if job is not None else 0
        self.parts.store.update(job_id, state=JobState.QUEUED, resumed=True, done_bytes=kept)
        return True

    def _on_progress(self, job_id: int, progress: Progress) -> None:
        now = time.monotonic()
        self.parts.ledger.received(job_id, progress.done)
        if now - self._limit_checked.get(job_id, 0.0) >= LIMIT_CHECK_INTERVAL:
            self._limit_checked[job_id] = now
            running = self.parts.registry.running(job_id)
            if running is not None and isinstance(running.downloader, KeepsDiskFloor):
                running.downloader.keep_disk_above(self.parts.limits.disk_floor(job_id))
            if running is not None and running.over_limit is None:
                reason = self.parts.limits.over_limit(job_id, running.user_id)
                if reason is not None and running.downloader is not None:
                    log.info("download d%s stopped: %s", job_id, reason)
                    running.over_limit = reason
                    running.downloader.cancel(keep_partial=False)
        if now - self._progress_saved.get(job_id, 0.0) >= PROGRESS_SAVE_INTERVAL:
            self._progress_saved[job_id] = now
            self.parts.store.update(job_id, done_bytes=progress.done, size=progress.total)
        job = self._cached_job(job_id)
        if job is not None:
            self.parts.reporter.progress(job, progress)

    def _cached_job(self, job_id: int) -> DownloadJob | None:
        # Progress is frequent; the listener only needs ids and names, which do not change while
        # running, so one row read per second at most is plenty.
        hit = self._job_cache.get(job_id)
        if hit is None or time.monotonic() - hit[0] > JOB_CACHE_AGE:
            hit = (time.monotonic(), self.parts.store.get(job_id))
            self._job_cache[job_id] = hit
        return hit[1]
