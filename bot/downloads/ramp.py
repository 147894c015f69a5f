"""How many connections a download keeps open: a few at first, more while each one is slow.

More connections help only when each connection is held back by something outside this machine:
a per-connection rate limit on the server, a long round trip, a slow route. When one connection
already moves tens of MB a second, the limit is this machine (copying bytes from the socket and
into the file), and more connections only add threads, locks and contention for the same cores:
on a 2-core machine, 1 GiB over loopback took 0.6 s with 2 connections and 0.9–1.0 s with 16.

So a download starts with :data:`START` connections and, every :data:`INTERVAL`, doubles them
(up to the maximum asked for) while the connections it has average less than :data:`FAST` each.
A server that answered 429 or 503 stops the ramp for good (:meth:`ConnectionRamp.hold`); how
many it accepts is learnt apart (:mod:`bot.downloads.serverlimit`).

On a server that throttles each connection, every connection's share of the file takes about as
long from the moment it opens, so the download ends about as late as the last connection
opened: the ramp's whole length shows at the end. START 8 and INTERVAL 0.1 s (were 4 and 0.15 s,
and before that 2 and 0.3 s), with the engine waking for each decision on time
(:meth:`ConnectionRamp.wait`): against lighttpd limiting each connection to 1 MiB/s, 64 MiB in
5.34 s instead of 5.51 s (5.23 s with all 16 from the start; means of 5 alternating runs in one
process), and 1 GiB from nginx on loopback in 0.93 s (16 from the start: 0.91 s; START 4: 1.33 s).
See BENCHMARKS.md.
"""

from __future__ import annotations

START = 8
INTERVAL = 0.1  # seconds of transfer behind each decision
FAST = 32 << 20  # bytes/s: a connection this fast is limited by this machine, not the network


class ConnectionRamp:
    """Feed it the byte count now and then; :attr:`limit` is how many connections to keep."""

    def __init__(
        self, maximum: int, start: int = START, fast: float = FAST, interval: float = INTERVAL
    ) -> None:
        self.maximum = max(1, maximum)
        self.limit = min(self.maximum, max(1, start))
        self.fast = fast
        self.interval = interval
        self._held = False
        self._mark: tuple[float, int] | None = None

    def hold(self) -> None:
        """The server asked for less: never open more connections than now."""
        self._held = True

    @property
    def held(self) -> bool:
        return self._held

    def wait(self, now: float) -> float | None:
        """Seconds until the next decision is due (0 if now); ``None`` when none will come."""
        if self._held or self.limit >= self.maximum:
            return None
        if self._mark is None:
            return 0.0
        return max(0.0, self._mark[0] + self.interval - now)

    def update(self, now: float, done: int, active: int) -> int:
        """Record ``done`` bytes at time ``now`` with ``active`` connections; return the limit."""
        if self._held or self.limit >= self.maximum:
            return self.limit
        if self._mark is None:
            self._mark = (now, done)
            return self.limit
        since, done_then = self._mark
        if now - since < self.interval:
            return self.limit
        self._mark = (now, done)
        each = (done - done_then) / (now - since) / max(1, active)
        if each < self.fast:
            self.limit = min(self.maximum, self.limit * 2)
        return self.limit
