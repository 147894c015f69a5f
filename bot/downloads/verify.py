"""Check what a resume record claims before trusting it: against its digests, or the server.

A record with digests (version 3, :class:`~bot.downloads.segments.Piece`) is checked against the
disk alone (:func:`intact`): every piece is read back from ``NAME.part`` and its digest compared
with the recorded one. Only the bytes of pieces that still match stay done; a changed byte costs
its piece (about 1 MiB), fetched again, not the whole file.

The digest is XXH3-64 (the ``xxhash`` package): a change of any bytes goes unnoticed with a
chance of about one in 2**64, and it costs about 0.02 s of CPU per 512 MiB where ``zlib.crc32``
costs 0.26 s (``bench/digest_cost.py``), so the workers compute it as they write, on the fast
path, in the bot and the CLI alike. It is not a defence against someone who forges records on
purpose (the record's own SHA-256 does not stop them either): it is about disks, crashes and
hands that change a ``.part`` by mistake.

Without digests (a version 2 record, or a run with ``record_digests`` off) the record
(checksummed, size-checked) says which ranges of ``NAME.part`` hold the file's bytes,
but it cannot prove the bytes themselves: the ``.part`` may have been overwritten, or the record
rebuilt by hand. Before resuming, the bot fetches a few small windows of the claimed ranges again
and compares them with the disk: the first and last bytes of the largest ranges and a few spread
over all of them. Any difference means the partial file is not what it claims, and the download
starts over. A handful of 16 KiB requests is cheap next to delivering wrong bytes.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable

import xxhash

from bot.downloads.segments import PIECE_SIZE, Piece, Range, merge, size_of

WINDOW = 16 * 1024
EDGE_RANGES = 4  # the largest ranges get their first and last window checked
SPREAD = 6  # plus this many windows at random places in all claimed bytes

Fetch = Callable[[int, int], bytes]  # (first, last) -> the server's bytes, or raise

#: A running digest of a piece being written: ``update(bytes)``, ``intdigest()``, ``reset()``.
running_digest = xxhash.xxh3_64
#: The digest of one piece's bytes, as :data:`running_digest` gives it after all of them.
digest_of = xxhash.xxh3_64_intdigest


def windows(done: list[Range], rng: random.Random | None = None) -> list[Range]:
    """Which byte windows to compare: edges of the largest ranges, then random spots."""
    rng = rng or random.Random()
    picked: set[Range] = set()
    for a, b in sorted(done, key=lambda r: r[0] - r[1])[:EDGE_RANGES]:
        picked.add((a, min(b, a + WINDOW - 1)))
        picked.add((max(a, b - WINDOW + 1), b))
    total = size_of(done)
    for _ in range(SPREAD if total else 0):
        at = rng.randrange(total)
        for a, b in done:
            if at <= b - a:
                first = a + at
                picked.add((first, min(b, first + WINDOW - 1)))
                break
            at -= b - a + 1
    return sorted(picked)


def matches(fd: int, done: list[Range], fetch: Fetch) -> bool:
    """True when every chosen window on disk (``fd``) equals what the server sends for it."""
    for first, last in windows(done):
        want = fetch(first, last)
        if os.pread(fd, last - first + 1, first) != want:
            return False
    return True


def intact(fd: int, done: list[Range], pieces: list[Piece]) -> list[Piece]:
    """The ``pieces`` that lie inside ``done`` (merged) and whose bytes on disk (``fd``) still
    have the recorded digest; bytes of ``done`` outside them are not to be trusted."""
    kept: list[Piece] = []
    i = 0
    for piece in sorted(pieces, key=lambda p: p.first):
        while i < len(done) and done[i][1] < piece.first:
            i += 1
        if i == len(done) or not done[i][0] <= piece.first <= piece.last <= done[i][1]:
            continue  # claimed by a digest but not by the ranges (after a reboot: not synced)
        if digest_of(os.pread(fd, piece.length, piece.first)) == piece.digest:
            kept.append(piece)
    return kept


def covered(pieces: list[Piece]) -> list[Range]:
    """The bytes ``pieces`` vouch for, merged."""
    return merge([(p.first, p.last) for p in pieces])


def digest(fd: int, done: list[Range]) -> list[Piece]:
    """Pieces of at most :data:`PIECE_SIZE` for the bytes of ``done`` as they are on disk now:
    digests for ranges trusted another way (a version 2 record that passed :func:`matches`), so
    that the next resume of the same file can check them."""
    out: list[Piece] = []
    for first, last in done:
        for at in range(first, last + 1, PIECE_SIZE):
            end = min(last, at + PIECE_SIZE - 1)
            out.append(Piece(at, end, digest_of(os.pread(fd, end - at + 1, at))))
    return out
