"""yt-dlp's HTTP, sent through Errand's guarded session: the private-network guard on every request.

yt-dlp sends every request (page, API calls, manifests, redirects) through a *request director*
that picks one of its registered handlers. :class:`GuardedYoutubeDL` builds a director with one
handler only, :class:`GuardedRH`, which sends through :func:`bot.downloads.transport.make_session`:
each connection — first request and every redirect hop — is resolved, checked by
:mod:`bot.downloads.netguard` and pinned to the checked address. Nothing else is registered, so
``file://``, ``data:`` or any other scheme, proxies from the environment, ``.netrc`` and browser
cookies have no way in. Cookies a site sets are not kept either.

Refusals are remembered (:attr:`GuardedRH.refusals`): an extractor that tried a manifest on a
private address often just reports "no formats", and the person should hear the real reason.
"""

from __future__ import annotations

import http.cookiejar
import threading
import time
from collections.abc import Iterable

import requests
import urllib3
from yt_dlp import YoutubeDL
from yt_dlp.networking.common import RequestHandler, Response
from yt_dlp.networking.exceptions import HTTPError, RequestError, TransportError

from bot.downloads.errors import DownloadRefused
from bot.downloads.netguard import Network, mask_url
from bot.downloads.reasons import Reason
from bot.downloads.transport import make_session

_DROPPED_HEADERS = ("cookie", "authorization", "proxy-authorization")


class GuardRefused(RequestError):
    """The guard refused a request (private address, bad scheme, past the extraction deadline)."""


class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    def set_ok(self, cookie, request):  # noqa: ARG002 - the policy's signature
        return False

    def return_ok(self, cookie, request):  # noqa: ARG002
        return False


class _GuardedResponse(Response):
    """A streamed ``requests`` response as yt-dlp's :class:`Response` (errors mapped to its
    types)."""

    def __init__(self, res: requests.Response) -> None:
        super().__init__(
            fp=res.raw, url=res.url, headers=res.headers, status=res.status_code, reason=res.reason
        )
        self._res = res

    def read(self, amt: int | None = None) -> bytes:
        try:
            if amt is None:
                return b"".join(iter(lambda: self.fp.read(1 << 20, decode_content=True), b""))
            return self.fp.read(amt, decode_content=True)
        except urllib3.exceptions.HTTPError as exc:
            raise TransportError(cause=exc) from exc

    def close(self) -> None:
        self._res.close()
        super().close()


class GuardedRH(RequestHandler):
    """The only request handler yt-dlp gets: http(s) through Errand's pinned session."""

    _SUPPORTED_URL_SCHEMES = ("http", "https")
    _SUPPORTED_PROXY_SCHEMES = ()
    _SUPPORTED_FEATURES = ()

    def __init__(
        self,
        *,
        allow: Iterable[Network] = (),
        deadline: float | None = None,
        limit: float = 0.0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.allow = tuple(allow)
        self.deadline = deadline  # time.monotonic() after which no request is sent
        self.limit = limit  # the seconds that deadline allowed, for the reason given past it
        self.refusals: list[
            DownloadRefused
        ] = []  # the guard's own errors, type kept (PrivateAddress…)
        self._session: requests.Session | None = None
        self._lock = threading.Lock()

    def _check_extensions(self, extensions):
        super()._check_extensions(extensions)
        for name in ("cookiejar", "timeout", "legacy_ssl", "keep_header_casing"):
            extensions.pop(name, None)

    def _session_for_requests(self) -> requests.Session:
        with self._lock:
            if self._session is None:
                session = make_session(self.allow, connections=4)
                session.cookies.set_policy(_NoCookies())
                self._session = session
            return self._session

    def _refuse(self, refusal: DownloadRefused) -> GuardRefused:
        self.refusals.append(refusal)
        return GuardRefused(str(refusal))

    def _send(self, request):
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise self._refuse(
                DownloadRefused(Reason.MEDIA_READ_TOO_LONG, limit_seconds=self.limit)
            )
        headers = {
            k: v for k, v in self._get_headers(request).items() if k.lower() not in _DROPPED_HEADERS
        }
        timeout = self._calculate_timeout(request)
        if self.deadline is not None:
            timeout = max(1.0, min(timeout, self.deadline - time.monotonic()))
        try:
            res = self._session_for_requests().request(
                method=request.method,
                url=request.url,
                data=request.data,
                headers=headers,
                timeout=timeout,
                allow_redirects=True,
                stream=True,
            )
        except DownloadRefused as exc:
            raise self._refuse(exc) from None
        except requests.exceptions.InvalidSchema:
            raise self._refuse(
                DownloadRefused(Reason.MEDIA_REDIRECT_SCHEME, url=mask_url(request.url))
            ) from None
        except (
            requests.exceptions.ConnectionError,
            requests.exceptions.Timeout,
            requests.exceptions.TooManyRedirects,
            urllib3.exceptions.HTTPError,
        ) as exc:
            raise TransportError(cause=exc) from exc
        except requests.exceptions.RequestException as exc:
            raise RequestError(cause=exc) from exc
        response = _GuardedResponse(res)
        if not 200 <= res.status_code < 300:
            raise HTTPError(response)
        return response

    def close(self) -> None:
        if self._session is not None:
            self._session.close()


class GuardedYoutubeDL(YoutubeDL):
    """A :class:`YoutubeDL` whose only way to the network is :class:`GuardedRH`."""

    def __init__(
        self,
        params: dict,
        *,
        allow: Iterable[Network] = (),
        deadline: float | None = None,
        limit: float = 0.0,
    ) -> None:
        self._guard_allow = tuple(allow)
        self._guard_deadline = deadline
        self._guard_limit = limit
        self.guard: GuardedRH | None = None
        super().__init__(params)

    def build_request_director(self, handlers, preferences=None):  # noqa: ARG002 - ours only
        def make(**kwargs) -> GuardedRH:
            self.guard = GuardedRH(
                allow=self._guard_allow,
                deadline=self._guard_deadline,
                limit=self._guard_limit,
                **kwargs,
            )
            return self.guard

        make.RH_KEY = GuardedRH.RH_KEY
        return super().build_request_director([make], ())
