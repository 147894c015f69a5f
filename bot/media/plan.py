"""The typed values a media download passes around: what was asked, what yt-dlp chose, what came
out."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field


class MediaMode(enum.StrEnum):
    """Which of a page's media to fetch."""

    BEST = "best"  # the best video within MEDIA_MAX_HEIGHT, with its audio
    SMALL = "small"  # a smaller video (at most 480 lines), with audio
    AUDIO = "audio"  # the audio alone


class Protocol(enum.StrEnum):
    """How a chosen stream's bytes are fetched."""

    FILE = "file"  # one progressive file: the download engine, several ranges at once
    FRAGMENTS = "fragments"  # HLS or DASH pieces: fetched several at a time, then joined


@dataclass(frozen=True)
class MediaRequest:
    """What the person asked for. ``format`` is a yt-dlp format selection that overrides
    ``mode``."""

    mode: MediaMode = MediaMode.BEST
    format: str | None = None
    max_height: int = 1080
    playlist_max: int = 10
    extract_timeout: float = 60.0
    item: int = 1  # which item of a playlist page (1 = the first); "all items" makes one job each


@dataclass(frozen=True)
class Fragment:
    """One piece of a stream; ``byte_range`` is ``(first, last)`` inclusive when only part of
    ``url``."""

    url: str
    byte_range: tuple[int, int] | None = None


@dataclass(frozen=True)
class Stream:
    """One chosen format: a whole file or a list of fragments (HLS media playlist or DASH)."""

    format_id: str
    protocol: Protocol
    url: str  # the file, or the HLS media playlist (fragments are read from it at fetch time)
    ext: str
    has_video: bool
    has_audio: bool
    fragments: tuple[Fragment, ...] = ()  # DASH: known from the manifest; HLS: empty until read
    hls: bool = False
    size: int | None = None  # filesize or yt-dlp's estimate, for progress only
    height: int | None = None


@dataclass(frozen=True)
class MediaPlan:
    """What yt-dlp found on a page and chose to fetch."""

    title: str
    streams: tuple[Stream, ...]
    audio_only: bool
    performer: str | None = None
    playlist_count: int = 1  # items on the page; only the first is fetched


@dataclass(frozen=True)
class MediaInfo:
    """The finished file, as delivery needs it (a video or an audio message)."""

    kind: str  # "video" or "audio"
    duration: float | None
    width: int | None = None
    height: int | None = None
    title: str | None = None
    performer: str | None = None
    thumbnail: str | None = None  # file name of a JPEG beside the file
    notices: tuple[str, ...] = field(default=())  # each a Why.dump() (bot.downloads.reasons)

    def to_dict(self) -> dict:
        return asdict(self)
