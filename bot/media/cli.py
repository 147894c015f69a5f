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
        probe = (plain or Downloader(args.url, dest, options)).probe()
        if not is_media_candidate(probe.content_type, probe.final_url):
            return None
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


def _missing_ffmpeg():
    from bot.downloads.errors import DownloadRefused
    from bot.downloads.reasons import Reason

    raise DownloadRefused(Reason.FFMPEG_MISSING)
