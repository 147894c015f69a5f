"""Before fetching: what a page offers, so the person can choose (best, smaller, audio only).

:func:`survey` reads the page with yt-dlp (through the guard, like
:func:`bot.media.extract.extract`) and sums up its formats as at most three :class:`Choice` s with
their heights and estimated sizes. The bot calls :func:`survey_in_child`: yt-dlp runs in a
short-lived child process with a deadline, never in the bot's process (a stuck extractor is killed,
not waited for).
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from multiprocessing.connection import Connection

from bot.downloads.errors import DownloadCancelled, DownloadError
from bot.downloads.netguard import Network
from bot.downloads.reasons import Reason
from bot.media.extract import extract_info, first_entry
from bot.media.plan import MediaMode, MediaRequest

SMALL_HEIGHT = 480
GRACE = 5.0  # seconds past the extraction deadline before the child is killed
CANCEL_POLL = 0.5  # seconds between looks at whether the job was cancelled meanwhile


@dataclass(frozen=True)
class Choice:
    """One way to take a page's media; ``size`` is an estimate in bytes when the page says
    enough."""

    mode: MediaMode
    height: int | None = None
    size: int | None = None


@dataclass(frozen=True)
class Survey:
    title: str
    choices: tuple[Choice, ...]
    default: MediaMode = MediaMode.BEST
    item_count: int = 1  # playlist items on the page (only the first is fetched)

    @property
    def needs_asking(self) -> bool:
        return len(self.choices) > 1 or self.item_count > 1


def _size(f: dict, duration: float | None) -> int | None:
    size = f.get("filesize") or f.get("filesize_approx")
    if size:
        return int(size)
    if f.get("tbr") and duration:
        return int(f["tbr"] * 1000 / 8 * duration)
    return None


def summarize(info: dict, request: MediaRequest, max_upload: int | None = None) -> Survey:
    """The choices a processed yt-dlp info dict offers (pure; see the module docstring)."""
    info, count = first_entry(info)
    formats = info.get("formats") or [info]
    duration = info.get("duration")
    videos = [f for f in formats if f.get("vcodec") != "none" and f.get("height")]
    audios = [
        f for f in formats if f.get("vcodec") == "none" and f.get("acodec") not in (None, "none")
    ]
    audio_size = max((s for f in audios if (s := _size(f, duration))), default=None)

    def video_choice(mode: MediaMode, height: int) -> Choice:
        at = [f for f in videos if f["height"] == height]
        size = max((s for f in at if (s := _size(f, duration))), default=None)
        muxed = any(f.get("acodec") not in (None, "none") for f in at)
        if size is not None and audio_size is not None and not muxed:
            size += audio_size
        return Choice(mode, height, size)

    heights = sorted({f["height"] for f in videos})
    choices: list[Choice] = []
    if heights:
        within = [h for h in heights if h <= request.max_height] or heights[:1]
        best = within[-1]
        choices.append(video_choice(MediaMode.BEST, best))
        smaller = [h for h in heights if h < best]
        if smaller:
            small = max([h for h in smaller if h <= SMALL_HEIGHT] or smaller[:1])
            choices.append(video_choice(MediaMode.SMALL, small))
    else:
        choices.append(Choice(MediaMode.BEST))
    if audios or len(heights) > 1:
        choices.append(Choice(MediaMode.AUDIO, None, audio_size))
    default = MediaMode.BEST
    if max_upload and choices[0].size and choices[0].size > max_upload:
        fitting = [
            c for c in choices[1:] if c.mode is MediaMode.SMALL and c.size and c.size <= max_upload
        ]
        if fitting:
            default = MediaMode.SMALL
    return Survey(
        title=str(info.get("title") or "media"),
        choices=tuple(choices),
        default=default,
        item_count=count,
    )


def survey(
    url: str, request: MediaRequest, allow: Iterable[Network] = (), max_upload: int | None = None
) -> Survey:
    return summarize(extract_info(url, request, allow), request, max_upload)


def _child(
    conn: Connection,
    url: str,
    request: MediaRequest,
    allow: tuple,
    max_upload: int | None,
    parent_pid: int,
) -> None:
    from bot.downloads.isolated import _die_with_parent

    _die_with_parent()
    if os.getppid() != parent_pid:
        os._exit(1)
    try:
        conn.send(("ok", survey(url, request, allow, max_upload)))
    except DownloadError as exc:  # pickled with its class and its reason (code and parameters)
        conn.send(("error", exc))
    except Exception as exc:  # noqa: BLE001 - reported as one line, never a traceback to the chat
        conn.send(("error", DownloadError(Reason.MEDIA_READ_FAILED, name=type(exc).__name__)))
    conn.close()


def survey_in_child(
    url: str,
    request: MediaRequest,
    allow: Iterable[Network] = (),
    max_upload: int | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> Survey:
    """:func:`survey` in a child process, killed after the extraction deadline or on
    ``cancelled()``."""
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe(duplex=False)
    process = context.Process(
        target=_child,
        name="errand-media-survey",
        daemon=True,
        args=(theirs, url, request, tuple(allow), max_upload, os.getpid()),
    )
    process.start()
    theirs.close()
    deadline = time.monotonic() + request.extract_timeout + GRACE
    try:
        while not ours.poll(CANCEL_POLL):
            if cancelled():
                raise DownloadCancelled(Reason.CANCELLED)
            if time.monotonic() > deadline:
                raise DownloadError(
                    Reason.MEDIA_READ_TOO_LONG, limit_seconds=request.extract_timeout
                )
        try:
            message = ours.recv()
        except (EOFError, OSError):
            raise DownloadError(Reason.MEDIA_READER_STOPPED) from None
    finally:
        ours.close()
        if process.is_alive():
            process.kill()
        process.join(5)
    if message[0] == "ok":
        return message[1]
    error = message[1]
    raise error if isinstance(error, DownloadError) else DownloadError(Reason.MEDIA_READER_STOPPED)
