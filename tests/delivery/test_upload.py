"""``bot.telegram.upload.send_file`` with python-telegram-bot's real Bot against the emulator.

What it must keep from an ordinary ``send_document``: the rate limiter's retry after a 429 (the
file is read again from the start, and the progress count restarts rather than doubling), every
other parameter passed through, and memory that does not grow with the file.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tracemalloc
from pathlib import Path

import pytest
from telegram import ReplyParameters
from telegram.error import BadRequest
from telegram.ext import AIORateLimiter, ExtBot

from bot.humanize import MiB
from bot.sandbox.emulator import BotApiEmulator
from bot.telegram.upload import UploadProgress, send_file

CHAT = 42


def make_file(path: Path, size: int) -> str:
    """A sparse file with random bytes at its start and end; returns its sha256."""
    with path.open("wb") as fh:
        fh.truncate(size)
        fh.write(os.urandom(4096))
        fh.seek(size - 4096)
        fh.write(os.urandom(4096))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_bot(emulator: BotApiEmulator, local_mode: bool = False) -> ExtBot:
    return ExtBot(
        emulator.token,
        base_url=f"{emulator.url}/bot",
        local_mode=local_mode,
        rate_limiter=AIORateLimiter(max_retries=2),
    )


@pytest.fixture
def emulator():
    with BotApiEmulator(upload_limit=200 * MiB) as emu:
        emu.send_text(CHAT, CHAT, "hello")
        yield emu


def test_streamed_upload_survives_a_429_and_counts_from_the_start_again(emulator, tmp_path) -> None:
    sha = make_file(tmp_path / "f.bin", 3 * MiB)
    emulator.add_fault("sendDocument", code=429, retry_after=1)
    progress = UploadProgress(3 * MiB)

    async def go():
        async with make_bot(emulator) as bot:
            return await send_file(
                bot,
                CHAT,
                tmp_path / "f.bin",
                filename="report.bin",
                local_mode=False,
                progress=progress,
                caption="ünïcode caption",
                reply_parameters=ReplyParameters(1),
                message_thread_id=7,
            )

    message = asyncio.run(go())
    assert message.document.file_name == "report.bin"
    [document] = [m.document for m in emulator.bot_messages(CHAT) if m.document]
    assert document["sha256"] == sha and document["sent_by"] == "upload"
    assert [c.status for c in emulator.calls_of("sendDocument")] == [429, 200]
    assert progress.sent == 3 * MiB and progress.finished  # restarted at the retry, not 6 MiB
    params = emulator.calls_of("sendDocument")[-1].params
    assert params["caption"] == "ünïcode caption" and params["message_thread_id"] == "7"
    assert params["reply_parameters"]["message_id"] == 1


def test_upload_memory_does_not_grow_with_the_file(emulator, tmp_path) -> None:
    sha = make_file(tmp_path / "big.bin", 96 * MiB)

    async def go():
        async with make_bot(emulator) as bot:
            tracemalloc.start()
            try:
                await send_file(
                    bot, CHAT, tmp_path / "big.bin", filename="big.bin", local_mode=False
                )
                return tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()

    peak = asyncio.run(go())  # the emulator (same process, its own threads) is traced too
    assert [m.document["sha256"] for m in emulator.bot_messages(CHAT) if m.document] == [sha]
    assert peak < 8 * MiB, f"{peak / MiB:.1f} MiB of Python objects for a 96 MiB file"


def test_local_mode_sends_the_absolute_path(emulator, tmp_path) -> None:
    emulator.local_mode = True
    sha = make_file(tmp_path / "by path.bin", 2 * MiB)

    async def go():
        async with make_bot(emulator, local_mode=True) as bot:
            return await send_file(
                bot, CHAT, tmp_path / "by path.bin", filename="by path.bin", local_mode=True
            )

    asyncio.run(go())
    [call] = emulator.calls_of("sendDocument")
    assert call.params["document"] == (tmp_path / "by path.bin").as_uri()
    [document] = [m.document for m in emulator.bot_messages(CHAT) if m.document]
    assert document["sent_by"] == "path" and document["sha256"] == sha


def test_a_path_is_refused_by_a_server_without_local_mode(emulator, tmp_path) -> None:
    make_file(tmp_path / "f.bin", 1 * MiB)

    async def go():
        async with make_bot(emulator, local_mode=True) as bot:
            await send_file(bot, CHAT, tmp_path / "f.bin", filename="f.bin", local_mode=True)

    with pytest.raises(BadRequest, match="(?i)wrong file identifier"):
        asyncio.run(go())
    assert not [m for m in emulator.bot_messages(CHAT) if m.document]
