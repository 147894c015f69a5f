"""Deliver a finished media download as a video or an audio message instead of a document.

A video goes with ``supports_streaming`` (it plays while it loads), its duration, size and a
thumbnail; audio with its title, performer and duration — what :mod:`bot.media` recorded beside
the file (:func:`bot.media.record.load_info`). The upload itself is :mod:`bot.telegram.upload`'s:
streamed from disk with progress, or by path to a local Bot API server.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from telegram import Bot, InputFile, Message

from bot.media.plan import MediaInfo
from bot.telegram.upload import UploadProgress, counted_upload, upload_timeouts


async def send_media(
    bot: Bot,
    chat_id: int | str,
    path: Path,
    *,
    info: MediaInfo,
    filename: str,
    local_mode: bool,
    progress: UploadProgress | None = None,
    **params: Any,
) -> Message:
    """Send ``path`` as what ``info`` says (video or audio); ``params`` as for ``send_file``."""
    size = path.stat().st_size
    progress = progress or UploadProgress(size, by_path=local_mode)
    timeouts = upload_timeouts(size)
    extra: dict[str, Any] = {"duration": round(info.duration) if info.duration else None}
    thumb_path = path.parent / info.thumbnail if info.thumbnail else None
    thumb = thumb_path.read_bytes() if thumb_path is not None and thumb_path.is_file() else None
    if thumb is not None:
        extra["thumbnail"] = InputFile(thumb, filename="thumb.jpg", attach=True)
    if info.kind == "audio":
        extra.update(title=info.title, performer=info.performer)
        method: Callable[..., Awaitable[Message]] = bot.send_audio
    else:
        extra.update(width=info.width, height=info.height, supports_streaming=True)
        method = bot.send_video
    if local_mode:
        progress.finished = True
        return await method(chat_id, path.absolute().as_uri(), **extra, **timeouts, **params)
    with path.open("rb") as raw:
        media = counted_upload(raw, progress, filename)
        return await method(chat_id, media, **extra, **timeouts, **params)
