"""The end of a download: when a range's last few bytes stop coming, ask for them again on a new
connection instead of waiting for the stalled one.

Some servers throttle each connection in steps. lighttpd (``connection.kbytes-per-second``)
lets a connection write its allowance for the second at once, then nothing until its event loop
notices the next second, and resumes a throttled connection only while its bytes stay below the
rate times the whole seconds since it was accepted. Every response's headers count against the
same allowance, so a connection's share of a file can end just past a whole number of steps:
64 MiB over 16 connections at 1 MiB/s each is 4 MiB + headers per connection, and every
connection then waits a whole second for its last kilobyte or so. A new connection is answered
at once. Measured with raw sockets against that server (BENCHMARKS.md, issue #12): 16
connections of 4 MiB took 5.04-5.14 s; the same, asking again for the last bytes on a new
connection after 0.2 s without a byte, 4.23-4.29 s.

The rule is narrow, so that it never becomes reconnecting to get round a throttle:

- only in the tail: nothing is left to hand out (no pending range), every range is in flight;
- only for the last bytes of a range: at most :data:`TAIL_BYTES`, and so few that the
  connection, at the speed it had until it stopped, would bring them in a small fraction of
  the stall (a steady slow connection is not stalled; stealing relieves it,
  :mod:`bot.downloads.segments`);
- only after :data:`STALL_SECONDS` without a byte, or :data:`ROUND_TRIPS` round trips if that
  is longer (on a far server the last bytes of a range may simply be one round trip away; the
  round trip is estimated by the quickest answer of the download's requests), and once per
  range;
- never after the server refused a request (429/503): a new connection could be one more than
  it accepts (the caller checks that, :class:`bot.downloads.multi.RangedFetch`).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.downloads.segments import Segment

STALL_SECONDS = 0.2  # no byte for this long; lighttpd's step is a second
TAIL_BYTES = 256 * 1024  # at most this much left of the range
EXPECTED_SHARE = 0.25  # at its own speed the rest would take less than this share of the stall
ROUND_TRIPS = 3  # ... or this many round trips, whichever is longer
MIN_SPAN = 0.01  # seconds: a range's first bytes in one burst count as this long
TAIL_READ = 64 * 1024  # near a range's end, reads of at most this much (read_limit)


def read_limit(remaining: int) -> int | None:
    """How much one read may ask for with ``remaining`` bytes of the range left: near its end,
    little at a time. A read waits until it is full, so bytes that came just before a stall
    would sit uncounted in a half-full read and the range would look further from its end
    than it is (against lighttpd at 8 connections, a 512 KiB read hid the stall from the rule).
    ``None``: no limit."""
    return TAIL_READ if remaining <= 2 * TAIL_BYTES else None


@dataclass(frozen=True)
class TailRestart:
    """Decides whether a stalled range in the tail should be asked for again (see module doc)."""

    stall: float = STALL_SECONDS
    most: int = TAIL_BYTES

    def due(
        self, seg: Segment, moved: float, now: float, *, pending: bool, round_trip: float = 0.0
    ) -> bool:
        """``seg`` last received a byte at ``moved``; ``pending``: ranges are still unassigned;
        ``round_trip``: the quickest answer to a request of this download, in seconds."""
        if pending or seg.finished or seg.remaining > self.most:
            return False
        stall = self.stall_for(round_trip)
        if now - moved < stall:
            return False
        # The speed it had while bytes came (the stall itself left out): a steady slow
        # connection, whose chunks come further apart than the stall, is not stalled.
        speed = (seg.written - seg.start) / max(moved - seg.started, MIN_SPAN)
        return seg.remaining < speed * stall * EXPECTED_SHARE

    def wait(
        self, seg: Segment, moved: float, now: float, *, pending: bool, round_trip: float = 0.0
    ) -> float | None:
        """Seconds until :meth:`due` may first say yes for ``seg`` if no byte comes; ``None``
        when that moment has passed (it was decided then) or cannot come yet."""
        at = moved + self.stall_for(round_trip)
        if pending or seg.finished or seg.remaining > self.most or now >= at:
            return None
        return at - now

    def stall_for(self, round_trip: float) -> float:
        """How long without a byte counts as stalled, given the round trip."""
        return max(self.stall, ROUND_TRIPS * round_trip)
