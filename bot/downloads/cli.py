"""``errandbot download URL [-o DIR] [-c N] [--checksum ALG:HEX] [--allow-private] [-q]``.

The engine in a terminal. Prints a one-line progress bar on a terminal (nothing with ``-q`` or
when stderr is not a terminal) that ends in a one-line summary ("resumed from 38%", "sha256
verified"), the final path on stdout on success (exit 0), or one line ``errandbot: <reason>`` on
failure (exit 1). Ctrl-C or SIGTERM keeps ``NAME.part`` and its control file when the server can
resume, so the same command continues (exit 130 after Ctrl-C, 143 after SIGTERM); when it
cannot, nothing is kept and the message says the next run starts over.
"""

from __future__ import annotations

import argparse
import ipaddress
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from bot.downloads.engine import (
    DownloadCancelled,
    Downloader,
    DownloadError,
    DownloadOptions,
    DownloadResult,
    Progress,
    settle_process,
)
from bot.downloads.errors import PrivateAddress, RetriesExhausted
from bot.downloads.hashing import parse_checksum
from bot.downloads.netguard import check_url_syntax
from bot.humanize import human_duration, human_size, human_speed

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.download_settings import DownloadSettings
    from bot.downloads.progress import Retrying

EXIT_FAILED = 1
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # 128 + SIGTERM, as a shell reports a process that SIGTERM ended
EVERYWHERE = (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))
CLEAR_LINE = "\r\x1b[K"  # back to the start of the line and erase it: no stray characters


def _fail(reason: str, code: int = EXIT_FAILED) -> int:
    print(f"errandbot: {reason}", file=sys.stderr, flush=True)
    return code


class _Bar:
    """Redraws one stderr line; called from worker threads, so it only formats and writes."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._lock = threading.Lock()
        self._drawn = False

    def __call__(self, p: Progress) -> None:
        if not self.enabled:
            return
        if p.total:
            pct = 100 * p.done / p.total
            width = 24
            fill = int(width * p.done / p.total)
            head = (
                f"[{'#' * fill}{'.' * (width - fill)}] {pct:5.1f}% "
                f"{human_size(p.done)}/{human_size(p.total)}"
            )
        else:
            head = f"{human_size(p.done)}"
        eta = f" ETA {human_duration(p.eta)}" if p.eta is not None else ""
        line = f"{head} {human_speed(p.speed)}{eta} ({p.connections} conn)"
        with self._lock:
            sys.stderr.write(CLEAR_LINE + line)
            sys.stderr.flush()
            self._drawn = True

    def line(self, text: str) -> None:
        """Print ``text`` on a line of its own (the bar, if drawn, is erased first)."""
        with self._lock:
            if self._drawn:
                sys.stderr.write(CLEAR_LINE)
                self._drawn = False
            sys.stderr.write(text + "\n")
            sys.stderr.flush()

    def clear(self) -> None:
        with self._lock:
            if self._drawn:
                sys.stderr.write(CLEAR_LINE)
                sys.stderr.flush()
                self._drawn = False


class _RetryLines:
    """``errandbot: connection refused; retrying, 2 of 6``: a line when a request is retried (the
    server went away for a moment, answered 503…), so that a stalled bar says why. Every range
    retries on its own and in step with the others: a line only when the attempt or the reason
    differs from the last one printed, not one per connection."""

    def __init__(self, bar: _Bar, enabled: bool) -> None:
        self.bar = bar
        self.enabled = enabled
        self._lock = threading.Lock()
        self._last: tuple[int, str] | None = None

    def __call__(self, retry: Retrying) -> None:
        if not self.enabled:
            return
        line = f"errandbot: {retry.reason}; retrying, {retry.attempt} of {retry.total}"
        with self._lock:
            if self._last == (retry.attempt, str(retry.reason)):
                return
            self._last = (retry.attempt, str(retry.reason))
        self.bar.line(line)


def summary(result: DownloadResult, checksum: str | None) -> str:
    """One line for the end of a download: size, time, speed, and what was resumed or verified."""
    if result.already_there:
        return f"{result.path.name}: {human_size(result.size)}, already downloaded, nothing fetched"
    speed = result.size / result.elapsed if result.elapsed > 0 else 0.0
    parts = [
        f"{result.path.name}: {human_size(result.size)} in {human_duration(result.elapsed)} "
        f"({human_speed(speed)})"
    ]
    if result.resumed_from and result.size:
        parts.append(f"resumed from {int(100 * result.resumed_from / result.size)}%")
    if checksum:
        parts.append(f"{checksum.partition(':')[0].lower()} verified")
    return ", ".join(parts)


def _unwritable(folder: str, exc: OSError) -> str:
    if Path(folder).exists() and not Path(folder).is_dir():
        return f"cannot write to {folder}: it is a file, not a folder"
    return f"cannot write to {folder}: {exc.strerror or exc}"


def _private_hint(exc: PrivateAddress) -> str:
    return (
        f"{exc}; to allow it, pass --allow-private or set DOWNLOAD_ALLOW_NETWORKS "
        "(e.g. DOWNLOAD_ALLOW_NETWORKS=127.0.0.0/8)"
    )


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would be so that both stop the run the same way."""


def _interrupt_on_sigterm() -> None:
    """SIGTERM is handled like Ctrl-C: the engine saves what it has and the run stops cleanly."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise _Terminated

    try:
        signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (tests calling main() from a thread)
        pass


def _page_without_media(exc: DownloadError, args: argparse.Namespace) -> bool:
    """The media path found no video or audio on a page it was not asked for explicitly."""
    from bot.downloads.reasons import Reason

    forced = getattr(args, "audio", False) or getattr(args, "format", None)
    return not forced and exc.why.code == Reason.MEDIA_NONE


def run_download(settings: Settings | DownloadSettings, args: argparse.Namespace) -> int:
    """Download ``args.url`` into ``args.output_dir``; returns the process exit status."""
    reason = check_url_syntax(args.url)
    if reason:
        return _fail(reason)
    if args.checksum:
        try:
            parse_checksum(args.checksum)
        except ValueError as exc:
            return _fail(str(exc))
    connections = (
        args.connections if args.connections is not None else settings.download_connections
    )
    if not 1 <= connections <= 16:
        return _fail("connections must be between 1 and 16")
    # Only --checksum is hashed; what a resume record claims is checked against its digests (or,
    # for an older record without them, a few windows compared with the server): a rebuilt
    # record or an overwritten .part must not end as a wrong file.
    overrides: dict[str, Any] = dict(
        connections=connections,
        checksum=args.checksum,
        compute_sha256=False,
        verify_resumed=True,
    )
    if getattr(args, "allow_private", False):
        overrides["allow_networks"] = EVERYWHERE
    options = DownloadOptions.from_settings(settings, **overrides)
    bar = _Bar(not args.quiet and sys.stderr.isatty())
    from bot.media.cli import media_downloader

    _interrupt_on_sigterm()
    try:
        plain = Downloader(
            args.url,
            dest_dir=Path(args.output_dir),
            options=options,
            on_progress=bar,
            on_notice=lambda text: bar.line(f"errandbot: {text}"),
            on_retry=_RetryLines(bar, not args.quiet),
        )
        # A web page with a video: bot.media fetches the video (or --audio) instead of the page.
        downloader = media_downloader(settings, args, options, bar, plain) or plain
    except PrivateAddress as exc:
        return _fail(_private_hint(exc))
    except DownloadError as exc:
        return _fail(str(exc))
    except OSError as exc:  # the output folder cannot be made (a file of that name, permissions)
        return _fail(_unwritable(args.output_dir, exc))
    except KeyboardInterrupt as stop:  # while the link is checked: nothing written yet
        code = EXIT_TERMINATED if isinstance(stop, _Terminated) else EXIT_INTERRUPTED
        return _fail("interrupted while checking the link; nothing was saved", code)
    settle_process()
    try:
        try:
            result = downloader.run()
        except DownloadError as exc:
            if downloader is plain or not _page_without_media(exc, args):
                raise
            # A page with nothing to extract: keep the page itself, as curl and wget would.
            bar.line("errandbot: no video or audio found on this page; saving the page itself")
            downloader = plain
            result = downloader.run()
    except KeyboardInterrupt as stop:
        downloader.cancel(keep_partial=True)  # run() already saved what is needed to resume
        bar.clear()
        code = EXIT_TERMINATED if isinstance(stop, _Terminated) else EXIT_INTERRUPTED
        probe = downloader.probe_result
        if probe is not None and not probe.resumable:
            return _fail(
                "interrupted; this server cannot resume, so running the same command "
                "again starts over",
                code,
            )
        return _fail("interrupted; run the same command again to resume", code)
    except DownloadCancelled:
        bar.clear()
        return _fail("cancelled", EXIT_INTERRUPTED)
    except PrivateAddress as exc:
        bar.clear()
        return _fail(_private_hint(exc))
    except RetriesExhausted as exc:
        bar.clear()
        probe = downloader.probe_result
        tail = (
            "; run the same command again to resume"
            if probe is not None and probe.resumable
            else ""
        )
        return _fail(f"{exc}{tail}")
    except DownloadError as exc:
        bar.clear()
        return _fail(str(exc))
    except OSError as exc:  # the output folder itself (full disk, read-only, permissions)
        bar.clear()
        return _fail(_unwritable(args.output_dir, exc))
    if bar.enabled:
        bar.line(summary(result, args.checksum))
    print(result.path)
    return 0
