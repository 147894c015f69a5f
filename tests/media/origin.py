"""A media origin for tests: serves a folder of real media (MP4, HLS, DASH) and pages embedding it.

    with MediaOrigin(folder) as origin:
        origin.add_page("/video.html", '<video src="/media/clip.mp4"></video>')
        origin.delay("/media/hls/", 0.2)          # every fragment under this prefix waits 0.2 s
        origin.rate = 500_000                     # bytes/s per connection (bench)
        origin.url("/video.html")
        origin.hits                               # (path, started, finished) of every GET

Files are streamed from disk in small writes, so a per-connection rate and a delay apply to each
fragment; ``Range`` is honoured (206) so the download engine can use several connections.
``max_active`` records how many requests were being answered at once (to show parallel fetching).
"""

from __future__ import annotations

import mimetypes
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".mpd": "application/dash+xml",
    ".ts": "video/mp2t",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".html": "text/html; charset=utf-8",
}


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        pass  # a client that hangs up (a cancelled download) is not news


@dataclass
class Hit:
    path: str
    started: float
    finished: float | None = None


class MediaOrigin:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.pages: dict[str, str] = {}
        self.redirects: dict[str, str] = {}
        self.delays: dict[str, float] = {}
        self.rate: float | None = None
        self.hits: list[Hit] = []
        self.active = 0
        self.max_active = 0
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        # poll_interval: shutdown() waits for the loop to notice, 0.5 s by default at every test's
        # end
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> MediaOrigin:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def add_page(self, path: str, body: str) -> str:
        self.pages[path] = f"<!doctype html><html><head><title>Test clip</title>{body}</html>"
        return self.url(path)

    def add_redirect(self, path: str, target: str) -> None:
        self.redirects[path] = target

    def delay(self, prefix: str, seconds: float) -> None:
        self.delays[prefix] = seconds

    def hits_under(self, prefix: str) -> list[Hit]:
        with self._lock:
            return [h for h in self.hits if h.path.startswith(prefix)]

    def _handler(self):
        origin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_HEAD(self) -> None:  # noqa: N802
                self._serve(head=True)

            def do_GET(self) -> None:  # noqa: N802
                self._serve(head=False)

            def _serve(self, head: bool) -> None:
                path = self.path.split("?", 1)[0]
                hit = Hit(path, time.monotonic())
                with origin._lock:
                    origin.hits.append(hit)
                    origin.active += 1
                    origin.max_active = max(origin.max_active, origin.active)
                try:
                    self._answer(path, head)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    with origin._lock:
                        origin.active -= 1
                        hit.finished = time.monotonic()

            def _answer(self, path: str, head: bool) -> None:
                for prefix, seconds in origin.delays.items():
                    if path.startswith(prefix):
                        time.sleep(seconds)
                if path in origin.redirects:
                    self.send_response(302)
                    self.send_header("Location", origin.redirects[path])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if path in origin.pages:
                    body = origin.pages[path].encode()
                    self.send_response(200)
                    self.send_header("Content-Type", TYPES[".html"])
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    if not head:
                        self.wfile.write(body)
                    return
                file = (origin.root / path.lstrip("/")).resolve()
                if not file.is_file() or origin.root.resolve() not in file.parents:
                    self.send_error(404)
                    return
                data = file.read_bytes()
                first, last, status = 0, len(data) - 1, 200
                spec = self.headers.get("Range")
                if spec and spec.startswith("bytes=") and data:
                    a, _, b = spec[6:].partition("-")
                    first = int(a) if a else max(0, len(data) - int(b))
                    last = min(len(data) - 1, int(b)) if a and b else len(data) - 1
                    status = 206
                body = data[first : last + 1]
                self.send_response(status)
                kind = (
                    TYPES.get(file.suffix)
                    or mimetypes.guess_type(file.name)[0]
                    or "application/octet-stream"
                )
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Accept-Ranges", "bytes")
                if status == 206:
                    self.send_header("Content-Range", f"bytes {first}-{last}/{len(data)}")
                self.end_headers()
                if head:
                    return
                step = 16 * 1024
                for offset in range(0, len(body), step):
                    piece = body[offset : offset + step]
                    self.wfile.write(piece)
                    if origin.rate:
                        time.sleep(len(piece) / origin.rate)

        return Handler
