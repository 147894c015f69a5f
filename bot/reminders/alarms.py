"""Alarms: one-off jobs on the process's one APScheduler that start their work and return.

The bot has one scheduler (python-telegram-bot's ``JobQueue.scheduler``, which also runs download
housekeeping); the reminder service's rings and the chat layer's countdown edits are jobs on it.
Its owner stops it by waiting for the jobs still running, and a ring retries until Telegram takes
it, so a stop during a Telegram outage would wait forever. Hence a job here only starts the work as
an asyncio task and returns at once; :meth:`Alarms.stop` cancels the tasks still running (a ring
cancelled so stays pending and rings at the next start).

Without a scheduler given (tests, benchmarks, a tool), an :class:`Alarms` makes its own with the
same settings and starts and stops it itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from apscheduler.schedulers.base import BaseScheduler

log = logging.getLogger(__name__)
#: APScheduler logs every added and run job at INFO: 10,000 lines at a start-up. Warnings only.
scheduler_log = logging.getLogger("bot.reminders.apscheduler")
scheduler_log.setLevel(logging.WARNING)

#: What an alarm starts: a coroutine function and its arguments.
Work = Callable[..., Coroutine[Any, Any, None]]


def new_scheduler() -> BaseScheduler:
    """An APScheduler for the event loop, in UTC, for a process that has none yet."""
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    return AsyncIOScheduler(timezone=UTC, logger=scheduler_log)


class Alarms:
    """Named one-off jobs (``t12``, ``cd12``) whose work runs as tasks that stop with the bot."""

    def __init__(self, scheduler: BaseScheduler | None = None) -> None:
        self.owns_scheduler = scheduler is None
        self.scheduler: BaseScheduler = scheduler if scheduler is not None else new_scheduler()
        self._running: set[asyncio.Task[None]] = set()

    def set(
        self,
        job_id: str,
        when: datetime,
        work: Work,
        *args: object,
        misfire_grace_time: int | None = None,
    ) -> None:
        """At ``when``, start ``work(*args)``; replaces the job of the same id.

        ``misfire_grace_time=None`` (the default) runs a job however late it starts: APScheduler's
        default of one second would silently *drop* a ring that starts late (a busy loop, a
        suspended VM), and a timer that never rings is worse than one that rings late and says so.
        """
        self.scheduler.add_job(
            self._start,
            "date",
            run_date=when,
            args=[work, args],
            id=job_id,
            replace_existing=True,
            misfire_grace_time=misfire_grace_time,
            coalesce=True,
            max_instances=1,
        )

    def clear(self, job_id: str) -> None:
        """Forget the job ``job_id`` if it has not run yet."""
        job = self.scheduler.get_job(job_id)
        if job is not None:
            job.remove()

    async def _start(self, work: Work, args: tuple[object, ...]) -> None:
        task = asyncio.create_task(work(*args))
        self._running.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("an alarm's work failed", exc_info=task.exception())

    def start(self) -> None:
        """Start the scheduler if this object made it (the owner of a given one starts it)."""
        if self.owns_scheduler and not self.scheduler.running:
            self.scheduler.start()

    def stop(self) -> None:
        """Cancel the work still running; shut the scheduler down if this object made it."""
        for task in list(self._running):
            task.cancel()
        if self.owns_scheduler and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
