"""tests/origin.py in a process of its own, serving one file: a server that can go away and come
back on the same port, as a real one does when it restarts.

Killing the process is what a restart does to clients: the port refuses connections until it is
back, and every open connection ends. The file comes from disk, so the restarted server serves
the same bytes under the same ETag (a resume stays valid)::

    server = OriginProcess(file, rate=300_000)
    port = server.start()              # any free port
    server.wait_flowing(200_000)       # a download is under way
    server.kill()                      # gone: connections closed, the port refuses
    server.start(port)                 # back, on the same port

Run as ``python -m tests.origin_process PORT FILE RATE [CERT KEY]``: it prints ``ready PORT``,
then ``flowing`` once it has sent ``FLOWING`` body bytes (read from stdin's first line), and
serves until killed or until its stdin closes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.heard import Heard
from tests.origin import Origin

REPO = Path(__file__).resolve().parents[1]
PATH = "/f.bin"


class OriginProcess:
    """A restartable origin serving ``file`` at ``/f.bin``, at ``rate`` bytes/s per connection,
    over HTTPS when ``tls`` (certificate, key) is given (:meth:`start` may change it)."""

    def __init__(self, file: Path, rate: float, tls: tuple[Path, Path] | None = None) -> None:
        self.file = file
        self.rate = rate
        self.tls = tls
        self.port = 0
        self._proc: subprocess.Popen[str] | None = None
        self._said = Heard[str]()

    def url(self, host: str = "127.0.0.1") -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{host}:{self.port}{PATH}"

    def start(self, port: int = 0, flowing: int = 1, timeout: float = 30) -> int:
        """Start serving (on ``port``, or any free port); returns the port once it listens.
        ``flowing``: the body bytes after which it says so (:meth:`wait_flowing`)."""
        assert self._proc is None, "already running"
        tls = [str(p) for p in self.tls] if self.tls else []
        args = [sys.executable, "-m", "tests.origin_process", str(port), str(self.file)]
        self._proc = subprocess.Popen(
            [*args, str(self.rate), *tls],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdin is not None
        self._proc.stdin.write(f"{flowing}\n")
        self._proc.stdin.flush()
        self._said = Heard[str]()  # this process's lines only (the last one's may still come)
        assert self._proc.stdout is not None
        self._said.follow(self._proc.stdout)
        ready = self._said.wait(lambda line: line.startswith("ready "), timeout, "ready line")
        self.port = int(ready.split()[1])
        return self.port

    def wait_flowing(self, timeout: float = 30) -> None:
        """Until the server has sent the ``flowing`` bytes given to :meth:`start`."""
        self._said.wait(lambda line: line == "flowing", timeout, "flowing line")

    def kill(self) -> None:
        """Gone at once, as a crashed or restarting server: SIGKILL, and wait for it."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(10)
            if self._proc.stdin is not None:
                self._proc.stdin.close()
            self._proc = None

    def __enter__(self) -> OriginProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


def _serve(argv: list[str]) -> None:
    port, file, rate = int(argv[0]), Path(argv[1]), float(argv[2])
    tls = (argv[3], argv[4]) if len(argv) > 3 else None
    flowing = int(sys.stdin.readline())
    threading.Thread(target=_exit_with_parent, daemon=True).start()
    with Origin(tls=tls, port=port) as origin:
        origin.add_file(PATH, file.read_bytes(), rate=rate)
        print("ready", origin.port, flush=True)
        while origin.bytes_sent(PATH) < flowing:
            time.sleep(0.02)
        print("flowing", flush=True)
        threading.Event().wait()  # serve until killed


def _exit_with_parent() -> None:
    """End when stdin closes: the test ended (or died) without killing us."""
    sys.stdin.read()
    os._exit(0)


if __name__ == "__main__":
    _serve(sys.argv[1:])
