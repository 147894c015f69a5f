"""``errandbot download`` of a page (video, ``--audio``, ``--format``) and ``errandbot check``'s
media line."""

from __future__ import annotations

import pytest
import yt_dlp

from bot.config import load_settings
from bot.health import run_checks
from tests.media.media_files import DURATION, probe

pytestmark = pytest.mark.timeout(120)


@pytest.mark.e2e  # the whole command, through yt-dlp and ffmpeg
def test_a_page_on_the_command_line_gives_its_video_and_nothing_else(cli, origin, tmp_path):
    page = origin.add_page("/cli.html", '<body><video src="/hls/index.m3u8"></video></body>')
    out_dir = tmp_path / "out"
    code, out, err = cli(page, "-o", str(out_dir), "-q")
    assert code == 0, err
    path = out_dir / out.strip().rpartition("/")[2]
    assert path.suffix == ".mp4"
    assert probe(path)["types"] == ["audio", "video"]
    assert [p.name for p in out_dir.iterdir()] == [path.name], (
        "no work files or records left behind"
    )


@pytest.mark.e2e  # the whole command, through yt-dlp and ffmpeg
def test_audio_and_format_options(cli, origin, tmp_path):
    page = origin.add_page("/cli-audio.html", '<body><video src="/clip.mp4"></video></body>')
    code, out, err = cli(page, "-o", str(tmp_path / "a"), "-q", "--audio")
    assert code == 0, err
    facts = probe(tmp_path / "a" / out.strip().rpartition("/")[2])
    assert facts["types"] == ["audio"] and facts["duration"] == pytest.approx(DURATION, abs=0.3)

    code, out, err = cli(
        origin.url("/dash/manifest.mpd"), "-o", str(tmp_path / "f"), "-q", "--format", "ba"
    )
    assert code == 0, err
    assert probe(tmp_path / "f" / out.strip().rpartition("/")[2])["types"] == ["audio"]


def test_a_page_without_media_is_saved_as_the_page(cli, origin):
    page = origin.add_page("/cli-none.html", "<body>text</body>")
    code, out, err = cli(page, "-q")
    assert code == 0 and out.strip().endswith("cli-none.html")
    assert err.startswith(
        "errandbot: no video or audio found on this page; saving the page itself\n"
    )


def test_check_reports_the_yt_dlp_version_and_ffmpeg(tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    results = {r.name: r for r in run_checks(load_settings(bot_token=None))}
    line = results["media pages"].message
    assert f"yt-dlp {yt_dlp.version.__version__}" in line
    assert "ffmpeg" in line and "not found" not in line
