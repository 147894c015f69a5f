"""What the service needs of a downloader, and which one it builds for a job.

The service does not care where bytes move: the engine in this process (for the probe, one small
request), the engine in a child process (:class:`~bot.downloads.isolated.IsolatedDownloader`, for
the bytes), or the media job in a child process (:mod:`bot.media`, for a page with a video). Each
offers :class:`JobDownloader`: what a running job holds
(:class:`~bot.downloads.api.RunningDownload`, kept in the registry's
:class:`~bot.downloads.registry.Running`) and the probe before it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from bot.config import Settings
from bot.downloads.api import RunningDownload
from bot.downloads.jobs import DownloadJob
from bot.downloads.reasons import Why

if TYPE_CHECKING:
    from bot.downloads.api import DownloadOptions, ProbeResult
    from bot.downloads.jobstore import JobStore
    from bot.downloads.progress import Progress, Retrying


class JobDownloader(RunningDownload, Protocol):
    """A download of one URL into one folder: probed first, then run; ``cancel`` may come from
    any thread (and wakes a probe too)."""

    def probe(self) -> ProbeResult:
        """Ask the server for name, size and ranges, without fetching the body."""
        ...


class DownloaderFactory:
    """Builds the downloader for a job, wired to report retries and notices for it."""

    def __init__(
        self,
        settings: Settings,
        store: JobStore,
        on_retry: Callable[[int, Retrying], None],
        on_notice: Callable[[int, Why], None],
    ) -> None:
        self.settings = settings
        self.store = store
        self.on_retry = on_retry
        self.on_notice = on_notice

    def options(self, max_bytes: int | None = None) -> DownloadOptions:
        from bot.downloads.api import DownloadOptions

        options = DownloadOptions.from_settings(self.settings, verify_resumed=True)
        if max_bytes is not None:
            options.max_bytes = max_bytes
        return options

    def for_job(
        self,
        job: DownloadJob,
        on_progress: Callable[[Progress], None] | None = None,
        isolated: bool = False,
        max_bytes: int | None = None,
    ) -> JobDownloader:
        """The engine for ``job``: in this process for the probe, in a child process for the
        bytes."""
        # The engine is imported when a job first needs it, not when the bot starts.
        from bot.downloads.engine import Downloader
        from bot.downloads.isolated import IsolatedDownloader

        folder = self.store.folder(job)
        folder.mkdir(parents=True, exist_ok=True)
        kind: Callable[..., JobDownloader] = IsolatedDownloader if isolated else Downloader
        if isolated:
            from bot.media.isolated import IsolatedMediaDownloader
            from bot.media.pages import is_media_job

            if is_media_job(folder):  # the probe found a page to extract: bot.media fetches it
                kind = IsolatedMediaDownloader
        job_id = job.id
        return kind(
            job.url,
            dest_dir=folder,
            options=self.options(max_bytes),
            on_progress=on_progress,
            on_retry=lambda retry: self.on_retry(job_id, retry),
            on_notice=lambda why: self.on_notice(
                job_id, why if isinstance(why, Why) else Why.text(why)
            ),
            name=job.name or job.requested_name,
        )
