"""HTTP for one download: requests through the guarded session, and a way to stop them all.

:class:`Client` opens every request of a run (probe, ranges, the stream, verification windows),
remembers the responses still open so that a stop can shut their sockets down (a thread blocked
in a read wakes at once), and lets no library exception through: a failed request raises
:class:`~bot.downloads.errors.NetworkRetryable` or :class:`~bot.downloads.errors.NetworkFailed`
(:func:`bot.downloads.transport.network_errors`), unless the run was stopped, whose reason wins.

It also remembers which hosts have answered this download (the probe included): for them, a
refused connection or a failed name lookup (:data:`~bot.downloads.failures.RESTART_SIGNS`) is a
restart in progress, not a closed port, and is raised as :class:`NetworkRetryable` so that the
retry policy waits for the server to come back. Before a host's first answer it stays final.
"""

from __future__ import annotations

import threading
from urllib.parse import urlsplit

import requests

from bot.downloads.checks import status_why
from bot.downloads.control import Control
from bot.downloads.errors import (
    DownloadError,
    DownloadRefused,
    NetworkFailed,
    NetworkRetryable,
    Retryable,
)
from bot.downloads.failures import RESTART_SIGNS
from bot.downloads.retries import RETRY_STATUS, RetryPolicy
from bot.downloads.transport import abort_response, network_errors

#: A server as the network knows it: host name (or address) and port.
Where = tuple[str, int]


def where(url: str) -> Where:
    """The host and port ``url`` connects to."""
    parts = urlsplit(url)
    return (parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))


class Client:
    """The requests of one run, over ``session``, stopped through ``control``."""

    def __init__(
        self,
        session: requests.Session,
        control: Control,
        *,
        connect_timeout: float,
        read_timeout: float,
    ) -> None:
        self.session = session
        self.control = control
        self.timeout = (connect_timeout, read_timeout)
        self._lock = threading.Lock()
        self._responses: set[requests.Response] = set()
        self._answered: set[Where] = set()  # every server that has answered this download

    def open(self, url: str, headers: dict[str, str]) -> requests.Response:
        """Send a GET and return once its headers are in (the body is streamed)."""
        self.control.check()
        try:
            with network_errors():
                resp = self.session.get(
                    url, headers=headers, stream=True, allow_redirects=True, timeout=self.timeout
                )
        except (NetworkRetryable, NetworkFailed) as exc:
            self.control.check()  # stopped: that is why the request failed
            if isinstance(exc, NetworkFailed) and self._restarting(exc, exc.url or url):
                raise NetworkRetryable(exc.why) from exc
            raise
        except DownloadRefused as exc:  # the guard's own lookup, before connecting
            if self._restarting(exc, url):
                raise NetworkRetryable(exc.why) from exc
            raise
        with self._lock:
            self._responses.add(resp)
            # Every hop answered: the redirects (resp.history) and the final response.
            self._answered.update(where(r.url) for r in (*resp.history, resp))
        if self.control.stop.is_set():
            abort_response(resp)
        return resp

    def _restarting(self, exc: DownloadError, url: str) -> bool:
        """Whether ``exc`` (final by itself) is a server that has answered this download going
        away for a moment: a refusal from the same host and port, a failed lookup of the same
        host name."""
        if exc.code not in RESTART_SIGNS:
            return False
        host, port = where(url)
        named = exc.why.params.get("host")  # a failed lookup names the host it looked up
        with self._lock:
            if named is not None:
                return any(h == named for h, _ in self._answered)
            return (host, port) in self._answered

    def request(self, url: str, headers: dict[str, str], policy: RetryPolicy) -> requests.Response:
        """One request with the retry policy, answered 200 or 206 (the probe, verification)."""
        tries = policy.start()
        while True:
            try:
                resp = self.open(url, headers)
            except NetworkRetryable as exc:
                tries.failed(exc)
                continue
            if resp.status_code in RETRY_STATUS:
                self.release(resp)
                tries.failed(Retryable(status_why(resp), resp))
                continue
            if resp.status_code == 416:  # an empty file has no byte 0
                self.release(resp)
                resp = self.open(url, {})
            if resp.status_code not in (200, 206):
                self.release(resp)
                raise DownloadError(status_why(resp))
            return resp

    def read(self, resp: requests.Response, amount: int) -> bytes:
        """Up to ``amount`` bytes of ``resp``'s body at once (a small verification window)."""
        with network_errors():
            data: bytes = resp.raw.read(amount)
        return data

    def release(self, resp: requests.Response, reuse: bool = False) -> None:
        """Forget ``resp``; its connection goes back to the pool only if the body was read whole."""
        with self._lock:
            self._responses.discard(resp)
        try:
            if reuse:
                resp.raw.release_conn()
            else:
                resp.close()
        except Exception:  # noqa: BLE001 - closing a broken connection may fail; it is gone anyway
            pass

    def abort(self, resp: requests.Response) -> None:
        """Shut down ``resp``'s socket (from any thread): its reader wakes with an error."""
        abort_response(resp)

    def abort_all(self) -> None:
        """Shut down every open response's socket, and every connection still waiting for its
        response headers (from any thread)."""
        with self._lock:
            responses = list(self._responses)
        for resp in responses:
            abort_response(resp)
        for adapter in self.session.adapters.values():
            abort = getattr(adapter, "abort_all", None)
            if abort is not None:
                abort()
