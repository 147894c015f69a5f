"""The shared state of one download run: stop, cancel, a deadline's halt, the first failure.

Every part of the engine (the workers, the single stream, the retry policy, the HTTP client)
looks here instead of at flags of its own, so that a cancel, a deadline or one worker's fatal
error stops all of them the same way: the ``stop`` event is set and every open connection is
aborted (``abort``, set by the engine to :meth:`bot.downloads.client.Client.abort_all`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from bot.downloads.errors import DownloadCancelled, DownloadError
from bot.downloads.reasons import Reason


def _nothing() -> None:
    return None


class Control:
    """Stop, cancel, halt and failure of one run, safe from any thread."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.cancelled = False
        self.keep_partial = False
        self.failure: BaseException | None = None
        self.halted: DownloadError | None = None  # a deadline stopped everything: why
        self.abort: Callable[[], None] = _nothing
        #: Bytes of the file on disk so far, for the speed floor (set by the part moving bytes).
        self.moved: Callable[[], int] = lambda: 0
        self._lock = threading.Lock()

    def cancel(self, keep_partial: bool = False) -> None:
        self.keep_partial = keep_partial
        self.cancelled = True
        self.stop.set()
        self.abort()

    def halt(self, reason: DownloadError) -> None:
        """Stop everything because of a deadline; the run raises ``reason``."""
        with self._lock:
            if self.halted is None:
                self.halted = reason
        self.fail(reason)

    def fail(self, exc: BaseException) -> None:
        """Stop everything because of ``exc`` (the first failure wins)."""
        with self._lock:
            if self.failure is None:
                self.failure = exc
        self.stop.set()
        self.abort()

    def check(self) -> None:
        """Raise why the run must end now (a deadline, a cancel); return when it may go on."""
        if self.halted is not None:
            raise self.halted
        if self.cancelled:
            raise DownloadCancelled(Reason.CANCELLED)

    def check_cancelled(self) -> None:
        if self.cancelled:
            raise DownloadCancelled(Reason.CANCELLED)

    def restart(self) -> None:
        """A new try at the file (or a fall back to one stream): clear the stop of the last one,
        unless it was a cancel, which still counts."""
        if not self.cancelled:
            self.stop.clear()
        self.failure = None
