"""The service's side of media pages (which probes are pages; ffmpeg missing), the survey's choices,
and HLS playlists the fetcher refuses or reads by byte range."""

from __future__ import annotations

from pathlib import Path

import m3u8
import pytest

from bot.config import load_settings
from bot.downloads.errors import DownloadError, Refused
from bot.downloads.reasons import Reason
from bot.humanize import MiB as MB
from bot.media import record
from bot.media.hls import fragments_of
from bot.media.pages import is_media_candidate, media_request, save_asked
from bot.media.plan import MediaMode, MediaRequest
from bot.media.survey import summarize


@pytest.mark.parametrize(
    "content_type, url, expected",
    [
        ("text/html; charset=utf-8", "https://example.com/watch", True),
        ("application/vnd.apple.mpegurl", "https://example.com/live", True),
        ("application/octet-stream", "https://example.com/v/index.m3u8?token=1", True),
        ("application/dash+xml", "https://example.com/m", True),
        ("video/mp4", "https://example.com/clip.mp4", False),
        ("application/zip", "https://example.com/a.zip", False),
    ],
)
def test_which_probes_are_pages_to_extract(content_type, url, expected):
    assert is_media_candidate(content_type, url) is expected


def settings(tmp_path: Path, **values):
    return load_settings(bot_token=None, data_dir=tmp_path, **values)


def test_a_page_becomes_a_media_job_unless_asked_as_file_or_switched_off(tmp_path: Path):
    page = ("text/html", "https://example.com/watch")
    request = media_request(settings(tmp_path), tmp_path / "a", *page)
    assert request is not None and request.mode is MediaMode.BEST
    assert record.load_request(tmp_path / "a") == request
    save_asked(tmp_path / "b", "file")
    assert media_request(settings(tmp_path), tmp_path / "b", *page) is None
    assert media_request(settings(tmp_path, media_extract=False), tmp_path / "c", *page) is None
    save_asked(tmp_path / "d", "audio", item=3)
    asked = media_request(settings(tmp_path), tmp_path / "d", *page)
    assert asked.mode is MediaMode.AUDIO and asked.item == 3


def test_without_ffmpeg_a_page_is_refused_with_the_reason(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(Refused, match="needs ffmpeg, which is not installed") as caught:
        media_request(
            settings(tmp_path), tmp_path / "job", "text/html", "https://example.com/watch"
        )
    assert (
        caught.value.code is Reason.MEDIA_NEEDS_FFMPEG
    )  # worded in the reader's language by the chat
    # An ordinary file is not affected.
    assert (
        media_request(
            settings(tmp_path), tmp_path / "job2", "application/zip", "https://e.com/a.zip"
        )
        is None
    )


def formats(*heights: int, audio: bool = True) -> list[dict]:
    out = [
        {
            "format_id": f"v{h}",
            "vcodec": "avc1",
            "acodec": "none",
            "height": h,
            "filesize": h * 100_000,
        }
        for h in heights
    ]
    if audio:
        out.append({"format_id": "a", "vcodec": "none", "acodec": "mp4a", "filesize": 2 * MB})
    return out


def test_the_survey_offers_best_within_the_height_limit_a_smaller_one_and_audio():
    survey = summarize(
        {"title": "Talk", "formats": formats(360, 720, 1080, 2160)}, MediaRequest(max_height=1080)
    )
    assert [(c.mode, c.height) for c in survey.choices] == [
        (MediaMode.BEST, 1080),
        (MediaMode.SMALL, 360),
        (MediaMode.AUDIO, None),
    ]
    assert (
        survey.choices[0].size == 1080 * 100_000 + 2 * MB
    )  # video plus the audio it is joined with
    assert survey.default is MediaMode.BEST and survey.needs_asking


def test_the_default_is_the_smaller_video_when_only_it_fits_the_upload_limit():
    survey = summarize(
        {"title": "Talk", "formats": formats(360, 1080)}, MediaRequest(), max_upload=50 * MB
    )
    assert survey.choices[0].size > 50 * MB >= survey.choices[1].size
    assert survey.default is MediaMode.SMALL


def test_a_single_muxed_file_needs_no_question():
    survey = summarize(
        {"title": "Clip", "url": "https://e.com/c.mp4", "ext": "mp4"}, MediaRequest()
    )
    assert not survey.needs_asking


def test_a_playlist_asks_even_with_one_quality():
    info = {
        "_type": "playlist",
        "playlist_count": 4,
        "entries": [{"title": "One", "url": "https://e.com/1.mp4"}],
    }
    survey = summarize(info, MediaRequest())
    assert survey.item_count == 4 and survey.needs_asking


def test_hls_byte_ranges_and_init_sections_are_read():
    playlist = m3u8.loads(
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-PLAYLIST-TYPE:VOD\n"
        '#EXT-X-MAP:URI="init.mp4",BYTERANGE="800@0"\n'
        "#EXT-X-BYTERANGE:1000@800\n#EXTINF:2,\nall.mp4\n"
        "#EXT-X-BYTERANGE:500\n#EXTINF:2,\nall.mp4\n#EXT-X-ENDLIST\n",
        uri="https://e.com/v/index.m3u8",
    )
    fragments = fragments_of(playlist)
    assert [(f.url, f.byte_range) for f in fragments] == [
        ("https://e.com/v/init.mp4", (0, 799)),
        ("https://e.com/v/all.mp4", (800, 1799)),
        ("https://e.com/v/all.mp4", (1800, 2299)),
    ]


@pytest.mark.parametrize(
    "text, reason, code",
    [
        ("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n", "live stream", Reason.MEDIA_LIVE),
        (
            '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-KEY:METHOD=AES-128,URI="k"\n#EXTINF:2,\na.ts\n#EXT-X-ENDLIST\n',
            "encrypted",
            Reason.MEDIA_ENCRYPTED,
        ),
    ],
)
def test_live_and_encrypted_hls_are_refused_with_the_reason(text, reason, code):
    with pytest.raises(DownloadError, match=reason) as caught:
        fragments_of(m3u8.loads(text, uri="https://e.com/index.m3u8"))
    assert caught.value.code is code
