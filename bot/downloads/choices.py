"""Media pages waiting for someone to choose: best video, a smaller one, or the audio alone?

A page offering several (:mod:`bot.media`) is not queued until the person who asked chooses, or
``MEDIA_CHOICE_WAIT`` seconds pass and the page's default is taken. Each waiting job has a timer
thread for that default; choosing (or cancelling) first stops it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.downloads.events import EventKind
from bot.downloads.parts import ServiceParts

if TYPE_CHECKING:  # bot.media imports the download engine
    from bot.media.plan import MediaMode
    from bot.media.survey import Survey

log = logging.getLogger(__name__)

#: Called once the choice is made: (job id, user id, name to show, size: None, unknown until run).
Admit = Callable[[int, int, str, int | None], None]


@dataclass(frozen=True)
class _Asked:
    timer: threading.Timer  # takes the default when nobody chooses in time
    name: str  # the page's title, shown while it runs
    survey: Survey


class MediaChoices:
    """Jobs waiting for a choice; thread-safe (buttons on the loop, timers on their threads)."""

    def __init__(self, parts: ServiceParts, admit: Admit) -> None:
        self.parts = parts
        self.admit = admit
        self._asked: dict[int, _Asked] = {}
        self._lock = threading.Lock()

    def ask(self, job_id: int, survey: Survey, name: str) -> None:
        timer = threading.Timer(
            self.parts.settings.media_choice_wait, self._take_default, (job_id, survey.default)
        )
        timer.daemon = True
        with self._lock:
            self._asked[job_id] = _Asked(timer, name, survey)
        timer.start()
        self.parts.reporter.emit(EventKind.CHOOSE, job_id, choices=survey)

    def choose(self, job_id: int, mode: MediaMode) -> bool:
        """Take ``mode`` for a media page waiting for a choice; False when it is not waiting
        (already chosen, cancelled, finished)."""
        from bot.media.pages import choose

        with self._lock:
            asked = self._asked.pop(job_id, None)
        if asked is None:
            return False
        asked.timer.cancel()
        job = self.parts.store.get(job_id)
        if job is None or job.job_state.finished:
            return False
        choose(self.parts.store.folder(job), mode, asked.survey)
        self.admit(job_id, job.user_id, asked.name, None)
        return True

    def waiting(self, job_id: int) -> Survey | None:
        """The survey a job waiting for a choice was asked with (None when it is not waiting)."""
        with self._lock:
            asked = self._asked.get(job_id)
        return asked.survey if asked else None

    def forget(self, job_id: int) -> None:
        with self._lock:
            asked = self._asked.pop(job_id, None)
        if asked is not None:
            asked.timer.cancel()

    def forget_all(self) -> None:
        """The bot is stopping: each is asked again after the restart (never probed to the end)."""
        with self._lock:
            waiting = list(self._asked)
        for job_id in waiting:
            self.forget(job_id)

    def _take_default(self, job_id: int, mode: MediaMode) -> None:
        try:
            self.choose(job_id, mode)
        except Exception:  # noqa: BLE001 - a timer thread must not die silently
            log.exception("download d%s: taking the default choice failed", job_id)
