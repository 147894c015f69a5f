"""Admission: probe a new job's URL, check its size against the limits, and queue it (or refuse).

Name and size are known before any byte moves: a probe is one small request, on a pool of its
own, so that a user whose links hang at the probe does not hold up downloads that are ready to
run. At most :data:`PROBES_PER_USER` of one user's probes run at once; the others wait in that
user's own line, so links that hang cannot take every probe worker. A web page with a video
(:mod:`bot.media`) may then ask which of its media to fetch (:mod:`bot.downloads.choices`).
"""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from bot.downloads.choices import MediaChoices
from bot.downloads.downloader import JobDownloader
from bot.downloads.errors import DownloadError
from bot.downloads.events import EventKind
from bot.downloads.jobs import DownloadJob, JobState
from bot.downloads.parts import ServiceParts
from bot.downloads.workers import Workers

if TYPE_CHECKING:
    from bot.downloads.engine import ProbeResult
    from bot.media.survey import Survey

PROBE_WORKERS = 4
PROBES_PER_USER = PROBE_WORKERS // 2  # one user's share of the probe workers


class Prober:
    """Probes jobs on its own pool, fairly between users; thread-safe."""

    def __init__(self, parts: ServiceParts, choices: MediaChoices, workers: Workers) -> None:
        self.parts = parts
        self.choices = choices
        self.workers = workers
        self._pool = ThreadPoolExecutor(max_workers=PROBE_WORKERS, thread_name_prefix="probe")
        self._probing: dict[
            int, JobDownloader
        ] = {}  # job id -> the downloader probing it (to cancel it)
        self._lock = threading.Lock()
        self._active: dict[int, int] = {}  # user id -> probes running
        self._waiting: dict[int, deque[int]] = {}  # user id -> job ids waiting for a probe

    def submit(self, job_id: int, user_id: int) -> None:
        """Probe on a worker, but at most ``PROBES_PER_USER`` of one user's at once."""
        with self._lock:
            if self._active.get(user_id, 0) >= PROBES_PER_USER:
                self._waiting.setdefault(user_id, deque()).append(job_id)
                return
            self._active[user_id] = self._active.get(user_id, 0) + 1
        self._pool.submit(self.workers.guarded, self._slot, job_id, user_id)

    def cancel(self, job_id: int) -> None:
        """Wake the probe of a job that was just cancelled (its error then stays quiet)."""
        probing = self._probing.get(job_id)
        if probing is not None:
            probing.cancel()

    def stop(self) -> None:
        """Stop probing; what was being probed is probed again at the next start."""
        self.choices.forget_all()
        for probing in list(self._probing.values()):
            probing.cancel(keep_partial=True)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _slot(self, job_id: int, user_id: int) -> None:
        try:
            self._probe(job_id)
        finally:
            with self._lock:
                waiting = self._waiting.get(user_id)
                following = waiting.popleft() if waiting else None
                if following is None:
                    self._active[user_id] -= 1
            if following is not None and not self.parts.stopping.is_set():
                self._pool.submit(self.workers.guarded, self._slot, following, user_id)

    def _probe(self, job_id: int) -> None:
        job = self.parts.store.get(job_id)
        if job is None or job.job_state.finished:
            return
        downloader = self.parts.downloaders.for_job(job)
        self._probing[job_id] = downloader
        self.parts.reporter.emit(EventKind.CHECKING, job_id)
        try:
            probe = downloader.probe()
            media = self._media_page(job, probe)
            self.parts.limits.check_size(job.user_id, None if media else probe.size)
            survey = self._survey(job, probe.final_url) if media else None
        except DownloadError as exc:  # Refused is one
            if self.parts.stopping.is_set():
                return  # probed again at the next start
            current = self.parts.store.get(job_id)
            if current is None or current.job_state.finished:
                return  # cancelled while checking: "cancelled" was reported, nothing more
            self.parts.registry.dequeue(job_id)
            self.parts.store.end(job, JobState.FAILED, error=exc.why.dump())
            self.parts.reporter.emit(EventKind.FAILED, job_id, reason=exc.why)
            return
        finally:
            self._probing.pop(job_id, None)
        name = probe.name
        if survey is not None:  # a media page: its title says more than "watch.html" while it runs
            from bot.downloads.naming import sanitize

            name = sanitize(survey.title)
        current = self.parts.store.get(job_id)
        if (
            survey is not None
            and survey.needs_asking
            and current is not None
            and not current.job_state.finished
        ):
            self.choices.ask(job_id, survey, name)
            return
        self.workers.admit(job_id, job.user_id, name, None if media else probe.size)

    def _survey(self, job: DownloadJob, url: str) -> Survey | None:
        """What a media page offers, when the person has not said what they want; None otherwise."""
        from bot.downloads.errors import DownloadCancelled
        from bot.media.pages import survey_for

        def cancelled() -> bool:  # looked at twice a second while the page is read
            current = self.parts.store.get(job.id)
            return self.parts.stopping.is_set() or current is None or current.job_state.finished

        try:
            survey: Survey | None = survey_for(
                self.parts.settings,
                self.parts.store.folder(job),
                url,
                self.parts.limits.max_upload,
                cancelled,
            )
            return survey
        except DownloadCancelled:
            if self.parts.stopping.is_set():
                raise  # probed (and asked) again at the next start
            return None  # cancelled while reading: admit() sees the finished job and stops there

    def _media_page(self, job: DownloadJob, probe: ProbeResult) -> bool:
        """True when the probe found a page (or manifest) whose media bot.media will fetch; its
        size is unknown until then, so the byte budget of the run applies."""
        from bot.media.pages import media_request

        # A page that cannot be fetched raises errors.Refused with its reason code, passed on as is.
        return (
            media_request(
                self.parts.settings,
                self.parts.store.folder(job),
                probe.content_type,
                probe.final_url,
            )
            is not None
        )
