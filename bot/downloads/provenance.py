"""Which download a finished file came from, kept on the file itself in an extended attribute.

A re-run of the same URL into the same folder must not save a second copy ``NAME (1)`` of a
file its earlier run finished: a ``kill -9`` that lands after the rename, or the same command
run twice. Download tools keep a file's origin in a ``user.`` extended attribute (Chromium,
``curl --xattr`` and ``wget --xattr`` write ``user.xdg.origin.url``). Errand writes
:data:`ATTR` on the ``.part`` file just before its rename, so the finished file carries it from
its first moment: a digest of the URL (a token in a query string does not leak into the file's
metadata), the size, the validator (strong ETag or Last-Modified) and the file's modification
time. A later run whose probe gives the same, on a file nobody wrote to since, finds its file
there and fetches nothing. A file the server gave no length for is known by its validator
alone; with neither, it is never taken for an earlier download.

On a file system without user extended attributes nothing is kept, and a re-run numbers a new
copy as before.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG

ATTR = "user.errand.source"


@dataclass(frozen=True)
class Source:
    """The download a file is (or would be): the URL asked for, the size, the validator."""

    url: str
    size: int | None  # None: the server gave no length (a validator then says it all)
    validator: str | None

    def encoded(self, mtime_ns: int) -> bytes:
        fields = {
            "url": hashlib.sha256(self.url.encode()).hexdigest(),
            "size": self.size,
            "validator": self.validator,
            "mtime_ns": mtime_ns,  # a file written to since is not the one downloaded
        }
        return json.dumps(fields, sort_keys=True).encode()


def source(url: str, size: int | None, validator: str | None) -> Source | None:
    """The download a probe describes, or ``None`` when nothing can tell it from another
    version of the file (no length and no validator)."""
    if size is None and not validator:
        return None
    return Source(url, size, validator)


def mark(path: Path, source: Source) -> None:
    """Record ``source`` on ``path`` (written to for the last time); where the file system keeps
    no such attribute, nothing."""
    try:
        os.setxattr(path, ATTR, source.encoded(path.stat().st_mtime_ns))
    except OSError:
        pass  # ENOTSUP and the like: only the re-run's shortcut is lost


def holds(path: Path, source: Source) -> bool:
    """Whether ``path`` is the finished file of ``source``, untouched since (same URL, size,
    validator and modification time)."""
    try:
        stat = path.lstat()  # a link is never the file a download wrote
        return (
            S_ISREG(stat.st_mode)
            and source.size in (None, stat.st_size)
            and os.getxattr(path, ATTR) == source.encoded(stat.st_mtime_ns)
        )
    except OSError:
        return False
