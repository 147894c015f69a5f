"""How the download core's reasons read in the chat: one sentence per
:class:`~bot.downloads.reasons.Reason`, all in this one place, translated through the catalog.

The core raises codes with parameters (:class:`~bot.downloads.reasons.Why`); here each code gets
its words in the reader's language, and its parameters their form: sizes, speeds and durations
through Babel (:func:`bot.downloads.reasons.format_param`), a wrapped reason (``cause``) worded in
turn. The English text is the core's own English sentence (a test keeps them the same), so the
CLI and an English chat say the same thing.
"""

from __future__ import annotations

from bot.downloads.errors import why_of
from bot.downloads.reasons import Reason, Why, format_param
from bot.i18n import N_, _

#: Each code's sentence, in English (the catalog's key); Reason.OTHER is its own text.
WORDS: dict[Reason, str] = {
    Reason.NO_URL: N_("no URL given"),
    Reason.URL_TOO_LONG: N_("the URL is too long (over {limit} characters)"),
    Reason.URL_CONTROL: N_("the URL contains spaces or control characters"),
    Reason.URL_MALFORMED: N_("the URL is malformed (bad host or port)"),
    Reason.URL_SCHEME: N_("only http:// and https:// URLs can be downloaded"),
    Reason.URL_NO_HOST: N_("the URL has no host name"),
    Reason.URL_PORT_ZERO: N_("the URL has port 0"),
    Reason.URL_BAD_IDNA: N_("the host name is not a valid international domain name (IDNA)"),
    Reason.REFUSED_URL: N_("refused: {cause}"),
    Reason.REDIRECT_SCHEME: N_("redirect to a {scheme}:// URL is not allowed"),
    Reason.REDIRECT_REFUSED: N_("redirect refused: {cause}"),
    Reason.PRIVATE_ADDRESS: N_("refused: {host} is a private address (not allowed)"),
    Reason.CANNOT_RESOLVE: N_("cannot resolve {host} ({detail})"),
    Reason.NO_ADDRESS: N_("cannot resolve {host}"),
    Reason.CERT_UNTRUSTED: N_("certificate not trusted: {detail}"),
    Reason.CERT_OTHER_HOST: N_("certificate not trusted: it is for another host name"),
    Reason.TLS_CUT: N_("the TLS connection was cut"),
    Reason.TLS_FAILED: N_("TLS failed: {detail}"),
    Reason.CONNECTION_REFUSED: N_("connection refused"),
    Reason.NAME_NOT_RESOLVED: N_("the host name does not resolve"),
    Reason.INVALID_URL: N_("invalid URL or host name"),
    Reason.TOO_MANY_REDIRECTS: N_("too many redirects (more than {limit})"),
    Reason.TIMED_OUT: N_("timed out"),
    Reason.SHORT_BODY: N_("the server sent fewer bytes than it promised"),
    Reason.CONNECTION_FAILED: N_("connection failed"),
    Reason.MALFORMED_ANSWER: N_("the server's answer is malformed ({detail})"),
    Reason.HTTP_STATUS: N_("HTTP {status} {phrase}"),
    Reason.NO_ANSWER: N_("the server did not answer within {seconds} s"),
    Reason.CLOSED_EARLY: N_("the connection closed before the range was complete"),
    Reason.BODY_SHORT: N_("the body was {got} bytes, {promised} were promised"),
    Reason.RETRIES_EXHAUSTED: N_("{cause} (gave up after {tries} tries)"),
    Reason.TIMED_OUT_RETRIES: N_("timed out after {tries} tries"),
    Reason.ONE_CONNECTION: N_("using one connection: {cause}"),
    Reason.NO_RANGES: N_("the server does not support ranges"),
    Reason.BAD_CONTENT_RANGE: N_("the server's Content-Range is missing or malformed"),
    Reason.COMPRESSED: N_("the server compresses the file anyway"),
    Reason.NO_LENGTH: N_("the server gives no length"),
    Reason.RANGE_COMPRESSED: N_("the server compressed a range"),
    Reason.RANGE_MISMATCH: N_("asked for bytes {first}-{last}, got {got}"),
    Reason.RANGE_LENGTH: N_("Content-Length does not match the range"),
    Reason.RANGES_IGNORED: N_("the server ignored the Range header"),
    Reason.RANGES_EMPTY: N_("the server answers ranges without their bytes"),
    Reason.CHANGED_SIZE: N_("the file changed on the server (size differs); starting over"),
    Reason.CHANGED_ETAG: N_("the file changed on the server (ETag differs); starting over"),
    Reason.CHANGED_LAST_MODIFIED: N_(
        "the file changed on the server (Last-Modified differs); starting over"
    ),
    Reason.CHANGED_GREW: N_("the server sent more than the file's size; starting over"),
    Reason.CHANGED_BYTES: N_(
        "the server's answer differs from the bytes already fetched; starting over"
    ),
    Reason.KEEPS_CHANGING: N_("the file keeps changing on the server; try again later"),
    Reason.RESUME_DAMAGED: N_("the resume record is damaged; starting over"),
    Reason.PARTIAL_MISMATCH: N_("the partial file does not match the server; starting over"),
    Reason.PARTIAL_RECORD_MISMATCH: N_(
        "the partial file does not match its resume record; starting over"
    ),
    Reason.PARTIAL_REFETCHED: N_(
        "{refetched_bytes} of the partial file did not match its record; fetched again"
    ),
    Reason.TOO_SLOW: N_("too slow: less than {speed_bps} for {window_seconds}"),
    Reason.TOOK_TOO_LONG: N_("took longer than the {limit_seconds} limit for one download"),
    Reason.TOO_LARGE: N_("file is {size_bytes}, over the {limit_bytes} limit"),
    Reason.GREW_TOO_LARGE: N_("file is over the {limit_bytes} limit"),
    Reason.DISK_SPACE: N_("not enough disk space: need {need_bytes}, {free_bytes} free"),
    Reason.WRITE_FAILED: N_("cannot write the file: {detail}"),
    Reason.NAME_ESCAPES: N_("refused: the file name leaves the output folder"),
    Reason.TOO_MANY_NAMES: N_("too many files named like '{name}' in the output folder"),
    Reason.SIZE_CHECK: N_("size check failed: expected {expected} bytes, got {actual}"),
    Reason.CHECKSUM_MISMATCH: N_("checksum mismatch: expected {alg} {expected}…, got {actual}…"),
    Reason.INCOMPLETE: N_("download incomplete"),
    Reason.CANCELLED: N_("cancelled"),
    Reason.CANCELLED_BY: N_("cancelled by {by}"),
    Reason.PAUSED: N_("the download process was stopped; it resumes"),
    Reason.PROCESS_DIED: N_("the download process stopped unexpectedly; it resumes"),
    Reason.STOPPED_TOO_OFTEN: N_("the download process was stopped too many times"),
    Reason.WORKER_LOST_RESUMED: N_("its worker stopped; another resumed it at {percent}%"),
    Reason.WORKER_LOST_RESTARTED: N_(
        "its worker stopped and the partial file was not on shared storage; another started it over"
    ),
    Reason.INTERNAL: N_("internal error: {name}"),
    Reason.INTERNAL_CHILD: N_("internal error in the download process ({name})"),
    Reason.INTERNAL_SERVICE: N_("internal error (see the bot's log)"),
    Reason.TOO_MANY_PENDING: N_(
        "you already have {pending} downloads waiting or running (the limit is {limit}); cancel "
        "one or wait"
    ),
    Reason.QUOTA_USED_UP: N_(
        "your daily quota of {quota_bytes} is used up; it resets at 00:00 UTC"
    ),
    Reason.QUOTA_EXCEEDED: N_(
        "it would exceed your daily quota of {quota_bytes} by {over_bytes} ({used_bytes} used "
        "today)"
    ),
    Reason.QUOTA_BUDGET: N_(
        "it would exceed your daily quota of {quota_bytes} ({used_bytes} used today)"
    ),
    Reason.QUOTA_RUNNING: N_(
        "it would exceed your daily quota of {quota_bytes} ({used_bytes} received or reserved "
        "today)"
    ),
    Reason.OVER_MAX_FILE: N_(
        "the file is {size_bytes}, over the {limit_bytes} limit (MAX_FILE_MB) by {over_bytes}"
    ),
    Reason.OVER_MAX_FILE_RUNNING: N_("the file is over the {limit_bytes} limit (MAX_FILE_MB)"),
    Reason.DISK_NEEDS: N_(
        "not enough disk space: it needs {size_bytes}, and {free_bytes} is free above the reserve"
    ),
    Reason.DISK_FREE: N_("not enough disk space: {free_bytes} is free above the reserve"),
    Reason.DISK_RESERVE: N_(
        "not enough disk space: the disk is down to its reserve of {reserve_bytes}"
    ),
    # media pages (bot.media)
    Reason.MEDIA_NEEDS_FFMPEG: N_(
        "this is a web page, and fetching its video needs ffmpeg, which is not installed on the "
        "server (/download URL as file keeps the page itself)"
    ),
    Reason.FFMPEG_MISSING: N_(
        "media pages need ffmpeg, which is not installed on the server (apt-get install ffmpeg)"
    ),
    Reason.FFPROBE_MISSING: N_("ffprobe is not installed on the server"),
    Reason.MEDIA_NONE: N_(
        "no video or audio found on this page (/download URL as file keeps the page itself)"
    ),
    Reason.MEDIA_SAID: N_("cannot get the video from this page; yt-dlp says: {detail}"),
    Reason.MEDIA_DRM: N_("the video is protected by DRM, which Errand cannot fetch"),
    Reason.MEDIA_GEO: N_("the site does not offer this video in the server's country"),
    Reason.MEDIA_LIVE: N_("this is a live stream; only recordings (VOD) can be downloaded"),
    Reason.MEDIA_ENCRYPTED: N_(
        "the stream is encrypted (HLS AES), which Errand does not fetch yet"
    ),
    Reason.MEDIA_PROTOCOL: N_(
        "the page's media is served over {protocol}, which Errand does not fetch"
    ),
    Reason.MEDIA_READ_TOO_LONG: N_("reading the page took longer than {limit_seconds}"),
    Reason.MEDIA_READ_FAILED: N_("reading the page failed ({name})"),
    Reason.MEDIA_READER_STOPPED: N_("reading the page failed (the helper process stopped)"),
    Reason.MEDIA_REDIRECT_SCHEME: N_("refused: a redirect from {url} leaves http(s)"),
    Reason.HLS_NO_STREAMS: N_("the HLS playlist lists no streams"),
    Reason.HLS_TOO_DEEP: N_("the HLS playlist nests too deeply"),
    Reason.HLS_NO_FRAGMENTS: N_("the HLS playlist lists no fragments"),
    Reason.HLS_STATUS: N_("the HLS playlist answered HTTP {status}"),
    Reason.HLS_TOO_LARGE: N_("the HLS playlist is too large"),
    Reason.HLS_UNREADABLE: N_("could not read the HLS playlist ({name})"),
    Reason.DASH_NO_FRAGMENTS: N_("the DASH manifest lists no fragments"),
    Reason.FRAGMENT_GAVE_UP: N_("a fragment failed: {cause} (gave up after {tries} tries)"),
    Reason.FRAGMENT_REDIRECTS: N_("a fragment redirects too many times"),
    Reason.FRAGMENT_STATUS: N_("a fragment answered HTTP {status}"),
    Reason.MEDIA_TOO_LARGE: N_("the media is larger than allowed ({limit_bytes})"),
    Reason.MEDIA_UNREADABLE: N_("the fetched media is not readable (ffprobe failed)"),
    Reason.FFPROBE_CANNOT_RUN: N_("ffprobe could not run ({name})"),
    Reason.FFMPEG_CANNOT_RUN: N_("ffmpeg could not run ({detail})"),
    Reason.FFMPEG_TOO_LONG: N_("ffmpeg took too long to join the media"),
    Reason.FFMPEG_JOIN_FAILED: N_("ffmpeg could not join the media"),
    Reason.FFMPEG_JOIN_SAID: N_("ffmpeg could not join the media ({detail})"),
    Reason.MEDIA_NO_AUDIO: N_("the page's media has no audio to keep"),
    Reason.MEDIA_PLAYLIST_ITEM: N_("item {item} of the {count} on the page"),
}

#: The words of the OS, the resolver and OpenSSL that reasons pass on as their ``detail``, those a
#: person is likely to meet, so that they read in the reader's language too; others stay as said.
DETAILS: dict[str, str] = {
    "self-signed certificate": N_("self-signed certificate"),
    "self-signed certificate in certificate chain": N_(
        "self-signed certificate in certificate chain"
    ),
    "unable to get local issuer certificate": N_("unable to get local issuer certificate"),
    "certificate has expired": N_("certificate has expired"),
    "certificate is not yet valid": N_("certificate is not yet valid"),
    "Name or service not known": N_("Name or service not known"),
    "No address associated with hostname": N_("No address associated with hostname"),
    "Temporary failure in name resolution": N_("Temporary failure in name resolution"),
    "No space left on device": N_("No space left on device"),
    "Permission denied": N_("Permission denied"),
    "Read-only file system": N_("Read-only file system"),
    "Disk quota exceeded": N_("Disk quota exceeded"),
}


def explain(why: Why | str | None) -> str:
    """The sentence for ``why`` in the current language. Plain text (an exception from elsewhere)
    is shown as it is; ``None`` reads as "failed"."""
    if why is None:
        return _("failed")
    if isinstance(why, str):
        return why
    values = {name: format_param(name, value) for name, value in why.params.items()}
    detail = values.get("detail")
    if detail in DETAILS:
        values["detail"] = _(DETAILS[detail])
    if why.cause is not None:
        values["cause"] = explain(why.cause)
    if why.code is Reason.OTHER:
        return str(why.params.get("text", ""))
    try:
        return _(WORDS[why.code]).format(**values).strip()
    except (KeyError, IndexError):  # a parameter missing from an old row: the English still says it
        return why.english()


def explain_error(exc: BaseException) -> str:
    """Why ``exc`` happened, in the current language: a refusal of the download service (quota,
    a page it cannot fetch, …) or any :class:`~bot.downloads.errors.DownloadError`."""
    return explain(why_of(exc))


def explain_stored(error: str | None) -> str:
    """The reason kept in a job row's ``error`` column (JSON of a Why, or an older row's text)."""
    return explain(Why.load(error))
