"""``errandbot download URL [-o DIR] [-c N] [--checksum ALG:HEX] [-q]``: the engine in a terminal.

Prints a one-line progress bar on a terminal (nothing with ``-q`` or when stderr is not a
terminal), the final path on success (exit 0), or one line ``errandbot: <reason>`` on failure
(exit 1). Ctrl-C keeps ``NAME.part`` and its control file, so the same command resumes (exit 130).
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from bot.downloads.engine import (
    DownloadCancelled,
    Downloader,
    DownloadError,
    DownloadOptions,
    Progress,
    settle_process,
)
from bot.downloads.hashing import parse_checksum
from bot.downloads.netguard import check_url_syntax
from bot.humanize import human_duration, human_size, human_speed

EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


def _fail(reason: str, code: int = EXIT_FAILED) -> int:
    print(f"errandbot: {reason}", file=sys.stderr, flush=True)
    return code


class _Bar:
    """Redraws one stderr line; called from worker threads, so it only formats and writes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def __call__(self, p: Progress) -> None:
        if p.total:
            pct = 100 * p.done / p.total
            width = 24
            fill = int(width * p.done / p.total)
            head = f"[{'#' * fill}{'.' * (width - fill)}] {pct:5.1f}% {human_size(p.done)}/{human_size(p.total)}"
        else:
            head = f"{human_size(p.done)}"
        eta = f" ETA {human_duration(p.eta)}" if p.eta is not None else ""
        line = f"\r{head} {human_speed(p.speed)}{eta} ({p.connections} conn)"
        with self._lock:
            sys.stderr.write(line.ljust(79)[:100])
            sys.stderr.flush()


def run_download(settings, args) -> int:
    """Download ``args.url`` into ``args.output_dir``; returns the process exit status."""
    reason = check_url_syntax(args.url)
    if reason:
        return _fail(reason)
    if args.checksum:
        try:
            parse_checksum(args.checksum)
        except ValueError as exc:
            return _fail(str(exc))
    connections = args.connections if args.connections is not None else settings.download_connections
    if not 1 <= connections <= 16:
        return _fail("connections must be between 1 and 16")
    options = DownloadOptions.from_settings(settings, connections=connections, checksum=args.checksum,
                                            compute_sha256=False)  # only --checksum is checked
    show = not args.quiet and sys.stderr.isatty()
    bar = _Bar() if show else None
    from bot.media.cli import media_downloader

    try:
        # A web page with a video: bot.media fetches the video (or --audio) instead of the page.
        downloader = media_downloader(settings, args, options, bar) or Downloader(
            args.url, dest_dir=Path(args.output_dir), options=options, on_progress=bar,
            on_notice=lambda text: print(("\n" if show else "") + f"errandbot: {text}", file=sys.stderr))
    except DownloadError as exc:
        return _fail(str(exc))
    settle_process()
    try:
        result = downloader.run()
    except KeyboardInterrupt:
        downloader.cancel(keep_partial=True)  # run() already saved what is needed to resume
        if show:
            sys.stderr.write("\n")
        return _fail("interrupted; run the same command again to resume", EXIT_INTERRUPTED)
    except DownloadCancelled:
        return _fail("cancelled", EXIT_INTERRUPTED)
    except DownloadError as exc:
        if show:
            sys.stderr.write("\n")
        return _fail(str(exc))
    if show:
        sys.stderr.write("\n")
    print(result.path)
    return 0
