"""The pieces of the download service that its workers share, built once by the service.

:class:`~bot.downloads.service.DownloadService` is a face over small objects — probing, the queue's
workers, running a job, media choices — and each of them needs the same few: the job rows, the
queue, the limits, the event reporter, the downloader factory and the "bot is stopping" flag. They
travel together as one :class:`ServiceParts` rather than as eight arguments to each.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from bot.config import Settings
from bot.downloads.downloader import DownloaderFactory
from bot.downloads.events import Reporter
from bot.downloads.jobstore import JobStore
from bot.downloads.ledger import Ledger
from bot.downloads.limits import Limits
from bot.downloads.registry import Registry


@dataclass(frozen=True)
class ServiceParts:
    """One of each shared piece; all of them are thread-safe."""

    settings: Settings
    store: JobStore  # job rows and their folders
    registry: Registry  # the queue and the running downloads
    ledger: Ledger  # bytes running downloads have really received
    limits: Limits
    reporter: Reporter  # events to the listener
    downloaders: DownloaderFactory
    stopping: threading.Event  # set once the service stops: nothing new starts
