"""A misbehaving HTTP origin for tests: a real server on 127.0.0.1, behaviours chosen per path.

    with Origin() as origin:
        origin.add_file("/f.bin", data)                        # a well-behaved file
        origin.add_file("/slow.bin", data, rate=200_000)       # 200 kB/s per connection
        origin.add_file("/x", data, ranges=False, chunked=True, cut_after=1000, cut_times=2)
        url = origin.url("/f.bin")
        origin.requests            # every request seen: Hit(path, range, if_range, status, sent)

Behaviours (keyword arguments of :meth:`Origin.add_file`): ``ranges`` (False: ignore Range and
send 200), ``length`` (False: no Content-Length, close-delimited), ``chunked``, ``cut_after`` /
``cut_times`` (close the connection after N body bytes, for the first K responses),
``fail_status`` / ``fail_times`` / ``retry_after`` (answer e.g. 503 first), ``stall_after`` /
``stall_times`` / ``stall_seconds`` (stop sending mid-body), ``gzip`` (send Content-Encoding: gzip
whatever was asked), ``lie_length`` (promise more bytes than sent), ``disposition``
(Content-Disposition value), ``etag`` (default derived from content; :meth:`replace` changes it),
``rate`` (bytes/s per response) or ``rates`` (a list: TCP connection i gets ``rates[i % len]``
for all its responses).
Misbehaviours seen on real servers: ``then`` (other content after the first ``then_after``
requests: a size that changes after the probe), ``probe_whole`` (answer ``bytes=0-0`` with the whole
file and its whole ``Content-Range``, as busybox httpd does), ``headers_only_ranges`` (answer other
ranges with headers and no body, as lighttpd before a buffered CGI; with ``headers_only_after`` only
once that many ranges other than the probe's were answered whole), ``max_conns`` (answer 503 beyond
N requests at once, as nginx ``limit_conn``), ``silent`` (accept, read the request, never answer),
``extra_headers`` (that many more header lines), ``piece`` (bytes per write; with ``rate``:
``piece=1, rate=0.2`` sends one byte every five seconds). ``Origin(tls=(cert, key))`` serves HTTPS.
:meth:`add_redirect` adds a redirect to a path or any URL.
"""

from __future__ import annotations

import gzip as gzip_module
import hashlib
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Hit:
    path: str
    range: str | None
    if_range: str | None
    status: int
    sent: int = 0


@dataclass
class _File:
    data: bytes
    etag: str
    ranges: bool = True
    length: bool = True
    chunked: bool = False
    cut_after: int | None = None
    cut_times: int = 1
    fail_status: int | None = None
    fail_times: int = 0
    retry_after: str | None = None
    stall_after: int | None = None
    stall_times: int = 1
    stall_seconds: float = 5.0
    gzip: bool = False
    lie_length: int = 0
    disposition: str | None = None
    content_type: str = "application/octet-stream"
    rate: float | None = None
    rates: list[float] | None = None
    redirect: str | None = None
    redirect_status: int = 302
    then: bytes | None = None
    then_after: int = 1
    probe_whole: bool = False
    headers_only_ranges: bool = False
    headers_only_after: int = 0
    max_conns: int | None = None
    silent: bool = False
    piece: int | None = None
    extra_headers: int = 0
    counters: dict[str, int] = field(default_factory=dict)
    active: int = 0


def _parse_range(value: str | None, size: int) -> tuple[int, int] | None:
    if not value or not value.startswith("bytes=") or "," in value:
        return None
    first, _, last = value[6:].partition("-")
    if first == "":
        n = int(last)
        return max(0, size - n), size - 1
    a = int(first)
    b = int(last) if last else size - 1
    return a, min(b, size - 1)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def setup(self) -> None:
        super().setup()
        self.conn_no = self.server.origin._new_connection()  # `rates` are per TCP connection

    def do_GET(self) -> None:  # noqa: N802
        self.server.origin._serve(self)

    do_HEAD = do_GET


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64
    origin: Origin

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return  # the client hung up (steal, cancel, cut): expected here
        super().handle_error(request, client_address)


class Origin:
    """The test server; see the module docstring."""

    def __init__(self, tls: tuple[str, str] | None = None, port: int = 0) -> None:
        self._files: dict[str, _File] = {}
        self._lock = threading.Lock()
        self.connections = 0
        self.requests: list[Hit] = []
        self.stopping = threading.Event()
        self._server = _Server(("127.0.0.1", port), _Handler)  # 0: any free port
        self._server.origin = self
        self.scheme = "http"
        if tls is not None:
            import ssl

            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            self.scheme = "https"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    # ---- life cycle ---------------------------------------------------------
    def __enter__(self) -> Origin:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    # ---- content ----------------------------------------------------------------
    def add_file(self, path: str, data: bytes, **behaviour: Any) -> str:
        etag = behaviour.pop("etag", None) or f'"{hashlib.sha256(data).hexdigest()[:16]}"'
        self._files[path] = _File(data=data, etag=etag, **behaviour)
        return self.url(path)

    def replace(self, path: str, data: bytes) -> None:
        """New content (and so a new ETag) at ``path``, other behaviours unchanged."""
        f = self._files[path]
        f.data = data
        f.etag = f'"{hashlib.sha256(data).hexdigest()[:16]}"'

    def add_redirect(self, path: str, to: str, status: int = 302) -> str:
        self._files[path] = _File(data=b"", etag='"r"', redirect=to, redirect_status=status)
        return self.url(path)

    def hits(self, path: str) -> list[Hit]:
        with self._lock:
            return [h for h in self.requests if h.path == path]

    def connections_seen(self) -> int:
        """How many TCP connections clients have opened so far."""
        return self.connections

    def _new_connection(self) -> int:
        with self._lock:
            self.connections += 1
            return self.connections - 1

    def bytes_sent(self, path: str) -> int:
        return sum(h.sent for h in self.hits(path))

    # ---- serving ----------------------------------------------------------------
    def _once(self, f: _File, key: str, limit: int) -> bool:
        """True for the first ``limit`` calls with this ``key``."""
        with self._lock:
            n = f.counters.get(key, 0)
            f.counters[key] = n + 1
        return n < limit

    def _serve(self, h: _Handler) -> None:
        path = h.path.split("?")[0]
        f = self._files.get(path)
        if f is not None and f.max_conns is not None:
            with self._lock:
                f.active += 1
            try:
                self._serve_one(h)
            finally:
                with self._lock:
                    f.active -= 1
            return
        self._serve_one(h)

    def _serve_one(self, h: _Handler) -> None:
        path = h.path.split("?")[0]
        f = self._files.get(path)
        rng_header, if_range = h.headers.get("Range"), h.headers.get("If-Range")
        hit = Hit(path, rng_header, if_range, 0)
        with self._lock:
            self.requests.append(hit)
        if f is None:
            hit.status = 404
            h.send_response(404)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        if f.redirect is not None:
            hit.status = f.redirect_status
            h.send_response(f.redirect_status)
            h.send_header("Location", f.redirect.encode().decode("latin-1"))  # UTF-8 on the wire
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        if f.silent:
            self.stopping.wait(600)  # never answer (until the origin closes)
            h.close_connection = True
            return
        if f.max_conns is not None and f.active > f.max_conns:
            hit.status = 503
            h.send_response(503)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        if f.fail_status and self._once(f, "fail", f.fail_times):
            hit.status = f.fail_status
            h.send_response(f.fail_status)
            if f.retry_after is not None:
                h.send_header("Retry-After", f.retry_after)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        data = f.data
        if f.then is not None and not self._once(f, "then", f.then_after):
            data = f.then
        body = gzip_module.compress(data, mtime=0) if f.gzip else data
        size = len(body)
        rng = _parse_range(rng_header, size) if f.ranges and not f.gzip else None
        if rng is not None and if_range is not None and if_range != f.etag:
            rng = None  # If-Range mismatch: the whole new file
        if rng is not None and rng[0] >= size:
            hit.status = 416
            h.send_response(416)
            h.send_header("Content-Range", f"bytes */{size}")
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        if rng is not None and f.probe_whole and rng == (0, 0):
            rng = (0, size - 1)  # busybox: the whole file for a one-byte probe
        if rng is not None:
            first, last = rng
            hit.status = 206
            h.send_response(206)
            h.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        else:
            first, last = 0, size - 1
            hit.status = 200
            h.send_response(200)
        part = body[first : last + 1]
        for n in range(f.extra_headers):
            h.send_header(f"X-Filler-{n}", "x")
        h.send_header("ETag", f.etag)
        h.send_header("Content-Type", f.content_type)
        if f.ranges:
            h.send_header("Accept-Ranges", "bytes")
        if f.gzip:
            h.send_header("Content-Encoding", "gzip")
        if f.disposition:
            h.send_header("Content-Disposition", f.disposition)
        if f.chunked:
            h.send_header("Transfer-Encoding", "chunked")
        elif f.length:
            h.send_header("Content-Length", str(len(part) + f.lie_length))
        if not f.length or f.lie_length:
            h.send_header("Connection", "close")
            h.close_connection = True
        h.end_headers()
        if h.command == "HEAD":
            return
        if (
            f.headers_only_ranges
            and rng is not None
            and rng != (0, 0)
            and not self._once(f, "whole ranges", f.headers_only_after)
        ):
            h.close_connection = True  # headers, then nothing
            return
        self._send_body(h, f, part, hit)

    def _send_body(self, h: _Handler, f: _File, part: bytes, hit: Hit) -> None:
        rate = f.rate
        if f.rates:
            rate = f.rates[h.conn_no % len(f.rates)]
        cut = f.cut_after if f.cut_after is not None and self._once(f, "cut", f.cut_times) else None
        stall = (
            f.stall_after
            if f.stall_after is not None and self._once(f, "stall", f.stall_times)
            else None
        )
        piece = f.piece or (16384 if rate else 262144)
        start = time.monotonic()
        view = memoryview(part)
        pos = 0
        try:
            while pos < len(part):
                if self.stopping.is_set():
                    return
                n = min(piece, len(part) - pos)
                if cut is not None:
                    if pos >= cut:
                        h.close_connection = True
                        return
                    n = min(n, cut - pos)
                if stall is not None and pos >= stall:
                    self.stopping.wait(f.stall_seconds)
                    stall = None
                    h.close_connection = True
                    return
                if stall is not None:
                    n = min(n, stall - pos)
                chunk = view[pos : pos + n]
                if f.chunked:
                    h.wfile.write(f"{n:x}\r\n".encode() + bytes(chunk) + b"\r\n")
                else:
                    h.wfile.write(chunk)
                pos += n
                hit.sent += n
                if rate:
                    ahead = pos / rate - (time.monotonic() - start)
                    if ahead > 0 and self.stopping.wait(ahead):
                        return
            if f.chunked:
                h.wfile.write(b"0\r\n\r\n")
            if f.lie_length:
                h.close_connection = True
        except (BrokenPipeError, ConnectionResetError):
            h.close_connection = True
