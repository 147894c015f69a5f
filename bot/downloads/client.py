"""HTTP for one download: requests through the guarded session, and a way to stop them all.

:class:`Client` opens every request of a run (probe, ranges, the stream, verification windows),
remembers the responses still open so that a stop can shut their sockets down (a thread blocked
in a read wakes at once), and lets no library exception through: a failed request raises
:class:`~bot.downloads.errors.NetworkRetryable` or :class:`~bot.downloads.errors.NetworkFailed`
(:func:`bot.downloads.transport.network_errors`), unless the run was stopped, whose reason wins.
"""

from __future__ import annotations

import threading

import requests

from bot.downloads.checks import status_why
from bot.downloads.control import Control
from bot.downloads.errors import DownloadError, NetworkFailed, NetworkRetryable, Retryable
from bot.downloads.retries import RETRY_STATUS, RetryPolicy
from bot.downloads.transport import abort_response, network_errors


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

    def open(self, url: str, headers: dict[str, str]) -> requests.Response:
        """Send a GET and return once its headers are in (the body is streamed)."""
        self.control.check()
        try:
            with network_errors():
                resp = self.session.get(
                    url, headers=headers, stream=True, allow_redirects=True, timeout=self.timeout
                )
        except (NetworkRetryable, NetworkFailed):
            self.control.check()  # stopped: that is why the request failed
            raise
        with self._lock:
            self._responses.add(resp)
        if self.control.stop.is_set():
            abort_response(resp)
        return resp

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
