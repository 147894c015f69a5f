"""Check what a resume record claims against the server before trusting it.

The record (checksummed, size-checked) says which ranges of ``NAME.part`` hold the file's bytes,
but it cannot prove the bytes themselves: the ``.part`` may have been overwritten, or the record
rebuilt by hand. Before resuming, the bot fetches a few small windows of the claimed ranges again
and compares them with the disk: the first and last bytes of the largest ranges and a few spread
over all of them. Any difference means the partial file is not what it claims, and the download
starts over. A handful of 16 KiB requests is cheap next to delivering wrong bytes.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable

from bot.downloads.segments import Range

WINDOW = 16 * 1024
EDGE_RANGES = 4  # the largest ranges get their first and last window checked
SPREAD = 6  # plus this many windows at random places in all claimed bytes

Fetch = Callable[[int, int], bytes]  # (first, last) -> the server's bytes, or raise


def windows(done: list[Range], rng: random.Random | None = None) -> list[Range]:
    """Which byte windows to compare: edges of the largest ranges, then random spots."""
    rng = rng or random.Random()
    picked: set[Range] = set()
    for a, b in sorted(done, key=lambda r: r[0] - r[1])[:EDGE_RANGES]:
        picked.add((a, min(b, a + WINDOW - 1)))
        picked.add((max(a, b - WINDOW + 1), b))
    total = sum(b - a + 1 for a, b in done)
    for _ in range(SPREAD if total else 0):
        at = rng.randrange(total)
        for a, b in done:
            if at <= b - a:
                first = a + at
                picked.add((first, min(b, first + WINDOW - 1)))
                break
            at -= b - a + 1
    return sorted(picked)


def matches(fd: int, done: list[Range], fetch: Fetch) -> bool:
    """True when every chosen window on disk (``fd``) equals what the server sends for it."""
    for first, last in windows(done):
        want = fetch(first, last)
        if os.pread(fd, last - first + 1, first) != want:
            return False
    return True
