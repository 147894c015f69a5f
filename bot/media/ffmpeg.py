"""ffmpeg and ffprobe, on local files only: join streams without re-encoding, read durations.

Every input is opened with ``-protocol_whitelist file`` and a short ``-format_whitelist`` of
media demuxers: whatever a fetched file says inside (an HLS or concat list naming a URL or another
local file, say), ffmpeg opens no network and reads no file but the one it was given — always a
file Errand wrote into the job's own folder. Runs are cancellable: the
process is polled and killed when the download is cancelled.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bot.downloads.errors import DownloadCancelled, DownloadError
from bot.downloads.reasons import Reason

#: Demuxers for what Errand joins: MPEG-TS (HLS), MP4/fMP4 (DASH, progressive), Matroska/WebM and
#: plain audio. Playlist-reading demuxers (hls, dash, concat) are not among them: a "fragment"
#: that is really a playlist naming other local files cannot make ffmpeg read those files.
DEMUXERS = "mpegts,mov,matroska,mp3,aac,ogg,flac,wav"
LOCAL_ONLY = ("-protocol_whitelist", "file", "-format_whitelist", DEMUXERS)
RUN_LIMIT = 600.0  # seconds for one join: copying streams is disk-bound, never this slow
AUDIO_CONTAINERS = {
    "aac": "m4a",
    "alac": "m4a",
    "mp3": "mp3",
    "opus": "opus",
    "vorbis": "ogg",
    "flac": "flac",
}


def ffmpeg_path() -> str | None:
    return shutil.which("ffmpeg")


def ffprobe_path() -> str | None:
    return shutil.which("ffprobe")


def available() -> bool:
    """Both ffmpeg and ffprobe are installed (media pages need them)."""
    return ffmpeg_path() is not None and ffprobe_path() is not None


def version() -> str | None:
    """ffmpeg's version word (``5.1.6-0+deb12u1``), or ``None`` when it is not installed."""
    exe = ffmpeg_path()
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "-version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    words = out.split()
    return words[2] if len(words) > 2 and words[0] == "ffmpeg" else "unknown"


@dataclass(frozen=True)
class Probe:
    """What ffprobe says of a local media file."""

    duration: float | None
    width: int | None
    height: int | None
    video_codec: str | None
    audio_codec: str | None


def probe(path: Path) -> Probe:
    exe = ffprobe_path()
    if exe is None:
        raise DownloadError(Reason.FFPROBE_MISSING)
    cmd = [
        exe,
        "-v",
        "error",
        *LOCAL_ONLY,
        "-show_entries",
        "format=duration:stream=codec_type,codec_name,width,height",
        "-of",
        "json",
        str(path),
    ]
    try:
        out = subprocess.run(
            cmd, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise DownloadError(Reason.FFPROBE_CANNOT_RUN, name=type(exc).__name__) from None
    if out.returncode != 0:
        raise DownloadError(Reason.MEDIA_UNREADABLE)
    data = json.loads(out.stdout or "{}")
    streams = data.get("streams") or []
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    try:
        duration = float(data.get("format", {}).get("duration"))
    except (TypeError, ValueError):
        duration = None
    return Probe(
        duration=duration,
        width=video.get("width") if video else None,
        height=video.get("height") if video else None,
        video_codec=video.get("codec_name") if video else None,
        audio_codec=audio.get("codec_name") if audio else None,
    )


def merge(
    inputs: list[tuple[Path, bool, bool]], out: Path, audio_only: bool, stop: threading.Event
) -> None:
    """Join ``inputs`` — (file, use its video, use its audio) — into ``out`` by copying streams."""
    cmd = [ffmpeg_path() or "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    for path, _, _ in inputs:
        cmd += [*LOCAL_ONLY, "-i", str(path)]
    # One video (the first input with one) and one audio (the last: a separate audio stream wins
    # over the sound of a muxed video), so "video+audio" choices never give two soundtracks.
    video_at = next((i for i, (_, video, _) in enumerate(inputs) if video), None)
    audio_at = next((i for i in reversed(range(len(inputs))) if inputs[i][2]), None)
    maps: list[str] = []
    if video_at is not None and not audio_only:
        maps += ["-map", f"{video_at}:v:0?"]
    if audio_at is not None:
        maps += ["-map", f"{audio_at}:a:0?"]
    cmd += maps + ["-c", "copy", "-map_metadata", "-1"]
    if out.suffix in (".mp4", ".m4a"):
        cmd += ["-movflags", "+faststart"]
    cmd.append(str(out))
    run(cmd, stop)


def audio_container(codec: str | None) -> str:
    return AUDIO_CONTAINERS.get(codec or "", "mka")


def thumbnail(video: Path, out: Path, duration: float | None, stop: threading.Event) -> bool:
    """A small JPEG from the first second (Telegram shows it before the video loads); False if
    none."""
    at = f"{min(1.0, (duration or 0) / 2):.2f}"
    cmd = [
        ffmpeg_path() or "ffmpeg",
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-ss",
        at,
        *LOCAL_ONLY,
        "-i",
        str(video),
        "-frames:v",
        "1",
        "-vf",
        "scale='min(320,iw)':-2",
        "-q:v",
        "6",
        str(out),
    ]
    try:
        run(cmd, stop, limit=60)
    except DownloadError:
        return False
    return out.is_file() and 0 < out.stat().st_size <= 200 * 1024


def run(cmd: list[str], stop: threading.Event, limit: float = RUN_LIMIT) -> None:
    """Run ffmpeg; kill it on ``stop`` or after ``limit`` seconds."""
    try:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        )
    except OSError as exc:
        raise DownloadError(
            Reason.FFMPEG_CANNOT_RUN, detail=exc.strerror or type(exc).__name__
        ) from None
    deadline = time.monotonic() + limit
    stderr = b""
    try:
        while True:
            try:
                _, stderr = proc.communicate(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if stop.is_set():
                    raise DownloadCancelled(Reason.CANCELLED) from None
                if time.monotonic() > deadline:
                    raise DownloadError(Reason.FFMPEG_TOO_LONG) from None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        detail = (stderr or b"").decode("utf-8", "replace").strip().splitlines()
        if detail:
            raise DownloadError(Reason.FFMPEG_JOIN_SAID, detail=detail[-1][:200])
        raise DownloadError(Reason.FFMPEG_JOIN_FAILED)
