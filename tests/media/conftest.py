"""Fixtures for media tests: real media made once by ffmpeg, and a media origin serving it."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from bot.downloads.engine import DownloadOptions
from tests.media.media_files import have_ffmpeg, make_media
from tests.media.origin import MediaOrigin

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)

if not have_ffmpeg():
    pytest.skip("ffmpeg is not installed (apt-get install ffmpeg)", allow_module_level=True)


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory) -> Path:
    return make_media(tmp_path_factory.mktemp("media"))


@pytest.fixture
def origin(media_dir: Path):
    with MediaOrigin(media_dir) as server:
        yield server


@pytest.fixture
def options():
    def make(**overrides) -> DownloadOptions:
        values = dict(
            connections=4,
            allow_networks=LOOPBACK,
            max_retries=2,
            backoff=0.05,
            backoff_max=0.2,
            read_timeout=5.0,
            connect_timeout=2.0,
            disk_reserve=0,
        )
        values.update(overrides)
        return DownloadOptions(**values)

    return make
