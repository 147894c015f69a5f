"""What a failed request means, decided in one place: the reason to show, and whether to retry.

requests wraps urllib3, which wraps ``http.client``, ``ssl`` and ``socket``; the cause that matters
(a refused connection, an untrusted certificate) sits somewhere in that chain. :func:`classify`
walks the chain once and sorts by exception *type*, never by message text, like urllib3's own
``Retry`` predicates. Errors that cannot change by trying again — connection refused, a
certificate that is not trusted, a name that does not resolve, an invalid URL, a malformed
response — are not retried: the download fails at once with the real reason.

Some of them are final only while the server has never answered this download
(:data:`RESTART_SIGNS`): a server that has already answered is not a closed port or a name that
does not exist; its refusal is most likely a restart. :class:`~bot.downloads.client.Client`
knows which hosts have answered and retries those with the download's retry policy.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass

import requests
from urllib3 import exceptions as u3
from urllib3.util.ssl_match_hostname import CertificateError as HostnameMismatch

from bot.downloads.reasons import Reason, Why

#: Final before the host has answered this download, retried after (as aria2c does, and curl
#: with ``--retry-connrefused``): a refused connection (the port closes while the server
#: restarts) and a failed name lookup (a resolver restarting, a record being replaced). A reset or
#: a dropped connection needs no such rule: it is retried in both cases already (an overloaded
#: server or a middlebox does it, not only a closed port). A certificate, a TLS handshake, a
#: private address or a malformed answer stays final: a restart does not explain them, and a
#: certificate that changed to an untrusted one must never be given another chance.
RESTART_SIGNS = frozenset(
    {Reason.CONNECTION_REFUSED, Reason.NAME_NOT_RESOLVED, Reason.CANNOT_RESOLVE, Reason.NO_ADDRESS}
)


@dataclass(frozen=True)
class Failure:
    reason: Why
    retryable: bool


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and everything it wraps: causes, contexts, urllib3 ``reason``, requests ``args``."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        e = todo.pop(0)
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        nested = [e.__cause__, e.__context__, getattr(e, "reason", None), *getattr(e, "args", ())]
        todo += [n for n in nested if isinstance(n, BaseException)]


def classify(exc: BaseException) -> Failure:
    """The failure behind a requests/urllib3/socket exception; see the module docstring."""
    chain = list(_chain(exc))

    def first(*types: type) -> BaseException | None:
        return next((e for e in chain if isinstance(e, types)), None)

    cert = first(ssl.SSLCertVerificationError)
    if cert is not None:
        detail = getattr(cert, "verify_message", None) or "verification failed"
        return Failure(Why.of(Reason.CERT_UNTRUSTED, detail=str(detail)), False)
    if first(HostnameMismatch) is not None:
        return Failure(Why.of(Reason.CERT_OTHER_HOST), False)
    if first(ssl.SSLEOFError, ssl.SSLZeroReturnError) is not None:
        return Failure(Why.of(Reason.TLS_CUT), True)
    tls = first(ssl.SSLError)
    if tls is not None:
        return Failure(
            Why.of(
                Reason.TLS_FAILED, detail=str(getattr(tls, "reason", None) or "handshake error")
            ),
            False,
        )
    if first(ConnectionRefusedError) is not None:
        return Failure(Why.of(Reason.CONNECTION_REFUSED), False)
    if first(socket.gaierror, u3.NameResolutionError) is not None:
        return Failure(Why.of(Reason.NAME_NOT_RESOLVED), False)
    if (
        first(
            requests.exceptions.InvalidSchema,
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidURL,
            u3.LocationParseError,
            UnicodeError,
        )
        is not None
    ):
        return Failure(Why.of(Reason.INVALID_URL), False)
    if first(requests.TooManyRedirects) is not None:
        return Failure(Why.of(Reason.TOO_MANY_REDIRECTS, limit=10), False)
    if first(requests.Timeout, u3.TimeoutError, socket.timeout, TimeoutError) is not None:
        return Failure(Why.of(Reason.TIMED_OUT), True)
    if first(http.client.IncompleteRead, u3.IncompleteRead) is not None:
        return Failure(Why.of(Reason.SHORT_BODY), True)
    if first(ConnectionError, http.client.RemoteDisconnected) is not None:
        return Failure(Why.of(Reason.CONNECTION_FAILED), True)
    malformed = first(http.client.LineTooLong, http.client.BadStatusLine)
    if malformed is None:
        malformed = next((e for e in chain if type(e) is http.client.HTTPException), None)
    if malformed is not None:
        return Failure(Why.of(Reason.MALFORMED_ANSWER, detail=str(malformed)), False)
    return Failure(Why.of(Reason.CONNECTION_FAILED), True)
