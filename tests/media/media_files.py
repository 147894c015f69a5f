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


def ffmpeg(*args: str, cwd: Path | None = None, timeout: float = 120) -> None:
    """Runs ffmpeg quietly with ``args``, overwriting its output; raises if it fails."""
    subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args],
        check=True,
        cwd=cwd,
        timeout=timeout,
    )


def pattern_and_tone(duration: float, size: str = "320x240") -> tuple[str, ...]:
    """ffmpeg inputs: a test pattern of ``size`` at 25 fps and a 440 Hz tone, ``duration`` s."""
    return (
        "-f",
        "lavfi",
        "-i",
        f"testsrc=size={size}:rate=25:duration={duration}",
        "-f",
        "lavfi",
        "-i",
        f"sine=frequency=440:sample_rate=44100:duration={duration}",
    )


def h264_aac(video_bitrate: str | None = None) -> tuple[str, ...]:
    """ffmpeg output options: H.264 with a keyframe every 5 frames (so that short segments can
    start anywhere), AAC at 64 kb/s, cut to the shorter input."""
    bitrate = ("-b:v", video_bitrate) if video_bitrate else ()
    return (
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        *bitrate,
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


def hls(segment: float, name: str = "index", segments: str = "seg") -> tuple[str, ...]:
    """ffmpeg output options: a VOD HLS playlist ``name``.m3u8 of ``segment``-second pieces
    ``segments``000.ts, ``segments``001.ts, … in the working folder."""
    return (
        "-f",
        "hls",
        "-hls_time",
        str(segment),
        "-hls_playlist_type",
        "vod",
        "-hls_segment_filename",
        f"{segments}%03d.ts",
        f"{name}.m3u8",
    )


def make_media(folder: Path, hls_segment: float = HLS_SEGMENT, duration: float = DURATION) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    clip = str(folder / "clip.mp4")
    ffmpeg(
        *pattern_and_tone(duration),
        *h264_aac(),
        "-pix_fmt",
        "yuv420p",
        "-movflags",
        "+faststart",
        clip,
    )
    (folder / "hls").mkdir(exist_ok=True)
    ffmpeg("-i", clip, "-c", "copy", *hls(hls_segment), cwd=folder / "hls")
    (folder / "dash").mkdir(exist_ok=True)
    ffmpeg(
        "-i",
        clip,
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
    ffmpeg("-i", clip, "-vn", "-c:a", "copy", str(folder / "audio.m4a"))
    # A smaller rendition and a master playlist offering both (for the choice buttons).
    smaller = ("-vf", "scale=160:120", "-c:v", "libx264", "-preset", "ultrafast", "-g", "5")
    ffmpeg("-i", clip, *smaller, "-c:a", "copy", *hls(1, "small", "small"), cwd=folder / "hls")
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
