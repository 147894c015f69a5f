"""Shared fixtures for the download engine tests: a misbehaving origin and loopback-allowed options."""

from __future__ import annotations

import hashlib
import ipaddress
import os

import pytest

from bot.downloads.engine import DownloadOptions
from tests.origin import Origin

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)


@pytest.fixture
def origin():
    with Origin() as server:
        yield server


@pytest.fixture
def options():
    """Options that reach the loopback origin, with fast retries and small splits for tests."""

    def make(**overrides) -> DownloadOptions:
        values = dict(
            connections=4,
            allow_networks=LOOPBACK,
            max_retries=3,
            backoff=0.05,
            backoff_max=0.2,
            read_timeout=2.0,
            connect_timeout=2.0,
            min_split=64 * 1024,
            disk_reserve=0,
        )
        values.update(overrides)
        return DownloadOptions(**values)

    return make


def payload(size: int, seed: int = 0) -> bytes:
    """Incompressible test data (random, so a misplaced byte cannot match by chance)."""
    return os.urandom(size)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
