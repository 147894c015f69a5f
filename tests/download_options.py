"""Download options for tests that fetch from loopback origins (tests/origin.py, media origins).

One recipe, so that the engine's and the media tests reach loopback, retry quickly and time out
quickly in the same way; each test folder's ``options`` fixture adds only what it needs.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from bot.downloads.api import DownloadOptions

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)


def loopback_options(**overrides: Any) -> DownloadOptions:
    """Options that reach loopback (the private-network block lifted for 127.0.0.0/8), with four
    connections, fast retries, short timeouts and no disk reserve; ``overrides`` replace any."""
    values: dict[str, Any] = dict(
        connections=4,
        allow_networks=LOOPBACK,
        max_retries=3,
        backoff=0.05,
        backoff_max=0.2,
        read_timeout=2.0,
        connect_timeout=2.0,
        disk_reserve=0,
    )
    values.update(overrides)
    return DownloadOptions(**values)
