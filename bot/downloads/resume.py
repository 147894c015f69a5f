"""The control file beside ``NAME.part`` that lets a download continue after a crash.

``NAME.part.json`` records the URL, the size, the validator (strong ETag or Last-Modified) and
the ranges already on disk. It is replaced atomically — written to a temporary file, fsynced,
renamed — so a crash (even ``kill -9`` or a power cut) leaves either the old or the new record,
never half of one. The ``.part`` data is fsynced *before* the record that claims it is written,
so a range the record calls done really is on disk.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from bot.downloads.segments import Range

VERSION = 1
SUFFIX = ".part.json"


@dataclass
class ResumeState:
    """What a later run needs to continue: the same file (size, validator) and what is done."""

    url: str
    size: int
    validator: str | None
    final_url: str = ""
    done: list[Range] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps({
            "version": VERSION, "url": self.url, "final_url": self.final_url, "size": self.size,
            "validator": self.validator, "done": [list(r) for r in self.done],
        })

    @classmethod
    def from_json(cls, text: str) -> ResumeState:
        data = json.loads(text)
        if data.get("version") != VERSION:
            raise ValueError("unknown control file version")
        size = int(data["size"])
        done = [(int(a), int(b)) for a, b in data.get("done", [])]
        if size < 1 or any(not 0 <= a <= b < size for a, b in done):
            raise ValueError("control file ranges out of bounds")
        return cls(url=str(data["url"]), size=size, validator=data.get("validator"),
                   final_url=str(data.get("final_url", "")), done=done)

    @property
    def done_bytes(self) -> int:
        return sum(b - a + 1 for a, b in self.done)


def control_path(part_path: Path) -> Path:
    """``NAME.part`` -> ``NAME.part.json``."""
    return part_path.with_name(part_path.name.removesuffix(".part") + SUFFIX)


def load(path: Path) -> ResumeState | None:
    """The state in ``path``, or ``None`` if it is missing or unreadable (then start over)."""
    try:
        return ResumeState.from_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save(path: Path, state: ResumeState) -> None:
    """Replace ``path`` with ``state`` atomically: temp file, fsync, rename, fsync the folder."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, state.to_json().encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    try:
        dfd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
