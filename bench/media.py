"""An HLS stream of 200 segments from a per-connection-throttled origin: Errand vs yt-dlp vs ffmpeg.

The stream is made locally by ffmpeg (test pattern and tone, 640x360, 40 s in 0.2 s segments) and
served by the media test origin (tests/media/origin.py) on 127.0.0.1, each connection limited to
``--rate`` bytes/s with ``--latency`` seconds before each answer — a CDN edge that is slow per
connection, so speed comes from fetching fragments in parallel. In the same run, one after another
(order rotating each round), from the bare ``.m3u8`` URL to a playable MP4:

- ``errandbot download URL -c 8`` (fragments 8 at a time, joined by ffmpeg without re-encoding);
- ``yt-dlp --concurrent-fragments 8 -o out.mp4 URL`` (the yt-dlp in Errand's venv);
- ``ffmpeg -i URL -c copy out.mp4`` (reads the fragments one after another).

Each output is checked with ffprobe (duration). Medians of ``--rounds`` rounds and ratios to
Errand are printed. Not a test: it never fails on timing.

    .venv/bin/python bench/media.py [--rounds 3] [--rate 100000] [--latency 0.02]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
BIN = REPO / ".venv" / "bin"

from tests.media.media_files import ffmpeg, h264_aac, hls, pattern_and_tone, probe  # noqa: E402
from tests.media.origin import MediaOrigin  # noqa: E402

SEGMENTS = 200
SEGMENT = 0.2


def make_stream(folder: Path) -> Path:
    """A 40 s HLS stream in 200 segments of 0.2 s (keyframe every 5 frames at 25 fps)."""
    folder.mkdir(parents=True, exist_ok=True)
    ffmpeg(
        *pattern_and_tone(SEGMENTS * SEGMENT, "640x360"),
        *h264_aac(video_bitrate="1M"),
        *hls(SEGMENT),
        cwd=folder,
        timeout=600,
    )
    return folder / "index.m3u8"


def clients(url: str, out: Path) -> dict[str, list[str]]:
    return {
        "errandbot -c 8": [
            str(BIN / "errandbot"),
            "download",
            url,
            "-o",
            str(out / "errand"),
            "-q",
            "-c",
            "8",
        ],
        "yt-dlp --concurrent-fragments 8": [
            str(BIN / "yt-dlp"),
            "--quiet",
            "--no-progress",
            "--concurrent-fragments",
            "8",
            "-o",
            str(out / "ytdlp" / "out.%(ext)s"),
            url,
        ],
        "ffmpeg -c copy": [
            "ffmpeg",
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-i",
            url,
            "-c",
            "copy",
            str(out / "ffmpeg" / "out.mp4"),
        ],
    }


def run_one(name: str, cmd: list[str], out: Path) -> float:
    folder = Path(cmd[-1]).parent if name.startswith("ffmpeg") else None
    for sub in ("errand", "ytdlp", "ffmpeg"):
        shutil.rmtree(out / sub, ignore_errors=True)
        (out / sub).mkdir(parents=True)
    env = {**os.environ, "DOWNLOAD_ALLOW_NETWORKS": "127.0.0.0/8", "DATA_DIR": str(out / "data")}
    started = time.monotonic()
    subprocess.run(cmd, check=True, env=env, timeout=900, stdout=subprocess.DEVNULL)
    elapsed = time.monotonic() - started
    produced = [
        p for p in (folder or out).rglob("*") if p.is_file() and p.suffix in (".mp4", ".mkv")
    ]
    if not produced:
        raise SystemExit(f"{name} produced no file")
    facts = probe(produced[0])
    if abs(facts["duration"] - SEGMENTS * SEGMENT) > 1:
        raise SystemExit(f"{name}: the file lasts {facts['duration']} s, not {SEGMENTS * SEGMENT}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rate", type=float, default=100_000, help="bytes/s per connection")
    parser.add_argument("--latency", type=float, default=0.02, help="seconds before each answer")
    args = parser.parse_args()
    if not shutil.which("ffmpeg"):
        raise SystemExit("ffmpeg is needed (apt-get install ffmpeg)")
    with tempfile.TemporaryDirectory(prefix="errand-bench-media-") as tmp:
        root = Path(tmp)
        make_stream(root / "hls")
        segments = sorted((root / "hls").glob("seg*.ts"))
        size = sum(p.stat().st_size for p in segments)
        print(
            f"stream: {len(segments)} segments, {size / 1e6:.1f} MB; "
            f"origin: {args.rate / 1000:g} kB/s "
            f"per connection, {args.latency * 1000:g} ms per answer; {args.rounds} rounds"
        )
        times: dict[str, list[float]] = {}
        with MediaOrigin(root) as origin:
            origin.rate = args.rate
            origin.delay("/hls/", args.latency)
            runs = clients(origin.url("/hls/index.m3u8"), root / "out")
            names = list(runs)
            for round_no in range(args.rounds):
                order = names[round_no % len(names) :] + names[: round_no % len(names)]
                for name in order:
                    times.setdefault(name, []).append(run_one(name, runs[name], root / "out"))
                print(
                    f"round {round_no + 1}: "
                    + ", ".join(f"{n} {times[n][-1]:.2f} s" for n in names)
                )
        base = statistics.median(times[names[0]])
        print("\n| client | median wall time | vs errandbot |\n| --- | --- | --- |")
        for name in names:
            median = statistics.median(times[name])
            print(f"| `{name}` | {median:.2f} s | {median / base:.2f}× |")


if __name__ == "__main__":
    main()
