"""Run nginx for a test: a site file wrapped in a minimal main configuration that keeps every
path (pid, logs, temporary bodies) in the test's folder, in the foreground as a process the test
owns, stopped by its PID. tests/deploy/test_nginx.py runs deploy/nginx.conf with it and
tests/e2e/scalerig.py deploy/nginx-replicas.conf."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def main_conf(folder: Path, site: Path) -> Path:
    """Write ``folder/nginx.conf``: an ``http`` block that includes ``site``, with nginx's pid,
    error log and temporary folders inside ``folder``."""
    main = folder / "nginx.conf"
    temp = {name: folder / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir(exist_ok=True)
    main.write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"pid {folder}/nginx.pid;\nerror_log {folder}/error.log;\nevents {{}}\nhttp {{\n"
        f"  access_log off;\n"
        f"  client_body_temp_path {temp['body']};\n  proxy_temp_path {temp['proxy']};\n"
        f"  fastcgi_temp_path {temp['fastcgi']};\n  uwsgi_temp_path {temp['uwsgi']};\n"
        f"  scgi_temp_path {temp['scgi']};\n  include {site};\n}}\n"
    )
    return main


def check(folder: Path, main: Path) -> subprocess.CompletedProcess:
    """``nginx -t`` on ``main``."""
    assert NGINX is not None, "nginx is not installed"
    return subprocess.run(
        [NGINX, "-t", "-p", str(folder), "-e", str(folder / "error.log"), "-c", str(main)],
        capture_output=True,
        text=True,
        timeout=30,
    )


def start(folder: Path, main: Path, port: int, timeout: float = 15.0) -> subprocess.Popen:
    """nginx in the foreground on ``main``; returns once ``port`` accepts connections."""
    assert NGINX is not None, "nginx is not installed"
    proc = subprocess.Popen(
        [
            NGINX,
            "-p",
            str(folder),
            "-e",
            str(folder / "error.log"),
            "-c",
            str(main),
            "-g",
            "daemon off;",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                stderr = proc.communicate()[1].decode()
                raise AssertionError(f"nginx did not start: {stderr}") from None
            time.sleep(0.05)


def stop(proc: subprocess.Popen) -> None:
    """Graceful stop (SIGQUIT), then SIGKILL if it hangs."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGQUIT)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stderr is not None:
        proc.stderr.close()


@contextmanager
def running(folder: Path, main: Path, port: int) -> Iterator[subprocess.Popen]:
    """:func:`start`, then :func:`stop` however the block ends."""
    proc = start(folder, main, port)
    try:
        yield proc
    finally:
        stop(proc)


class Upstream(ThreadingHTTPServer):
    """What stands behind nginx in a test instead of the bot: answers every POST with 200 and
    records it in :attr:`seen` as (method, path, headers, body)."""

    seen: list[tuple[str, str, dict[str, str], bytes]]

    @property
    def port(self) -> int:
        return self.server_address[1]


class _Recorder(BaseHTTPRequestHandler):
    server: Upstream

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.seen.append(("POST", self.path, dict(self.headers), body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def upstream() -> Iterator[Upstream]:
    """A recording :class:`Upstream` on a free loopback port, for the length of the block."""
    server = Upstream(("127.0.0.1", 0), _Recorder)
    server.seen = []
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
