"""Shared fixtures for the download engine tests: a misbehaving origin and loopback-allowed options."""

from __future__ import annotations

import hashlib
import os
from functools import partial

import pytest

from tests.download_options import LOOPBACK as LOOPBACK  # imported from here by test files
from tests.download_options import loopback_options
from tests.origin import Origin


@pytest.fixture
def origin():
    with Origin() as server:
        yield server


@pytest.fixture
def options():
    """Loopback options (tests/download_options.py) with small splits, so that small test files
    still split over several connections."""
    return partial(loopback_options, min_split=64 * 1024)


def payload(size: int, seed: int = 0) -> bytes:
    """Incompressible test data (random, so a misplaced byte cannot match by chance)."""
    return os.urandom(size)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
