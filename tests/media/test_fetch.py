"""Media pages end to end in one process: real pages, real HLS/DASH/MP4, yt-dlp, ffmpeg, ffprobe."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from bot.downloads.errors import DownloadCancelled, DownloadError, DownloadRefused
from bot.downloads.reasons import Reason
from bot.media import record
from bot.media.job import WORK_DIR, MediaDownloader
from bot.media.plan import MediaMode, MediaRequest
from tests.media.media_files import DURATION, probe


def pages(origin) -> dict[str, str]:
    return {
        "video src": origin.add_page("/video.html", '<body><video src="/clip.mp4"></video></body>'),
        "source hls": origin.add_page(
            "/source.html",
            '<body><video controls><source src="/hls/index.m3u8" '
            'type="application/x-mpegURL"></video></body>',
        ),
        "opengraph dash": origin.add_page(
            "/og.html",
            f'<meta property="og:video" content="{origin.url("/dash/manifest.mpd")}">'
            '<meta property="og:title" content="OG clip"></head><body></body>',
        ),
        "bare m3u8": origin.url("/hls/index.m3u8"),
    }


@pytest.mark.parametrize("kind", ["video src", "source hls", "opengraph dash", "bare m3u8"])
def test_each_way_of_embedding_gives_a_playable_video(kind, origin, options, tmp_path: Path):
    url = pages(origin)[kind]
    result = MediaDownloader(url, tmp_path, options(), request=MediaRequest()).run()
    facts = probe(result.path)
    assert facts["types"] == ["audio", "video"]
    assert facts["duration"] == pytest.approx(DURATION, abs=0.3)
    assert facts["width"] == 320
    info = record.load_info(tmp_path)
    assert info.kind == "video" and info.width == 320 and info.height == 240
    assert info.duration == pytest.approx(DURATION, abs=0.3)
    assert info.thumbnail and (tmp_path / info.thumbnail).stat().st_size > 0
    assert not (tmp_path / WORK_DIR).exists(), "intermediate files are removed"


def test_audio_only_keeps_the_audio_without_reencoding(origin, options, tmp_path: Path):
    url = pages(origin)["source hls"]
    result = MediaDownloader(
        url, tmp_path, options(), request=MediaRequest(mode=MediaMode.AUDIO)
    ).run()
    facts = probe(result.path)
    assert facts["types"] == ["audio"]
    assert result.path.suffix == ".m4a"
    assert facts["duration"] == pytest.approx(DURATION, abs=0.3)
    assert record.load_info(tmp_path).kind == "audio"


def test_a_page_without_media_says_so_in_one_line(origin, options, tmp_path: Path):
    url = origin.add_page("/plain.html", "<body><p>No video here.</p></body>")
    with pytest.raises(DownloadError) as caught:
        MediaDownloader(url, tmp_path, options(), request=MediaRequest()).run()
    assert "no video or audio found" in str(caught.value)
    assert caught.value.code is Reason.MEDIA_NONE
    assert "\n" not in str(caught.value)


def test_without_the_loopback_exemption_the_page_itself_is_refused(origin, options, tmp_path: Path):
    url = pages(origin)["video src"]
    with pytest.raises(DownloadRefused, match="private address"):
        MediaDownloader(url, tmp_path, options(allow_networks=()), request=MediaRequest()).run()
    assert origin.hits == [], "nothing was sent to the private address"


def test_a_manifest_pointing_into_a_private_address_is_refused(origin, options, tmp_path: Path):
    # The page is reachable (127.0.0.1 is allowed for the test); its manifest is on 10.0.0.1.
    url = origin.add_page(
        "/evil.html", '<body><video src="http://10.255.255.1/x/index.m3u8"></video></body>'
    )
    with pytest.raises(DownloadRefused, match="10.255.255.1 is a private address"):
        MediaDownloader(url, tmp_path, options(), request=MediaRequest()).run()


def test_one_fragment_pointing_into_a_private_address_is_refused(
    origin, media_dir: Path, options, tmp_path: Path
):
    playlist = (media_dir / "hls" / "index.m3u8").read_text()
    evil = playlist.replace("seg003.ts", "http://169.254.169.254/latest/meta-data/seg003.ts")
    (media_dir / "hls" / "evil.m3u8").write_text(evil)
    url = origin.add_page(
        "/evil-fragment.html", '<body><video src="/hls/evil.m3u8"></video></body>'
    )
    with pytest.raises(DownloadRefused, match="169.254.169.254 is a private address"):
        MediaDownloader(url, tmp_path, options(), request=MediaRequest()).run()


def test_a_redirect_into_a_private_address_is_refused(origin, options, tmp_path: Path):
    origin.add_redirect("/hop.m3u8", "http://192.168.1.1/index.m3u8")
    url = origin.add_page("/redirect.html", '<body><video src="/hop.m3u8"></video></body>')
    with pytest.raises(DownloadRefused, match="192.168.1.1 is a private address"):
        MediaDownloader(url, tmp_path, options(), request=MediaRequest()).run()


def test_a_file_url_in_a_page_is_never_read(origin, options, tmp_path: Path):
    url = origin.add_page("/file.html", '<body><video src="file:///etc/passwd"></video></body>')
    with pytest.raises(DownloadError):
        MediaDownloader(url, tmp_path, options(), request=MediaRequest()).run()
    assert not any(p.name != ".media.json" for p in tmp_path.iterdir() if p.is_file())


def test_slow_fragments_are_fetched_in_parallel(origin, options, tmp_path: Path):
    delay = 0.5
    origin.delay("/hls/seg", delay)
    url = pages(origin)["bare m3u8"]
    MediaDownloader(url, tmp_path, options(connections=8), request=MediaRequest()).run()
    hits = origin.hits_under("/hls/seg")
    serial = len(hits) * delay  # what fetching them one after another would take at least
    span = max(h.finished for h in hits) - min(h.started for h in hits)
    assert origin.max_active >= 4, f"at most {origin.max_active} fragment requests at once"
    assert span < serial * 0.5, f"{span:.2f}s for {len(hits)} fragments of {delay}s each"


def test_cancel_mid_hls_stops_fetching_fragments(origin, options, tmp_path: Path):
    origin.delay("/hls/seg", 0.5)
    origin.rate = 20_000
    downloader = MediaDownloader(
        origin.url("/hls/index.m3u8"), tmp_path, options(connections=2), request=MediaRequest()
    )
    outcome: dict = {}

    def run() -> None:
        try:
            downloader.run()
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertion
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 30
    while not origin.hits_under("/hls/seg") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert origin.hits_under("/hls/seg"), "fragments never started"
    downloader.cancel()
    asked = time.monotonic()  # after cancel() returned: the stop is set
    thread.join(10)
    assert not thread.is_alive()
    ended = time.monotonic()
    assert isinstance(outcome.get("error"), DownloadCancelled)
    # By event order rather than a wall-clock bound: after cancel() each of the 2 connections may
    # start at most the fragment it had already taken, and none starts once run() is over.
    starts = [h.started for h in origin.hits_under("/hls/seg")]
    assert len([s for s in starts if s > asked]) <= 2, (
        "fragments were still requested after cancel()"
    )
    assert max(starts) < ended


def test_a_second_run_fetches_only_the_missing_fragments(origin, options, tmp_path: Path):
    url = origin.url("/hls/index.m3u8")
    first = MediaDownloader(url, tmp_path, options(), request=MediaRequest())
    # Stop the first run after a few fragments, keeping them (as a SIGTERM or kill -9 would).
    origin.delay("/hls/seg", 0.1)
    thread = threading.Thread(target=lambda: pytest.raises(DownloadCancelled, first.run))
    thread.start()
    deadline = time.monotonic() + 30
    while (
        len([h for h in origin.hits_under("/hls/seg") if h.finished]) < 5
        and time.monotonic() < deadline
    ):
        time.sleep(0.02)
    first.cancel(keep_partial=True)
    thread.join(10)
    kept = list((tmp_path / WORK_DIR).glob("*/[0-9]*[0-9]"))
    assert kept, "whole fragments were kept"
    before = len(origin.hits_under("/hls/seg"))
    result = MediaDownloader(url, tmp_path, options(), request=MediaRequest()).run()
    again = len(origin.hits_under("/hls/seg")) - before
    total = len(list((origin.root / "hls").glob("seg*.ts")))
    assert again <= total - len(kept)
    assert probe(result.path)["duration"] == pytest.approx(DURATION, abs=0.3)


def test_a_fragment_that_is_a_playlist_cannot_make_ffmpeg_read_local_files(
    origin, media_dir: Path, options, tmp_path: Path
):
    # A real TS file outside anything served: playable, so only the demuxer list keeps it out.
    secret = tmp_path.parent / "secret.ts"
    secret.write_bytes((media_dir / "hls" / "seg000.ts").read_bytes())
    (media_dir / "hls" / "trap.ts").write_text(
        f"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nfile://{secret}\n#EXT-X-ENDLIST\n"
    )
    (media_dir / "hls" / "trap.m3u8").write_text(
        "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:1,\ntrap.ts\n#EXT-X-ENDLIST\n"
    )
    out = tmp_path / "job"
    with pytest.raises(DownloadError, match="not readable|could not join"):
        MediaDownloader(origin.url("/hls/trap.m3u8"), out, options(), request=MediaRequest()).run()
    assert not [p for p in out.iterdir() if p.suffix in (".mp4", ".mkv")]


def test_bytes_fetched_are_held_to_the_budget(origin, options, tmp_path: Path):
    # A budget (MAX_FILE_MB, the daily quota, the disk) smaller than the stream stops it mid-way.
    with pytest.raises(DownloadError, match="larger than allowed") as caught:
        MediaDownloader(
            origin.url("/hls/index.m3u8"),
            tmp_path,
            options(max_bytes=50_000),
            request=MediaRequest(),
        ).run()
    assert caught.value.why.as_dict() == {
        "code": "media_too_large",
        "params": {"limit_bytes": 50_000},
    }
    fetched = sum(p.stat().st_size for p in (tmp_path / WORK_DIR).rglob("*") if p.is_file())
    assert fetched <= 50_000 + 64 * 1024 * 4  # at most one chunk per connection past the budget
