"""Fixtures for media tests: real media made once by ffmpeg, and a media origin serving it."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest

from tests.download_options import loopback_options
from tests.media.media_files import have_ffmpeg, make_media
from tests.media.origin import MediaOrigin

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
    """Loopback options (tests/download_options.py) with two retries and a 5 s read timeout."""
    return partial(loopback_options, max_retries=2, read_timeout=5.0)
