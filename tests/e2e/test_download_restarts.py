"""Downloads survive the ways a service is really stopped: SIGTERM to the whole process group
(``systemctl stop`` without ``KillMode``, ``docker stop``) and SIGTERM to the download process
alone. Real bot process, real origin, real SQLite; the delivered bytes are checked by sha256."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from tests.e2e.harness import USER
from tests.e2e.test_downloads import (
    children,
    document_for,
    payload,
    sha,
    slow_download_under_way,
    status_for,
    texts_of,
    wait_text,
)

pytestmark = pytest.mark.timeout(150)
# Bytes the origin has written that never reached the file when connections are cut: what the
# issue allows, about one second of transfer — 16 connections (DOWNLOAD_CONNECTIONS' default) at
# the 40 kB/s each of slow_download_under_way. Typically two 16 KiB writes per connection are in
# flight (512 KiB); on a loaded machine one more was seen (+16 KiB over that).
IN_FLIGHT = 16 * 40_000
# Every probe of the file (``Range: bytes=0-0``, engine.py) reads one byte more, on top of
# IN_FLIGHT; a restart probes a few times (the service before queueing, the download process).
PROBE_BYTES = 4


def test_sigterm_to_the_process_group_pauses_and_the_restart_resumes(
    emulator, make_bot, origin
) -> None:
    bot = make_bot(progress_interval="1")
    data, sent, status = slow_download_under_way(
        emulator, origin, "/group.bin", seed=31, fraction=0.3
    )
    assert children(bot.proc.pid), "the download should run in a child process"
    assert bot.terminate_group() < 10
    assert "stopped unexpectedly" not in bot.output
    folders = list((bot.data_dir / "downloads").iterdir())
    assert len(folders) == 1 and list(folders[0].glob("*.part")), "the partial file must be kept"
    sent_before_restart = origin.bytes_sent("/group.bin")

    bot.start()
    document = document_for(emulator, USER, sent, timeout=100)
    assert document.document["sha256"] == sha(data)
    history = texts_of(emulator, status)
    assert any("Resumed after restart" in t for t in history), history
    assert "Starting…" not in history[-1]
    assert not any(t.startswith("❌") for t in history), history
    moved_after = origin.bytes_sent("/group.bin") - sent_before_restart
    assert moved_after <= len(data) - sent_before_restart + IN_FLIGHT + PROBE_BYTES, (
        moved_after,
        sent_before_restart,
    )


def test_sigterm_to_the_download_process_alone_resumes_at_once(emulator, make_bot, origin) -> None:
    bot = make_bot(progress_interval="1")
    data, sent, status = slow_download_under_way(
        emulator, origin, "/child.bin", seed=32, fraction=0.3
    )
    (child,) = [
        pid
        for pid in children(bot.proc.pid)
        if b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]
    os.kill(child, signal.SIGTERM)
    emulator.wait_for(
        lambda: (
            not Path(f"/proc/{child}").exists()
            or Path(f"/proc/{child}/stat").read_text().split()[2] == "Z"
        ),
        10,
        "the child to stop",
    )
    document = document_for(emulator, USER, sent, timeout=100)
    assert document.document["sha256"] == sha(data)
    history = texts_of(emulator, status)
    assert not any(t.startswith("❌") for t in history), history
    assert origin.bytes_sent("/child.bin") <= len(data) + IN_FLIGHT + PROBE_BYTES


def test_a_partial_file_changed_while_stopped_is_refetched_not_delivered(
    emulator, make_bot, origin
) -> None:
    bot = make_bot(progress_interval="1")
    data, sent, status = slow_download_under_way(
        emulator, origin, "/swap.bin", seed=33, fraction=0.3
    )
    assert bot.terminate() < 10
    (part,) = (bot.data_dir / "downloads").rglob("*.part")
    part.write_bytes(os.urandom(part.stat().st_size))  # the record still claims its ranges
    bot.start()
    document = document_for(emulator, USER, sent, timeout=100)
    assert document.document["sha256"] == sha(data)


def test_a_file_finished_just_before_a_kill_is_delivered_not_fetched_again_beside_itself(
    emulator, make_bot, origin
) -> None:
    """``kill -9`` at the very end: the download process had renamed ``NAME.part`` to ``NAME`` (and
    removed its record) when the bot died, before the job's row said done. The restart fetched
    the whole file again as ``NAME (1)``, delivered that and left both on disk."""
    bot = make_bot(progress_interval="1")
    data, sent, _status = slow_download_under_way(
        emulator, origin, "/end.bin", seed=34, fraction=0.4
    )
    bot.kill()
    (part,) = (bot.data_dir / "downloads").rglob("*.part")
    for leftover in part.parent.iterdir():
        leftover.unlink()
    (part.parent / "end.bin").write_bytes(data)  # what the download process finished
    asked_before = len(origin.hits("/end.bin"))
    bot.start()
    document = document_for(emulator, USER, sent, timeout=100)
    assert document.document["file_name"] == "end.bin"
    assert document.document["sha256"] == sha(data)
    kept = [p.name for p in (bot.data_dir / "downloads").rglob("*") if p.is_file()]
    assert kept == ["end.bin"], kept
    asked_after = origin.hits("/end.bin")[asked_before:]
    assert all(hit.range == "bytes=0-0" for hit in asked_after), asked_after  # probes at most


def test_a_download_without_ranges_says_it_starts_over_after_a_restart(
    emulator, make_bot, origin
) -> None:
    """A server without ranges cannot be resumed: after ``systemctl stop`` (SIGTERM to the group)
    and a start, the chat is told the download starts over, not "resumed at N%" (it said the
    percent last saved in the row, while the bar went back to the start)."""
    bot = make_bot(progress_interval="1")
    data = payload(1_500_000, seed=35)
    origin.add_file("/whole.bin", data, ranges=False, rate=150_000)
    sent = emulator.send_text(USER, USER, f"/download {origin.url('/whole.bin')}")
    status = status_for(emulator, USER, sent)
    wait_text(emulator, status, "%")
    emulator.wait_for(
        lambda: origin.bytes_sent("/whole.bin") >= len(data) * 0.4, 30, "40% transferred"
    )
    assert bot.terminate_group() < 10
    bot.start()
    document = document_for(emulator, USER, sent, timeout=60)
    assert document.document["sha256"] == sha(data)
    history = texts_of(emulator, status)
    assert not any("Resumed after restart" in t for t in history), history
    assert any("Started again after the restart, from the beginning" in t for t in history)


def test_one_byte_changed_in_a_done_range_while_stopped_is_fetched_again_alone(
    emulator, make_bot, origin
) -> None:
    """Stop the bot, flip ONE byte in the middle of the largest done range of ``NAME.part``,
    start it: the few windows compared with the server found that about 1 time in 10, and the
    wrong sha256 was delivered. The digests of the record's pieces find it every time; only the
    piece holding that byte is fetched again, with what was missing."""
    bot = make_bot(progress_interval="1")
    data, sent, status = slow_download_under_way(
        emulator, origin, "/flip.bin", seed=36, fraction=0.3
    )
    assert bot.terminate() < 10
    (part,) = (bot.data_dir / "downloads").rglob("*.part")
    record = json.loads(part.with_name(part.name + ".json").read_text())
    first, last = max(record["done"], key=lambda r: r[1] - r[0])
    at = (first + last) // 2
    (piece,) = [(a, b) for a, b, _digest in record["pieces"] if a <= at <= b]
    with part.open("r+b") as f:
        f.seek(at)
        changed = bytes([f.read(1)[0] ^ 0x20])
        f.seek(at)
        f.write(changed)
    asked_before = len(origin.hits("/flip.bin"))

    bot.start()
    document = document_for(emulator, USER, sent, timeout=100)
    assert document.document["sha256"] == sha(data)
    asked = [h.range for h in origin.hits("/flip.bin")[asked_before:] if h.range != "bytes=0-0"]
    spans = [tuple(int(x) for x in r.removeprefix("bytes=").split("-")) for r in asked]
    assert any(a <= at <= b for a, b in spans), (at, asked)  # the changed byte, fetched again
    for a, b in spans:  # and of what the record held, nothing else
        for d0, d1 in record["done"]:
            both = (max(a, d0), min(b, d1))
            assert both[0] > both[1] or piece[0] <= both[0] <= both[1] <= piece[1], (a, b, piece)
    history = texts_of(emulator, status)
    assert any("did not match its record; fetched again" in t for t in history), history
