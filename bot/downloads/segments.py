"""Which bytes of a file are done, being fetched, or still to fetch — and nothing else.

Kept apart from the code that moves bytes (as aria2's ``SegmentMan``) so that every off-by-one
of inclusive HTTP ranges is tested on its own. All ranges here are **inclusive** ``(first,
last)`` pairs, exactly as in ``Range: bytes=first-last``.

A worker's life: :meth:`SegmentMap.take` gives it a :class:`Segment`; for each chunk it reads it
calls :meth:`SegmentMap.claim` (how many of these bytes are still its own — a thief may have
taken the upper half meanwhile), writes them, then :meth:`SegmentMap.flushed`; when
``segment.finished`` it calls :meth:`SegmentMap.finish` and takes again. ``take`` hands out
pending gaps first, then *steals* the upper half of the largest range still being fetched, so a
slow connection never leaves a slow tail. Every method is O(1) per chunk except ``take``/
``finish``, which run once per segment. One lock guards it; no I/O happens under the lock.

Stealing is speed-aware: the victim is the segment that will take longest to finish at its own
measured speed, and a slow victim keeps only the share it can fetch in the time the thief needs
for the rest (the thief takes at least half). A steal happens only when the thief's share is at
least ``min_split`` bytes, so connections are not spent on crumbs — or, when the victim would
need more than :data:`SLOW_TAIL_SECONDS` at its measured speed, at least a quarter of that, so a
slow connection does not leave a long tail.

Each written byte can also be vouched for by a digest (:class:`Piece`), so that a resume can
prove the ``.part`` still holds what was written (:func:`bot.downloads.verify.intact`). The
digests follow the *writes*, not fixed blocks: a segment's bytes are written in order by one
worker, so each worker keeps a running digest of its bytes since the start of its current piece
(the map only stores its value) and starts a new piece once one covers :data:`PIECE_SIZE` (and
when the segment ends). A steal only moves a segment's ``end``, never bytes already written, so
pieces never overlap and together cover exactly :meth:`SegmentMap.done_ranges`, whatever offsets
ranges are split at. Digests cannot be merged, so pieces of about 1 MiB keep the record small
(about 40 bytes of JSON per MiB of file).
"""

from __future__ import annotations

import threading
import time
from bisect import insort
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Range = tuple[int, int]
PIECE_SIZE = 1 << 20  # a worker starts a new digest piece once one covers this many bytes
MIN_SAMPLE_SECONDS = 0.3  # speeds measured over less time than this are noise
MIN_KEEP = 64 * 1024  # a victim keeps at least this much, so its in-flight bytes are not wasted
SLOW_TAIL_SECONDS = 2.0  # a range that would take longer than this is split even if small


@dataclass(eq=False)
class Segment:
    """A range one worker is fetching: bytes ``[start, end]``; ``pos`` is the next byte to claim.

    ``written`` is the first byte not yet on disk (``pos`` can run ahead of it by one chunk
    while that chunk is being written). ``end`` may shrink when another worker steals.
    """

    start: int
    end: int
    pos: int
    written: int
    started: float = 0.0
    piece_start: int = -1  # first byte of the digest piece being written (-1: ``start``)
    digest: int = 0  # the digest of bytes ``[piece_start, written)`` (see verify.digest_of)

    def __post_init__(self) -> None:
        if self.piece_start < 0:
            self.piece_start = self.start

    def speed(self, now: float) -> float | None:
        """Bytes per second since this segment started; ``None`` until it has a fair sample."""
        elapsed = now - self.started
        if elapsed < MIN_SAMPLE_SECONDS or self.written <= self.start:
            return None
        return (self.written - self.start) / elapsed

    @property
    def remaining(self) -> int:
        return self.end - self.pos + 1

    @property
    def finished(self) -> bool:
        return self.pos > self.end


@dataclass(frozen=True, slots=True)
class Piece:
    """Bytes ``[first, last]`` as written, vouched for by their XXH3-64 digest
    (:func:`bot.downloads.verify.digest_of`)."""

    first: int
    last: int
    digest: int

    @property
    def length(self) -> int:
        return self.last - self.first + 1


def merge(ranges: list[Range]) -> list[Range]:
    """Sorted, disjoint, with touching ranges joined: ``[(0,4),(5,9)] -> [(0,9)]``."""
    out: list[Range] = []
    for first, last in sorted(ranges):
        if out and first <= out[-1][1] + 1:
            if last > out[-1][1]:
                out[-1] = (out[-1][0], last)
        else:
            out.append((first, last))
    return out


def gaps(done: list[Range], total: int) -> list[Range]:
    """The ranges of ``[0, total-1]`` that are not in ``done`` (which must be merged)."""
    out: list[Range] = []
    nxt = 0
    for first, last in done:
        if first > nxt:
            out.append((nxt, first - 1))
        nxt = max(nxt, last + 1)
    if nxt < total:
        out.append((nxt, total - 1))
    return out


def intersect(a: list[Range], b: list[Range]) -> list[Range]:
    """The bytes in both ``a`` and ``b`` (each merged): ``[(0,9)] & [(5,20)] -> [(5,9)]``."""
    out: list[Range] = []
    i = j = 0
    while i < len(a) and j < len(b):
        first, last = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if first <= last:
            out.append((first, last))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def size_of(ranges: list[Range]) -> int:
    """How many bytes ``ranges`` (disjoint) hold."""
    return sum(b - a + 1 for a, b in ranges)


def split(first: int, last: int, parts: int) -> list[Range]:
    """``[first, last]`` cut into ``parts`` nearly equal, non-empty ranges (fewer if too short)."""
    length = last - first + 1
    parts = max(1, min(parts, length))
    out = []
    for i in range(parts):
        a = first + length * i // parts
        b = first + length * (i + 1) // parts - 1
        out.append((a, b))
    return out


class SegmentMap:
    """The byte bookkeeping of one download of ``total`` bytes (``total >= 1``).

    ``pieces``: the digests of the ``done`` bytes; ``None`` keeps no digests at all (the workers
    then compute none), an empty list starts keeping them.
    """

    def __init__(
        self,
        total: int,
        *,
        done: Sequence[Range] = (),
        min_split: int = 1 << 20,
        clock: Callable[[], float] = time.monotonic,
        pieces: Sequence[Piece] | None = None,
    ) -> None:
        if total < 1:
            raise ValueError("total must be at least 1")
        self.total = total
        self.min_split = max(1, min_split)
        for first, last in done:
            if not 0 <= first <= last < total:
                raise ValueError(f"done range {(first, last)} outside 0..{total - 1}")
        self._done: list[Range] = merge(list(done))
        self._pending: list[Range] = gaps(self._done, total)
        self._active: list[Segment] = []
        self._done_bytes = size_of(self._done)
        self._pieces: list[Piece] | None = None if pieces is None else list(pieces)
        self._lock = threading.Lock()
        self._clock = clock
        self._finished_speed: float | None = None  # moving average over finished segments

    # ---- initial distribution -------------------------------------------------
    def plan(self, workers: int, pieces_per_worker: int = 1) -> None:
        """Cut the pending gaps into about ``workers * pieces_per_worker`` pieces, in file order.

        Workers take the lowest piece first, so the file fills roughly front to back and a
        hasher following the contiguous prefix keeps up; the tail is balanced by stealing.
        """
        with self._lock:
            left = size_of(self._pending)
            if not left:
                return
            piece = max(self.min_split, -(-left // max(1, workers * pieces_per_worker)))
            out: list[Range] = []
            for first, last in self._pending:
                parts = max(1, round((last - first + 1) / piece))
                out += split(first, last, parts)
            self._pending = out

    # ---- worker side -----------------------------------------------------------
    def take(self) -> Segment | None:
        """A new segment: a pending gap, else the upper half of the largest active one.

        ``None`` when there is nothing left worth a connection (all done or all small).
        """
        with self._lock:
            now = self._clock()
            if self._pending:
                first, last = self._pending.pop(0)
            else:
                split_at = self._steal_point(now)
                if split_at is None:
                    return None
                victim, first = split_at
                last = victim.end
                victim.end = first - 1
            seg = Segment(first, last, first, first, now, first)
            self._active.append(seg)
            return seg

    def _steal_point(self, now: float) -> tuple[Segment, int] | None:
        """The segment to split and the first byte the thief takes (lock held)."""
        speeds = {id(s): s.speed(now) for s in self._active}
        known = [v for v in speeds.values() if v]
        typical = sum(known) / len(known) if known else None
        if self._finished_speed and (typical is None or self._finished_speed > typical):
            typical = self._finished_speed  # idle workers have just shown they can go this fast

        def time_left(s: Segment) -> float:
            v = speeds[id(s)] or typical
            return s.remaining / v if v else float(s.remaining)

        victim = max(self._active, key=time_left, default=None)
        if victim is None or victim.remaining < 2:
            return None
        share = 0.5  # of the remaining bytes, for the thief
        v = speeds[id(victim)]
        if v and typical and typical > v:
            share = typical / (typical + v)  # both finish together if the thief runs at `typical`
        keep = max(
            (victim.remaining + 1) // 2 if share == 0.5 else 0,
            victim.remaining - int(victim.remaining * share),
            min(MIN_KEEP, victim.remaining // 2),
        )
        thief = victim.remaining - keep
        if thief < 1:
            return None
        if thief < self.min_split:
            # Below the minimum split, steal only to end a slow tail: the victim, at its own
            # measured speed, would still need longer than SLOW_TAIL_SECONDS.
            slow_tail = v is not None and victim.remaining / v > SLOW_TAIL_SECONDS
            if not (slow_tail and thief >= max(MIN_KEEP, self.min_split // 4)):
                return None
        return victim, victim.pos + keep

    def claim(self, seg: Segment, n: int) -> int:
        """Reserve the next ``n`` bytes of ``seg`` for writing; returns how many are still ours."""
        with self._lock:
            n = max(0, min(n, seg.end - seg.pos + 1))
            seg.pos += n
            return n

    @property
    def digests(self) -> bool:
        """Whether written bytes are vouched for by digests (:meth:`flushed` wants one)."""
        return self._pieces is not None

    def flushed(self, seg: Segment, n: int, digest: int = 0) -> bool:
        """``n`` claimed bytes of ``seg`` are now on disk. With :attr:`digests`, ``digest`` is
        the running digest of the piece being written, up to and including these bytes.

        Returns True when that piece is now closed: the worker starts a new running digest.
        """
        with self._lock:
            seg.written += n
            self._done_bytes += n
            if self._pieces is None:
                return False
            seg.digest = digest
            if seg.written - seg.piece_start < PIECE_SIZE:
                return False
            self._close_piece(seg)
            return True

    def _close_piece(self, seg: Segment) -> None:
        """Move ``seg``'s open digest piece to the closed ones (lock held, digests kept)."""
        assert self._pieces is not None
        if seg.written > seg.piece_start:
            self._pieces.append(Piece(seg.piece_start, seg.written - 1, seg.digest))
        seg.piece_start, seg.digest = seg.written, 0

    def finish(self, seg: Segment) -> None:
        """The worker is done with ``seg``: what was written is done, the rest is pending again."""
        with self._lock:
            self._active.remove(seg)
            if self._pieces is not None:
                self._close_piece(seg)
            elapsed = self._clock() - seg.started
            if seg.written - seg.start >= MIN_KEEP and elapsed > 0:
                v = (seg.written - seg.start) / elapsed
                prev = self._finished_speed
                self._finished_speed = v if prev is None else 0.5 * v + 0.5 * prev
            if seg.written > seg.start:
                insort(self._done, (seg.start, seg.written - 1))
                self._done = merge(self._done)
            if seg.written <= seg.end:
                insort(self._pending, (seg.written, seg.end))

    # ---- observers ---------------------------------------------------------------
    @property
    def done_bytes(self) -> int:
        return self._done_bytes

    @property
    def complete(self) -> bool:
        with self._lock:
            return not self._pending and not self._active and self._done == [(0, self.total - 1)]

    def done_ranges(self) -> list[Range]:
        """Everything on disk, including the written part of active segments (for resume)."""
        return self.snapshot()[0]

    def snapshot(self) -> tuple[list[Range], list[Piece] | None]:
        """:meth:`done_ranges` and the digests that cover exactly those bytes (``None`` when
        none are kept), taken together: the open piece of each active segment up to its
        ``written``, so a resume record's digests never claim more than its ranges."""
        with self._lock:
            ranges = list(self._done)
            ranges += [(s.start, s.written - 1) for s in self._active if s.written > s.start]
            pieces = None
            if self._pieces is not None:
                pieces = list(self._pieces)
                pieces += [
                    Piece(s.piece_start, s.written - 1, s.digest)
                    for s in self._active
                    if s.written > s.piece_start
                ]
        return merge(ranges), pieces

    def contiguous_prefix(self) -> int:
        """How many bytes from offset 0 are all on disk (a hasher can read them)."""
        with self._lock:
            ranges = list(self._done)
            ranges += [(s.start, s.written - 1) for s in self._active if s.written > s.start]
        ranges = merge(ranges)
        return ranges[0][1] + 1 if ranges and ranges[0][0] == 0 else 0

    def active_count(self) -> int:
        with self._lock:
            return len(self._active)

    def has_pending(self) -> bool:
        with self._lock:
            return bool(self._pending)
