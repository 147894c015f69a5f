"""Deadlines for a download: a minimum speed over a window, and an overall time limit.

A server that sends one byte every five seconds never trips a read timeout, and one that never
finishes would hold a download slot for ever: these rules end such downloads with a reason.
:class:`SlowDownload` is the pure rule (fed byte counts, says when to stop); the engine runs it
from a small thread (:meth:`Downloader.run`) together with the overall deadline.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from bot.downloads.reasons import Reason, Why


@dataclass(frozen=True)
class Deadlines:
    """``min_speed`` bytes/s averaged over ``window`` seconds (0: no floor); ``total`` seconds
    for the whole download (None: no limit); ``probe`` seconds for the first answer."""

    min_speed: float = 1024.0
    window: float = 60.0
    total: float | None = 6 * 3600.0
    probe: float = 30.0


class SlowDownload:
    """Feed ``(time, bytes so far)``; :meth:`feed` returns a reason once the average speed over
    the last ``window`` seconds is below ``min_speed``. The first window after :meth:`restart`
    counts from then (a probe or a pause is not held against the transfer)."""

    def __init__(self, min_speed: float, window: float) -> None:
        self.min_speed = min_speed
        self.window = window
        self._samples: deque[tuple[float, int]] = deque()

    def restart(self, now: float, done: int) -> None:
        self._samples.clear()
        self._samples.append((now, done))

    def feed(self, now: float, done: int) -> Why | None:
        if self.min_speed <= 0 or self.window <= 0:
            return None
        if not self._samples:
            self.restart(now, done)
            return None
        self._samples.append((now, done))
        # Keep the newest sample that is at least a window old, and everything after it.
        while len(self._samples) > 2 and now - self._samples[1][0] >= self.window:
            self._samples.popleft()
        start, start_done = self._samples[0]
        if now - start < self.window:
            return None
        if (done - start_done) / (now - start) < self.min_speed:
            return Why.of(Reason.TOO_SLOW, speed_bps=self.min_speed, window_seconds=self.window)
        return None


def over_deadline(elapsed: float, total: float | None) -> Why | None:
    if total is not None and elapsed > total:
        return Why.of(Reason.TOOK_TOO_LONG, limit_seconds=total)
    return None
