"""What can go wrong in a download, as exceptions whose ``str()`` is shown to the user.

Every reason is one short line that says what happened (HTTP status, refused address, checksum
mismatch, ...) so that the CLI and the chat layer can print it as it is, never a traceback.
"""

from __future__ import annotations


class DownloadError(Exception):
    """A download failed; ``str(exc)`` is a short, user-facing reason."""


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
