"""The jobs a worker took from the shared queue (PostgreSQL mode), run here like local ones.

A worker's task (:mod:`bot.work.downloads`) hands each job it takes to :meth:`TakenJobs.take`: it
joins this process's own queue, is probed unless it was before, and runs on this process's pool,
reporting through the same events as a job asked for here. The task watches :meth:`holds` to know
when the job is over here, and passes on a cancel that came from another process
(:meth:`cancel_as_asked`).
"""

from __future__ import annotations

from collections.abc import Callable

from bot.downloads.events import EventKind
from bot.downloads.jobs import DownloadJob
from bot.downloads.parts import ServiceParts
from bot.downloads.probing import Prober
from bot.downloads.reasons import Why
from bot.downloads.workers import Workers


class TakenJobs:
    """Jobs taken from the shared queue; thread-safe, like the parts it uses."""

    def __init__(
        self,
        parts: ServiceParts,
        prober: Prober,
        workers: Workers,
        cancel: Callable[[int, str], bool],
        end_cancelled: Callable[[DownloadJob, str], None],
    ) -> None:
        self.parts = parts
        self.prober = prober
        self.workers = workers
        self.cancel = cancel  # the service's: stops a job held here
        self.end_cancelled = end_cancelled  # records a job cancelled before it started

    def take(self, job_id: int) -> bool:
        """Probe (unless done before) and run ``job_id`` here; False when there is nothing to
        run (finished, or this process is stopping)."""
        job = self.parts.store.get(job_id)
        if self.parts.stopping.is_set() or job is None or job.job_state.finished:
            return False
        if job.name is None and not job.resumed:
            self.parts.registry.enqueue(job.id, job.user_id, ready=False)
            self.prober.submit(job.id, job.user_id)
        else:
            self.parts.registry.enqueue(job.id, job.user_id)
            self.workers.pump()
        return True

    def holds(self, job_id: int) -> bool:
        """True while this process has the job queued, probing (or waiting for a media choice)
        or running."""
        registry = self.parts.registry
        return registry.position(job_id) is not None or registry.running(job_id) is not None

    def cancel_as_asked(self, job_id: int) -> bool:
        """Another process asked (through the shared queue) to cancel a job this one took:
        cancel it in the name the row holds."""
        job = self.parts.store.get(job_id)
        if job is None or job.job_state.finished:
            return False
        why = Why.load(job.error)
        by = str(why.params.get("by") or "someone") if why is not None else "someone"
        if self.holds(job_id):
            return self.cancel(job_id, by)
        self.end_cancelled(job, by)  # taken from the queue, not started here yet: only record it
        return True

    def redeliver(self, job_id: int) -> None:
        """The file is complete but was never handed over (its worker stopped): do it now."""
        self.parts.reporter.emit(EventKind.DONE, job_id)

    def tell(self, job_id: int, why: Why) -> None:
        """Say something about a job in its status (e.g. that it moved to another worker)."""
        self.parts.reporter.emit(EventKind.NOTICE, job_id, reason=why)
