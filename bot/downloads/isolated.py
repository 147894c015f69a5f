"""Run a :class:`~bot.downloads.engine.Downloader` in a child process, behind the same face.

Why: a download at full speed is a dozen Python threads moving bytes. In the bot's own process
they compete for the interpreter lock with the event loop that answers chat commands, and with a
few fast downloads a ``/help`` waited hundreds of milliseconds (see BENCHMARKS.md). In a child
process they have their own interpreter; the bot's process only receives a few progress reports a
second.

:class:`IsolatedDownloader` offers what the download service uses — ``probe()``, ``run()``,
``cancel(keep_partial)`` — so the service does not care where the bytes move. The child is started
with ``spawn`` (the bot's process has threads, which ``fork`` does not copy safely), runs at a lower
CPU priority, and dies with its parent: Linux's parent-death signal, plus end-of-file on the pipe,
guarantee that after a ``kill -9`` of the bot no orphan keeps writing the ``.part`` file that the
restarted bot resumes.

``systemctl stop`` (without ``KillMode=mixed``), ``docker stop`` and Ctrl-C in a terminal signal the
whole process group, so the child gets SIGTERM or SIGINT too, often before the bot does. The child
treats either as "pause": it stops, saves its resume record, and reports ``paused``; the parent
raises :class:`~bot.downloads.errors.DownloadPaused`, and the service keeps the job for resuming.
A child that dies without a word (SIGKILL, out of memory) is reported the same way: its ``.part``
and record are intact, so resuming is always right.

The child also keeps the disk above the floor the service gives it (:mod:`bot.downloads.diskfloor`),
which the parent, hearing of progress a few times a second, could not do at loopback speed.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bot.downloads import errors
from bot.downloads.diskfloor import DiskFloor, DiskGuard
from bot.downloads.engine import (
    Downloader,
    DownloadOptions,
    DownloadResult,
    ProbeResult,
    settle_process,
)
from bot.downloads.progress import Progress, Retrying
from bot.downloads.reasons import Reason, Why

CHILD_NICENESS = 10
PAUSE_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})
POLL = 0.2  # seconds between looks at the pipe, the cancel flag and the child's health
CANCEL_GRACE = 2.0  # seconds a child gets to stop by itself (saving its record) before it is killed
DISCARD_GRACE = 0.8  # the same when nothing is kept: a cancel reads "cancelled" within a second
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (no-op elsewhere)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _child(
    conn: Connection,
    url: str,
    dest_dir: str,
    options: DownloadOptions,
    name: str | None,
    parent_pid: int,
    engine: type = Downloader,
    floor: DiskFloor | None = None,
) -> None:
    """Entry point of the child process: download, streaming progress and the outcome back."""
    _die_with_parent()
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)
    try:
        os.nice(CHILD_NICENESS)
    except OSError:
        pass
    send_lock = threading.Lock()

    def send(message: tuple[Any, ...]) -> None:
        with send_lock:
            try:
                conn.send(message)
            except (BrokenPipeError, OSError):
                os._exit(1)  # the parent is gone: stop writing at once

    # Signals are taken by one thread with sigwait (a Python handler in the main thread could
    # interrupt it while it holds one of the engine's locks). Blocked before any thread starts,
    # so every thread inherits the mask.
    signal.pthread_sigmask(signal.SIG_BLOCK, PAUSE_SIGNALS)
    downloader = engine(
        url,
        Path(dest_dir),
        options,
        name=name,
        on_progress=lambda p: send(("progress", p)),
        on_retry=lambda r: send(("retry", r)),
        on_notice=lambda why: send(("notice", why)),
    )
    settle_process()
    paused = threading.Event()

    def pause_on_signal() -> None:
        signal.sigwait(PAUSE_SIGNALS)
        paused.set()
        downloader.cancel(keep_partial=True)

    threading.Thread(target=pause_on_signal, daemon=True, name="pause-on-signal").start()
    disk = DiskGuard(Path(dest_dir), floor, lambda _floor: downloader.cancel(keep_partial=False))

    def listen() -> None:
        try:
            while True:
                kind, value = conn.recv()
                if kind == "cancel":
                    downloader.cancel(keep_partial=value)
                elif kind == "floor":
                    disk.floor = value
        except (EOFError, OSError):
            downloader.cancel(keep_partial=True)  # parent gone: keep what we have for resume
            os._exit(1)

    threading.Thread(target=listen, daemon=True, name="parent-pipe").start()
    disk.start()
    try:
        result = downloader.run()
    except errors.DownloadError as exc:
        if disk.tripped is not None:  # stopped to keep the disk's reserve: say that
            send(("error", "DownloadError", disk.tripped.why.as_dict()))
        elif paused.is_set():
            send(("paused",))  # the signal's abort cut connections: not a failure of the download
        else:
            send(("error", type(exc).__name__, exc.why.as_dict()))
    except Exception as exc:  # noqa: BLE001 - report, never die silently
        why = Why.of(Reason.INTERNAL_CHILD, name=type(exc).__name__)
        send(("error", "DownloadError", why.as_dict()))
    else:
        send(("done", result))
    finally:
        disk.end()
    conn.close()


class IsolatedDownloader:
    """A download that runs in a child process; same ``probe``/``run``/``cancel`` as the
    engine's."""

    #: What the child process runs: a class with the engine's constructor, ``run`` and ``cancel``
    #: (:class:`bot.media.job.MediaDownloader` for media pages).
    engine: type = Downloader

    def __init__(
        self,
        url: str,
        dest_dir: Path,
        options: DownloadOptions | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        name: str | None = None,
        on_retry: Callable[[Retrying], None] | None = None,
        on_notice: Callable[[Why], None] | None = None,
    ) -> None:
        self.url = url
        self.on_retry = on_retry
        self.on_notice = on_notice
        self.dest_dir = Path(dest_dir)
        self.options = options or DownloadOptions()
        self.on_progress = on_progress
        self.name = name
        self._cancel: bool | None = None  # None: not asked; else keep_partial
        self._floor: DiskFloor | None = None  # the free space the child keeps on the disk
        self._lock = threading.Lock()

    def probe(self) -> ProbeResult:
        """A probe is one tiny request: it runs here, in the calling thread."""
        result = Downloader(
            self.url, self.dest_dir, self.options, name=self.name, on_retry=self.on_retry
        ).probe()
        self.name = result.name
        return result

    def cancel(self, keep_partial: bool = False) -> None:
        with self._lock:
            self._cancel = keep_partial

    def keep_disk_above(self, floor: DiskFloor) -> None:
        """Stop with the disk's reserve as the reason once its free space falls below ``floor``
        (:mod:`bot.downloads.diskfloor`); may be called again while it runs, from any thread."""
        with self._lock:
            self._floor = floor

    def run(self) -> DownloadResult:
        """Download in a child process; return its result or raise the error it reported."""
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe(duplex=True)
        process = context.Process(
            target=_child,
            name="errand-download",
            daemon=True,
            args=(
                theirs,
                self.url,
                str(self.dest_dir),
                self.options,
                self.name,
                os.getpid(),
                self.engine,
                self._floor,
            ),
        )
        floor_sent = self._floor
        process.start()
        theirs.close()
        cancel_sent_at: float | None = None
        try:
            while True:
                with self._lock:
                    cancel, floor = self._cancel, self._floor
                if floor != floor_sent and cancel is None:
                    floor_sent = floor
                    try:
                        ours.send(("floor", floor))
                    except OSError:
                        pass  # it has just ended
                if cancel is not None and cancel_sent_at is None:
                    try:
                        ours.send(("cancel", cancel))
                    except OSError:
                        pass  # it has just ended: what it said last is still in the pipe
                    cancel_sent_at = time.monotonic()
                elif cancel_sent_at is not None and time.monotonic() - cancel_sent_at > (
                    CANCEL_GRACE if cancel else DISCARD_GRACE
                ):
                    # A read blocked on a silent server can ignore the engine's cancel; the
                    # process cannot. The resume record holds everything flushed until now.
                    process.kill()
                    raise errors.DownloadCancelled(Reason.CANCELLED)
                try:
                    ready = ours.poll(POLL)
                    message = ours.recv() if ready else None
                except (EOFError, OSError):
                    message = ("gone",)
                if message is None:
                    continue
                outcome = self._handle(message)
                if outcome is not None:
                    return outcome
        finally:
            ours.close()
            process.join(5)
            if process.is_alive():
                process.kill()
                process.join(5)

    def _handle(self, message: tuple[Any, ...]) -> DownloadResult | None:
        kind = message[0]
        if kind == "progress":
            if self.on_progress is not None:
                self.on_progress(message[1])
            return None
        if kind == "notice":
            if self.on_notice is not None:
                self.on_notice(message[1])
            return None
        if kind == "retry":
            if self.on_retry is not None:
                self.on_retry(message[1])
            return None
        if kind == "done":
            result: DownloadResult = message[1]
            return result
        if kind == "paused":
            raise errors.DownloadPaused(Reason.PAUSED)
        if kind == "error":
            # The reason crosses the pipe as Why.as_dict() (plain data), the class by its name.
            cls = getattr(errors, message[1], errors.DownloadError)
            if not (isinstance(cls, type) and issubclass(cls, errors.DownloadError)):
                cls = errors.DownloadError
            raise cls(Why.from_dict(message[2]))
        if self._cancel is not None:
            raise errors.DownloadCancelled(Reason.CANCELLED)
        # Gone without a word (SIGKILL, out of memory): what it wrote and recorded is intact.
        raise errors.DownloadPaused(Reason.PROCESS_DIED)
