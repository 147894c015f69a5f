"""Why a download failed, was refused or changed course: a code with parameters, not a sentence.

The core knows nothing of the reader's language (see DESIGN.md, "Words in the chat layer only").
Everything it has to say — an HTTP status, a refused address, a full disk, a retry, "using one
connection: …" — is a :class:`Why`: a :class:`Reason` code, the values the sentence needs
(``params``) and, for reasons that wrap another one ("gave up after 6 tries", "redirect refused:
…"), the ``cause``. The chat layer (``bot/telegram/download_reasons.py``) words each code in the
reader's language; :meth:`Why.english` is the English sentence the CLI prints and the logs keep
(``str()`` of a :class:`~bot.downloads.errors.DownloadError` is that sentence).

Parameter names say how their values read: ``…_bytes`` is a size, ``…_seconds`` a duration,
``…_bps`` a speed in bytes per second; anything else is shown as it is (``:g`` for floats).

A :class:`Why` is stored in a job row's ``error`` column as JSON (:meth:`Why.dump`); a row written
before codes existed holds a plain English sentence, which :meth:`Why.load` reads back as
:attr:`Reason.OTHER` with that text.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Any

from bot.humanize import human_duration, human_size, human_speed

if TYPE_CHECKING:
    from babel import Locale

#: A parameter's value: what JSON and the pipe to the download process carry unchanged.
Param = str | int | float


class Reason(StrEnum):
    """Every reason the download core, the download service and bot.media can give; see
    ``ENGLISH``."""

    # --- the URL, judged without the network (netguard.url_problem); also the bot's "bad URL"
    NO_URL = "no_url"
    URL_TOO_LONG = "url_too_long"  # limit
    URL_CONTROL = "url_control"
    URL_MALFORMED = "url_malformed"
    URL_SCHEME = "url_scheme"
    URL_NO_HOST = "url_no_host"
    URL_PORT_ZERO = "url_port_zero"
    URL_BAD_IDNA = "url_bad_idna"
    # --- where a request may go (netguard, transport)
    REFUSED_URL = "refused_url"  # cause: a URL reason
    REDIRECT_SCHEME = "redirect_scheme"  # scheme
    REDIRECT_REFUSED = "redirect_refused"  # cause: a URL reason
    PRIVATE_ADDRESS = "private_address"  # host
    CANNOT_RESOLVE = "cannot_resolve"  # host, detail (the resolver's words)
    NO_ADDRESS = "no_address"  # host
    # --- the network (failures.classify)
    CERT_UNTRUSTED = "cert_untrusted"  # detail (OpenSSL's words)
    CERT_OTHER_HOST = "cert_other_host"
    TLS_CUT = "tls_cut"
    TLS_FAILED = "tls_failed"  # detail (OpenSSL's words)
    CONNECTION_REFUSED = "connection_refused"
    NAME_NOT_RESOLVED = "name_not_resolved"
    INVALID_URL = "invalid_url"
    TOO_MANY_REDIRECTS = "too_many_redirects"  # limit
    TIMED_OUT = "timed_out"
    SHORT_BODY = "short_body"
    CONNECTION_FAILED = "connection_failed"
    MALFORMED_ANSWER = "malformed_answer"  # detail
    # --- the server's answers (engine)
    HTTP_STATUS = "http_status"  # status, phrase
    NO_ANSWER = "no_answer"  # seconds
    CLOSED_EARLY = "closed_early"
    BODY_SHORT = "body_short"  # got, promised (byte counts, shown as numbers)
    RETRIES_EXHAUSTED = "retries_exhausted"  # tries; cause: the last failure
    TIMED_OUT_RETRIES = "timed_out_retries"  # tries
    # --- one connection instead of several: ONE_CONNECTION's cause is one of these
    ONE_CONNECTION = "one_connection"  # cause
    NO_RANGES = "no_ranges"
    BAD_CONTENT_RANGE = "bad_content_range"
    COMPRESSED = "compressed"
    NO_LENGTH = "no_length"
    RANGE_COMPRESSED = "range_compressed"
    RANGE_MISMATCH = "range_mismatch"  # first, last, got (the server's Content-Range)
    RANGE_LENGTH = "range_length"
    RANGES_IGNORED = "ranges_ignored"
    RANGES_EMPTY = "ranges_empty"
    # --- the file changed on the server, or what is on disk cannot be trusted (notices)
    CHANGED_SIZE = "changed_size"
    CHANGED_ETAG = "changed_etag"
    CHANGED_LAST_MODIFIED = "changed_last_modified"
    CHANGED_GREW = "changed_grew"
    CHANGED_BYTES = "changed_bytes"
    KEEPS_CHANGING = "keeps_changing"
    RESUME_DAMAGED = "resume_damaged"
    PARTIAL_MISMATCH = "partial_mismatch"
    PARTIAL_RECORD_MISMATCH = "partial_record_mismatch"
    PARTIAL_REFETCHED = "partial_refetched"  # refetched_bytes
    # --- limits and the disk (engine)
    TOO_SLOW = "too_slow"  # speed_bps, window_seconds
    TOOK_TOO_LONG = "took_too_long"  # limit_seconds
    TOO_LARGE = "too_large"  # size_bytes, limit_bytes
    GREW_TOO_LARGE = "grew_too_large"  # limit_bytes
    DISK_SPACE = "disk_space"  # need_bytes, free_bytes
    WRITE_FAILED = "write_failed"  # detail (the OS's words)
    NAME_ESCAPES = "name_escapes"
    TOO_MANY_NAMES = "too_many_names"  # name
    SIZE_CHECK = "size_check"  # expected, actual (byte counts)
    CHECKSUM_MISMATCH = "checksum_mismatch"  # alg, expected, actual (hex prefixes)
    INCOMPLETE = "incomplete"
    # --- how a run ended
    CANCELLED = "cancelled"
    CANCELLED_BY = "cancelled_by"  # by
    PAUSED = "paused"
    PROCESS_DIED = "process_died"
    STOPPED_TOO_OFTEN = "stopped_too_often"
    WORKER_LOST_RESUMED = "worker_lost_resumed"  # percent
    WORKER_LOST_RESTARTED = "worker_lost_restarted"
    INTERNAL = "internal"  # name (of the exception class)
    INTERNAL_CHILD = "internal_child"  # name
    INTERNAL_SERVICE = "internal_service"
    # --- the download service's refusals (quota, size, disk, how many per person)
    TOO_MANY_PENDING = "too_many_pending"  # pending, limit
    QUOTA_USED_UP = "quota_used_up"  # quota_bytes
    QUOTA_EXCEEDED = "quota_exceeded"  # quota_bytes, over_bytes, used_bytes
    QUOTA_BUDGET = "quota_budget"  # quota_bytes, used_bytes
    QUOTA_RUNNING = "quota_running"  # quota_bytes, used_bytes
    OVER_MAX_FILE = "over_max_file"  # size_bytes, limit_bytes, over_bytes
    OVER_MAX_FILE_RUNNING = "over_max_file_running"  # limit_bytes
    DISK_NEEDS = "disk_needs"  # size_bytes, free_bytes
    DISK_FREE = "disk_free"  # free_bytes
    DISK_RESERVE = "disk_reserve"  # reserve_bytes
    # --- media pages (bot.media: yt-dlp reads the page, Errand fetches the streams, ffmpeg joins)
    MEDIA_NEEDS_FFMPEG = "media_needs_ffmpeg"  # a page was found; the service refuses it
    FFMPEG_MISSING = "ffmpeg_missing"  # a media run (or the CLI's --audio/--format) without ffmpeg
    FFPROBE_MISSING = "ffprobe_missing"
    MEDIA_NONE = "media_none"
    MEDIA_SAID = "media_said"  # detail (yt-dlp's words for the page: "Video unavailable", …)
    MEDIA_DRM = "media_drm"
    MEDIA_GEO = "media_geo"
    MEDIA_LIVE = "media_live"
    MEDIA_ENCRYPTED = "media_encrypted"
    MEDIA_PROTOCOL = "media_protocol"  # protocol
    MEDIA_READ_TOO_LONG = "media_read_too_long"  # limit_seconds
    MEDIA_READ_FAILED = "media_read_failed"  # name (of the exception class)
    MEDIA_READER_STOPPED = "media_reader_stopped"
    MEDIA_REDIRECT_SCHEME = "media_redirect_scheme"  # url (masked)
    HLS_NO_STREAMS = "hls_no_streams"
    HLS_TOO_DEEP = "hls_too_deep"
    HLS_NO_FRAGMENTS = "hls_no_fragments"
    HLS_STATUS = "hls_status"  # status
    HLS_TOO_LARGE = "hls_too_large"
    HLS_UNREADABLE = "hls_unreadable"  # name (of the exception class)
    DASH_NO_FRAGMENTS = "dash_no_fragments"
    FRAGMENT_GAVE_UP = "fragment_gave_up"  # tries; cause: the last failure
    FRAGMENT_REDIRECTS = "fragment_redirects"
    FRAGMENT_STATUS = "fragment_status"  # status
    MEDIA_TOO_LARGE = "media_too_large"  # limit_bytes
    MEDIA_UNREADABLE = "media_unreadable"
    FFPROBE_CANNOT_RUN = "ffprobe_cannot_run"  # name (of the exception class)
    FFMPEG_CANNOT_RUN = "ffmpeg_cannot_run"  # detail (the OS's words)
    FFMPEG_TOO_LONG = "ffmpeg_too_long"
    FFMPEG_JOIN_FAILED = "ffmpeg_join_failed"
    FFMPEG_JOIN_SAID = "ffmpeg_join_said"  # detail (ffmpeg's last line)
    MEDIA_NO_AUDIO = "media_no_audio"
    MEDIA_PLAYLIST_ITEM = "media_playlist_item"  # item, count (a notice)
    # --- words from elsewhere (a row written before codes existed)
    OTHER = "other"  # text


#: The English sentence of each code: what ``str()`` of an error says (CLI, logs). The chat layer
#: has its own wording, translated; a test keeps both complete.
ENGLISH: dict[Reason, str] = {
    Reason.NO_URL: "no URL given",
    Reason.URL_TOO_LONG: "the URL is too long (over {limit} characters)",
    Reason.URL_CONTROL: "the URL contains spaces or control characters",
    Reason.URL_MALFORMED: "the URL is malformed (bad host or port)",
    Reason.URL_SCHEME: "only http:// and https:// URLs can be downloaded",
    Reason.URL_NO_HOST: "the URL has no host name",
    Reason.URL_PORT_ZERO: "the URL has port 0",
    Reason.URL_BAD_IDNA: "the host name is not a valid international domain name (IDNA)",
    Reason.REFUSED_URL: "refused: {cause}",
    Reason.REDIRECT_SCHEME: "redirect to a {scheme}:// URL is not allowed",
    Reason.REDIRECT_REFUSED: "redirect refused: {cause}",
    Reason.PRIVATE_ADDRESS: "refused: {host} is a private address (not allowed)",
    Reason.CANNOT_RESOLVE: "cannot resolve {host} ({detail})",
    Reason.NO_ADDRESS: "cannot resolve {host}",
    Reason.CERT_UNTRUSTED: "certificate not trusted: {detail}",
    Reason.CERT_OTHER_HOST: "certificate not trusted: it is for another host name",
    Reason.TLS_CUT: "the TLS connection was cut",
    Reason.TLS_FAILED: "TLS failed: {detail}",
    Reason.CONNECTION_REFUSED: "connection refused",
    Reason.NAME_NOT_RESOLVED: "the host name does not resolve",
    Reason.INVALID_URL: "invalid URL or host name",
    Reason.TOO_MANY_REDIRECTS: "too many redirects (more than {limit})",
    Reason.TIMED_OUT: "timed out",
    Reason.SHORT_BODY: "the server sent fewer bytes than it promised",
    Reason.CONNECTION_FAILED: "connection failed",
    Reason.MALFORMED_ANSWER: "the server's answer is malformed ({detail})",
    Reason.HTTP_STATUS: "HTTP {status} {phrase}",
    Reason.NO_ANSWER: "the server did not answer within {seconds} s",
    Reason.CLOSED_EARLY: "the connection closed before the range was complete",
    Reason.BODY_SHORT: "the body was {got} bytes, {promised} were promised",
    Reason.RETRIES_EXHAUSTED: "{cause} (gave up after {tries} tries)",
    Reason.TIMED_OUT_RETRIES: "timed out after {tries} tries",
    Reason.ONE_CONNECTION: "using one connection: {cause}",
    Reason.NO_RANGES: "the server does not support ranges",
    Reason.BAD_CONTENT_RANGE: "the server's Content-Range is missing or malformed",
    Reason.COMPRESSED: "the server compresses the file anyway",
    Reason.NO_LENGTH: "the server gives no length",
    Reason.RANGE_COMPRESSED: "the server compressed a range",
    Reason.RANGE_MISMATCH: "asked for bytes {first}-{last}, got {got}",
    Reason.RANGE_LENGTH: "Content-Length does not match the range",
    Reason.RANGES_IGNORED: "the server ignored the Range header",
    Reason.RANGES_EMPTY: "the server answers ranges without their bytes",
    Reason.CHANGED_SIZE: "the file changed on the server (size differs); starting over",
    Reason.CHANGED_ETAG: "the file changed on the server (ETag differs); starting over",
    Reason.CHANGED_LAST_MODIFIED: (
        "the file changed on the server (Last-Modified differs); starting over"
    ),
    Reason.CHANGED_GREW: "the server sent more than the file's size; starting over",
    Reason.CHANGED_BYTES: (
        "the server's answer differs from the bytes already fetched; starting over"
    ),
    Reason.KEEPS_CHANGING: "the file keeps changing on the server; try again later",
    Reason.RESUME_DAMAGED: "the resume record is damaged; starting over",
    Reason.PARTIAL_MISMATCH: "the partial file does not match the server; starting over",
    Reason.PARTIAL_RECORD_MISMATCH: (
        "the partial file does not match its resume record; starting over"
    ),
    Reason.PARTIAL_REFETCHED: (
        "{refetched_bytes} of the partial file did not match its record; fetched again"
    ),
    Reason.TOO_SLOW: "too slow: less than {speed_bps} for {window_seconds}",
    Reason.TOOK_TOO_LONG: "took longer than the {limit_seconds} limit for one download",
    Reason.TOO_LARGE: "file is {size_bytes}, over the {limit_bytes} limit",
    Reason.GREW_TOO_LARGE: "file is over the {limit_bytes} limit",
    Reason.DISK_SPACE: "not enough disk space: need {need_bytes}, {free_bytes} free",
    Reason.WRITE_FAILED: "cannot write the file: {detail}",
    Reason.NAME_ESCAPES: "refused: the file name leaves the output folder",
    Reason.TOO_MANY_NAMES: "too many files named like '{name}' in the output folder",
    Reason.SIZE_CHECK: "size check failed: expected {expected} bytes, got {actual}",
    Reason.CHECKSUM_MISMATCH: "checksum mismatch: expected {alg} {expected}…, got {actual}…",
    Reason.INCOMPLETE: "download incomplete",
    Reason.CANCELLED: "cancelled",
    Reason.CANCELLED_BY: "cancelled by {by}",
    Reason.PAUSED: "the download process was stopped; it resumes",
    Reason.PROCESS_DIED: "the download process stopped unexpectedly; it resumes",
    Reason.STOPPED_TOO_OFTEN: "the download process was stopped too many times",
    Reason.WORKER_LOST_RESUMED: "its worker stopped; another resumed it at {percent}%",
    Reason.WORKER_LOST_RESTARTED: (
        "its worker stopped and the partial file was not on shared storage; another started it over"
    ),
    Reason.INTERNAL: "internal error: {name}",
    Reason.INTERNAL_CHILD: "internal error in the download process ({name})",
    Reason.INTERNAL_SERVICE: "internal error (see the bot's log)",
    Reason.TOO_MANY_PENDING: (
        "you already have {pending} downloads waiting or running (the limit is "
        "{limit}); cancel one or wait"
    ),
    Reason.QUOTA_USED_UP: "your daily quota of {quota_bytes} is used up; it resets at 00:00 UTC",
    Reason.QUOTA_EXCEEDED: (
        "it would exceed your daily quota of {quota_bytes} by {over_bytes} ({used_bytes} used "
        "today)"
    ),
    Reason.QUOTA_BUDGET: (
        "it would exceed your daily quota of {quota_bytes} ({used_bytes} used today)"
    ),
    Reason.QUOTA_RUNNING: (
        "it would exceed your daily quota of {quota_bytes} ({used_bytes} received or reserved "
        "today)"
    ),
    Reason.OVER_MAX_FILE: (
        "the file is {size_bytes}, over the {limit_bytes} limit (MAX_FILE_MB) by {over_bytes}"
    ),
    Reason.OVER_MAX_FILE_RUNNING: "the file is over the {limit_bytes} limit (MAX_FILE_MB)",
    Reason.DISK_NEEDS: (
        "not enough disk space: it needs {size_bytes}, and {free_bytes} is free above the reserve"
    ),
    Reason.DISK_FREE: "not enough disk space: {free_bytes} is free above the reserve",
    Reason.DISK_RESERVE: (
        "not enough disk space: the disk is down to its reserve of {reserve_bytes}"
    ),
    Reason.MEDIA_NEEDS_FFMPEG: (
        "this is a web page, and fetching its video needs ffmpeg, which is not installed "
        "on the server (/download URL as file keeps the page itself)"
    ),
    Reason.FFMPEG_MISSING: (
        "media pages need ffmpeg, which is not installed on the server (apt-get install ffmpeg)"
    ),
    Reason.FFPROBE_MISSING: "ffprobe is not installed on the server",
    Reason.MEDIA_NONE: (
        "no video or audio found on this page (/download URL as file keeps the page itself)"
    ),
    Reason.MEDIA_SAID: "cannot get the video from this page; yt-dlp says: {detail}",
    Reason.MEDIA_DRM: "the video is protected by DRM, which Errand cannot fetch",
    Reason.MEDIA_GEO: "the site does not offer this video in the server's country",
    Reason.MEDIA_LIVE: "this is a live stream; only recordings (VOD) can be downloaded",
    Reason.MEDIA_ENCRYPTED: "the stream is encrypted (HLS AES), which Errand does not fetch yet",
    Reason.MEDIA_PROTOCOL: (
        "the page's media is served over {protocol}, which Errand does not fetch"
    ),
    Reason.MEDIA_READ_TOO_LONG: "reading the page took longer than {limit_seconds}",
    Reason.MEDIA_READ_FAILED: "reading the page failed ({name})",
    Reason.MEDIA_READER_STOPPED: "reading the page failed (the helper process stopped)",
    Reason.MEDIA_REDIRECT_SCHEME: "refused: a redirect from {url} leaves http(s)",
    Reason.HLS_NO_STREAMS: "the HLS playlist lists no streams",
    Reason.HLS_TOO_DEEP: "the HLS playlist nests too deeply",
    Reason.HLS_NO_FRAGMENTS: "the HLS playlist lists no fragments",
    Reason.HLS_STATUS: "the HLS playlist answered HTTP {status}",
    Reason.HLS_TOO_LARGE: "the HLS playlist is too large",
    Reason.HLS_UNREADABLE: "could not read the HLS playlist ({name})",
    Reason.DASH_NO_FRAGMENTS: "the DASH manifest lists no fragments",
    Reason.FRAGMENT_GAVE_UP: "a fragment failed: {cause} (gave up after {tries} tries)",
    Reason.FRAGMENT_REDIRECTS: "a fragment redirects too many times",
    Reason.FRAGMENT_STATUS: "a fragment answered HTTP {status}",
    Reason.MEDIA_TOO_LARGE: "the media is larger than allowed ({limit_bytes})",
    Reason.MEDIA_UNREADABLE: "the fetched media is not readable (ffprobe failed)",
    Reason.FFPROBE_CANNOT_RUN: "ffprobe could not run ({name})",
    Reason.FFMPEG_CANNOT_RUN: "ffmpeg could not run ({detail})",
    Reason.FFMPEG_TOO_LONG: "ffmpeg took too long to join the media",
    Reason.FFMPEG_JOIN_FAILED: "ffmpeg could not join the media",
    Reason.FFMPEG_JOIN_SAID: "ffmpeg could not join the media ({detail})",
    Reason.MEDIA_NO_AUDIO: "the page's media has no audio to keep",
    Reason.MEDIA_PLAYLIST_ITEM: "item {item} of the {count} on the page",
    Reason.OTHER: "{text}",
}


@cache
def english_locale() -> Locale:
    """The core's sentences are English whatever language the caller's work is in. Parsed on first
    use: Babel's import and locale data cost a download's start-up on every run otherwise."""
    from babel import Locale

    return Locale.parse("en")


def _measure(name: str, value: Param) -> Callable[[float, Locale | None], str] | None:
    """How :mod:`bot.humanize` writes this parameter, by its name's suffix; None: as it is."""
    if not isinstance(value, int | float):
        return None
    if name.endswith("_bytes"):
        return human_size
    if name.endswith("_bps"):
        return human_speed
    if name.endswith("_seconds"):
        return human_duration
    return None


def format_param(name: str, value: Param, locale: Locale | None = None) -> str:
    """``value`` as the sentence shows it, by the parameter's ``name`` (see the module docstring).
    Sizes and durations go through :mod:`bot.humanize` (in ``locale``; None: the current one)."""
    humanize = _measure(name, value)
    if humanize is not None and isinstance(value, int | float):
        return humanize(value, locale)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


@dataclass(frozen=True)
class Why:
    """A reason with what its sentence needs: ``Why(Reason.HTTP_STATUS, {"status": 404, ...})``."""

    code: Reason
    params: Mapping[str, Param] = field(default_factory=dict)
    cause: Why | None = None

    @classmethod
    def of(cls, code: Reason, cause: Why | None = None, /, **params: Param) -> Why:
        return cls(code, dict(params), cause)

    @classmethod
    def text(cls, text: str) -> Why:
        """Words that come with no code (an old row's, an exception from elsewhere): shown as they
        are."""
        return cls(Reason.OTHER, {"text": text})

    def english(self) -> str:
        """The English sentence: what the CLI prints and the logs keep."""
        values = {
            name: format_param(name, value, english_locale() if _measure(name, value) else None)
            for name, value in self.params.items()
        }
        if self.cause is not None:
            values["cause"] = self.cause.english()
        try:
            return ENGLISH[self.code].format(**values).strip()
        except (KeyError, IndexError):  # a parameter missing: still say something useful
            return f"{self.code.value} {values}"

    def __str__(self) -> str:
        return self.english()

    # ------------------------------------------------------------------ stored and sent
    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"code": self.code.value, "params": dict(self.params)}
        if self.cause is not None:
            data["cause"] = self.cause.as_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Why:
        """The reverse of :meth:`as_dict`; raises ``ValueError``/``KeyError``/``TypeError`` when
        ``data`` is not one."""
        cause = data.get("cause")
        params = data.get("params") or {}
        if not isinstance(params, dict):
            raise TypeError("params is not an object")
        return cls(
            Reason(data["code"]),
            {str(k): v for k, v in params.items()},
            cls.from_dict(cause) if cause is not None else None,
        )

    def dump(self) -> str:
        """The JSON kept in a job row's ``error`` column."""
        return json.dumps(self.as_dict(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def load(cls, stored: str | None) -> Why | None:
        """What :meth:`dump` stored; plain text (a row from before codes existed) as
        :attr:`Reason.OTHER`; ``None`` for ``None`` or an empty column."""
        if not stored:
            return None
        if stored.startswith("{"):
            try:
                data = json.loads(stored)
                if isinstance(data, dict):
                    return cls.from_dict(data)
            except (ValueError, KeyError, TypeError):
                pass
        return cls.text(stored)
