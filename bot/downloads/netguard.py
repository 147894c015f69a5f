"""The private-network guard: which URLs and addresses a download may reach.

A bot that fetches any URL for anyone is a way into the network it runs in (the cloud metadata
service at 169.254.169.254, a router's admin page, a database on localhost). So by default only
public addresses are allowed: loopback, private, link-local, CGNAT, multicast, reserved and
unspecified addresses are refused, including when hidden inside IPv6 (IPv4-mapped, 6to4, NAT64,
Teredo). ``DOWNLOAD_ALLOW_NETWORKS`` exempts chosen CIDRs. The transport
(:mod:`bot.downloads.transport`) connects to the very address checked here, so a DNS answer that
changes between check and connect (rebinding) cannot slip through.

Everything in this module is pure except :func:`resolve`, which asks DNS.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

import idna

from bot.downloads.errors import DownloadRefused, PrivateAddress
from bot.downloads.reasons import Reason, Why

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_URL_LENGTH = 4096
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


def url_problem(url: str) -> Why | None:
    """Why ``url`` cannot be downloaded, judged without any network I/O; ``None`` when it can."""
    if not url or not url.strip():
        return Why.of(Reason.NO_URL)
    if len(url) > MAX_URL_LENGTH:
        return Why.of(Reason.URL_TOO_LONG, limit=MAX_URL_LENGTH)
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        return Why.of(Reason.URL_CONTROL)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return Why.of(Reason.URL_MALFORMED)
    if parts.scheme.lower() not in ("http", "https"):
        return Why.of(Reason.URL_SCHEME)
    if not parts.hostname:
        return Why.of(Reason.URL_NO_HOST)
    if port == 0:
        return Why.of(Reason.URL_PORT_ZERO)
    if not parts.hostname.isascii():
        try:
            idna.encode(parts.hostname, uts46=True)  # what requests will do with it
        except idna.IDNAError:
            return Why.of(Reason.URL_BAD_IDNA)
    return None


def check_url_syntax(url: str) -> str | None:
    """:func:`url_problem` as an English sentence (for the CLI); ``None`` when ``url`` will do."""
    problem = url_problem(url)
    return None if problem is None else problem.english()


def mask_url(url: str) -> str:
    """``url`` with any user name and password replaced by ``***``, for logs and messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, f"***@{host}", parts.path, parts.query, parts.fragment))


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, NAT64, Teredo), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64 or ip in _NAT64_LOCAL:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    # IPv4-compatible (deprecated ::a.b.c.d)
    if int(ip) >> 32 == 0 and int(ip) > 1:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _is_public(ip: IPAddress) -> bool:
    if ip.is_multicast or ip.is_unspecified or ip.is_loopback or ip.is_link_local:
        return False
    if ip.is_private or ip.is_reserved or not ip.is_global:
        return False
    return not (ip.version == 4 and ip in _CGNAT)


def address_refusal(ip: IPAddress, allow: Iterable[Network] = ()) -> Why | None:
    """Why a connection to ``ip`` is refused, or ``None`` when it is allowed."""
    allow = tuple(allow)
    if any(ip.version == net.version and ip in net for net in allow):
        return None
    inner = _embedded_ipv4(ip) if ip.version == 6 else None
    if inner is not None:
        if any(inner in net for net in allow if net.version == 4):
            return None
        # The wrapper prefixes themselves count as "reserved"; what matters is the inner address.
        return None if _is_public(inner) else Why.of(Reason.PRIVATE_ADDRESS, host=str(ip))
    if not _is_public(ip):
        return Why.of(Reason.PRIVATE_ADDRESS, host=str(ip))
    return None


def resolve(host: str, port: int, allow: Iterable[Network] = ()) -> list[IPAddress]:
    """The addresses of ``host``, all checked; raises :class:`DownloadRefused` if any is private.

    Refusing when *any* answer is private (not just the first) stops a host that resolves to
    both a public and a private address from being used to reach the private one.
    """
    host = host.strip("[]")
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            detail = getattr(exc, "strerror", None) or "no such host"
            raise DownloadRefused(Reason.CANNOT_RESOLVE, host=host, detail=detail) from None
        addresses = []
        for info in infos:
            ip = ipaddress.ip_address(str(info[4][0]).split("%")[0])
            if ip not in addresses:
                addresses.append(ip)
    if not addresses:
        raise DownloadRefused(Reason.NO_ADDRESS, host=host)
    for ip in addresses:
        reason = address_refusal(ip, allow)
        if reason:
            if literal is None:  # name the host, not what it resolved to: no map of internal DNS
                reason = Why.of(Reason.PRIVATE_ADDRESS, host=host)
            raise PrivateAddress(reason)
    return addresses
