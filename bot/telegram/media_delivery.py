"""Deliver a finished media download as a video or an audio message instead of a document.

A video goes with ``supports_streaming`` (it plays while it loads), its duration, size and a
thumbnail; audio with its title, performer and duration — what :mod:`bot.media` recorded beside
the file (:func:`bot.media.record.load_info`).
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from telegram import Bot, Message, ReplyParameters

from bot.media.plan import MediaInfo


async def send_media(bot: Bot, chat_id: int, path: Path, info: MediaInfo, *, filename: str | None,
                     caption: str | None, thread_id: int | None, reply: ReplyParameters | None,
                     timeout: float) -> Message:
    """Upload ``path`` as what ``info`` says it is; raises the Bot API's errors as they come."""
    duration = round(info.duration) if info.duration else None
    common = dict(filename=filename or path.name, caption=caption, duration=duration,
                  message_thread_id=thread_id, reply_parameters=reply,
                  read_timeout=timeout, write_timeout=timeout)
    with ExitStack() as files:
        fh = files.enter_context(path.open("rb"))
        thumb_path = path.parent / info.thumbnail if info.thumbnail else None
        thumb = files.enter_context(thumb_path.open("rb")) if thumb_path and thumb_path.is_file() else None
        if info.kind == "audio":
            return await bot.send_audio(chat_id, audio=fh, title=info.title, performer=info.performer,
                                        thumbnail=thumb, **common)
        return await bot.send_video(chat_id, video=fh, width=info.width, height=info.height,
                                    supports_streaming=True, thumbnail=thumb, **common)
