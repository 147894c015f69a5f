"""What can go wrong in a download, as exceptions that carry a reason code with parameters.

Each exception holds a :class:`~bot.downloads.reasons.Why` in ``why``: the chat layer words it in
the reader's language (``bot/telegram/download_reasons.py``). ``str(exc)`` is the English sentence,
one short line that says what happened (HTTP status, refused address, checksum mismatch, ...), so
that the CLI and the logs can print it as it is, never a traceback::

    raise DownloadError(Reason.HTTP_STATUS, status=404, phrase="Not Found")
    raise FileChanged(Reason.CHANGED_SIZE)
    raise RetriesExhausted(Reason.RETRIES_EXHAUSTED, cause_why, tries=6)
    raise DownloadError("words from elsewhere")   # Reason.OTHER, shown as they are

Pickling keeps ``why`` (the exception crosses the pipe from the download process intact).
"""

from __future__ import annotations

from typing import Any

from bot.downloads.reasons import Param, Reason, Why


class DownloadError(Exception):
    """A download failed; ``why`` is the reason, ``str(exc)`` its English sentence."""

    def __init__(
        self, why: Why | Reason | str, cause: Why | None = None, /, **params: Param
    ) -> None:
        if isinstance(why, Reason):
            why = Why(why, params, cause)
        elif not isinstance(why, Why):
            why = Why.text(str(why))
        self.why: Why = why
        super().__init__(why.english())

    @property
    def code(self) -> Reason:
        return self.why.code

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.why,)


class DownloadRefused(DownloadError):
    """Refused before any byte was fetched: bad URL, private address, too large, no disk space."""


class TooLarge(DownloadRefused):
    """A body of unknown size grew past the limit it was given (``DownloadOptions.max_bytes``)."""


class DownloadCancelled(DownloadError):
    """Stopped by :meth:`Downloader.cancel`; the partial file is kept only when asked."""


class FileChanged(DownloadError):
    """The file on the server changed (size or validator) while we were fetching it."""


class RetriesExhausted(DownloadError):
    """Every retry failed (connection, timeout, 5xx): the partial file is kept, a re-run resumes."""


class DownloadPaused(DownloadError):
    """Stopped from outside (SIGTERM/SIGINT to the download process, or the process died), with
    the partial file and its record kept: the job is to be resumed, not reported as failed."""


class PrivateAddress(DownloadRefused):
    """The host is (or resolves to) a loopback, private or reserved address that is not allowed."""


def write_failed(exc: OSError) -> DownloadError:
    """A disk error (full disk, file size limit) while writing the file: no point retrying."""
    return DownloadError(Reason.WRITE_FAILED, detail=exc.strerror or str(exc))


def why_of(exc: BaseException) -> Why:
    """The reason behind any exception: a :class:`DownloadError`'s own, else its text as it is
    (for exceptions from elsewhere, e.g. the service's refusals before they carry codes)."""
    why = getattr(exc, "why", None)
    return why if isinstance(why, Why) else Why.text(str(exc))


class Refused(DownloadRefused):
    """The download service will not start or go on with a request: a limit (quota, file size,
    disk space, how many per person) or a page it cannot fetch; ``why`` says which and by how
    much."""


class NetworkFailed(DownloadError):
    """A request failed in the network in a way trying again cannot fix (connection refused, an
    untrusted certificate, a name that does not resolve, a malformed answer).

    ``url`` is the request that failed, when known: a redirect's hop, not always the URL asked
    for (whether its host has answered before decides if a refusal is final)."""

    url: str | None = None


class Retryable(Exception):
    """Inside the engine: a failure worth another try (connection, timeout, 5xx, 429, short body).

    ``response`` is the answer that failed, when there was one (its ``Retry-After`` counts). The
    retry policy (:mod:`bot.downloads.retries`) turns the last one into :class:`RetriesExhausted`.
    """

    def __init__(self, why: Why, response: Any = None) -> None:
        super().__init__(why.english())
        self.why = why
        self.response = response


class NetworkRetryable(Retryable):
    """A :class:`Retryable` that came from the network (not from a status code): a stop may be
    why."""
