"""What happens to a download, told to whoever listens: the chat layer, the CLI, a test.

The service reports through one callback, a :data:`Listener`, called from worker threads; the chat
layer turns each :class:`Event` into messages on its event loop. Kinds are an enum, so a listener
that matches on a kind the service never sends is a type error, not a silent no-op.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.downloads.jobs import DownloadJob
from bot.downloads.reasons import Why

if TYPE_CHECKING:  # bot.media imports the download engine: only the type is needed here
    from bot.downloads.progress import Progress, Retrying
    from bot.media.survey import Survey

log = logging.getLogger(__name__)


class EventKind(enum.StrEnum):
    """What happened to a job."""

    CHECKING = "checking"  # being probed
    READY = "ready"  # probed and queued; ``position`` is its place
    STARTED = "started"
    RESUMED = "resumed"  # queued again after a restart (or a pause); ``position`` is its place
    PROGRESS = "progress"  # ``progress`` holds the figures
    RETRYING = "retrying"  # a request failed and is tried again; ``retry`` says when
    NOTICE = "notice"  # something worth saying ("using one connection: …"), in ``reason``
    DONE = "done"
    FAILED = "failed"  # ``reason`` says why
    CANCELLED = "cancelled"  # ``by`` says by whom
    CHOOSE = "choose"  # a media page offering several: best, smaller or audio? (``choices``)


@dataclass(frozen=True)
class Event:
    """Something happened to a job; which fields are set depends on ``kind`` (see
    :class:`EventKind`)."""

    kind: EventKind
    job: DownloadJob
    progress: Progress | None = None
    reason: Why | None = None  # the chat layer words it (bot.telegram.download_reasons)
    by: str | None = None  # who cancelled, for "cancelled"
    position: int | None = None  # place in the queue for "ready"/"resumed", None when starting
    retry: Retrying | None = None
    choices: Survey | None = None


Listener = Callable[[Event], None]


class Reporter:
    """Turns "this happened to job 7" into an :class:`Event` with the job's current row.

    A listener's bug is logged, never raised: it must not kill the worker that reports.
    """

    def __init__(self, lookup: Callable[[int], DownloadJob | None], listener: Listener) -> None:
        self._lookup = lookup
        self.listener = listener

    def emit(
        self,
        kind: EventKind,
        job_id: int,
        *,
        reason: Why | None = None,
        by: str | None = None,
        position: int | None = None,
        retry: Retrying | None = None,
        choices: Survey | None = None,
    ) -> None:
        job = self._lookup(job_id)
        if job is not None:
            try:
                self.listener(
                    Event(
                        kind,
                        job,
                        reason=reason,
                        by=by,
                        position=position,
                        retry=retry,
                        choices=choices,
                    )
                )
            except Exception:  # noqa: BLE001 - a listener bug must not kill a download
                log.exception("download listener failed on %s for d%s", kind, job_id)

    def progress(self, job: DownloadJob, progress: Progress) -> None:
        """Progress is frequent: the caller passes the row it already has."""
        self.listener(Event(EventKind.PROGRESS, job, progress=progress))
