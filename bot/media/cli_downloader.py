"""The media job as ``errandbot download`` runs it: only the finished file is left in the folder.

Apart from :mod:`bot.media.cli` because it brings in :mod:`bot.media.job` and with it yt-dlp,
which a download that turns out to be a plain file should not wait for at start-up.
"""

from __future__ import annotations

from bot.media import record
from bot.media.job import THUMB_NAME, MediaDownloader


class CliMediaDownloader(MediaDownloader):
    """A :class:`MediaDownloader` that leaves only the finished file in the output folder."""

    def run(self):
        try:
            return super().run()
        finally:
            record.path_in(self.dest_dir).unlink(missing_ok=True)
            (self.dest_dir / THUMB_NAME).unlink(missing_ok=True)
