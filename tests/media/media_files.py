"""Real media made with ffmpeg for the tests: a few seconds of test pattern and a tone.

``make_media(folder)`` writes, under ``folder``:
- ``clip.mp4``: H.264 + AAC, 320x240, :data:`DURATION` seconds;
- ``hls/index.m3u8`` + ``hls/seg000.ts``…: the same as HLS with many short segments;
- ``dash/manifest.mpd`` + init and numbered segments (video and audio apart);
- ``audio.m4a``: the tone alone;
- ``hls/master.m3u8``: two renditions (320x240 ``index.m3u8`` and 160x120 ``small.m3u8``).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

DURATION = 4.0
HLS_SEGMENT = 0.2  # seconds: DURATION / HLS_SEGMENT segments


def have_ffmpeg() -> bool:
    return shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None


def _ffmpeg(*args: str, cwd: Path | None = None) -> None:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args],
        check=True,
        cwd=cwd,
        timeout=120,
    )


SOURCES = (
    "-f",
    "lavfi",
    "-i",
    f"testsrc=size=320x240:rate=25:duration={DURATION}",
    "-f",
    "lavfi",
    "-i",
    f"sine=frequency=440:sample_rate=44100:duration={DURATION}",
)
ENCODE = (
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    "-pix_fmt",
    "yuv420p",
    "-g",
    "5",
    "-keyint_min",
    "5",
    "-sc_threshold",
    "0",
    "-c:a",
    "aac",
    "-b:a",
    "64k",
    "-shortest",
)


def make_media(folder: Path, hls_segment: float = HLS_SEGMENT, duration: float = DURATION) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    sources = tuple(s.replace(f"duration={DURATION}", f"duration={duration}") for s in SOURCES)
    _ffmpeg(*sources, *ENCODE, "-movflags", "+faststart", str(folder / "clip.mp4"))
    (folder / "hls").mkdir(exist_ok=True)
    _ffmpeg(
        "-i",
        str(folder / "clip.mp4"),
        "-c",
        "copy",
        "-f",
        "hls",
        "-hls_time",
        str(hls_segment),
        "-hls_playlist_type",
        "vod",
        "-hls_segment_filename",
        "seg%03d.ts",
        "index.m3u8",
        cwd=folder / "hls",
    )
    (folder / "dash").mkdir(exist_ok=True)
    _ffmpeg(
        "-i",
        str(folder / "clip.mp4"),
        "-map",
        "0:v",
        "-map",
        "0:a",
        "-c",
        "copy",
        "-f",
        "dash",
        "-seg_duration",
        "1",
        "-use_template",
        "1",
        "-use_timeline",
        "0",
        "manifest.mpd",
        cwd=folder / "dash",
    )
    _ffmpeg("-i", str(folder / "clip.mp4"), "-vn", "-c:a", "copy", str(folder / "audio.m4a"))
    # A smaller rendition and a master playlist offering both (for the choice buttons).
    _ffmpeg(
        "-i",
        str(folder / "clip.mp4"),
        "-vf",
        "scale=160:120",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-g",
        "5",
        "-c:a",
        "copy",
        "-f",
        "hls",
        "-hls_time",
        "1",
        "-hls_playlist_type",
        "vod",
        "-hls_segment_filename",
        "small%03d.ts",
        "small.m3u8",
        cwd=folder / "hls",
    )
    (folder / "hls" / "master.m3u8").write_text(
        "#EXTM3U\n"
        '#EXT-X-STREAM-INF:BANDWIDTH=400000,RESOLUTION=320x240,CODECS="avc1.42c00d,mp4a.40.2"\nindex.m3u8\n'
        '#EXT-X-STREAM-INF:BANDWIDTH=150000,RESOLUTION=160x120,CODECS="avc1.42c00b,mp4a.40.2"\nsmall.m3u8\n'
    )
    return folder


def probe(path: Path) -> dict:
    """ffprobe's view of a file: duration and the codec types of its streams."""
    import json

    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "format=duration:stream=codec_type,width,height",
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    data = json.loads(out.stdout)
    return {
        "duration": float(data["format"]["duration"]),
        "types": sorted(s["codec_type"] for s in data["streams"]),
        "width": next(
            (s.get("width") for s in data["streams"] if s["codec_type"] == "video"), None
        ),
    }
