"""A media download in the download child process (extraction, fragments and ffmpeg included)."""

from __future__ import annotations

from bot.downloads.isolated import IsolatedDownloader
from bot.media.job import MediaDownloader


class IsolatedMediaDownloader(IsolatedDownloader):
    """:class:`IsolatedDownloader` whose child runs :class:`MediaDownloader` instead of the
    engine."""

    engine = MediaDownloader
