"""The control file beside ``NAME.part`` that lets a download continue after a crash.

``NAME.part.json`` records the URL, the size, the validator (strong ETag or Last-Modified) and
the ranges already written. It is written *before* the ``.part`` file is created, so every
``.part`` the engine leaves behind is recognisable as its own (a re-run reuses it instead of
numbering a new ``NAME (1)``), also for a server without ranges (``size`` is ``None`` then: the
record only claims the name, it cannot be resumed).

Two lists of done ranges, because syncing is expensive but a ``kill -9`` is not a power cut:

- ``done`` is rewritten every second *without* ``fdatasync``: a killed process loses nothing
  that reached the page cache, so after a crash of the process (same boot) it is the truth.
- ``synced`` names only ranges that were ``fdatasync``\\ ed before the record was written; it is
  used instead of ``done`` when the record's ``boot_id`` is not the running kernel's (the machine
  rebooted, and unsynced pages may be lost).

Version 3 adds ``pieces``: ``[first, last, xxh3_64]`` of the written bytes, about one per MiB
(:class:`~bot.downloads.segments.Piece`), covering exactly ``done``; a resume re-reads each piece
from the ``.part`` and fetches again what no longer matches (:func:`bot.downloads.verify.intact`).
``null`` when the run kept no digests (``DownloadOptions.record_digests`` off). A version 2
record (no digests) is still read: its claim is then spot-checked against the server as before.

The record carries a SHA-256 of its own fields: a record that was edited or half-written is not
trusted (the download starts over in the same file). It is replaced atomically (temp file,
rename), so a crash leaves the old or the new record, never half of one.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.downloads.segments import Piece, Range, size_of

VERSION = 3
READABLE = (2, 3)  # version 2 has no ``pieces``
SUFFIX = ".part.json"
BOOT_ID_PATH = Path("/proc/sys/kernel/random/boot_id")


def current_boot_id() -> str:
    """The running kernel's boot id ("" where there is none: then every record counts as
    synced-only)."""
    try:
        return BOOT_ID_PATH.read_text().strip()
    except OSError:
        return ""


def _digest(fields: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


@dataclass
class ResumeState:
    """What a later run needs to continue: the same file (size, validator) and what is done.

    ``size`` is ``None`` for a single stream that cannot be resumed: the record then only says
    "this ``.part`` is a leftover of this URL", so a re-run reuses the name and starts over.
    """

    url: str
    size: int | None
    validator: str | None
    final_url: str = ""
    done: list[Range] = field(default_factory=list)
    synced: list[Range] = field(default_factory=list)
    boot_id: str = ""
    #: Digests of the ``done`` bytes (see the module docstring); ``None``: no digests kept.
    pieces: list[Piece] | None = None

    @property
    def resumable(self) -> bool:
        return self.size is not None

    def _fields(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "url": self.url,
            "final_url": self.final_url,
            "size": self.size,
            "validator": self.validator,
            "done": [list(r) for r in self.done],
            "synced": [list(r) for r in self.synced],
            "boot_id": self.boot_id,
            "pieces": (
                None if self.pieces is None else [[p.first, p.last, p.digest] for p in self.pieces]
            ),
        }

    def to_json(self) -> str:
        fields = self._fields()
        return json.dumps({**fields, "check": _digest(fields)})

    @classmethod
    def from_json(cls, text: str) -> ResumeState:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("version") not in READABLE:
            raise ValueError("unknown control file version")
        check = data.pop("check", None)
        if check != _digest(data):
            raise ValueError("control file checksum mismatch")
        size = data["size"]
        size = None if size is None else int(size)
        done = [(int(a), int(b)) for a, b in data.get("done", [])]
        synced = [(int(a), int(b)) for a, b in data.get("synced", [])]
        raw = data.get("pieces")
        pieces = None if raw is None else [Piece(int(a), int(b), int(c)) for a, b, c in raw]
        spans = done + synced + [(p.first, p.last) for p in pieces or ()]
        if size is not None and (size < 1 or any(not 0 <= a <= b < size for a, b in spans)):
            raise ValueError("control file ranges out of bounds")
        if any(not 0 <= p.digest < 1 << 64 for p in pieces or ()):
            raise ValueError("control file digest out of range")
        return cls(
            url=str(data["url"]),
            size=size,
            validator=data.get("validator"),
            final_url=str(data.get("final_url", "")),
            done=done,
            synced=synced,
            boot_id=str(data.get("boot_id", "")),
            pieces=pieces,
        )

    def trusted_done(self, boot_id: str | None = None) -> list[Range]:
        """The ranges that are really on disk: ``done`` within the same boot, else ``synced``."""
        boot = current_boot_id() if boot_id is None else boot_id
        return list(self.done) if boot and boot == self.boot_id else list(self.synced)

    @property
    def done_bytes(self) -> int:
        return size_of(self.trusted_done())


def control_path(part_path: Path) -> Path:
    """``NAME.part`` -> ``NAME.part.json``."""
    return part_path.with_name(part_path.name.removesuffix(".part") + SUFFIX)


def load(path: Path) -> ResumeState | None:
    """The state in ``path``, or ``None`` if it is missing, unreadable or fails its checksum."""
    try:
        return ResumeState.from_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def save(path: Path, state: ResumeState, sync: bool = True) -> None:
    """Replace ``path`` with ``state`` atomically (temp file, rename).

    ``sync`` also fsyncs the record and its folder: for records that must survive a power cut
    (the first one, and those written with ``synced`` just updated). The once-a-second records
    skip it: the rename is atomic for every process, and only a reboot could lose them.
    """
    state.boot_id = state.boot_id or current_boot_id()
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    try:
        try:
            os.write(fd, state.to_json().encode())
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)  # a full disk: no half-written temp file left behind
        raise
    if not sync:
        return
    try:
        dfd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
