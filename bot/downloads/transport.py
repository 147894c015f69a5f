"""The HTTP session downloads use: requests + urllib3, pinned to addresses the guard approved.

This module is the engine's only boundary with the HTTP libraries: :func:`network_errors` turns
their exceptions into Errand's own (as httpx's ``map_httpcore_exceptions`` does), and every reach
into a private urllib3 attribute (the pool's ``_get_conn``/``_put_conn``, a response's
``_connection`` and ``_fp``) is here, checked by ``tests/downloads/test_transport.py`` so that a
urllib3 upgrade that breaks one fails loudly there.

:class:`PinnedAdapter` resolves the host of every request itself — the first request and every
redirect hop — checks each address with :mod:`bot.downloads.netguard`, and tells urllib3 to
connect to that checked address while keeping ``Host``, TLS SNI and certificate checks on the
real host name. There is no second DNS lookup between check and connect, so DNS rebinding
cannot reach a private address. Proxies from the environment are ignored for the same reason.
"""

from __future__ import annotations

import http.client
import os
import socket
import ssl
import weakref
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.certs import where as default_ca_file  # type: ignore[attr-defined]  # certifi's, re-exported
from urllib3.connectionpool import ConnectionPool, HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import HTTPError as Urllib3Error

from bot import __version__
from bot.downloads.errors import DownloadRefused, NetworkFailed, NetworkRetryable
from bot.downloads.failures import classify
from bot.downloads.netguard import Network, resolve, url_problem
from bot.downloads.reasons import Reason

if TYPE_CHECKING:
    from urllib3._base_connection import BaseHTTPConnection

MAX_REDIRECTS = 10
#: What the HTTP libraries raise for a failed request or body read (requests wraps urllib3, which
#: wraps http.client, ssl and socket); :func:`network_errors` maps them.
LIBRARY_ERRORS = (
    requests.RequestException,
    Urllib3Error,
    http.client.HTTPException,
    ConnectionError,
    TimeoutError,
)
USER_AGENT = f"errandbot/{__version__}"


def _tracking(
    base: type[HTTPConnectionPool], checked_out: weakref.WeakSet[BaseHTTPConnection]
) -> type[HTTPConnectionPool]:
    """A pool class that remembers which of its connections are in use (to abort them), by
    overriding urllib3's private ``_get_conn`` and ``_put_conn``."""

    def _get_conn(self: HTTPConnectionPool, timeout: float | None = None) -> BaseHTTPConnection:
        conn = base._get_conn(self, timeout)
        checked_out.add(conn)
        return conn

    def _put_conn(self: HTTPConnectionPool, conn: BaseHTTPConnection | None) -> None:
        if conn is not None:
            checked_out.discard(conn)
        base._put_conn(self, conn)

    return type(
        f"Tracking{base.__name__}", (base,), {"_get_conn": _get_conn, "_put_conn": _put_conn}
    )


class PinnedAdapter(HTTPAdapter):
    """An :class:`HTTPAdapter` that connects only to addresses the net guard allowed.

    It also knows every connection in use, so that :meth:`abort_all` can wake a thread blocked
    anywhere in a request — waiting for response headers included — by shutting its socket down.
    """

    def __init__(
        self,
        allow: Iterable[Network] = (),
        pool_maxsize: int = 16,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.allow = tuple(allow)
        self._checked_out: weakref.WeakSet[BaseHTTPConnection] = weakref.WeakSet()
        self._ssl_context = ssl_context
        super().__init__(pool_connections=4, pool_maxsize=pool_maxsize, max_retries=0)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _tracking(HTTPConnectionPool, self._checked_out),
            "https": _tracking(HTTPSConnectionPool, self._checked_out),
        }

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **kwargs: Any
    ) -> None:
        if self._ssl_context is not None:
            kwargs["ssl_context"] = self._ssl_context
        super().init_poolmanager(connections, maxsize, block, **kwargs)

    def abort_all(self) -> None:
        """Shut down the socket of every connection in use (from any thread)."""
        for conn in list(self._checked_out):
            shutdown_socket(conn)

    def get_connection_with_tls_context(
        self,
        request: requests.PreparedRequest,
        verify: bool | str | None,
        proxies: Mapping[str, str] | None = None,
        cert: tuple[str, str] | str | None = None,
    ) -> ConnectionPool:
        url = request.url or ""
        reason = url_problem(url)
        if reason:
            raise DownloadRefused(Reason.REFUSED_URL, reason)
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        ip = resolve(host, port, self.allow)[0]
        # The Host header names the real host (with a non-default port), not the address.
        netloc = parts.netloc.rpartition("@")[2]
        request.headers["Host"] = netloc
        host_params, key_kwargs = self.build_connection_pool_key_attributes(
            request, cast(bool | str, verify), cert
        )
        pool_kwargs: dict[str, Any] = dict(key_kwargs)
        host_params["host"] = str(ip)
        if parts.scheme == "https":
            pool_kwargs["server_hostname"] = host
            if pool_kwargs.get("cert_reqs") == "CERT_REQUIRED":
                pool_kwargs["assert_hostname"] = host
        pool: ConnectionPool = self.poolmanager.connection_from_host(
            **host_params, pool_kwargs=pool_kwargs
        )
        return pool


class GuardedSession(requests.Session):
    """A session that refuses, before following it, a redirect to anything but a valid http(s) URL
    (``file://``, ``ftp://``, a host name that is not valid IDNA…), saying why."""

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        location = super().get_redirect_target(resp)
        if location:
            target = urljoin(resp.url, location)
            scheme = urlsplit(target).scheme.lower()
            if scheme not in ("http", "https"):
                raise DownloadRefused(Reason.REDIRECT_SCHEME, scheme=scheme)
            reason = url_problem(target)
            if reason:
                raise DownloadRefused(Reason.REDIRECT_REFUSED, reason)
        return location


def trust(
    ca_bundle: Path | None = None, environ: Mapping[str, str] = os.environ
) -> tuple[str | bool, ssl.SSLContext | None]:
    """The TLS trust for downloads: requests' ``verify`` value and an SSL context (or ``None``).

    ``REQUESTS_CA_BUNDLE`` and ``SSL_CERT_FILE`` replace the default store, as they do for
    requests and OpenSSL (the session itself ignores the environment, see :func:`make_session`).
    When both are set, both are trusted: many machines set one of them to the system store for
    every program, and a private CA named in the other must not be shadowed by it.
    ``ca_bundle`` (``DOWNLOAD_CA_BUNDLE``) adds certificates to whichever store is in use.
    Certificates are always checked: there is no way to turn that off. A file that cannot be
    loaded raises :class:`DownloadRefused` (``TLS_FAILED``, naming the file).
    """
    named = [environ.get("REQUESTS_CA_BUNDLE"), environ.get("SSL_CERT_FILE")]
    stores = list(dict.fromkeys(f for f in named if f))
    if ca_bundle is None and not stores:
        return True, None
    first = stores[0] if stores else default_ca_file()
    try:
        context = ssl.create_default_context(cafile=first)
    except (OSError, ssl.SSLError) as exc:
        raise _unloadable(first, exc) from None
    for extra in [*stores[1:], ca_bundle]:
        if extra is None:
            continue
        try:
            context.load_verify_locations(cafile=str(extra))
        except (OSError, ssl.SSLError) as exc:
            raise _unloadable(str(extra), exc) from None
    return True, context


def _unloadable(path: str, exc: OSError | ssl.SSLError) -> DownloadRefused:
    detail = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc)
    return DownloadRefused(
        Reason.TLS_FAILED, detail=f"cannot load CA certificates from {path} ({detail})"
    )


def make_session(
    allow: Iterable[Network] = (), connections: int = 16, ca_bundle: Path | None = None
) -> requests.Session:
    """A session whose every connection goes through :class:`PinnedAdapter`."""
    session = GuardedSession()
    session.trust_env = False  # no proxies or .netrc from the environment: they bypass the guard
    session.max_redirects = MAX_REDIRECTS
    session.verify, context = trust(ca_bundle)
    adapter = PinnedAdapter(allow, pool_maxsize=max(4, connections), ssl_context=context)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers.update(
        {
            "User-Agent": USER_AGENT,
            "Accept-Encoding": "identity",
            "Accept": "*/*",
        }
    )
    return session


def shutdown_socket(conn: object) -> None:
    """Shut ``conn``'s socket down for both directions: a thread blocked reading it wakes at once
    (``close()`` from another thread may not wake it)."""
    sock = getattr(conn, "sock", None)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def abort_response(resp: requests.Response) -> None:
    """Wake a thread blocked reading ``resp``'s body. urllib3 keeps the connection in a private
    ``_connection`` (2.x) or a public ``connection`` attribute, depending on its version."""
    shutdown_socket(getattr(resp.raw, "_connection", None) or getattr(resp.raw, "connection", None))


def mapped(exc: BaseException) -> NetworkRetryable | NetworkFailed:
    """The Errand exception for a library exception (sorted by type in
    :func:`bot.downloads.failures.classify`)."""
    failure = classify(exc)
    if failure.retryable:
        return NetworkRetryable(failure.reason)
    failed = NetworkFailed(failure.reason)
    # requests names the request that failed (after redirects, the hop, not the first URL).
    request = getattr(exc, "request", None)
    failed.url = getattr(request, "url", None)
    return failed


@contextmanager
def network_errors() -> Iterator[None]:
    """Around a request or a body read: a library exception leaves as :class:`NetworkRetryable`
    or :class:`NetworkFailed` (with the original as ``__cause__``); nothing above this module
    knows the libraries' exception types."""
    try:
        yield
    except LIBRARY_ERRORS as exc:
        raise mapped(exc) from exc


def body_file(resp: requests.Response) -> object:
    """The object to ``readinto`` a body from: the ``http.client`` response under urllib3's (kept
    as a private ``_fp``; it still enforces ``Content-Length``, decodes chunked framing and raises
    on a short body), or urllib3's own response if a future urllib3 hides it."""
    raw = resp.raw
    fp = getattr(raw, "_fp", None)
    return fp if fp is not None and hasattr(fp, "readinto") else raw
