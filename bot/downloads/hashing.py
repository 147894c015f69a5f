"""Checksums: parsing ``ALG:HEX`` and hashing a ``.part`` file while it is still being written.

:class:`PrefixHasher` follows the contiguous prefix of the file that is already on disk and
hashes it from a thread of its own (hashlib releases the GIL), so on a fast link most of the
SHA-256 is done by the time the last byte arrives instead of costing a second pass at the end.
It reads through short-lived ``mmap`` windows, which hash the page cache in place instead of
copying every byte once more (and keep the mapped, resident part small).
"""

from __future__ import annotations

import hashlib
import mmap
import os
import threading
from collections.abc import Callable

ALGORITHMS = ("sha256", "sha1", "md5")
_HEX_LENGTH = {"sha256": 64, "sha1": 40, "md5": 32}
BLOCK = 16 << 20  # bytes mapped and hashed at a time


def parse_checksum(text: str | None) -> tuple[str, str] | None:
    """``"sha256:AB12.."`` -> ``("sha256", "ab12..")``; raises ValueError with a short reason."""
    if not text:
        return None
    alg, sep, digest = text.strip().partition(":")
    alg = alg.lower().replace("-", "")
    digest = digest.strip().lower()
    if not sep or alg not in ALGORITHMS:
        raise ValueError("checksum must look like sha256:HEX (also sha1:HEX, md5:HEX)")
    if len(digest) != _HEX_LENGTH[alg] or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"a {alg} checksum is {_HEX_LENGTH[alg]} hex digits")
    return alg, digest


class PrefixHasher:
    """Hashes ``path`` from offset 0 up to whatever ``available()`` says is on disk."""

    def __init__(
        self, path: os.PathLike[str], available: Callable[[], int], algorithms: list[str]
    ) -> None:
        self.path = path
        self.available = available
        self.hashes = {alg: hashlib.new(alg) for alg in algorithms}
        self.offset = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._fd = os.open(path, os.O_RDONLY)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._follow, name="hasher", daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        while not self._stop.is_set():
            if not self._step(self.available()):
                self._stop.wait(0.05)

    def _step(self, limit: int) -> bool:
        if self.offset >= limit:
            return False
        length = min(BLOCK, limit - self.offset)
        base = self.offset - self.offset % mmap.ALLOCATIONGRANULARITY
        try:
            window = mmap.mmap(
                self._fd, length + self.offset - base, offset=base, access=mmap.ACCESS_READ
            )
        except (ValueError, OSError):
            return False  # the file is shorter than `limit` says (it is being reset)
        try:
            view = memoryview(window)[self.offset - base :]
            try:
                for h in self.hashes.values():
                    h.update(view)
            finally:
                view.release()
        finally:
            window.close()
        self.offset += length
        return True

    def finish(self, size: int) -> dict[str, str]:
        """Stop following, hash the rest up to ``size``; returns ``{alg: hexdigest}``."""
        self.close_thread()
        while self.offset < size and self._step(size):
            pass
        return {alg: h.hexdigest() for alg, h in self.hashes.items()}

    def close_thread(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def abandon(self) -> None:
        """Stop and release the file; safe to call more than once."""
        self.close_thread()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
