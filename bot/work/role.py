"""What one process does: receive updates, run the work (downloads, rings, housekeeping), or both.

With SQLite there is one process and it does everything. With PostgreSQL, ``errandbot run`` is
the front (it receives updates) and also runs the work unless ``RUN_WORKER=false``; ``errandbot
worker`` runs the work only. Every feature sees the role at registration and start-up
(``services.role``) and starts only what belongs to it: the ring loop and the download worker
where :attr:`ProcessRole.runs_work`, update intake where :attr:`ProcessRole.receives_updates`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.config import Settings


class Command(StrEnum):
    """The ``errandbot`` subcommand that started the process."""

    RUN = "run"
    WORKER = "worker"


@dataclass(frozen=True)
class ProcessRole:
    """What this process does; built once at start-up by :meth:`of`.

    ``shared_database``: PostgreSQL, where other processes may share the work; the features
    then coordinate through the database (queue, claims, locks) instead of in memory.
    """

    receives_updates: bool
    runs_work: bool
    shared_database: bool

    @classmethod
    def of(cls, command: Command, settings: Settings) -> ProcessRole:
        shared = settings.uses_postgres
        if command is Command.WORKER:
            return cls(receives_updates=False, runs_work=True, shared_database=shared)
        return cls(
            receives_updates=True,
            runs_work=settings.run_worker or not shared,
            shared_database=shared,
        )

    @property
    def name(self) -> str:
        """For the start-up log line."""
        if self.receives_updates and self.runs_work:
            return "front and worker"
        return "front" if self.receives_updates else "worker"
