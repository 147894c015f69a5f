"""What a probed URL is: a web page or a streaming manifest (for yt-dlp), or a file to keep.

Apart from :mod:`bot.media.pages` so that ``errandbot download`` can ask this after its probe
without importing the media modules (their dataclasses, ffmpeg's and yt-dlp's wiring): a plain
file's download does not pay for them in its start-up (issue #12).
"""

from __future__ import annotations

PAGE_TYPES = ("text/html", "application/xhtml+xml")
MANIFEST_TYPES = (
    "application/vnd.apple.mpegurl",
    "application/x-mpegurl",
    "audio/mpegurl",
    "audio/x-mpegurl",
    "application/dash+xml",
)
MANIFEST_SUFFIXES = (".m3u8", ".mpd")


def is_media_candidate(content_type: str | None, url: str) -> bool:
    """A page or a streaming manifest: something yt-dlp reads rather than a file to keep."""
    mime = (content_type or "").split(";")[0].strip().lower()
    path = url.split("?", 1)[0].split("#", 1)[0].lower()
    return mime in PAGE_TYPES or mime in MANIFEST_TYPES or path.endswith(MANIFEST_SUFFIXES)
