"""How many connections a download keeps open: a few at first, more while each one is slow.

More connections help only when each connection is held back by something outside this machine:
a per-connection rate limit on the server, a long round trip, a slow route. When one connection
already moves tens of MB a second, the limit is this machine (copying bytes from the socket and
into the file), and more connections only add threads, locks and contention for the same cores:
on a 2-core machine, 1 GiB over loopback took 0.6 s with 2 connections and 0.9–1.0 s with 16.

So a download starts with :data:`START` connections and, every :data:`INTERVAL`, doubles them
(up to the maximum asked for) while the connections it has average less than :data:`FAST` each
and the download uses less than :data:`BUSY` of a core. When the connections average :data:`FAST`
or more, or the download is that busy, it tries halving them (down to
:data:`FLOOR`): if the total speed holds (at least :data:`KEEP` of what it was, measured over a
whole interval once the extra connections have ended their pieces), the machine was the limit and
fewer threads cost less CPU; if it falls, the old number comes back and stays. Through nginx in
front of apache2 on a 2-core machine, 512 MiB took 0.5 s of CPU with 2 connections against 1.3 s
with 8 while other work ran beside it (issue #12; see BENCHMARKS.md). A server that answered 429
or 503 stops the ramp for good (:meth:`ConnectionRamp.hold`); how
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

from dataclasses import dataclass

START = 8
INTERVAL = 0.1  # seconds of transfer behind each decision
FAST = 32 << 20  # bytes/s: a connection this fast is limited by this machine, not the network
FLOOR = 2  # the fewest connections a shrink leaves (one of them may stall at any moment)
KEEP = 0.85  # a shrink that keeps less than this share of the total speed is undone
FALLEN = 0.6  # after a shrink that held, below this share of its speed more connections may help
BUSY = 0.5  # cores: a download using this much CPU is limited by this machine, whatever the speed


@dataclass
class _Trial:
    """A shrink being tried: the limit and total speed before it, and (once the connections over
    the new limit have ended) when the interval that judges it began."""

    limit: int
    rate: float
    measuring: bool = False


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
        self._settled = False  # fewer connections were slower once: no more shrinking
        self._trial: _Trial | None = None
        self._kept: float | None = None  # total speed after the last shrink that held
        self._mark: tuple[float, int, float] | None = None

    def hold(self) -> None:
        """The server asked for less: never open more connections than now."""
        self._held = True

    @property
    def held(self) -> bool:
        return self._held

    def wait(self, now: float) -> float | None:
        """Seconds until the next decision is due (0 if now); ``None`` when none will come."""
        if self._held or (self._settled and self.limit >= self.maximum):
            return None
        if self._mark is None:
            return 0.0
        return max(0.0, self._mark[0] + self.interval - now)

    def update(self, now: float, done: int, active: int, cpu: float = 0.0) -> int:
        """Record ``done`` bytes at time ``now`` with ``active`` connections, the process having
        used ``cpu`` seconds of CPU in all (:func:`time.process_time`); return the limit."""
        if self._held:
            return self.limit
        if self._mark is None:
            self._mark = (now, done, cpu)
            return self.limit
        since, done_then, cpu_then = self._mark
        if now - since < self.interval:
            return self.limit
        self._mark = (now, done, cpu)
        rate = (done - done_then) / (now - since)
        # Connections look slow when this machine cannot keep up with them too: then more of
        # them only take more of the CPU that is short.
        busy = (cpu - cpu_then) / (now - since) >= BUSY
        trial = self._trial
        if trial is not None:
            if not trial.measuring:
                # The connections over the new limit end with their current piece; judge the
                # shrink on a whole interval without them.
                trial.measuring = active <= self.limit
                return self.limit
            self._trial = None
            if rate < KEEP * trial.rate:
                self.limit = trial.limit  # fewer connections were slower: back, and stay
                self._settled = True
                return self.limit
            self._kept = rate
        each = rate / max(1, active)
        if each < self.fast and not busy:
            # After a shrink that held, more connections again only once the speed has clearly
            # fallen: the fewer did as well, so slowness alone says nothing new.
            fallen = self._kept is None or rate < FALLEN * self._kept
            if fallen and self.limit < self.maximum:
                self.limit = min(self.maximum, self.limit * 2)
                self._kept = None
        elif not self._settled and active > FLOOR and self.limit > FLOOR:
            self._trial = _Trial(self.limit, rate)
            self.limit = max(FLOOR, active // 2)
        return self.limit
