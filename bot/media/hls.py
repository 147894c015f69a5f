"""An HLS media playlist as the list of fragments to fetch (parsed by the ``m3u8`` library).

The playlist itself is fetched through Errand's guarded session, like everything else; the
``m3u8`` library only parses text (its own loader is never used: it would bypass the guard).
Live streams and encrypted ones are refused with the reason.
"""

from __future__ import annotations

import m3u8
import requests

from bot.downloads.errors import DownloadError
from bot.downloads.reasons import Reason
from bot.humanize import MiB
from bot.media.plan import Fragment

MAX_PLAYLIST = 8 * MiB  # bytes of playlist text worth reading
MAX_DEPTH = 2  # a master playlist, then one of its media playlists


def read(session: requests.Session, url: str, timeout: tuple[float, float]) -> tuple[Fragment, ...]:
    """The fragments of the media playlist at ``url`` (following one master playlist level)."""
    for _ in range(MAX_DEPTH):
        text, final_url = _get(session, url, timeout)
        playlist = m3u8.loads(text, uri=final_url)
        if not playlist.is_variant:
            return fragments_of(playlist)
        variants = sorted(playlist.playlists, key=lambda p: p.stream_info.bandwidth or 0)
        if not variants:
            raise DownloadError(Reason.HLS_NO_STREAMS)
        url = variants[-1].absolute_uri
    raise DownloadError(Reason.HLS_TOO_DEEP)


def fragments_of(playlist: m3u8.M3U8) -> tuple[Fragment, ...]:
    """The fragments, in order, with each init section (EXT-X-MAP) before the first that uses it."""
    if not playlist.is_endlist and playlist.playlist_type != "vod":
        raise DownloadError(Reason.MEDIA_LIVE)
    if any(key is not None and (key.method or "NONE").upper() != "NONE" for key in playlist.keys):
        raise DownloadError(Reason.MEDIA_ENCRYPTED)
    out: list[Fragment] = []
    last_init = None
    next_offset: dict[str, int] = {}
    for segment in playlist.segments:
        init = segment.init_section
        if init is not None and (init.absolute_uri, init.byterange) != last_init:
            out.append(
                Fragment(init.absolute_uri, _range(init.byterange, init.absolute_uri, next_offset))
            )
            last_init = (init.absolute_uri, init.byterange)
        out.append(
            Fragment(
                segment.absolute_uri, _range(segment.byterange, segment.absolute_uri, next_offset)
            )
        )
    if not out:
        raise DownloadError(Reason.HLS_NO_FRAGMENTS)
    return tuple(out)


def _range(spec: str | None, url: str, next_offset: dict[str, int]) -> tuple[int, int] | None:
    """``EXT-X-BYTERANGE`` ``length[@offset]`` as (first, last); no offset continues the last
    range."""
    if not spec:
        return None
    length_text, _, offset_text = str(spec).partition("@")
    length = int(length_text)
    first = int(offset_text) if offset_text else next_offset.get(url, 0)
    next_offset[url] = first + length
    return first, first + length - 1


def _get(session: requests.Session, url: str, timeout: tuple[float, float]) -> tuple[str, str]:
    try:
        with session.get(url, stream=True, timeout=timeout) as resp:
            if resp.status_code != 200:
                raise DownloadError(Reason.HLS_STATUS, status=resp.status_code)
            body = resp.raw.read(MAX_PLAYLIST + 1, decode_content=True)
            if len(body) > MAX_PLAYLIST:
                raise DownloadError(Reason.HLS_TOO_LARGE)
            return body.decode("utf-8", "replace"), resp.url
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise DownloadError(Reason.HLS_UNREADABLE, name=type(exc).__name__) from None
