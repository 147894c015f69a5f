"""Bytes that running downloads have really received, counted as they arrive.

Limits checked once, against the size a server announced, can be walked around: a server that
says 1,000 bytes and sends 30 MiB, or several downloads of unknown size that each get the whole
remaining quota. The service records every running download's received bytes here (from its
progress reports) and checks the daily quota and the disk against these live figures, across all
of one user's running downloads at once; the one that crosses a limit is stopped with the reason.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass
class _Entry:
    user_id: int
    announced: int | None  # the size the probe announced, None when unknown
    received: int = 0

    @property
    def counted(self) -> int:
        """What this download counts against limits: its size, or more if more arrived."""
        return max(self.announced or 0, self.received)


class Ledger:
    """Live byte counts of running downloads; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[int, _Entry] = {}

    def start(self, job_id: int, user_id: int, announced: int | None) -> None:
        with self._lock:
            self._entries[job_id] = _Entry(user_id, announced)

    def received(self, job_id: int, done: int) -> None:
        with self._lock:
            entry = self._entries.get(job_id)
            if entry is not None:
                entry.received = max(entry.received, done)

    def end(self, job_id: int) -> None:
        with self._lock:
            self._entries.pop(job_id, None)

    def running_ids(self) -> set[int]:
        with self._lock:
            return set(self._entries)

    def counted_for(self, user_id: int) -> int:
        """Bytes this user's running downloads count against the quota right now."""
        with self._lock:
            return sum(e.counted for e in self._entries.values() if e.user_id == user_id)

    def still_to_come(self, exclude: int | None = None) -> int:
        """Bytes that running downloads of known size (but ``exclude``) have yet to write
        (reserved on disk)."""
        with self._lock:
            return sum(
                max(0, (e.announced or 0) - e.received)
                for job_id, e in self._entries.items()
                if job_id != exclude
            )

    def counted_before(self, user_id: int, job_id: int) -> int:
        """Bytes this user's running downloads requested before ``job_id`` count right now: the
        ones that finishing ``job_id`` must leave room for (a later one gives way)."""
        with self._lock:
            return sum(
                e.counted for j, e in self._entries.items() if e.user_id == user_id and j < job_id
            )

    def counted_for_job(self, job_id: int) -> int:
        with self._lock:
            entry = self._entries.get(job_id)
            return entry.counted if entry is not None else 0

    def size_of(self, job_id: int) -> int | None:
        """The size this running download announced; None when unknown (or not running)."""
        with self._lock:
            entry = self._entries.get(job_id)
            return entry.announced if entry is not None else None

    def announced_for_job(self, job_id: int) -> int:
        with self._lock:
            entry = self._entries.get(job_id)
            return entry.announced or 0 if entry is not None else 0
