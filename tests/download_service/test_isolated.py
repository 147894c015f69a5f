"""The download child process: results come back, and a cancel always ends it within seconds."""

from __future__ import annotations

import hashlib
import multiprocessing
import socket
import threading
import time
from ipaddress import ip_network
from pathlib import Path

import pytest

from bot.downloads.engine import DownloadOptions
from bot.downloads.errors import DownloadCancelled
from bot.downloads.isolated import CANCEL_GRACE, IsolatedDownloader
from tests.origin import Origin

LOOPBACK = DownloadOptions(
    connections=4, allow_networks=(ip_network("127.0.0.0/8"),), max_retries=0
)


def test_result_and_progress_come_back_from_the_child(tmp_path: Path) -> None:
    data = bytes(range(256)) * 4000
    seen = []
    with Origin() as origin:
        origin.add_file("/f.bin", data)
        result = IsolatedDownloader(
            origin.url("/f.bin"), tmp_path, LOOPBACK, on_progress=seen.append
        ).run()
    assert result.path.read_bytes() == data
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert seen and seen[-1].done == len(data)


class Trickle:
    """An HTTP/1.0-style server: ``Connection: close``, then one byte a second, forever."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/slow.bin"

    def _serve(self) -> None:
        while not self.stop.is_set():
            conn, _ = self.sock.accept()
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n")
            for _ in range(60):
                if self.stop.wait(1.0):
                    return
                try:
                    conn.sendall(b"x")
                except OSError:
                    return


@pytest.mark.timeout(60)
def test_cancel_ends_a_child_stuck_on_a_trickling_server(tmp_path: Path) -> None:
    server = Trickle()
    downloader = IsolatedDownloader(server.url, tmp_path, LOOPBACK)
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            downloader.run()
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertion
            outcome.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    time.sleep(
        3
    )  # let it get stuck in the body (there is nothing to wait for: the server never ends)
    asked = time.monotonic()
    downloader.cancel(keep_partial=False)
    worker.join(CANCEL_GRACE + 5)
    server.stop.set()
    assert not worker.is_alive(), "run() did not return after cancel"
    assert time.monotonic() - asked < CANCEL_GRACE + 3
    assert outcome and isinstance(outcome[0], DownloadCancelled)


def test_a_cancel_that_comes_after_the_child_ended_still_gets_its_result(tmp_path: Path) -> None:
    """A cancel (a limit check, a person) can come just after the child finished and closed its
    end of the pipe: the result it sent is still there, and the cancel must not turn the download
    into an internal error (it did: BrokenPipeError)."""
    data = bytes(range(256)) * 400
    with Origin() as origin:
        origin.add_file("/f.bin", data)
        downloader = IsolatedDownloader(origin.url("/f.bin"), tmp_path, LOOPBACK)
        pids: list[int] = []

        def on_progress(_progress: object) -> None:
            if not pids:  # the first report: wait until the child is gone, then cancel
                children = multiprocessing.active_children()
                child = next(p for p in children if p.name == "errand-download")
                pids.append(child.pid or 0)
                child.join(20)
                downloader.cancel()

        downloader.on_progress = on_progress
        result = downloader.run()
    assert pids and result.path.read_bytes() == data
