"""The free space a running download must leave on its disk, watched where the bytes are written.

The service checks the disk against what running downloads received every half second, from their
progress reports (:meth:`bot.downloads.limits.Limits.over_limit`). At loopback speed two downloads
of unknown size write 30 MiB each in a fraction of that, and filled a small disk to zero, reserve
and all ("No space left on device"). So the download process itself looks at the free space every
:data:`POLL` seconds and stops before it falls below the floor the service gave it: the disk's
reserve plus what other running downloads of known size have yet to write (reserved for them when
they were accepted). "Before": it stops when the space, going at the pace it went over the last
:data:`PACE_WINDOW`, would be below the floor within :data:`AHEAD` seconds (a look can be late by
a few milliseconds while the engine's threads hold the interpreter). The service sends a new floor
as those writes go on.

Only a download of unknown size is watched: one of known size had its bytes reserved when it was
accepted, and the engine stops it at that size.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from bot.downloads.reasons import Reason, Why

POLL = 0.005  # seconds between looks at the free space: about 1 MB at loopback speed
AHEAD = 0.02  # seconds ahead, at the latest pace, that must still find the disk above the floor
PACE_WINDOW = 0.1  # seconds the pace is measured over (writes come in bursts)


@dataclass(frozen=True)
class DiskFloor:
    """Stop once the disk has less than ``free`` bytes free; ``reserve`` is DISK_RESERVE_MB's
    part of it, the one the reason names; ``size`` the download's own size when it is known (its
    bytes were reserved when it was accepted: nothing to watch), None when it is not."""

    free: int
    reserve: int
    size: int | None = None

    @property
    def watched(self) -> bool:
        return self.size is None and self.free > 0

    @property
    def why(self) -> Why:
        return Why.of(Reason.DISK_RESERVE, reserve_bytes=self.reserve)


@runtime_checkable
class KeepsDiskFloor(Protocol):
    """A downloader that can keep the disk above a floor (the child process's:
    :class:`bot.downloads.isolated.IsolatedDownloader`)."""

    def keep_disk_above(self, floor: DiskFloor) -> None: ...


class DiskGuard:
    """A thread that calls ``stop`` once the disk holding ``folder`` is below the floor; the floor
    can be changed (or removed with None) while it runs."""

    def __init__(
        self, folder: Path, floor: DiskFloor | None, stop: Callable[[DiskFloor], None]
    ) -> None:
        self.folder = folder
        self.floor = floor
        self.tripped: DiskFloor | None = None
        self._stop = stop
        self._ended = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True, name="disk-floor")

    def start(self) -> DiskGuard:
        self._thread.start()
        return self

    def end(self) -> None:
        self._ended.set()

    def _watch(self) -> None:
        pace = Pace()
        while not self._ended.wait(POLL):
            floor, free = self.floor, free_space(self.folder)
            if free is None:
                continue
            if too_low(floor, free, pace.look(time.monotonic(), free)):
                assert floor is not None
                self.tripped = floor
                self._stop(floor)
                return


class Pace:
    """How fast the free space goes, in bytes a second, over the last :data:`PACE_WINDOW`."""

    def __init__(self) -> None:
        self._looks: deque[tuple[float, int]] = deque()

    def look(self, now: float, free: int) -> float:
        looks = self._looks
        looks.append((now, free))
        while now - looks[0][0] > PACE_WINDOW:
            looks.popleft()
        then, before = looks[0]
        return max(0, before - free) / max(now - then, POLL)


def too_low(floor: DiskFloor | None, free: int, pace: float) -> bool:
    """Whether a watched download must stop: the space, going at ``pace``, would be below the
    floor within :data:`AHEAD` seconds."""
    return floor is not None and floor.watched and free - pace * AHEAD < floor.free


def free_space(folder: Path) -> int | None:
    try:
        return shutil.disk_usage(folder).free
    except OSError:  # the folder went (cancelled, expired): nothing left to guard
        return None
