"""The download queue when several processes share one database (PostgreSQL mode).

With SQLite one process does everything and the queue is the in-memory
:class:`~bot.downloads.registry.Registry`. With PostgreSQL any process may take a ``/download``
and any worker may run it, so :class:`~bot.downloads.service.DownloadService` hands those steps to
a :class:`SharedQueue` (implemented over procrastinate in :mod:`bot.work.downloads`) and keeps
its own pool for the jobs a worker has taken. This module is only the contract: the core knows
nothing of the queue's library.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from enum import StrEnum
from typing import Protocol


class Withdrawn(StrEnum):
    """What asking the shared queue to cancel a job found."""

    WAITING = "waiting"  # no worker had taken it: it is cancelled, nothing runs
    RUNNING = "running"  # a worker runs it: that worker was asked to stop it (within a second)
    UNKNOWN = "unknown"  # the queue holds no open job for it (finished meanwhile, or lost)


class SharedQueue(Protocol):
    """The parts of the queue that live in the shared database; called from threads."""

    def exclusive(self, user_id: int) -> AbstractContextManager[None]:
        """Held across checking a request's limits and storing its row, in every process at once
        (so two replicas cannot both let a user past ``MAX_PENDING``)."""
        ...

    def submitted(self, job_id: int) -> None:
        """The row is stored: queue it for whichever worker is free."""
        ...

    def withdraw(self, job_id: int) -> Withdrawn:
        """Cancel the queued job, or ask the worker running it to stop."""
        ...

    def relay_choice(self, job_id: int, mode: str) -> None:
        """Pass a media choice (a ``MediaMode`` value) to whichever worker asked for it."""
        ...
