"""Several Range connections into one ``.part`` file: the supervisor, its workers and their fetches.

Each worker thread asks the :class:`~bot.downloads.segments.SegmentMap` for a range, requests
exactly that range, checks the answer (:func:`bot.downloads.checks.check_ranged`) and
``os.pwrite``\\ s each chunk at its offset. A worker that finishes steals the upper half of the
largest range still in flight. The number of connections grows from a few towards the maximum
only while each is slow (:mod:`~bot.downloads.ramp`), and shrinks to what the server accepts when
it refuses with 429/503 (:mod:`~bot.downloads.serverlimit`). The supervising thread starts
workers, and in the tail asks again on a new connection for the last bytes of a range that
stopped coming (:mod:`~bot.downloads.tail`); the resume record is kept by
:class:`~bot.downloads.checkpoints.Checkpoints`. When the map keeps digests, each worker folds
every chunk it writes into the running digest of its current piece
(:class:`~bot.downloads.segments.Piece`) while the chunk is still in the CPU's cache.
On failure or cancel everything stops through the run's :class:`~bot.downloads.control.Control`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from requests import Response

from bot.downloads.api import ProbeResult
from bot.downloads.body import MAX_READ, BodyReader
from bot.downloads.checkpoints import Checkpoints
from bot.downloads.checks import RangesUnusable, check_ranged
from bot.downloads.client import Client
from bot.downloads.control import Control
from bot.downloads.errors import (
    DownloadCancelled,
    DownloadError,
    NetworkFailed,
    NetworkRetryable,
    Retryable,
    write_failed,
)
from bot.downloads.progress import Progress, ProgressMeter
from bot.downloads.ramp import ConnectionRamp
from bot.downloads.reasons import Reason, Why
from bot.downloads.retries import RetryPolicy
from bot.downloads.segments import Segment, SegmentMap
from bot.downloads.serverlimit import ServerLimit
from bot.downloads.tail import TailRestart, read_limit
from bot.downloads.verify import running_digest

log = logging.getLogger(__name__)

SUPERVISE_INTERVAL = 0.1
PIECES_PER_WORKER = 4  # the file is fetched in order, in about 4 pieces per connection
IDLE_RECHECK = 0.1  # how often an idle worker looks for a range to steal
EMPTY_ANSWERS_LIMIT = 3  # ranged answers without a byte before ranges count as unusable
REFUSED_PAUSE = 0.5  # seconds a refused connection waits before giving its range back
STOP_GRACE = 1.0  # seconds the supervisor waits for workers after a stop


class _OverLimit(Exception):
    """This connection is one more than the server accepts; give the range back."""


@dataclass(eq=False)
class _Reading:
    """A range's answer being read: when its last byte came, and whether the supervisor shut
    it down to ask again for the rest (:mod:`~bot.downloads.tail`)."""

    response: Response
    moved: float
    restarted: bool = False


class RangedFetch:
    """Fetch the missing ranges of ``segmap`` with up to ``connections`` workers."""

    def __init__(
        self,
        client: Client,
        control: Control,
        policy: RetryPolicy,
        *,
        connections: int,
        on_progress: Callable[[Progress], None] | None,
    ) -> None:
        self.client = client
        self.control = control
        self.policy = policy
        self.connections = connections
        self.on_progress = on_progress
        self.workers: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._ramp = ConnectionRamp(connections)
        self._server_limit = ServerLimit(connections)  # learnt from 429/503 answers
        self._conn_limit = self._ramp.limit  # raised by the ramp, capped by the server's limit
        self._empty_answers = 0  # ranged answers that ended before their first byte
        self._answered_now = 0  # requests answered and still being read, at this moment
        self._reading: dict[Segment, _Reading] = {}  # answers being read, by range
        self._tail = TailRestart()
        self._restarted: set[Segment] = set()  # ranges asked for again once already
        self._round_trip = float("inf")  # the quickest answer to a range request, in seconds

    def run(
        self, fd: int, segmap: SegmentMap, probe: ProbeResult, checkpoints: Checkpoints
    ) -> None:
        """Run workers until the map is complete, failed or cancelled; keep the record fresh.
        Raises the first worker's failure (:class:`RangesUnusable` among them)."""
        control = self.control
        meter = ProgressMeter(self.on_progress, probe.size, done=segmap.done_bytes)
        control.moved = lambda: segmap.done_bytes
        segmap.plan(self.connections, PIECES_PER_WORKER)
        self.workers = []
        checkpoints.start()
        try:
            self._supervise(fd, segmap, probe, meter)
        except BaseException:  # Ctrl-C in the supervising thread: stop, save, then unwind
            control.cancel(keep_partial=True)
            self.join(1.0)
            checkpoints.end(wait=True)
            checkpoints.save_last()
            raise
        checkpoints.end(wait=not segmap.complete)
        if control.cancelled:
            if control.keep_partial:
                checkpoints.save_last()
            raise DownloadCancelled(Reason.CANCELLED)
        if control.failure is not None:
            checkpoints.save_last()
            raise control.failure
        if not segmap.complete:
            checkpoints.save_last()
            raise DownloadError(Reason.INCOMPLETE)
        meter.tick(segmap.done_bytes, 0, force=True)

    def join(self, timeout: float | None = None) -> None:
        for t in self.workers:
            t.join(timeout)

    def _supervise(
        self, fd: int, segmap: SegmentMap, probe: ProbeResult, meter: ProgressMeter
    ) -> None:
        """Start workers while there is pending work; return when done, or 1 s after a stop."""
        stop_deadline = None
        while True:
            alive = [t for t in self.workers if t.is_alive()]
            if self.control.stop.is_set():
                if stop_deadline is None:
                    stop_deadline = time.monotonic() + STOP_GRACE
                if not alive or time.monotonic() > stop_deadline:
                    return
            elif segmap.complete:
                return
            else:
                self._restart_stalled(segmap)
                self._ramp_up(segmap, segmap.active_count())
                if segmap.has_pending() and len(alive) < self._conn_limit:
                    for _ in range(self._conn_limit - len(alive)):
                        t = threading.Thread(
                            target=self._worker,
                            args=(fd, segmap, probe, meter),
                            name="download-worker",
                            daemon=True,
                        )
                        t.start()
                        self.workers.append(t)
                    continue
                if not alive and not segmap.has_pending():
                    return
            # Wake for the ramp's next decision on time: on a server that throttles each
            # connection, every tenth of a second spent on fewer connections shows at the end.
            due = self._next_decision(segmap)
            pause = SUPERVISE_INTERVAL if due is None else min(SUPERVISE_INTERVAL, max(due, 0.005))
            if alive:
                alive[0].join(pause)
            else:
                time.sleep(pause)

    def _ramp_up(self, segmap: SegmentMap, active: int) -> None:
        """Let the ramp raise the connection limit, within what the server accepts."""
        with self._lock:
            now = time.monotonic()
            wanted = (
                self._ramp.limit
                if self._ramp.held
                else self._ramp.update(now, segmap.done_bytes, active, time.process_time())
            )
            self._conn_limit = min(wanted, self._server_limit.current(now))

    def _next_decision(self, segmap: SegmentMap) -> float | None:
        """Seconds until the ramp's next decision or the tail rule's next, whichever is first."""
        pending = segmap.has_pending()
        with self._lock:
            now = time.monotonic()
            waits = [self._ramp.wait(now)]
            if not self._ramp.held:
                waits += [
                    self._tail.wait(
                        seg, reading.moved, now, pending=pending, round_trip=self._round_trip
                    )
                    for seg, reading in self._reading.items()
                    if seg not in self._restarted
                ]
        known = [w for w in waits if w is not None]
        return min(known) if known else None

    def _restart_stalled(self, segmap: SegmentMap) -> None:
        """Shut down the answer of each range whose last bytes stopped coming in the tail; its
        worker asks again for the rest on a new connection (:mod:`~bot.downloads.tail`)."""
        pending = segmap.has_pending()
        with self._lock:
            if self._ramp.held:  # the server refused once: a new connection may be one too many
                return
            now = time.monotonic()
            for seg, reading in self._reading.items():
                if seg in self._restarted or not self._tail.due(
                    seg, reading.moved, now, pending=pending, round_trip=self._round_trip
                ):
                    continue
                self._restarted.add(seg)
                reading.restarted = True
                self.client.abort(reading.response)

    def _worker(
        self, fd: int, segmap: SegmentMap, probe: ProbeResult, meter: ProgressMeter
    ) -> None:
        stop = self.control.stop
        try:
            while not stop.is_set():
                if segmap.active_count() >= self._conn_limit:
                    return  # the host asked us to slow down (429/503)
                seg = segmap.take()
                if seg is None:
                    if segmap.active_count() == 0:
                        return  # nothing left at all
                    # Nothing worth stealing yet (speeds unknown, or ranges small): look again
                    # shortly, since a slow connection may become worth relieving.
                    stop.wait(IDLE_RECHECK)
                    continue
                try:
                    self._fetch(fd, segmap, seg, probe, meter)
                except _OverLimit:
                    return  # the range goes back to pending (finish); fewer connections now
                finally:
                    segmap.finish(seg)
        except (RangesUnusable, DownloadError) as exc:
            self.control.fail(exc)
        except OSError as exc:  # disk errors: no point retrying
            self.control.fail(write_failed(exc))
        except Exception as exc:  # noqa: BLE001 - a worker must never die silently
            log.exception("download worker crashed")
            self.control.fail(DownloadError(Reason.INTERNAL, name=exc.__class__.__name__))

    def _fetch(
        self, fd: int, segmap: SegmentMap, seg: Segment, probe: ProbeResult, meter: ProgressMeter
    ) -> None:
        """Fetch ``seg`` to its (possibly shrinking) end, retrying per the policy."""
        stop = self.control.stop
        tries = self.policy.start()
        buffer = bytearray(MAX_READ)  # reused for every chunk of this segment
        piece = running_digest() if segmap.digests else None  # of this segment's open piece
        while not seg.finished and not stop.is_set():
            consumed = False
            first, last = seg.pos, seg.end
            headers = {"Range": f"bytes={first}-{last}"}
            if probe.validator:
                headers["If-Range"] = probe.validator
            resp = None
            reading = None
            progressed = False
            answering = False
            try:
                asked = time.monotonic()
                resp = self.client.open(probe.final_url, headers)
                answered = time.monotonic()
                check_ranged(resp, first, last, probe.size, probe.validator)
                # What the server accepted is what it answers at once, not how many ranges are
                # taken: at the start all eight are taken while six of them are being refused.
                with self._lock:
                    self._answered_now += 1
                    answering = True
                    self._server_limit.answered(self._answered_now)
                    reading = self._reading[seg] = _Reading(resp, answered)
                    self._round_trip = min(self._round_trip, answered - asked)
                body = BodyReader(resp, buffer)
                started_at = seg.pos
                while not seg.finished:
                    chunk = body.read(read_limit(seg.remaining))
                    if not chunk:
                        break
                    offset = seg.pos
                    n = segmap.claim(seg, len(chunk))
                    if n:
                        if stop.is_set():
                            return
                        data = chunk[:n]
                        os.pwrite(fd, data, offset)
                        if piece is None:
                            segmap.flushed(seg, n)
                        else:
                            piece.update(data)
                            if segmap.flushed(seg, n, piece.intdigest()):
                                piece.reset()
                        reading.moved = time.monotonic()
                        progressed = True
                        meter.tick(segmap.done_bytes, segmap.active_count())
                consumed = body.consumed
                if not seg.finished:
                    if reading.restarted:
                        continue  # shut down by the tail rule: ask again at once
                    if seg.pos == started_at:
                        self._empty_answer()
                    raise Retryable(Why.of(Reason.CLOSED_EARLY))
            except (NetworkRetryable, NetworkFailed) as exc:
                if stop.is_set():
                    return
                if reading is not None and reading.restarted:
                    continue  # shut down by the tail rule: not a failure of the server
                if isinstance(exc, NetworkFailed):
                    self.control.check()
                    raise
                tries.failed(exc, progressed)
            except Retryable as exc:
                if getattr(exc.response, "status_code", None) in (429, 503):
                    self._refused(segmap)
                tries.failed(exc, progressed)
            finally:
                if answering:
                    with self._lock:
                        self._answered_now -= 1
                        del self._reading[seg]
                if resp is not None:
                    # An answer shut down by the tail rule never goes back to the pool.
                    reuse = consumed and not (reading is not None and reading.restarted)
                    self.client.release(resp, reuse=reuse)

    def _refused(self, segmap: SegmentMap) -> None:
        """The server refused a request (429/503): learn its limit; a connection over it gives
        its range back and ends (:class:`_OverLimit`) instead of retrying against the limit."""
        with self._lock:
            self._ramp.hold()
            active = segmap.active_count()
            cap = self._server_limit.refused(time.monotonic(), active)
            self._conn_limit = min(self._conn_limit, cap)
        if active > cap:
            raise _OverLimit()
        if active > 1:
            # Others are being served: the server may still count a connection that just ended.
            # Step back a moment and give the range back rather than spend this range's retries.
            self.control.stop.wait(REFUSED_PAUSE)
            raise _OverLimit()

    def _empty_answer(self) -> None:
        """A ranged answer ended before its first byte; after a few, ranges are not usable."""
        with self._lock:
            self._empty_answers += 1
            count = self._empty_answers
        if count >= EMPTY_ANSWERS_LIMIT:
            raise RangesUnusable(Why.of(Reason.RANGES_EMPTY))
