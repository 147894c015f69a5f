"""The whole body in one stream from byte 0: for servers whose ranges cannot be used.

A server that ignores ranges, compresses anyway or gives no length gets one plain ``GET``. The
first ``kept`` bytes of the file may already be on disk (fetched by ranges before they turned out
unusable, or by an earlier try of this stream): they are compared with the stream as it passes
them instead of being thrown away and written again. A difference means the server's answers
disagree; the download starts over (:class:`~bot.downloads.errors.FileChanged`), since a hash may
already have read the old bytes.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from bot.downloads.api import ProbeResult
from bot.downloads.body import BodyReader
from bot.downloads.checks import check_whole
from bot.downloads.client import Client
from bot.downloads.control import Control
from bot.downloads.errors import (
    DownloadCancelled,
    FileChanged,
    NetworkFailed,
    NetworkRetryable,
    Retryable,
    TooLarge,
    write_failed,
)
from bot.downloads.progress import Progress, ProgressMeter
from bot.downloads.reasons import Reason, Why
from bot.downloads.retries import RetryPolicy


class StreamFetch:
    """Fetch one probed file as a single stream into ``fd``; ``written`` counts its bytes so far
    (the hasher follows it)."""

    def __init__(
        self,
        client: Client,
        control: Control,
        policy: RetryPolicy,
        *,
        max_bytes: int | None,
        on_progress: Callable[[Progress], None] | None,
    ) -> None:
        self.client = client
        self.control = control
        self.policy = policy
        self.max_bytes = max_bytes
        self.on_progress = on_progress
        self.written = 0

    def run(self, fd: int, probe: ProbeResult, kept: int = 0) -> int:
        """Fetch the body from byte 0 to its end; returns its size."""
        meter = ProgressMeter(self.on_progress, probe.size)
        self.control.moved = lambda: self.written
        tries = self.policy.start()
        while True:
            self.control.check_cancelled()
            kept = max(kept, self.written)
            self.written = 0
            resp = None
            try:
                resp = self.client.open(probe.final_url, {})
                check_whole(resp, probe.validator)
                length = resp.headers.get("Content-Length")
                # The probed size, when known, is what the limits were checked against: a body
                # that grows past it is stopped below, whatever this response announces.
                announced = int(length) if length and length.isdigit() else None
                if announced is not None and probe.size is not None and announced < probe.size:
                    # Shorter than probed: the file changed on the server (a body that keeps
                    # its promise ends short every time), which another try at this stream
                    # cannot mend. Probe again. A longer one is stopped past the probed size.
                    raise FileChanged(Reason.CHANGED_SIZE)
                expected = probe.size if probe.size is not None else announced
                self._copy(fd, BodyReader(resp), meter, expected, kept)
                for promised in (announced, expected):
                    if promised is not None and self.written != promised:
                        raise Retryable(
                            Why.of(Reason.BODY_SHORT, got=self.written, promised=promised)
                        )
                if os.fstat(fd).st_size > self.written:
                    os.ftruncate(
                        fd, self.written
                    )  # what ranges or an earlier try left beyond the end
                meter.tick(self.written, 0, force=True)
                return self.written
            except (NetworkRetryable, NetworkFailed) as exc:
                if self.control.cancelled:
                    raise DownloadCancelled(Reason.CANCELLED) from None
                if isinstance(exc, NetworkFailed):
                    self.control.check()
                    raise
                tries.failed(exc)
            except Retryable as exc:
                tries.failed(exc)
            finally:
                if resp is not None:
                    self.client.release(resp)

    def _copy(
        self, fd: int, body: BodyReader, meter: ProgressMeter, expected: int | None, kept: int
    ) -> None:
        control, max_bytes = self.control, self.max_bytes
        while True:
            data = body.read()
            if not data:
                return
            if control.halted is not None:
                raise control.halted
            control.check_cancelled()
            if max_bytes is not None and self.written + len(data) > max_bytes:
                raise TooLarge(Reason.GREW_TOO_LARGE, limit_bytes=max_bytes)
            if expected is not None and self.written + len(data) > expected:
                raise FileChanged(Reason.CHANGED_GREW)
            same = same_on_disk(fd, data, self.written, kept)
            try:
                if same < len(data):
                    os.pwrite(fd, data[same:], self.written + same)
            except OSError as exc:
                raise write_failed(exc) from None
            self.written += len(data)
            meter.tick(self.written, 1)


def same_on_disk(fd: int, data: memoryview, offset: int, kept: int) -> int:
    """How many bytes of ``data`` (due at ``offset``) are already on disk, below ``kept``.

    Raises :class:`FileChanged` when the kept bytes differ from the stream's.
    """
    n = min(len(data), kept - offset)
    if n <= 0:
        return 0
    if os.pread(fd, n, offset) != data[:n]:
        raise FileChanged(Reason.CHANGED_BYTES)
    return n
