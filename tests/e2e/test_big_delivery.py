"""Delivering big files end to end, with the memory of the bot's whole process tree bounded.

The real ``errandbot run`` downloads a 300 MB sparse file (random bytes at its start, middle and
end, so a misplaced byte changes the sha256) from a plain static server on loopback, then sends
it to the emulator, whose upload limit is raised as a local Bot API server's is. The resident
memory of the bot and its download child is sampled from /proc throughout (tests/procmem.py);
the exact figures are in BENCHMARKS.md ("Delivering big files"), from ``bench/delivery.py``.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bot.sandbox.emulator import BotApiEmulator, Message
from tests.e2e.harness import USER
from tests.procmem import MiB, TreeMemory

pytestmark = pytest.mark.timeout(600)

BIG = 300 * MiB
MEMORY_BOUND = 200 * MiB
BIG_ENV = {
    "max_upload_mb": "2000",
    "max_file_mb": "4096",
    "disk_reserve_mb": "0",
    "daily_quota_mb": "0",
    "progress_interval": "1",
}


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


class _StaticServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:  # a client hanging up is no error here
        pass


@pytest.fixture
def files(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A static file server on loopback over a folder: (folder, base URL)."""
    root = tmp_path / "www"
    root.mkdir()
    server = _StaticServer(("127.0.0.1", 0), partial(_Quiet, directory=str(root)))
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def sparse_file(path: Path, size: int) -> str:
    """Write a sparse file with random bytes at three places; return its sha256."""
    with path.open("wb") as fh:
        fh.truncate(size)
        for offset in (0, size // 2, size - 4096):
            fh.seek(offset)
            fh.write(os.urandom(4096))
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def document_for(emulator: BotApiEmulator, request: Message, timeout: float) -> Message:
    return emulator.wait_for(
        lambda: next(
            (
                m
                for m in emulator.bot_messages(USER)
                if m.document and m.reply_to == request.message_id
            ),
            None,
        ),
        timeout,
        f"the document answering message {request.message_id}",
    )


def status_texts(emulator: BotApiEmulator, request: Message) -> list[str]:
    status = next(
        (
            m
            for m in emulator.bot_messages(USER)
            if m.reply_to == request.message_id and not m.document
        ),
        None,
    )
    if status is None:  # not answered yet
        return []
    return [text or "" for _, text, _ in emulator.get_message(USER, status.message_id).history]


def deliver_big(
    emulator: BotApiEmulator, bot, files, name: str
) -> tuple[Message, TreeMemory, str, Message]:
    root, base = files
    sha = sparse_file(root / name, BIG)
    with TreeMemory(bot.proc.pid) as memory:
        request = emulator.send_text(USER, USER, f"/download {base}/{name}")
        document = document_for(emulator, request, timeout=400)
        emulator.wait_for(
            lambda: any("✅" in t for t in status_texts(emulator, request)), 30, "the ✅ status"
        )
    return document, memory, sha, request


def test_300_mb_upload_streams_from_disk_with_bounded_memory(emulator, make_bot, files) -> None:
    emulator.upload_limit = BIG + MiB  # as a local Bot API server: up to 2000 MB
    bot = make_bot(**BIG_ENV)
    document, memory, sha, request = deliver_big(emulator, bot, files, "big.bin")
    assert document.document["sha256"] == sha
    assert document.document["file_size"] == BIG
    assert document.document["sent_by"] == "upload"
    assert Path(document.document["stored_at"]).stat().st_size == BIG  # it really crossed the wire
    assert memory.samples > 5, memory.samples  # it did watch
    assert memory.peak < MEMORY_BOUND, f"bot tree peaked at {memory.peak / MiB:.0f} MiB"
    bot_hwm = memory.hwm[
        bot.proc.pid
    ]  # the kernel's own peak of the bot process: no spike escapes it
    assert bot_hwm < MEMORY_BOUND, f"the bot process peaked at {bot_hwm / MiB:.0f} MiB"
    # Upload progress in the status is asserted on a slow uplink
    # (test_upload_shows_bytes_and_speed_and_can_be_cancelled): on loopback
    # a 300 MB upload can end before the first edit is due.


def test_300_mb_in_local_mode_is_sent_by_path(emulator, make_bot, files) -> None:
    emulator.upload_limit = BIG + MiB
    emulator.local_mode = True
    bot = make_bot(telegram_local_mode="true", **BIG_ENV)
    document, memory, sha, _ = deliver_big(emulator, bot, files, "local.bin")
    assert document.document["sent_by"] == "path"
    path = Path(document.document["path"])
    assert path.name == "local.bin" and path.is_relative_to(bot.data_dir / "downloads")
    assert document.document["sha256"] == sha
    sends = emulator.calls_of("sendDocument")
    assert [c.params["document"] for c in sends] == [path.as_uri()]  # a path, no multipart upload
    assert memory.peak < MEMORY_BOUND, f"bot tree peaked at {memory.peak / MiB:.0f} MiB"


def test_upload_shows_bytes_and_speed_and_can_be_cancelled(emulator, make_bot, files) -> None:
    root, base = files
    emulator.upload_rate = 2 * MiB  # a slow uplink: 20 MB take about 10 s
    bot = make_bot(progress_interval="1")
    sparse_file(root / "slow.bin", 20 * MiB)
    request = emulator.send_text(USER, USER, f"/download {base}/slow.bin")
    status = emulator.wait_for(
        lambda: next(
            (m for m in emulator.bot_messages(USER) if m.reply_to == request.message_id), None
        ),
        10,
        "the status message",
    )

    def mid_upload() -> str | None:
        text = emulator.get_message(USER, status.message_id).text or ""
        percent = re.search(r" (\d+)%", text)
        moving = (
            percent and 0 < int(percent.group(1)) < 100 and re.search(r"\d B/s|KB/s|MB/s", text)
        )
        return text if text.startswith("📤 Sending slow.bin") and moving else None

    shown = emulator.wait_for(mid_upload, 60, "upload progress with a speed")
    assert " / 20.0 MB" in shown and "ETA" in shown, shown
    query = emulator.press_button(emulator.get_message(USER, status.message_id), USER)
    answer = emulator.wait_for(lambda: emulator.callback_answer(query), 10, "the button answer")
    assert "Cancelling the sending of d1" in answer["text"]
    final = emulator.wait_for(
        lambda: (t := emulator.get_message(USER, status.message_id).text or "") and "🚫" in t and t,
        30,
        "the cancelled status",
    )
    assert "sending cancelled by @user42" in final
    assert not any(m.document for m in emulator.bot_messages(USER))
    leftovers = [p for p in (bot.data_dir / "downloads").rglob("*") if p.is_file()]
    assert not leftovers, leftovers
    emulator.wait_for(
        lambda: not list(emulator.spool().iterdir()), 30, "the emulator to drop the partial upload"
    )
    listing = emulator.send_text(USER, USER, "/downloads")
    assert "🚫 cancelled" in emulator.wait_reply(USER, listing, contains="d1").text


@pytest.mark.parametrize("stop", ["kill -9", "SIGTERM"])
def test_stopped_mid_upload_the_restarted_bot_sends_the_file_once(
    emulator, make_bot, files, stop
) -> None:
    root, base = files
    emulator.upload_rate = 2 * MiB
    bot = make_bot(progress_interval="1")
    sha = sparse_file(root / "again.bin", 12 * MiB)
    request = emulator.send_text(USER, USER, f"/download {base}/again.bin")
    emulator.wait_for(
        lambda: any(
            t.startswith("📤 Sending again.bin") and "%" in t
            for t in status_texts(emulator, request)
        ),
        60,
        "the upload to start",
    )
    if stop == "SIGTERM":
        assert bot.terminate() < 10.0  # the upload is abandoned, not waited for
        assert "Task was destroyed" not in bot.output and "Traceback" not in bot.output
    else:
        bot.kill()
    emulator.wait_for(
        lambda: not list(emulator.spool().iterdir()), 30, "the emulator to drop the partial upload"
    )
    emulator.upload_rate = None
    bot.start()
    document = document_for(emulator, request, timeout=120)
    assert document.document["sha256"] == sha
    emulator.wait_for(
        lambda: any("✅" in t for t in status_texts(emulator, request)), 30, "the ✅ status"
    )
    assert len([m for m in emulator.bot_messages(USER) if m.document]) == 1
    assert [c.status for c in emulator.calls_of("sendDocument")] == [
        200
    ]  # the cut one never got an answer
