"""Ask yt-dlp what a page plays and which of its formats to fetch; never let it fetch them.

yt-dlp reads the page (and manifests) through :class:`~bot.media.guarded_http.GuardedYoutubeDL`
and chooses formats with its own format selection (``MediaRequest.mode`` becomes a selector, or
``MediaRequest.format`` is passed as it is). The result is a :class:`~bot.media.plan.MediaPlan`:
typed streams that Errand fetches itself. Extraction has a deadline: requests past it are refused
and the caller stops waiting for it (:func:`extract` runs it on a helper thread).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from functools import partial
from urllib.parse import urljoin

import yt_dlp
from yt_dlp.utils import ExtractorError, GeoRestrictedError, UnsupportedError, YoutubeDLError

from bot.downloads.errors import DownloadCancelled, DownloadError
from bot.downloads.netguard import Network
from bot.downloads.reasons import Reason, Why
from bot.media.guarded_http import GuardedYoutubeDL
from bot.media.plan import Fragment, MediaMode, MediaPlan, MediaRequest, Protocol, Stream

log = logging.getLogger(__name__)

DETAIL_MAX = 200  # characters of yt-dlp's own words worth quoting
YT_DLP_DRM = "This video is DRM protected"  # InfoExtractor.report_drm, YoutubeDL.raise_no_formats
_FILE_PROTOCOLS = {"http", "https"}
_HLS_PROTOCOLS = {"m3u8", "m3u8_native"}
_DASH_PROTOCOLS = {"http_dash_segments"}


def version() -> str:
    """The installed yt-dlp's version (``pip install -U yt-dlp`` upgrades it)."""
    return yt_dlp.version.__version__


def selector(request: MediaRequest) -> str:
    """The yt-dlp format selection for ``request``: best within the height limit, smaller, or
    audio."""
    if request.format:
        return request.format
    if request.mode is MediaMode.AUDIO:
        return "ba/b"
    height = request.max_height if request.mode is MediaMode.BEST else min(480, request.max_height)
    fallback = "bv*+ba/b" if request.mode is MediaMode.BEST else "wv*+ba/w"
    return f"bv*[height<=?{height}]+ba/b[height<=?{height}]/{fallback}"


class _Log:
    """yt-dlp's messages into our log at debug level (it would print them otherwise)."""

    def debug(self, msg: str) -> None:
        log.debug("yt-dlp: %s", msg)

    info = debug

    def warning(self, msg: str) -> None:
        log.debug("yt-dlp warning: %s", msg)

    def error(self, msg: str) -> None:
        log.debug("yt-dlp error: %s", msg)


def _params(request: MediaRequest) -> dict:
    return {
        "format": selector(request),
        "logger": _Log(),
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "noplaylist": True,
        "playlist_items": str(max(1, min(request.item, request.playlist_max))),
        "socket_timeout": 20,
        "proxy": "",
        "cookiefile": None,
        "usenetrc": False,
        "enable_file_urls": False,
        "check_formats": False,
        "skip_download": True,
        "color": "no_color",
        "cachedir": False,
    }


def extract_info(
    url: str,
    request: MediaRequest,
    allow: Iterable[Network] = (),
    cancelled: Callable[[], bool] = lambda: False,
) -> dict:
    """yt-dlp's processed info dict for ``url`` (formats chosen); raises :class:`DownloadError`."""
    deadline = time.monotonic() + request.extract_timeout
    outcome: dict = {}
    ydl = GuardedYoutubeDL(
        _params(request), allow=allow, deadline=deadline, limit=request.extract_timeout
    )

    def work() -> None:
        try:
            outcome["info"] = ydl.extract_info(url, download=False)
        except YoutubeDLError as exc:
            outcome["error"] = exc
        except Exception as exc:  # noqa: BLE001 - an extractor bug is "no media", never a crash
            log.warning("yt-dlp failed on %s: %s", url, exc)
            outcome["error"] = exc

    thread = threading.Thread(target=work, daemon=True, name="extract")
    thread.start()
    while thread.is_alive():
        thread.join(0.1)
        if cancelled():
            raise DownloadCancelled(Reason.CANCELLED)
        if time.monotonic() > deadline + 2:
            raise DownloadError(Reason.MEDIA_READ_TOO_LONG, limit_seconds=request.extract_timeout)
    refusals = ydl.guard.refusals if ydl.guard is not None else []
    info = outcome.get("info")
    if info is None or not (
        info.get("formats")
        or info.get("url")
        or info.get("entries")
        or info.get("requested_formats")
    ):
        if refusals:
            raise refusals[0]
        log.info("no media on %s: %s", url, outcome.get("error"))
        raise DownloadError(no_media_why(outcome.get("error")))
    info["_errand_refusals"] = list(refusals)
    return info


def extract(
    url: str,
    request: MediaRequest,
    allow: Iterable[Network] = (),
    cancelled: Callable[[], bool] = lambda: False,
) -> MediaPlan:
    """Read ``url`` with yt-dlp and return what to fetch; raises :class:`DownloadError` with the
    reason."""
    info = extract_info(url, request, allow, cancelled)
    try:
        return plan_from_info(info)
    except DownloadError:
        if info.get("_errand_refusals"):
            raise info["_errand_refusals"][0] from None
        raise


def first_entry(info: dict) -> tuple[dict, int]:
    """The first item of a playlist page (or the page's own info) and how many items it lists."""
    if info.get("_type") == "playlist" or info.get("entries") is not None:
        entries = [e for e in (info.get("entries") or []) if e]
        if not entries:
            raise DownloadError(Reason.MEDIA_NONE)
        return entries[0], int(info.get("playlist_count") or len(entries))
    return info, 1


def plan_from_info(info: dict) -> MediaPlan:
    """yt-dlp's processed info dict (formats already chosen) as a :class:`MediaPlan`."""
    info, count = first_entry(info)
    if info.get("is_live"):
        raise DownloadError(Reason.MEDIA_LIVE)
    formats = info.get("requested_formats") or [info]
    streams = tuple(_stream(f) for f in formats if f.get("url") or f.get("fragments"))
    if not streams:
        raise DownloadError(Reason.MEDIA_NONE)
    audio_only = not any(s.has_video for s in streams)
    return MediaPlan(
        title=str(info.get("title") or info.get("id") or "media"),
        streams=streams,
        audio_only=audio_only,
        performer=info.get("artist") or info.get("uploader") or None,
        playlist_count=count,
    )


def _stream(f: dict) -> Stream:
    protocol = str(f.get("protocol") or "https")
    vcodec, acodec = f.get("vcodec"), f.get("acodec")
    stream = partial(
        Stream,
        format_id=str(f.get("format_id") or "0"),
        url=str(f.get("url") or ""),
        ext=str(f.get("ext") or "mp4"),
        has_video=vcodec != "none" and f.get("video_ext") != "none",
        has_audio=acodec != "none",
        size=f.get("filesize") or f.get("filesize_approx"),
        height=f.get("height"),
    )
    if protocol in _FILE_PROTOCOLS:
        return stream(protocol=Protocol.FILE)
    if protocol in _HLS_PROTOCOLS:
        return stream(protocol=Protocol.FRAGMENTS, hls=True)
    if protocol in _DASH_PROTOCOLS:
        base = f.get("fragment_base_url") or ""
        fragments = tuple(
            Fragment(fr.get("url") or urljoin(base, fr["path"]))
            for fr in f.get("fragments") or []
            if fr.get("url") or fr.get("path")
        )
        if not fragments:
            raise DownloadError(Reason.DASH_NO_FRAGMENTS)
        return stream(protocol=Protocol.FRAGMENTS, fragments=fragments)
    raise DownloadError(Reason.MEDIA_PROTOCOL, protocol=protocol)


def no_media_why(error: BaseException | None) -> Why:
    """Why yt-dlp found nothing to fetch, from the error it raised (``None``: it raised none).

    Sorted by yt-dlp's exception types: a page no extractor knows (the generic one included) has
    no media; a country restriction has a code of its own, and so has DRM (the one case matched by
    text: yt-dlp raises it as a plain ExtractorError with its fixed sentence, :data:`YT_DLP_DRM`);
    any other error yt-dlp *expected* (a site's "Video unavailable", a login wall, a page that would
    not load) is quoted, in yt-dlp's words, inside a sentence in the reader's language. An
    unexpected one (an extractor bug) reads as no media, as before; the log keeps it.
    """
    cause = _extractor_error(error)
    if cause is None or isinstance(cause, UnsupportedError) or not cause.expected:
        return Why.of(Reason.MEDIA_NONE)
    if isinstance(cause, GeoRestrictedError):
        return Why.of(Reason.MEDIA_GEO)
    if cause.orig_msg.startswith(YT_DLP_DRM):
        return Why.of(Reason.MEDIA_DRM)
    detail = " ".join(cause.orig_msg.split())
    if len(detail) > DETAIL_MAX:
        detail = detail[: DETAIL_MAX - 1] + "…"
    return Why.of(Reason.MEDIA_SAID, detail=detail) if detail else Why.of(Reason.MEDIA_NONE)


def _extractor_error(error: BaseException | None) -> ExtractorError | None:
    """The :class:`ExtractorError` behind what ``YoutubeDL.extract_info`` raised: it wraps the
    extractor's error in a ``DownloadError`` whose ``exc_info`` holds the original."""
    if isinstance(error, ExtractorError):
        return error
    exc_info = getattr(error, "exc_info", None)
    original = exc_info[1] if isinstance(exc_info, tuple) and len(exc_info) > 1 else None
    return original if isinstance(original, ExtractorError) else None
