"""Reading a response body into a reusable buffer: one copy per byte, no allocation per chunk.

urllib3's ``read1()`` returns a fresh ``bytes`` for every chunk; at loopback speeds with 16
connections the allocations (and the page faults of fresh memory) cost as much CPU as the copy
itself. :class:`BodyReader` reads with ``readinto`` from the ``http.client`` response under
urllib3's (which still enforces ``Content-Length`` and decodes chunked framing; a body cut
short just ends early, and the engine counts what arrived) into one buffer per worker. The read size
adapts: big while bytes arrive quickly, small on a slow connection so that progress, stealing and
stall detection stay fine-grained. A failed read raises Errand's own network errors
(:func:`bot.downloads.transport.network_errors`).
"""

from __future__ import annotations

import time
from typing import Any

import requests

from bot.downloads.transport import LIBRARY_ERRORS, body_file, mapped

MIN_READ = 16 * 1024
MAX_READ = 512 * 1024
FAST = 0.02  # a read that filled in less than this (s) may grow
SLOW = 0.2  # a read that took longer than this (s) shrinks


class BodyReader:
    """``readinto``-style access to one response body; see the module docstring."""

    def __init__(self, response: requests.Response, buffer: bytearray | None = None) -> None:
        self._fp: Any = body_file(response)
        self.buffer = buffer if buffer is not None else bytearray(MAX_READ)
        self.view = memoryview(self.buffer)
        self.want = min(64 * 1024, len(self.buffer))

    def read(self, most: int | None = None) -> memoryview:
        """The next chunk (a view into the buffer, valid until the next call); empty at the end.
        ``most``: ask for no more than this (a read waits until it is full)."""
        size = self.want if most is None else max(1, min(self.want, most))
        started = time.monotonic()
        try:
            n = self._fp.readinto(self.view[:size])
        except (
            LIBRARY_ERRORS
        ) as exc:  # the same mapping as network_errors(), without its cost per chunk
            raise mapped(exc) from exc
        took = time.monotonic() - started
        if n == size == self.want and took < FAST:
            self.want = min(len(self.buffer), self.want * 2)
        elif took > SLOW:
            self.want = max(MIN_READ, self.want // 2)
        return self.view[: n or 0]

    @property
    def consumed(self) -> bool:
        """The whole body was read, so the connection can go back to the pool."""
        isclosed = getattr(self._fp, "isclosed", None)
        return bool(isclosed and isclosed())
