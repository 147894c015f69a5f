"""Which addresses and URLs the private-network guard refuses, without any network I/O."""

from __future__ import annotations

import ipaddress

import pytest

from bot.downloads.errors import DownloadRefused
from bot.downloads.netguard import address_refusal, check_url_syntax, mask_url, resolve

REFUSED = [
    "127.0.0.1",
    "10.0.0.5",
    "172.16.3.4",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "224.0.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "2002:7f00:1::",
    "2002:a9fe:a9fe::",
    "64:ff9b::10.0.0.1",
    "64:ff9b::a9fe:a9fe",
    "2001::ffff:ffff",
    "::127.0.0.1",
]
ALLOWED = ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::8.8.8.8"]


@pytest.mark.parametrize("ip", REFUSED)
def test_private_and_special_addresses_are_refused(ip):
    reason = address_refusal(ipaddress.ip_address(ip))
    assert reason is not None and "private address (not allowed)" in str(reason)


@pytest.mark.parametrize("ip", ALLOWED)
def test_public_addresses_are_allowed(ip):
    assert address_refusal(ipaddress.ip_address(ip)) is None


def test_allow_networks_exempt_a_range_only():
    allow = [ipaddress.ip_network("127.0.0.0/8")]
    assert address_refusal(ipaddress.ip_address("127.0.0.1"), allow) is None
    assert address_refusal(ipaddress.ip_address("::ffff:127.0.0.1"), allow) is None
    assert address_refusal(ipaddress.ip_address("10.0.0.1"), allow) is not None


def test_resolve_refuses_literal_private_host():
    with pytest.raises(DownloadRefused, match="169.254.169.254 is a private address"):
        resolve("169.254.169.254", 80)
    assert resolve("[::1]", 80, [ipaddress.ip_network("::1/128")]) == [ipaddress.ip_address("::1")]


@pytest.mark.parametrize(
    "url, fragment",
    [
        ("", "no URL"),
        ("ftp://example.com/x", "only http"),
        ("file:///etc/passwd", "only http"),
        ("http://", "no host"),
        ("http://exa mple.com/", "spaces"),
        ("http://example.com:99999/", "malformed"),
        ("https://example.com/" + "a" * 5000, "too long"),
        ("javascript:alert(1)", "only http"),
    ],
)
def test_check_url_syntax_rejects(url, fragment):
    reason = check_url_syntax(url)
    assert reason is not None and fragment in reason


def test_check_url_syntax_accepts_plain_urls():
    assert check_url_syntax("https://example.com/file.iso") is None
    assert check_url_syntax("HTTP://[2001:db8::1]:8080/a?b=c") is None


def test_mask_url_hides_credentials():
    assert mask_url("https://user:pass@h.example/x?y=1") == "https://***@h.example/x?y=1"
    assert mask_url("https://h.example/x") == "https://h.example/x"


def test_a_name_resolving_to_a_private_address_is_refused_by_name() -> None:
    with pytest.raises(DownloadRefused) as info:
        resolve("localhost", 80)
    assert str(info.value) == "refused: localhost is a private address (not allowed)"
    assert "127.0.0.1" not in str(info.value)
