"""PostgreSQL mode with the real processes (issue #16): ``errandbot run`` as a pure front
(``RUN_WORKER=false``) and ``errandbot worker`` processes on one database, against the emulator and
a local origin. Downloads go through the queue to a worker; a worker ``kill -9``ed mid-download
has its downloads taken over by another (resumed from the shared ``DOWNLOAD_DIR``) and the chat
is told; one stopped by SIGTERM hands its download back (started over by a worker that does not
share its folder); ``/cancel`` on the front stops a download on a worker within a second, and
the sending of a finished one; a media page's choice pressed on the front reaches the worker that
asked."""

from __future__ import annotations

import hashlib
import random
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.sandbox.emulator import BotApiEmulator, Message
from tests.e2e.harness import USER, BotProcess
from tests.e2e.test_media_pages import answer, choice_message, media_dir, press  # noqa: F401
from tests.e2e.test_postgres import rows
from tests.media.media_files import have_ffmpeg
from tests.media.origin import MediaOrigin
from tests.origin import Origin

pytestmark = pytest.mark.timeout(180)

#: A slow origin and few connections: downloads that run for seconds, from small files.
RATE = 25_000  # bytes/s per connection
SIZE = 300_000
SLOW = {"download_connections": "2", "max_active_downloads": "4", "max_active_per_user": "4"}


def document_for(emulator: BotApiEmulator, command: Message) -> Message | None:
    return next(
        (m for m in emulator.bot_messages(USER) if m.document and m.reply_to == command.message_id),
        None,
    )


def status_for(emulator: BotApiEmulator, command: Message) -> Message:
    return next(
        m for m in emulator.bot_messages(USER) if m.reply_to == command.message_id and m.history
    )


def texts_of(message: Message) -> list[str]:
    return [text or "" for _, text, _ in message.history]


def started_on(worker: BotProcess) -> set[int]:
    """The downloads a worker took from the queue (its own log line, bot.work.downloads)."""
    return {int(n) for n in re.findall(r"download d(\d+) runs on this worker", worker.output)}


def check_cancelled_in_chat(emulator: BotApiEmulator, command: Message, cancel: Message) -> None:
    """The chat's side of a download cancelled by ``cancel``: the bot answered it, the status
    of ``command`` says who cancelled, and no document came."""
    assert "Cancelling d" in emulator.wait_reply(USER, cancel, timeout=10).text
    emulator.wait_for(
        lambda: "cancelled by" in (status_for(emulator, command).text or ""),
        10,
        "the status message saying who cancelled",
    )
    assert document_for(emulator, command) is None


def state_of(engine: sa.Engine, job_id: int) -> str | None:
    with engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT state FROM download_jobs WHERE id = :id"), {"id": job_id}
        ).scalar()


def poll(predicate, timeout: float, what: str, every: float = 0.01) -> None:
    """Wait for ``predicate()`` with a deadline, looking often (the emulator's ``wait_for``
    looks every 0.2 s at most: too coarse to time a cancel)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.1f}s waiting for {what}")
        time.sleep(every)


@dataclass
class FourDownloads:
    """Four slow downloads asked for by USER (also tests/e2e/test_scale.py's): each file's bytes
    and the command that asked for it, by path on the origin."""

    files: dict[str, bytes]
    commands: dict[str, Message]

    @classmethod
    def running_on(
        cls, worker: BotProcess, emulator: BotApiEmulator, origin: Origin
    ) -> FourDownloads:
        """Asks for four files of SIZE served at RATE, and waits until ``worker`` runs all four
        and each has begun to come."""
        files = {f"/f{i}.bin": random.Random(i).randbytes(SIZE) for i in range(4)}
        for path, data in files.items():
            origin.add_file(path, data, rate=RATE)
        commands = {
            path: emulator.send_text(USER, USER, f"/download {origin.url(path)}") for path in files
        }
        poll(
            lambda: len(started_on(worker)) == 4 and all(origin.bytes_sent(p) for p in files),
            60,
            "all four downloads running on one worker",
        )
        return cls(files, commands)

    def delivered(self, emulator: BotApiEmulator) -> bool:
        """Whether any of the four was delivered yet."""
        return any(document_for(emulator, c) is not None for c in self.commands.values())

    def check_resumed_and_delivered(self, emulator: BotApiEmulator) -> None:
        """Waits for each document; checks its sha256, and that its status told the chat that
        another worker resumed it."""
        for path, command in self.commands.items():
            document = emulator.wait_for(
                lambda c=command: document_for(emulator, c), 90, f"the document of {path}"
            )
            assert document.document["sha256"] == hashlib.sha256(self.files[path]).hexdigest()
            said = texts_of(status_for(emulator, command))
            assert any("another resumed it at" in text for text in said), said


def test_downloads_of_a_killed_worker_are_resumed_by_another(
    emulator: BotApiEmulator, make_bot, postgres_url, tmp_path
) -> None:
    shared = tmp_path / "downloads"  # the download folder every worker sees (shared storage)
    env = {"database_url": postgres_url, "download_dir": str(shared), **SLOW}
    make_bot(run_worker="false", **env)
    doomed: BotProcess = make_bot(command="worker", **env)
    with Origin() as origin:
        four = FourDownloads.running_on(doomed, emulator, origin)
        assert not four.delivered(emulator)
        rescuer: BotProcess = make_bot(command="worker", **env)
        doomed.kill()
        killed_at = time.monotonic()
        emulator.wait_for(
            lambda: len(started_on(rescuer)) == 4, 60, "the second worker taking all four over"
        )
        took_over = time.monotonic() - killed_at
        four.check_resumed_and_delivered(emulator)
    assert took_over < 30, f"taken over {took_over:.1f} s after the kill"
    print(f"\nkill -9 → all four taken over by the other worker in {took_over:.1f} s")
    assert rows(postgres_url, "SELECT state, delivered FROM download_jobs") == [("done", True)] * 4


def test_cancel_on_the_front_stops_the_download_on_its_worker_within_a_second(
    emulator: BotApiEmulator, make_bot, postgres_url
) -> None:
    env = {"database_url": postgres_url, **SLOW}
    make_bot(run_worker="false", **env)
    worker: BotProcess = make_bot(command="worker", **env)
    with Origin() as origin:
        origin.add_file("/slow.bin", random.Random(7).randbytes(SIZE * 4), rate=RATE)
        command = emulator.send_text(USER, USER, f"/download {origin.url('/slow.bin')}")
        emulator.wait_for(
            lambda: started_on(worker) and origin.bytes_sent("/slow.bin") > 20_000,
            60,
            "the download running on the worker",
        )
        [job_id] = started_on(worker)
        engine = sa.create_engine(postgres_url)
        try:
            sent_at = time.monotonic()
            cancel = emulator.send_text(USER, USER, f"/cancel d{job_id}")
            # The worker writes "cancelled" once its download process has stopped
            # (bot.downloads.running), so this is the moment the download stopped.
            poll(lambda: state_of(engine, job_id) == "cancelled", 10, "the row cancelled")
            stopped = time.monotonic() - sent_at
        finally:
            engine.dispose()
        check_cancelled_in_chat(emulator, command, cancel)
    print(f"\n/cancel on the front → download stopped on the worker in {stopped * 1000:.0f} ms")
    assert stopped < 1.0, f"stopped {stopped:.2f} s after /cancel"


def test_sigterm_hands_a_running_download_back_and_another_worker_starts_it_over(
    emulator: BotApiEmulator, make_bot, postgres_url, tmp_path
) -> None:
    """Each worker has a download folder of its own here (no shared storage): the one that
    takes the job over cannot resume it, starts it over, and says so."""
    env = {"database_url": postgres_url, **SLOW}
    make_bot(run_worker="false", **env)
    first: BotProcess = make_bot(command="worker", download_dir=str(tmp_path / "a"), **env)
    data = random.Random(3).randbytes(SIZE)
    with Origin() as origin:
        origin.add_file("/f.bin", data, rate=RATE)
        command = emulator.send_text(USER, USER, f"/download {origin.url('/f.bin')}")
        emulator.wait_for(
            lambda: started_on(first) and origin.bytes_sent("/f.bin") > 20_000,
            60,
            "the download running on the worker",
        )
        assert first.terminate(timeout=10) < 10
        assert rows(postgres_url, "SELECT state FROM download_jobs") == [("running",)]
        second: BotProcess = make_bot(command="worker", download_dir=str(tmp_path / "b"), **env)
        document = emulator.wait_for(lambda: document_for(emulator, command), 90, "the document")
    assert document.document["sha256"] == hashlib.sha256(data).hexdigest()
    assert started_on(second) == started_on(first)
    said = texts_of(status_for(emulator, command))
    assert any("another started it over" in text for text in said), said
    assert list((tmp_path / "a").rglob("f.bin.part"))  # paused there, out of the other's reach
    assert [p.name for p in (tmp_path / "b").rglob("f.bin*")] == ["f.bin"]


@pytest.fixture
def media_origin(media_dir: Path) -> Iterator[MediaOrigin]:  # noqa: F811
    with MediaOrigin(media_dir) as server:
        yield server


@pytest.mark.skipif(not have_ffmpeg(), reason="ffmpeg is not installed (apt-get install ffmpeg)")
def test_a_media_choice_pressed_on_the_front_reaches_the_worker(
    emulator: BotApiEmulator, make_bot, postgres_url, media_origin: MediaOrigin
) -> None:
    env = {"database_url": postgres_url}
    make_bot(run_worker="false", **env)
    make_bot(command="worker", **env)
    origin = media_origin
    page = origin.add_page("/two.html", '<body><video src="/hls/master.m3u8"></video></body>')
    sent = emulator.send_text(USER, USER, f"/download {page}")
    question = choice_message(emulator, sent)  # asked by the worker, which read the page
    assert "smaller" in press(emulator, question, USER, 1)  # answered by the front
    video = answer(emulator, sent, "video")
    assert video.media["width"] == 160 and video.media["height"] == 120
    assert not origin.hits_under("/hls/seg"), "only the chosen rendition was fetched"


def test_cancel_on_the_front_stops_the_worker_sending_the_file(
    emulator: BotApiEmulator, make_bot, postgres_url
) -> None:
    emulator.upload_rate = 256_000  # a slow uplink: the file takes about 8 s to send
    env = {"database_url": postgres_url, "progress_interval": "1"}
    make_bot(run_worker="false", **env)
    make_bot(command="worker", **env)
    with Origin() as origin:
        origin.add_file("/big.bin", random.Random(9).randbytes(2_000_000))
        command = emulator.send_text(USER, USER, f"/download {origin.url('/big.bin')}")
        status = emulator.wait_for(
            lambda: next(
                (
                    m
                    for m in emulator.bot_messages(USER)
                    if m.reply_to == command.message_id
                    and (m.text or "").startswith("📤 Sending big.bin")
                ),
                None,
            ),
            60,
            "the worker sending the file",
        )
        query = emulator.press_button(emulator.get_message(USER, status.message_id), USER)
        answer = emulator.wait_for(lambda: emulator.callback_answer(query), 10, "the answer")
        assert "Cancelling the sending of d1" in answer["text"]
        final = emulator.wait_for(
            lambda: "🚫" in (t := emulator.get_message(USER, status.message_id).text or "") and t,
            30,
            "the cancelled status",
        )
    assert "sending cancelled by" in final
    assert document_for(emulator, command) is None
    assert rows(postgres_url, "SELECT state FROM download_jobs") == [("cancelled",)]
