"""Downloads as procrastinate jobs (PostgreSQL mode): deferred by any process, run by any worker.

- ``/download`` on any front stores the row and defers ``errand.download`` (:meth:`submitted`),
  with the download's own lock, so one download never runs twice at once.
- A worker takes a slot (:mod:`bot.work.slots`), then runs the job in its own
  :class:`~bot.downloads.service.DownloadService` (probe, child process, progress, delivery) and
  stays in the task until the job is over here, watching at :data:`WATCH` intervals.
- ``/cancel`` anywhere: a job no worker took yet is cancelled in the queue; a running one gets
  procrastinate's abort, which reaches its worker by LISTEN/NOTIFY at once and cancels the task;
  the task then stops the download (``service.taken.cancel_as_asked``).
- A media page's choice (its buttons, pressed on any front) reaches the worker that asked, and
  ``/cancel`` of a file being sent reaches the worker sending it, by NOTIFY on :data:`RELAY`
  (:meth:`relay_choice`, :meth:`relay_upload_cancel`, :meth:`listen`).
- A worker that stops (SIGTERM: its downloads pause, their partial files kept) hands its jobs
  back to the queue (:class:`Requeue`); one that dies (``kill -9``) stops sending heartbeats, and
  :mod:`bot.work.sweeps` gives its jobs back. Either way the next worker finds the row still
  ``running`` and says in the chat whether the download resumed (the partial file and its resume
  record are in ``DOWNLOAD_DIR``, shared storage) or started over.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from procrastinate import JobContext, RetryStrategy
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.job_context import AbortReason
from procrastinate.jobs import Status
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.downloads.jobs import DownloadJob, JobState
from bot.downloads.reasons import Reason, Why
from bot.downloads.resume import control_path
from bot.downloads.sharing import Withdrawn
from bot.work.queue import WorkQueue
from bot.work.slots import SlotBusy, Taken, claim

if TYPE_CHECKING:
    from bot.downloads.service import DownloadService

log = logging.getLogger(__name__)

TASK = "errand.download"
WATCH = 0.25  # seconds between looks at whether a taken job is over in this process
#: NOTIFY channel from fronts to workers: ``{"job": id, "choose": MediaMode value}`` or
#: ``{"job": id, "cancel_upload": who}``.
RELAY = "errand_download_relay"
#: ``pg_advisory_lock`` key base for one user's request checks (the user id is added).
REQUESTS_KEY = 0x4572_7261_6E64 + 2


class Requeue(Exception):
    """This worker is stopping with the job unfinished: back to the queue for another worker."""


def lock_of(job_id: int) -> str:
    return f"download-{job_id}"


def takeover_reason(root: Path, job: DownloadJob) -> Why:
    """What to tell the chat when a worker takes over ``job`` from one that stopped: resumed
    when its partial file and resume record are in this worker's ``DOWNLOAD_DIR`` (shared
    storage), started over otherwise (the engine then begins at byte 0)."""
    folder = root / job.folder
    if any(part.is_file() and control_path(part).is_file() for part in folder.glob("*.part")):
        percent = int(100 * job.done_bytes / job.size) if job.size else 0
        return Why.of(Reason.WORKER_LOST_RESUMED, percent=percent)
    return Why.of(Reason.WORKER_LOST_RESTARTED)


class SharedDownloads:
    """:class:`~bot.downloads.sharing.SharedQueue` over procrastinate, and the task that runs a
    download on a worker."""

    def __init__(self, work: WorkQueue, sessions: sessionmaker[Session], settings: Settings):
        self.work = work
        self.sessions = sessions
        self.settings = settings
        self.service: DownloadService | None = None
        self.delivering: Callable[[int], bool] = lambda job_id: False
        self.cancel_upload: Callable[[int, str], bool] = lambda job_id, by: False
        self._listening: asyncio.Task[None] | None = None
        self.task = work.app.task(
            name=TASK,
            pass_context=True,
            retry=RetryStrategy(wait=1, retry_exceptions={SlotBusy, Requeue}),
        )(self._run)

    def attach(
        self,
        service: DownloadService,
        delivering: Callable[[int], bool],
        cancel_upload: Callable[[int, str], bool],
    ) -> None:
        """The service that runs taken jobs; whether the chat layer is still handing a finished
        one over (the task stays until it has); how it stops sending one (for a relayed cancel;
        called on the loop)."""
        self.service = service
        self.delivering = delivering
        self.cancel_upload = cancel_upload

    # ------------------------------------------------------------------ any process (threads)
    @contextmanager
    def exclusive(self, user_id: int) -> Iterator[None]:
        engine = self.sessions.kw["bind"]
        with engine.connect() as conn:
            conn.execute(select(func.pg_advisory_lock(REQUESTS_KEY + user_id % 2**31)))
            conn.commit()
            try:
                yield
            finally:
                conn.execute(select(func.pg_advisory_unlock(REQUESTS_KEY + user_id % 2**31)))
                conn.commit()

    def submitted(self, job_id: int) -> None:
        self.work.call(self.requeue(job_id))

    async def requeue(self, job_id: int) -> None:
        """Queue ``job_id`` for a worker (no-op when it is already waiting)."""
        try:
            await self.task.configure(
                lock=lock_of(job_id), queueing_lock=lock_of(job_id)
            ).defer_async(job_id=job_id)
        except AlreadyEnqueued:  # a sweep found it first
            pass

    def withdraw(self, job_id: int) -> Withdrawn:
        return self.work.call(self._withdraw(job_id))

    async def _withdraw(self, job_id: int) -> Withdrawn:
        manager = self.work.app.job_manager
        for status in (Status.TODO, Status.DOING):
            for job in await manager.list_jobs_async(lock=lock_of(job_id), status=status.value):
                assert job.id is not None
                await manager.cancel_job_by_id_async(job.id, abort=True)
                after = await manager.get_job_status_async(job.id)
                return Withdrawn.WAITING if after is Status.CANCELLED else Withdrawn.RUNNING
        return Withdrawn.UNKNOWN

    def relay_choice(self, job_id: int, mode: str) -> None:
        self._relay({"job": job_id, "choose": mode})

    def relay_upload_cancel(self, job_id: int, by: str) -> None:
        """``/cancel`` of a finished download whose file a worker may be sending."""
        self._relay({"job": job_id, "cancel_upload": by})

    def _relay(self, message: dict[str, int | str]) -> None:
        self.work.call(
            self.work.app.connector.execute_query_async(
                "SELECT pg_notify(%(channel)s, %(payload)s)",
                channel=RELAY,
                payload=json.dumps(message),
            )
        )

    # ------------------------------------------------------------------ a worker
    def listen(self) -> None:
        """Take what fronts relay: media choices, cancels of files being sent (a worker's
        start-up)."""
        self._listening = asyncio.get_running_loop().create_task(
            self.work.app.connector.listen_notify(on_notification=self._on_relay, channels=[RELAY]),
            name="download-choices",
        )

    async def stop_listening(self) -> None:
        if self._listening is not None:
            self._listening.cancel()
            await asyncio.gather(self._listening, return_exceptions=True)

    async def _on_relay(self, *, channel: str, payload: str) -> None:
        from bot.media.plan import MediaMode

        try:
            data = json.loads(payload)
            job_id = int(data["job"])
            mode = MediaMode(data["choose"]) if "choose" in data else None
            by = str(data["cancel_upload"]) if "cancel_upload" in data else None
        except (ValueError, KeyError, TypeError):
            log.warning("a relayed message that does not parse: %r", payload[:80])
            return
        service = self.service
        if by is not None:
            self.cancel_upload(job_id, by)  # False: not sending it here
        elif mode is not None and service is not None and service.waiting_choice(job_id):
            await asyncio.to_thread(service.choose, job_id, mode)

    async def _run(self, context: JobContext, job_id: int) -> None:
        service = self.service
        assert service is not None, "the download task ran before the service was attached"
        settings = self.settings
        claimed = await asyncio.to_thread(
            claim,
            self.sessions,
            job_id,
            settings.max_active_downloads,
            settings.max_active_per_user,
        )
        job = claimed.job
        if claimed.taken is Taken.FINISHED or job is None:
            if job is not None and job.job_state is JobState.DONE and not job.delivered:
                # Finished, but its worker stopped before sending it.
                service.taken.redeliver(job_id)
                await self._watch(service, job_id)
            return
        log.info("download d%s runs on this worker (%s)", job_id, claimed.taken.value)
        if claimed.taken is Taken.TAKEN_OVER:
            why = takeover_reason(service.root, job)
            log.info("download d%s taken over from a worker that stopped: %s", job_id, why)
            service.taken.tell(job_id, why)
        if not await asyncio.to_thread(service.taken.take, job_id):
            raise Requeue(f"d{job_id}: this worker is stopping")
        try:
            await self._watch(service, job_id)
        except asyncio.CancelledError:
            if context.abort_reason() is AbortReason.USER_REQUEST:
                await asyncio.shield(self._cancel(service, job_id))
            raise
        current = await asyncio.to_thread(service.get, job_id)
        if current is not None and not current.job_state.finished:
            raise Requeue(f"d{job_id}: paused here (this worker is stopping)")

    async def _watch(self, service: DownloadService, job_id: int) -> None:
        """Until the job is over in this process: not queued, probing or running here, and not
        being handed over to the chat."""
        while service.taken.holds(job_id) or self.delivering(job_id):
            await asyncio.sleep(WATCH)

    async def _cancel(self, service: DownloadService, job_id: int) -> None:
        await asyncio.to_thread(service.taken.cancel_as_asked, job_id)
        await self._watch(service, job_id)
