"""What a server's answer means, judged from its status and headers alone (no I/O).

Servers answer ranged requests in many wrong ways: a whole body for a range, a range that starts
elsewhere, a compressed range, a total that changed, a ``Content-Range`` of ``bytes */N``. Each
check here takes an answer (anything with ``status_code``, ``headers`` and ``reason``, such as a
``requests.Response``) and returns, or raises what the engine must do about it:

- :class:`RangesUnusable` — ranges from this server cannot be trusted: fetch one plain stream;
- :class:`~bot.downloads.errors.FileChanged` — the file is not the one probed: start over;
- :class:`~bot.downloads.errors.Retryable` — a status worth another try (429, 5xx);
- :class:`~bot.downloads.errors.DownloadError` — any other status: give up with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from bot.downloads.errors import DownloadError, FileChanged, Retryable
from bot.downloads.reasons import Reason, Why
from bot.downloads.retries import RETRY_STATUS


class Answer(Protocol):
    """The part of an HTTP response the checks read."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def reason(self) -> str | None: ...


class RangesUnusable(Exception):
    """This server's ranged answers cannot be trusted; fall back to one stream (``why``)."""

    def __init__(self, why: Why) -> None:
        super().__init__(why.english())
        self.why = why


@dataclass(frozen=True)
class ContentRange:
    """``Content-Range: bytes first-last/total``; ``total`` None for ``*``; ``first`` and
    ``last`` are -1 for ``bytes */total`` (an unsatisfiable range's answer)."""

    first: int
    last: int
    total: int | None


@dataclass(frozen=True)
class ProbeFacts:
    """What the answer to ``Range: bytes=0-0`` says about the file."""

    size: int | None
    resumable: bool
    single_reason: Why | None  # why one stream: no ranges, compressed, no length
    validator: str | None


def content_range(value: str | None) -> ContentRange | None:
    """``bytes a-b/N`` → ``ContentRange(a, b, N)``; ``None`` when missing or malformed."""
    if not value:
        return None
    unit, _, spec = value.strip().partition(" ")
    if unit.lower() != "bytes":
        return None
    rng, _, total = spec.partition("/")
    first, dash, last = rng.partition("-")
    try:
        total_n = None if total.strip() == "*" else int(total)
        return ContentRange(int(first), int(last), total_n)
    except ValueError:
        if rng.strip() == "*" and dash == "":
            try:
                return ContentRange(-1, -1, int(total))
            except ValueError:
                return None
        return None


def validator(headers: Mapping[str, str]) -> str | None:
    """A strong ETag, else Last-Modified: what tells that the file is still the same."""
    etag = headers.get("ETag")
    if etag and not etag.startswith("W/"):
        return etag
    return headers.get("Last-Modified")


def encoded(headers: Mapping[str, str]) -> bool:
    return headers.get("Content-Encoding", "identity").lower() not in ("", "identity")


def status_why(answer: Answer) -> Why:
    return Why.of(Reason.HTTP_STATUS, status=answer.status_code, phrase=answer.reason or "")


def read_probe(answer: Answer) -> ProbeFacts:
    """Size, resumability and validator from the probe's answer (a 200 or a 206)."""
    headers = answer.headers
    size: int | None = None
    resumable = False
    single: Why | None = None
    if answer.status_code == 206:
        cr = content_range(headers.get("Content-Range"))
        # busybox httpd answers bytes=0-0 with the whole file's range (and body) but honours
        # other ranges: a range that starts at 0 and covers byte 0 will do; nothing of its body
        # is read.
        if cr and cr.first == 0 and cr.last >= 0 and cr.total is not None:
            size, resumable = cr.total, True
        else:
            single = Why.of(Reason.BAD_CONTENT_RANGE)
    else:  # 200: ranges ignored
        single = Why.of(Reason.NO_RANGES)
        length = headers.get("Content-Length")
        size = int(length) if length and length.isdigit() else None
    if encoded(headers):
        resumable, single = False, Why.of(Reason.COMPRESSED)
    if size is None:
        single = single or Why.of(Reason.NO_LENGTH)
    return ProbeFacts(
        size=size,
        resumable=resumable and size is not None and size > 0,
        single_reason=single,
        validator=validator(headers),
    )


def check_validator(headers: Mapping[str, str], expected: str | None) -> None:
    """Raise :class:`FileChanged` when the answer's validator is not the probed one."""
    if not expected:
        return
    now = validator(headers)
    if now is not None and now != expected:
        raise FileChanged(
            Reason.CHANGED_ETAG if expected.startswith('"') else Reason.CHANGED_LAST_MODIFIED
        )


def _check_total(cr: ContentRange | None, size: int | None) -> None:
    if cr is not None and cr.total is not None and cr.total != size:
        raise FileChanged(Reason.CHANGED_SIZE)


def check_ranged(
    answer: Answer, first: int, last: int, size: int | None, expected: str | None
) -> None:
    """Accept only a 206 with exactly ``first-last/size`` (see the module docstring)."""
    status = answer.status_code
    headers = answer.headers
    if status == 206:
        if encoded(headers):
            raise RangesUnusable(Why.of(Reason.RANGE_COMPRESSED))
        cr = content_range(headers.get("Content-Range"))
        _check_total(cr, size)
        check_validator(headers, expected)
        # A range that starts where asked and goes further will do: only the asked part is read
        # (the connection is then not reused).
        if cr is None or cr.first != first or cr.last < last:
            raise RangesUnusable(
                Why.of(
                    Reason.RANGE_MISMATCH,
                    first=first,
                    last=last,
                    got=repr(headers.get("Content-Range")),
                )
            )
        length = headers.get("Content-Length")
        if length is not None and length.strip() != str(cr.last - cr.first + 1):
            raise RangesUnusable(Why.of(Reason.RANGE_LENGTH))
        return
    if status == 200:
        check_validator(headers, expected)
        length = headers.get("Content-Length")
        if length and length.isdigit() and int(length) != size:
            raise FileChanged(Reason.CHANGED_SIZE)
        raise RangesUnusable(Why.of(Reason.RANGES_IGNORED))
    if status == 416:
        _check_total(content_range(headers.get("Content-Range")), size)
        raise DownloadError(status_why(answer))
    _check_status(answer)
    raise DownloadError(status_why(answer))


def check_whole(answer: Answer, expected: str | None) -> None:
    """Accept only a 200 of the same file, for the single stream."""
    _check_status(answer)
    if answer.status_code != 200:
        raise DownloadError(status_why(answer))
    check_validator(answer.headers, expected)


def _check_status(answer: Answer) -> None:
    if answer.status_code in RETRY_STATUS:
        raise Retryable(status_why(answer), answer)
