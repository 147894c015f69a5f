"""``errandbot download URL`` for a web page: the same media fetch as the bot, in the terminal.

``--audio`` takes the audio alone, ``--format`` passes a yt-dlp format selection as it is. A
page is recognised by one small probe, as in the bot; with neither option and ``MEDIA_EXTRACT``
off, the page itself is downloaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bot.downloads.engine import Downloader, DownloadOptions
from bot.media.kinds import is_media_candidate

if TYPE_CHECKING:
    from bot.media.job import MediaDownloader


def media_downloader(
    settings, args, options: DownloadOptions, on_progress, plain: Downloader | None = None
) -> MediaDownloader | None:
    """A media downloader when ``args.url`` is a page (or ``--audio``/``--format`` ask for one).

    ``plain`` is the downloader that fetches the URL as a file otherwise: its probe is the one
    asked here, so that a plain file is not probed twice.
    """
    audio, fmt = getattr(args, "audio", False), getattr(args, "format", None)
    forced = bool(audio or fmt)
    if not forced and not settings.media_extract:
        return None
    dest = Path(args.output_dir)
    if not forced:
        prober = plain or Downloader(args.url, dest, options)
        probe = prober.probe()
        if not is_media_candidate(probe.content_type, probe.final_url):
            return None
        if _labelled_page(probe.content_type) and not looks_like_markup(prober.first_bytes()):
            return None  # busybox httpd calls any unknown file text/html: these bytes are a file
    # Imported only for a page: a plain file's download does not pay for them (issue #12).
    from bot.media import ffmpeg
    from bot.media.plan import MediaMode, MediaRequest

    if not ffmpeg.available():
        return None if not forced else _missing_ffmpeg()
    request = MediaRequest(
        mode=MediaMode.AUDIO if audio else MediaMode.BEST,
        format=fmt,
        max_height=settings.media_max_height,
        playlist_max=settings.media_playlist_max,
        extract_timeout=settings.media_extract_timeout,
    )
    from bot.media.cli_downloader import CliMediaDownloader  # yt-dlp: only for a page

    return CliMediaDownloader(args.url, dest, options, on_progress=on_progress, request=request)


def _labelled_page(content_type: str | None) -> bool:
    from bot.media.kinds import PAGE_TYPES

    return (content_type or "").split(";")[0].strip().lower() in PAGE_TYPES


def looks_like_markup(head: bytes) -> bool:
    """Whether the first bytes of a body read as HTML/XML (``<`` first, after a byte order mark
    and blanks), as yt-dlp's generic extractor tells a page from a file with a wrong label."""
    for bom, encoding in (
        (b"\xef\xbb\xbf", "utf-8"),
        (b"\xff\xfe", "utf-16-le"),
        (b"\xfe\xff", "utf-16-be"),
    ):
        if head.startswith(bom):
            return head[len(bom) :].decode(encoding, "ignore").lstrip().startswith("<")
    return head.decode("latin-1").lstrip().startswith("<")


def _missing_ffmpeg():
    from bot.downloads.errors import DownloadRefused
    from bot.downloads.reasons import Reason

    raise DownloadRefused(Reason.FFMPEG_MISSING)
