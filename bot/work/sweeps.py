"""Housekeeping that runs once per deployment, not once per process (PostgreSQL mode).

procrastinate's periodic tasks are deferred by whichever worker is up, each tick once (its
``procrastinate_periodic_defers`` table has one row per task and tick), and run by one worker.

- every :data:`SWEEP_EVERY` seconds, :func:`sweep_jobs`: the jobs of workers whose heartbeat
  stopped :data:`~bot.work.queue.STALLED_AFTER` seconds ago go back to the queue (another worker
  takes them over, resuming the partial file), dead workers are forgotten, and a download row
  that lost its queue job (a front that died between storing and queueing it, a job aborted at a
  worker's shutdown) is queued again;
- every hour, the download folders older than ``RETENTION_HOURS`` are removed, and the update
  ids handled over :data:`~bot.inbox.KEEP_HANDLED` ago are forgotten (:func:`bot.inbox.prune`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from bot import inbox
from bot.work.downloads import TASK
from bot.work.queue import STALLED_AFTER, WorkQueue

log = logging.getLogger(__name__)

SWEEP_EVERY = 5  # seconds
ORPHAN_AFTER = 30.0  # seconds a row may wait for its queue job before it is queued again

_ORPHANS = text(
    """
    SELECT d.id FROM download_jobs d
     WHERE d.state IN ('queued', 'running') AND d.created_at < :before
       AND NOT EXISTS (
           SELECT 1 FROM procrastinate_jobs p
            WHERE p.task_name = :task AND p.status IN ('todo', 'doing')
              AND p.lock = 'download-' || d.id
       )
    """
)


def orphans(sessions: sessionmaker[Session]) -> list[int]:
    """Open download rows that no queue job will run."""
    with sessions() as session:
        rows = session.execute(_ORPHANS, {"before": time.time() - ORPHAN_AFTER, "task": TASK})
        return [row[0] for row in rows]


def register(
    work: WorkQueue,
    sessions: sessionmaker[Session],
    requeue: Callable[[int], Coroutine[Any, Any, None]],
    housekeeping: Callable[[], int],
) -> None:
    """Add the periodic tasks; ``requeue(job_id)`` queues a download again, ``housekeeping()``
    removes expired download folders (run on a thread)."""
    app = work.app

    @app.periodic(cron=f"* * * * * */{SWEEP_EVERY}", periodic_id="sweep")
    @app.task(name="errand.sweep", queueing_lock="errand.sweep")
    async def sweep_jobs(timestamp: int) -> None:
        manager = app.job_manager
        for job in await manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_AFTER):
            log.warning(
                "queue job %s (%s) was on worker %s, which stopped sending heartbeats; "
                "queued again",
                job.id,
                job.task_name,
                job.worker_id,
            )
            await manager.retry_job(job)
        await manager.prune_stalled_workers(STALLED_AFTER * 6)
        for job_id in await asyncio.to_thread(orphans, sessions):
            log.warning("download d%s had no queue job; queued again", job_id)
            await requeue(job_id)

    @app.periodic(cron="17 * * * *", periodic_id="retention")
    @app.task(name="errand.download-retention", queueing_lock="errand.download-retention")
    async def retention(timestamp: int) -> None:
        removed = await asyncio.to_thread(housekeeping)
        if removed:
            log.info("housekeeping removed %d expired download folders", removed)
        forgot = await asyncio.to_thread(inbox.prune, sessions)
        if forgot:
            log.debug("forgot %d handled update ids", forgot)
