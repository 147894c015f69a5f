"""The HTTP session downloads use: requests + urllib3, pinned to addresses the guard approved.

:class:`PinnedAdapter` resolves the host of every request itself — the first request and every
redirect hop — checks each address with :mod:`bot.downloads.netguard`, and tells urllib3 to
connect to that checked address while keeping ``Host``, TLS SNI and certificate checks on the
real host name. There is no second DNS lookup between check and connect, so DNS rebinding
cannot reach a private address. Proxies from the environment are ignored for the same reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from bot import __version__
from bot.downloads.errors import DownloadRefused
from bot.downloads.netguard import Network, check_url_syntax, resolve

MAX_REDIRECTS = 10
USER_AGENT = f"errandbot/{__version__}"


class PinnedAdapter(HTTPAdapter):
    """An :class:`HTTPAdapter` that connects only to addresses the net guard allowed."""

    def __init__(self, allow: Iterable[Network] = (), pool_maxsize: int = 16) -> None:
        self.allow = tuple(allow)
        super().__init__(pool_connections=4, pool_maxsize=pool_maxsize, max_retries=0)

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        reason = check_url_syntax(request.url)
        if reason:
            raise DownloadRefused(f"refused: {reason}")
        parts = urlsplit(request.url)
        host = parts.hostname
        port = parts.port or (443 if parts.scheme == "https" else 80)
        ip = resolve(host, port, self.allow)[0]
        # The Host header names the real host (with a non-default port), not the address.
        netloc = parts.netloc.rpartition("@")[2]
        request.headers["Host"] = netloc
        host_params, pool_kwargs = self.build_connection_pool_key_attributes(request, verify, cert)
        host_params["host"] = str(ip)
        if parts.scheme == "https":
            pool_kwargs["server_hostname"] = host
            if pool_kwargs.get("cert_reqs") == "CERT_REQUIRED":
                pool_kwargs["assert_hostname"] = host
        return self.poolmanager.connection_from_host(**host_params, pool_kwargs=pool_kwargs)


def make_session(allow: Iterable[Network] = (), connections: int = 16) -> requests.Session:
    """A session whose every connection goes through :class:`PinnedAdapter`."""
    session = requests.Session()
    session.trust_env = False  # no proxies or .netrc from the environment: they bypass the guard
    session.max_redirects = MAX_REDIRECTS
    adapter = PinnedAdapter(allow, pool_maxsize=max(4, connections))
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers.update({
        "User-Agent": USER_AGENT,
        "Accept-Encoding": "identity",
        "Accept": "*/*",
    })
    return session
