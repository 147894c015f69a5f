"""The queue's worker threads: start what fits the limits, in order, and never die silently.

A job waits in the :class:`~bot.downloads.registry.Registry` queue until a slot is free
(``MAX_ACTIVE_DOWNLOADS``, ``MAX_ACTIVE_PER_USER``); :meth:`Workers.pump` hands every job that
fits to the pool, and runs again whenever something changes (a job probed, finished, cancelled).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bot.downloads.events import EventKind
from bot.downloads.jobs import JobState
from bot.downloads.parts import ServiceParts
from bot.downloads.reasons import Reason, Why

log = logging.getLogger(__name__)


class Workers:
    """The pool that runs queued downloads; ``run`` is what each worker does with a job id."""

    def __init__(self, parts: ServiceParts, run: Callable[[int], None]) -> None:
        self.parts = parts
        self.run = run
        self._pool = ThreadPoolExecutor(
            max_workers=parts.registry.max_active, thread_name_prefix="download"
        )

    def guarded(self, fn: Callable[..., None], job_id: int, *args: Any) -> None:
        """Run ``fn(job_id, *args)`` on a worker: an unexpected error fails that job, logged,
        and frees its place."""
        try:
            fn(job_id, *args)
        except Exception:  # noqa: BLE001 - a worker must never die silently
            log.exception("download d%s: unexpected error", job_id)
            why = Why.of(Reason.INTERNAL_SERVICE)
            self.parts.store.finish(job_id, JobState.FAILED, error=why.dump())
            self.parts.reporter.emit(EventKind.FAILED, job_id, reason=why)
            self.parts.registry.dequeue(job_id)
            self.parts.registry.finish(job_id)
            self.pump()

    def pump(self) -> None:
        """Start every queued job that fits; tell those still waiting their new place."""
        if self.parts.stopping.is_set():
            return
        started = self.parts.registry.take_startable()
        for running in started:
            self._pool.submit(self.guarded, self.run, running.job_id)
        if started:  # everyone behind moved up: tell them their new place
            for job_id, place in self.parts.registry.positions().items():
                job = self.parts.store.get(job_id)
                if job is not None and job.name is not None:
                    self.parts.reporter.emit(EventKind.READY, job_id, position=place)

    def admit(self, job_id: int, user_id: int, name: str, size: int | None) -> None:
        """Name and size known (and, for a media page, the choice made): wait for a slot."""
        self.parts.store.update(job_id, name=name, size=size)
        job = self.parts.store.get(job_id)
        if job is None or job.job_state.finished:  # cancelled while probing
            return
        self.parts.registry.enqueue(job_id, user_id)  # no-op unless re-probed after a restart
        self.parts.registry.mark_ready(job_id)
        self.pump()
        position = self.parts.registry.position(job_id)
        if position is not None:  # still waiting; a started job reports "started" itself
            self.parts.reporter.emit(EventKind.READY, job_id, position=position)

    def stop(self, timeout: float) -> None:
        """Wait up to ``timeout`` for running downloads to stop (they were asked to), then let
        the pool go without waiting for queued work."""
        deadline = time.monotonic() + timeout
        while self.parts.registry.counts()[0] and time.monotonic() < deadline:
            time.sleep(0.05)
        self._pool.shutdown(wait=False, cancel_futures=True)
