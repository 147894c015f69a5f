"""The file name a download is saved under: derived from the response, then made safe.

Order of preference: ``Content-Disposition`` ``filename*=`` (RFC 8187: charset, language,
percent-encoded UTF-8) over ``filename=``, then the last part of the URL path, then
``download`` with an extension from the content type. Whatever a server says, the result is a
plain name inside the output directory: no path separators, no ``..``, no control or bidi
characters, no leading dot, at most :data:`MAX_NAME_BYTES` bytes of UTF-8 (room is left for
`` (12)`` and ``.part.json`` so those fit the file system's 255-byte limit too).
"""

from __future__ import annotations

import mimetypes
import re
import unicodedata
from pathlib import Path
from urllib.parse import unquote, urlsplit

MAX_NAME_BYTES = 200
FALLBACK = "download"

_EXT_PARAM = re.compile(r"""filename\*\s*=\s*([^;]+)""", re.IGNORECASE)
_PLAIN_PARAM = re.compile(r"""(?:^|;)\s*filename\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)""", re.IGNORECASE)


def from_content_disposition(header: str | None) -> str | None:
    """The raw file name a ``Content-Disposition`` header gives, preferring ``filename*``."""
    if not header:
        return None
    match = _EXT_PARAM.search(header)
    if match:
        value = match.group(1).strip().strip('"')
        charset, sep, rest = value.partition("'")
        if sep:
            _lang, _, encoded = rest.partition("'")
            try:
                name = unquote(encoded, encoding=charset or "utf-8", errors="strict")
            except (LookupError, UnicodeDecodeError):
                name = unquote(encoded, encoding="latin-1")
            if name.strip():
                return name
    match = _PLAIN_PARAM.search(header)
    if match:
        value = match.group(1).strip()
        if value.startswith('"') and value.endswith('"') and len(value) >= 2:
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        if value.strip():
            return value
    return None


def from_url(url: str) -> str | None:
    """The last segment of the URL's path, percent-decoded (``None`` for ``/`` or empty)."""
    path = urlsplit(url).path
    last = path.rstrip("/").rpartition("/")[2] if not path.endswith("/") else ""
    last = unquote(last)
    return last or None


def from_content_type(content_type: str | None) -> str:
    """``download`` plus the usual extension of the content type, if there is one."""
    mime = (content_type or "").split(";")[0].strip().lower()
    ext = mimetypes.guess_extension(mime) if mime else None
    return FALLBACK + (ext or "")


def sanitize(name: str | None) -> str:
    """A safe, single-component file name made from ``name`` (never empty)."""
    name = unicodedata.normalize("NFC", name or "")
    # Windows-style paths: keep only the last component, as browsers do.
    name = name.replace("\\", "/").rpartition("/")[2]
    out = []
    for ch in name:
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp"):
            continue  # control, bidi overrides, zero-width, surrogates, private use
        out.append(" " if cat.startswith("Z") else ch)
    name = "".join(out).strip()
    name = name.lstrip(".").strip()
    name = name.rstrip(". ")  # trailing dots and spaces confuse some file systems
    if not name or name in (".", ".."):
        return FALLBACK
    return _truncate(name, MAX_NAME_BYTES)


def _truncate(name: str, limit: int) -> str:
    """Cut ``name`` to ``limit`` bytes of UTF-8, keeping a short extension."""
    if len(name.encode()) <= limit:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or len(ext.encode()) > 16 or not stem:
        stem, ext = name, ""
    suffix = f".{ext}" if ext else ""
    budget = limit - len(suffix.encode())
    stem = stem.encode()[:budget].decode("utf-8", "ignore").rstrip(". ")
    return (stem or FALLBACK) + suffix


def derive(url: str, content_disposition: str | None, content_type: str | None) -> str:
    """The sanitised name for a response to ``url`` with these headers."""
    raw = from_content_disposition(content_disposition) or from_url(url)
    if raw is not None and sanitize(raw) != FALLBACK:
        return sanitize(raw)
    return sanitize(from_content_type(content_type))


def with_number(name: str, n: int) -> str:
    """``file (n).ext`` — the name for the n-th clash."""
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        return f"{name} ({n})"
    return f"{stem} ({n}).{ext}"


def inside(directory: Path, name: str) -> Path:
    """``directory / name``, proven to stay inside ``directory`` (raises ValueError otherwise).

    ``name`` itself is not followed if it is a symbolic link already there: the caller treats
    any existing entry, a link included, as a name taken (and the engine opens with
    ``O_NOFOLLOW``), so a planted link cannot lead a download out of the folder.
    """
    base = directory.resolve()
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise ValueError(f"{name!r} leaves the output directory")
    path = base / name
    if path.parent != base:
        raise ValueError(f"{name!r} leaves the output directory")
    return path
