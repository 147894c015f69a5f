"""Who is downloading what right now: the one piece of shared state, behind one RLock.

The event loop (new requests, cancels, listings) and the worker threads (a download finishing)
both touch the queue and the set of running downloads. Every such touch goes through this object,
and each holds the lock only long enough to read or change a few dicts — never across I/O. The lock
is re-entrant because cancelling a download can call back into the registry from the same thread.
"""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.downloads.api import RunningDownload
    from bot.downloads.reasons import Why


class WaitReason(enum.StrEnum):
    """Why a queued job waits, when it is not simply for a free slot."""

    OWN_RUNNING = "own-running"  # the same user's other downloads take their share of slots
    EARLIER_PROBE = (
        "earlier-probe"  # a slot is free, but the user's earlier link is still being checked
    )


@dataclass
class Waiting:
    """A job in the queue; one not ``ready`` (still being probed) holds its place."""

    job_id: int
    user_id: int
    ready: bool = True


@dataclass
class Running:
    """A download a worker thread is executing."""

    job_id: int
    user_id: int
    downloader: RunningDownload | None = None  # once created
    cancelled_by: str | None = None
    stopping: bool = False  # the bot is shutting down: keep the partial file for resume
    over_limit: Why | None = None  # stopped because the bytes received crossed a limit: why


@dataclass
class Registry:
    """Queue order, running downloads and per-user counts; all methods are thread-safe."""

    max_active: int
    max_per_user: int
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _queue: list[Waiting] = field(default_factory=list)  # in order
    _running: dict[int, Running] = field(default_factory=dict)

    def enqueue(
        self, job_id: int, user_id: int, *, front: bool = False, ready: bool = True
    ) -> None:
        """Add a job in request order. A job not ``ready`` (still being probed) holds its place,
        and the same user's later jobs wait behind it, so a quick probe cannot jump the line."""
        with self._lock:
            if self._find(job_id) is not None or job_id in self._running:
                return
            entry = Waiting(job_id, user_id, ready)
            if front:
                self._queue.insert(0, entry)
            else:
                self._queue.append(entry)

    def _find(self, job_id: int) -> Waiting | None:
        return next((entry for entry in self._queue if entry.job_id == job_id), None)

    def mark_ready(self, job_id: int) -> None:
        with self._lock:
            entry = self._find(job_id)
            if entry is not None:
                entry.ready = True

    def position(self, job_id: int) -> int | None:
        """1-based place in the queue, or None when not waiting."""
        with self._lock:
            for place, entry in enumerate(self._queue, 1):
                if entry.job_id == job_id:
                    return place
            return None

    def positions(self) -> dict[int, int]:
        with self._lock:
            return {entry.job_id: place for place, entry in enumerate(self._queue, 1)}

    def take_startable(self) -> list[Running]:
        """Move every queued job that fits the limits (global, per user) to running, in order."""
        started: list[Running] = []
        waiting_for_probe: set[int] = set()
        with self._lock:
            for entry in list(self._queue):
                if len(self._running) >= self.max_active:
                    break
                if not entry.ready:
                    waiting_for_probe.add(entry.user_id)
                    continue
                if (
                    entry.user_id in waiting_for_probe
                    or self._active_for(entry.user_id) >= self.max_per_user
                ):
                    continue
                self._queue.remove(entry)
                running = Running(entry.job_id, entry.user_id)
                self._running[entry.job_id] = running
                started.append(running)
        return started

    def _active_for(self, user_id: int) -> int:
        return sum(1 for r in self._running.values() if r.user_id == user_id)

    def active_for(self, user_id: int) -> int:
        with self._lock:
            return self._active_for(user_id)

    def wait_reason(self, user_id: int) -> WaitReason | None:
        """Why this user's queued job waits when that is not for a free slot (else None): "#2 in
        line" while a slot is free reads as a bug."""
        with self._lock:
            if self._active_for(user_id) >= self.max_per_user:
                return WaitReason.OWN_RUNNING
            if len(self._running) < self.max_active:
                return WaitReason.EARLIER_PROBE
            return None

    def running(self, job_id: int) -> Running | None:
        with self._lock:
            return self._running.get(job_id)

    def all_running(self) -> list[Running]:
        with self._lock:
            return list(self._running.values())

    def finish(self, job_id: int) -> None:
        with self._lock:
            self._running.pop(job_id, None)

    def dequeue(self, job_id: int) -> bool:
        """Remove a waiting job; True if it was waiting."""
        with self._lock:
            entry = self._find(job_id)
            if entry is None:
                return False
            self._queue.remove(entry)
            return True

    def counts(self) -> tuple[int, int]:
        """(running, queued)"""
        with self._lock:
            return len(self._running), len(self._queue)
