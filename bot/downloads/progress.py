"""Progress reports: a frozen snapshot and the meter that makes them cheaply from worker threads.

Workers call :meth:`ProgressMeter.tick` after every chunk; it costs one clock read and a
comparison unless a report is due (at most every :data:`INTERVAL` seconds), so a fast download
is not slowed by its own progress bar. Speed is an exponential moving average so that the ETA
does not jump with every chunk.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.downloads.reasons import Why

INTERVAL = 0.25
SMOOTHING = 0.3  # weight of the newest sample in the moving average


@dataclass(frozen=True)
class Progress:
    """A download's state at one moment; ``total`` and ``eta`` are ``None`` when unknown."""

    done: int
    total: int | None
    speed: float
    eta: float | None
    connections: int


@dataclass(frozen=True)
class Retrying:
    """A request failed and will be tried again: ``attempt`` of ``total`` tries, in ``wait`` s.

    ``reason`` is why the last try failed (plain text is taken as :attr:`Reason.OTHER`)."""

    attempt: int
    total: int
    reason: Why
    wait: float

    def __post_init__(self) -> None:
        if not isinstance(self.reason, Why):
            object.__setattr__(self, "reason", Why.text(str(self.reason)))


class ProgressMeter:
    """Turns ``done`` byte counts into :class:`Progress` reports for ``callback``."""

    def __init__(
        self,
        callback: Callable[[Progress], None] | None,
        total: int | None,
        done: int = 0,
        interval: float = INTERVAL,
    ) -> None:
        self.callback = callback
        self.total = total
        self.interval = interval
        self._lock = threading.Lock()
        self._last_time = time.monotonic()
        self._last_done = done
        self._speed = 0.0

    def tick(self, done: int, connections: int, force: bool = False) -> None:
        """Report if one is due; safe and cheap to call from any thread."""
        if self.callback is None:
            return
        now = time.monotonic()
        if not force and now - self._last_time < self.interval:
            return
        if not self._lock.acquire(blocking=force):
            return  # another thread is reporting right now
        try:
            elapsed = now - self._last_time
            if not force and elapsed < self.interval:
                return
            if elapsed > 0:
                sample = max(0, done - self._last_done) / elapsed
                self._speed = (
                    sample
                    if self._speed == 0
                    else (SMOOTHING * sample + (1 - SMOOTHING) * self._speed)
                )
            self._last_time, self._last_done = now, done
            eta = None
            if self.total is not None and self._speed > 0:
                eta = max(0, self.total - done) / self._speed
            report = Progress(done, self.total, self._speed, eta, connections)
        finally:
            self._lock.release()
        self.callback(report)
