"""The download engine's public face: how to download, what came of it, and what a job holds.

Plain values only, so that the service, the CLI, the child process and bot.media can share them
without importing the machinery that moves bytes (:mod:`bot.downloads.engine`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from bot.downloads.reasons import Why
from bot.downloads.watchdog import Deadlines
from bot.humanize import MiB


@dataclass
class DownloadOptions:
    """How to download; every field has a sensible default (see :meth:`from_settings`)."""

    connections: int = 16
    allow_networks: tuple[Any, ...] = ()
    max_bytes: int | None = 4096 * MiB
    disk_reserve: int = 0
    read_timeout: float = 30.0
    connect_timeout: float = 10.0
    max_retries: int = 5
    checksum: str | None = None
    min_split: int = 1 * MiB
    backoff: float = 0.5
    backoff_max: float = 30.0
    retry_after_max: float = 120.0
    # SHA-256 of the result (DownloadResult.sha256). The CLI turns it off when no --checksum is
    # asked for: it costs about 0.7 s of CPU per GiB that nobody would look at.
    compute_sha256: bool = True
    ca_bundle: Path | None = None  # extra CA certificates to trust (DOWNLOAD_CA_BUNDLE)
    # Before resuming, compare a few windows of what the record claims with the server
    # (bot.downloads.verify); the bot, which must never deliver wrong bytes, turns it on.
    verify_resumed: bool = False
    # Keep a digest (XXH3-64) per MiB written in the resume record and check them before
    # resuming: a changed byte is found and only its MiB fetched again
    # (bot.downloads.verify.intact). About 0.02 s of CPU per 512 MiB: on in the bot and the CLI.
    record_digests: bool = True
    deadlines: Deadlines = field(default_factory=Deadlines)

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> DownloadOptions:
        values: dict[str, Any] = dict(
            connections=settings.download_connections,
            allow_networks=tuple(settings.download_allow_networks),
            max_bytes=settings.max_file_mb * MiB,
            disk_reserve=settings.disk_reserve_mb * MiB,
            read_timeout=settings.download_read_timeout,
            connect_timeout=settings.download_connect_timeout,
            max_retries=settings.download_max_retries,
            deadlines=Deadlines(
                min_speed=settings.download_min_speed_kib * 1024,
                window=settings.download_min_speed_window,
                total=settings.download_time_limit_minutes * 60 or None,
                probe=settings.download_probe_timeout,
            ),
            ca_bundle=settings.download_ca_bundle,
        )
        values.update(overrides)
        return cls(**values)


@dataclass(frozen=True)
class ProbeResult:
    """What the probe learnt. ``size`` is ``None`` when the server does not say."""

    name: str
    size: int | None
    final_url: str
    resumable: bool
    validator: str | None
    content_type: str | None = None
    single_reason: Why | None = None  # why one stream (no ranges, encoded, no length)


@dataclass(frozen=True)
class DownloadResult:
    path: Path
    size: int
    sha256: str  # hex; "" only when DownloadOptions.compute_sha256 is off and no checksum was asked
    elapsed: float
    resumed_from: int = 0
    #: What was worth saying on the way ("using one connection: …"); bot.media's are plain text.
    notices: tuple[Why | str, ...] = field(default=())
    #: An earlier run of the same download had finished this file: nothing was fetched.
    already_there: bool = False


class RunningDownload(Protocol):
    """What a download job holds of its downloader, wherever the bytes move: the engine itself
    (:class:`bot.downloads.engine.Downloader`), a child process running it
    (:class:`bot.downloads.isolated.IsolatedDownloader`) or a media page's (``bot.media``)."""

    def run(self) -> DownloadResult:
        """Download to the end (blocking); raises :class:`~bot.downloads.errors.DownloadError`."""
        ...

    def cancel(self, keep_partial: bool = False) -> None:
        """Stop from any thread; :meth:`run` then raises ``DownloadCancelled``."""
        ...
