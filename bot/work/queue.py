"""The job queue of PostgreSQL mode: a procrastinate App on ``DATABASE_URL``, one per process.

Every process opens it (a front defers jobs, a worker also runs them); a process whose role
``runs_work`` starts procrastinate's worker inside the bot's event loop, beside
python-telegram-bot, so a task can edit messages and send files through the same send queue.
Worker heartbeats every :data:`HEARTBEAT` seconds let another worker see within
:data:`STALLED_AFTER` seconds that one died (:mod:`bot.work.sweeps` retries its jobs). Signals are
the bot's: procrastinate installs none and is stopped by the bot's shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

from procrastinate import App, PsycopgConnector
from procrastinate.worker import Worker
from sqlalchemy.engine import make_url

from bot.db.url import normalize

log = logging.getLogger(__name__)

HEARTBEAT = 2.0  # seconds between a worker's heartbeats
STALLED_AFTER = 10.0  # seconds without a heartbeat after which a worker's jobs are taken over
GRACEFUL_STOP = 6.0  # seconds the worker waits for its tasks at shutdown (within the 10 s)
EXTRA_TASKS = 4  # task slots beyond the downloads': housekeeping, jobs waiting for a slot
T = TypeVar("T")


def libpq_url(database_url: str) -> str:
    """``DATABASE_URL`` (SQLAlchemy's ``postgresql+psycopg://…``) as libpq takes it."""
    url = normalize(database_url).set(drivername="postgresql")
    return make_url(url).render_as_string(hide_password=False)


class WorkQueue:
    """The procrastinate App of this process, its lifecycle, and a way in from threads."""

    def __init__(self, database_url: str, concurrency: int) -> None:
        if not log.isEnabledFor(logging.DEBUG):
            # procrastinate says "Starting job …" and "… ended" at INFO for every job, the
            # sweep's every 5 s included; our own lines say what matters (bot.work.downloads).
            logging.getLogger("procrastinate").setLevel(logging.WARNING)
        self.app = App(connector=PsycopgConnector(conninfo=libpq_url(database_url)))
        self.concurrency = concurrency + EXTRA_TASKS
        self.loop: asyncio.AbstractEventLoop | None = None
        self._worker: Worker | None = None
        self._running: asyncio.Task[None] | None = None

    async def open(self) -> None:
        self.loop = asyncio.get_running_loop()
        await self.app.open_async()

    def start_worker(self) -> None:
        """Take jobs from the queue in this process (``services.role.runs_work``)."""
        self._worker = Worker(
            self.app,
            name="errand",
            concurrency=self.concurrency,
            install_signal_handlers=False,
            update_heartbeat_interval=HEARTBEAT,
            stalled_worker_timeout=STALLED_AFTER,
            shutdown_graceful_timeout=GRACEFUL_STOP,
            delete_jobs="successful",  # a finished download lives on as its row
            fetch_job_polling_interval=2.0,  # LISTEN/NOTIFY wakes it sooner
            abort_job_polling_interval=1.0,  # likewise: aborts arrive by NOTIFY
        )
        self._running = asyncio.get_running_loop().create_task(
            self._worker.run(), name="procrastinate-worker"
        )

    def stop_taking(self) -> None:
        """Take no new job; the running ones have :data:`GRACEFUL_STOP` seconds to end (the
        downloads pause and hand their jobs back: bot.work.downloads)."""
        if self._worker is not None:
            self._worker.stop()

    async def close(self) -> None:
        """Wait for the worker to end (after :meth:`stop_taking`), then close the connections."""
        self.stop_taking()
        if self._running is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._running, GRACEFUL_STOP + 1)
        self.loop = None
        await self.app.close_async()

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run ``coroutine`` on the bot's loop from a worker thread and wait for its result."""
        loop = self.loop
        if loop is None:
            coroutine.close()
            raise RuntimeError("the job queue is not open")
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout)
