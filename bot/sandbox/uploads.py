"""The emulator's reader of multipart/form-data bodies, as they arrive: files go to disk, hashed.

Why: a local Bot API server takes documents of up to 2000 MB. Reading such a body whole (as the
emulator first did, then parsing it with :mod:`email`) held the file several times in the
emulator's memory, so an end-to-end test of a 300 MB delivery measured the test rather than the
bot. Here python-multipart's streaming parser sees the body in 256 KiB pieces; each file part is
hashed on the fly and written to a temporary file (kept until the emulator stops, so a test can
read what arrived); form fields stay in memory, bounded. A file part over ``limit`` is still read
to the end (so the client gets an answer rather than a reset) but no longer stored.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from dataclasses import dataclass
from io import BufferedIOBase
from pathlib import Path
from typing import IO

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

CHUNK = 256 * 1024
MAX_FIELD = 1024 * 1024  # a form field (caption, reply_markup…) larger than this is refused


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a request: its name, size and sha256; ``path`` holds the bytes unless the
    part was over the limit (then ``path`` is None)."""

    filename: str
    size: int
    sha256: str
    path: Path | None


class _Part:
    """The part being read: headers first, then its data into a field buffer or a file."""

    def __init__(self) -> None:
        self.headers: dict[str, str] = {}
        self.field_name = b""
        self.field_value = b""
        self.name: str | None = None
        self.filename: str | None = None
        self.buffer = bytearray()
        self.file: IO[bytes] | None = None
        self.path: Path | None = None
        self.digest = hashlib.sha256()
        self.size = 0


def read_multipart(
    stream: BufferedIOBase | IO[bytes],
    length: int,
    content_type: str,
    *,
    limit: int,
    spool: Path,
    rate: float | None = None,
) -> tuple[dict[str, str], dict[str, UploadedFile]]:
    """Read ``length`` bytes of a multipart body from ``stream``; return its fields and files.

    ``rate`` (bytes/s) reads no faster than that, like a slow uplink, so that a test has time to
    watch an upload's progress or cancel it.

    Raises ``ValueError`` for a body that is not valid multipart (no boundary, a field over
    :data:`MAX_FIELD`) and ``ConnectionError`` when the client stops sending before the end; no
    temporary file is left behind in either case.
    """
    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        raise ValueError("multipart body without a boundary")
    fields: dict[str, str] = {}
    files: dict[str, UploadedFile] = {}
    made: list[Path] = []
    part = _Part()

    def on_part_begin() -> None:
        nonlocal part
        part = _Part()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        part.field_name += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        part.field_value += data[start:end]

    def on_header_end() -> None:
        # latin-1 keeps the raw bytes; parse_options_header hands them back, decoded below as UTF-8
        part.headers[part.field_name.decode("latin-1").lower()] = part.field_value.decode("latin-1")
        part.field_name = part.field_value = b""

    def on_headers_finished() -> None:
        _, params = parse_options_header(part.headers.get("content-disposition", ""))
        part.name = params.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" in params:
            part.filename = params[b"filename"].decode("utf-8", "replace")
            handle = tempfile.NamedTemporaryFile(dir=spool, prefix="upload-", delete=False)  # noqa: SIM115
            part.file, part.path = handle, Path(handle.name)
            made.append(part.path)

    def on_part_data(data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if part.filename is None:
            part.buffer += chunk
            if len(part.buffer) > MAX_FIELD:
                raise ValueError(f"form field {part.name!r} is over {MAX_FIELD} bytes")
            return
        part.digest.update(chunk)
        part.size += len(chunk)
        if (
            part.file is not None and part.size > limit
        ):  # over the limit: keep counting, stop storing
            part.file.close()
            part.file = None
        if part.file is not None:
            part.file.write(chunk)

    def on_part_end() -> None:
        if part.name is None:
            return
        if part.filename is None:
            fields[part.name] = part.buffer.decode("utf-8")
            return
        kept = part.file is not None
        if part.file is not None:
            part.file.close()
        if not kept and part.path is not None:
            part.path.unlink(missing_ok=True)
        files[part.name] = UploadedFile(
            part.filename, part.size, part.digest.hexdigest(), part.path if kept else None
        )

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    started = time.monotonic()
    piece = CHUNK if rate is None else max(1024, min(CHUNK, int(rate / 10)))
    try:
        left = length
        while left > 0:
            chunk = stream.read(min(piece, left))
            if not chunk:
                raise ConnectionError(f"the client stopped sending with {left} bytes to go")
            left -= len(chunk)
            if rate is not None:
                ahead = started + (length - left) / rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
            try:
                parser.write(chunk)
            except MultipartParseError as exc:
                raise ValueError(f"malformed multipart body: {exc}") from None
        parser.finalize()
    except BaseException:
        if part.file is not None:
            part.file.close()
        for path in made:
            path.unlink(missing_ok=True)
        raise
    return fields, files
