"""How many connections at once a server accepts, learnt from its answers.

nginx ``limit_conn 2`` answers a third request at once with 503. Lowering the limit by one per
503 (and again for its retry) ends on one connection for the whole file; this object instead
remembers how many connections at once have been answered (:meth:`answered`), never goes below
that when refused (:meth:`refused`), and after a quiet while tries one more again
(:meth:`current`), since a server's limit may be per client and others may have left.
"""

from __future__ import annotations

PROBE_UP_AFTER = 10.0  # seconds without a refusal before one more connection is tried


class ServerLimit:
    """The connection cap for one download; not thread-safe (the engine holds its lock)."""

    def __init__(self, maximum: int, probe_up_after: float = PROBE_UP_AFTER) -> None:
        self.maximum = max(1, maximum)
        self.cap = self.maximum
        self.worked = 0  # most connections at once that were all answered
        self.probe_up_after = probe_up_after
        self._refused_at: float | None = None

    def answered(self, concurrent: int) -> None:
        """A request was answered while ``concurrent`` were in flight."""
        self.worked = max(self.worked, min(concurrent, self.cap))

    def refused(self, now: float, concurrent: int) -> int:
        """A request was refused (429/503) while ``concurrent`` were in flight; returns the cap."""
        self.cap = max(1, self.worked, min(self.cap, concurrent - 1))
        self._refused_at = now
        return self.cap

    def current(self, now: float) -> int:
        """The cap now: one more than before once the last refusal is long enough ago."""
        if (
            self._refused_at is not None
            and self.cap < self.maximum
            and now - self._refused_at >= self.probe_up_after
        ):
            self.cap += 1
            self._refused_at = now
        return self.cap
