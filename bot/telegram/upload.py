"""Sending a finished file to a chat without holding it in memory, or by path to a local server.

Why this exists: by default python-telegram-bot reads a file object whole into an ``InputFile``
and builds the multipart body from those bytes, so delivering a 300 MB file took the bot to
980 MiB (BENCHMARKS.md, "Delivering big files") and a 1.9 GB one past the service's 1 GB memory
cap. An ``InputFile`` made with ``read_file_handle=False`` (python-telegram-bot ≥ 21.5) hands the
open file to the request backend instead; httpx, under PTB's ``HTTPXRequest``, then streams it
in 64 KiB pieces with a ``Content-Length`` taken from ``fstat``. The call stays an ordinary
``Bot.send_document``: the application's rate limiter (429s), its mapping of HTTP failures to
:mod:`telegram.error` types and the scrubbing of the token from logs apply unchanged.

With ``TELEGRAM_LOCAL_MODE`` (a ``telegram-bot-api --local`` server), nothing is uploaded: the
server gets ``file:///absolute/path`` and reads the file itself, so it must see ``DOWNLOAD_DIR``
at the same path (docs/deploy.md).

:class:`UploadProgress` counts the bytes the request has read from the file, which is what the
status message shows; cancelling the task that runs :func:`send_file` aborts the request.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO, cast

from telegram import Bot, InputFile, Message

from bot.humanize import MiB

#: Seconds to wait for each socket write, and at least this long for the answer after the body.
UPLOAD_TIMEOUT = 600.0
#: The slowest uplink planned for (bytes/s): a local server answers only after it has passed a
#: 2000 MB file on to Telegram, so the wait for the answer grows with the file.
SLOWEST_UPLINK = MiB


def answer_timeout(size: int) -> float:
    """How long to wait for Telegram's answer once a file of ``size`` bytes was handed over."""
    return max(UPLOAD_TIMEOUT, size / SLOWEST_UPLINK)


@dataclass
class UploadProgress:
    """How far one delivery got: bytes read from the file by the request, since it (re)started.

    A retry (after a 429, say) reads the file again from the start, and the count restarts with
    it. ``by_path`` deliveries move no bytes through the bot: the server reads the file itself.
    """

    total: int
    by_path: bool = False
    sent: int = 0
    started: float | None = None
    finished: bool = False  # every byte handed over; waiting for Telegram's answer
    clock: Any = field(default=time.monotonic, repr=False)

    @property
    def speed(self) -> float | None:
        """Average bytes per second since the first byte of this try (None before a second
        passed)."""
        if self.started is None:
            return None
        elapsed = self.clock() - self.started
        return self.sent / elapsed if elapsed >= 1.0 else None

    def restart(self) -> None:
        self.sent, self.started, self.finished = 0, None, False

    def add(self, count: int) -> None:
        if self.started is None:
            self.started = self.clock()
        self.sent += count
        if count == 0 or self.sent >= self.total:
            self.finished = True


class CountingReader:
    """A read-only file that tells :class:`UploadProgress` how much of it was read.

    It offers what httpx's multipart encoder uses: ``read``, ``seek`` (to the start, before each
    try) and ``fileno`` (for the length, so the body has a ``Content-Length``).
    """

    def __init__(self, raw: BinaryIO, progress: UploadProgress) -> None:
        self._raw = raw
        self._progress = progress
        self.name = raw.name

    def read(self, size: int = -1) -> bytes:
        chunk = self._raw.read(size)
        self._progress.add(len(chunk))
        return chunk

    def seek(self, offset: int, whence: int = 0) -> int:
        position = self._raw.seek(offset, whence)
        if position == 0:
            self._progress.restart()
        return position

    def tell(self) -> int:
        return self._raw.tell()

    def fileno(self) -> int:
        return self._raw.fileno()


def upload_timeouts(size: int) -> dict[str, Any]:
    """The ``write_timeout`` and ``read_timeout`` of a send of ``size`` bytes."""
    return {"write_timeout": UPLOAD_TIMEOUT, "read_timeout": answer_timeout(size)}


def counted_upload(raw: BinaryIO, progress: UploadProgress, filename: str) -> InputFile:
    """``raw`` as a streamed upload whose reading :class:`UploadProgress` counts."""
    # InputFile is typed for a real file; CountingReader has the part of one that httpx reads.
    reader = cast(IO[bytes], CountingReader(raw, progress))
    return InputFile(reader, filename=filename, read_file_handle=False)


async def send_file(
    bot: Bot,
    chat_id: int | str,
    path: Path,
    *,
    filename: str,
    local_mode: bool,
    progress: UploadProgress | None = None,
    **params: Any,
) -> Message:
    """Send ``path`` as a document to ``chat_id``, streamed from disk or (``local_mode``) by path.

    ``params`` are any further ``send_document`` arguments (``caption``, ``reply_parameters``,
    ``message_thread_id``…), passed on unchanged. Errors are python-telegram-bot's: ``RetryAfter``
    only after the rate limiter's own retries, ``NetworkError``/``TimedOut``, ``BadRequest``…
    """
    size = path.stat().st_size
    progress = progress or UploadProgress(size, by_path=local_mode)
    timeouts = upload_timeouts(size)
    if local_mode:
        progress.finished = True
        return await bot.send_document(
            chat_id, document=path.absolute().as_uri(), **timeouts, **params
        )
    with path.open("rb") as raw:
        document = counted_upload(raw, progress, filename)
        return await bot.send_document(chat_id, document=document, **timeouts, **params)
