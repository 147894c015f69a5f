"""The download service's side of media pages: is this probe a page to extract, and with what.

The service calls :func:`media_request` once a URL is probed. A web page (``text/html``) or an
HLS/DASH manifest becomes a media download unless ``MEDIA_EXTRACT`` is off or the person asked
for the page itself (``/download URL as file``); the request is written to the job's folder
(:mod:`bot.media.record`), where the run and, after a restart, the next run find it.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from bot.downloads.errors import Refused
from bot.downloads.reasons import Reason
from bot.media import ffmpeg, record
from bot.media.kinds import is_media_candidate
from bot.media.plan import MediaMode, MediaRequest

ASKED_NAME = ".media-asked"  # what the person asked at submit: file, best, small or audio
AS_FILE = "file"


def save_asked(folder: Path, asked: str, item: int | None = None) -> None:
    """Remember what the person asked with the link: ``file`` (the page itself) or a
    :class:`MediaMode`, and for one item of a playlist page, which (``item``, from 1)."""
    if asked != AS_FILE:
        MediaMode(asked)  # ValueError on anything else
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ASKED_NAME).write_text(json.dumps({"asked": asked, "item": item}), "utf-8")


def _asked(folder: Path) -> tuple[str | None, int | None]:
    try:
        data = json.loads((folder / ASKED_NAME).read_text("utf-8"))
        return data.get("asked"), data.get("item")
    except (OSError, ValueError, AttributeError):
        return None, None


def media_request(
    settings, folder: Path, content_type: str | None, url: str
) -> MediaRequest | None:
    """The media request for a probed job, saved in ``folder``; ``None`` for an ordinary file.

    Raises :class:`~bot.downloads.errors.Refused` (:attr:`Reason.MEDIA_NEEDS_FFMPEG`) when it is a
    page to extract but ffmpeg is missing.
    """
    existing = record.load_request(folder)
    if existing is not None:
        return existing
    asked, item = _asked(folder)
    if not settings.media_extract or asked == AS_FILE:
        return None
    if not is_media_candidate(content_type, url):
        return None
    if not ffmpeg.available():
        raise Refused(Reason.MEDIA_NEEDS_FFMPEG)
    mode = MediaMode(asked) if asked in {m.value for m in MediaMode} else MediaMode.BEST
    request = MediaRequest(
        mode=mode,
        max_height=settings.media_max_height,
        playlist_max=settings.media_playlist_max,
        extract_timeout=settings.media_extract_timeout,
        item=item or 1,
    )
    record.save_request(folder, request)
    return request


def survey_for(settings, folder: Path, url: str, max_upload: int, cancelled=lambda: False):
    """What the page offers (:class:`bot.media.survey.Survey`), read in a child process; ``None``
    when the person already said what they want (``/download URL as audio``): nothing to ask."""
    from bot.media.survey import survey_in_child

    asked, _ = _asked(folder)
    request = record.load_request(folder)
    if asked is not None or request is None or request.format:
        return None
    return survey_in_child(
        url, request, tuple(settings.download_allow_networks), max_upload, cancelled
    )


def choose(folder: Path, mode: MediaMode, survey=None) -> None:
    """Record the choice made (a button, or the default after the wait) for the run to read; the
    smaller video is the height the survey showed on its button."""
    request = record.load_request(folder) or MediaRequest()
    height = next(
        (c.height for c in getattr(survey, "choices", ()) if c.mode is mode and c.height), None
    )
    if mode is MediaMode.SMALL and height:
        request = replace(request, max_height=height)
    record.save_request(folder, replace(request, mode=mode))


def is_media_job(folder: Path) -> bool:
    return record.load_request(folder) is not None
