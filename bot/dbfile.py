"""Refuse to start on a damaged SQLite file instead of silently starting a new, empty database.

Before this check an empty ``errand.db`` (a full disk, a bad restore, ``> errand.db``) was taken
for a first start: a fresh database was created over it and every pending reminder was gone,
with only "database created" in the log; a garbage or half-truncated file ended in tracebacks.
Now a file that exists must be a readable SQLite database with Errand's tables in it, or start-up
stops with one line that says what is wrong and names the newest backup beside it.

A zero-byte file next to a non-empty ``-wal`` file is not empty: in WAL mode the first pages can
still be in the log when the process is killed; SQLite reads them back on open.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url

SQLITE_HEADER = b"SQLite format 3\x00"
_SIDE_FILES = ("-wal", "-shm", "-journal")


class DamagedDatabase(Exception):
    """The database file cannot be used; ``str()`` is the one line to show."""


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL, or None (other engines, in-memory)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def newest_backup(path: Path) -> Path | None:
    """The most recent file beside ``path`` that looks like a copy of it (``errand.db.before-v2``,
    ``errand.db.bak``, ``errand-2026-11-29.db``…)."""
    if not path.parent.is_dir():
        return None
    candidates = [
        p
        for p in path.parent.iterdir()
        if p.is_file()
        and p != path
        and p.name.startswith(path.stem)
        and not p.name.endswith(_SIDE_FILES)
        and p.stat().st_size > 0
    ]
    return max(candidates, key=lambda p: p.stat().st_mtime, default=None)


def _refuse(path: Path, problem: str) -> DamagedDatabase:
    backup = newest_backup(path)
    advice = (
        f"the newest backup beside it is {backup}; stop the bot, move the damaged file away and "
        f"copy the backup to {path}"
        if backup
        else "no backup was found beside it; restore one you keep elsewhere, or move the file away "
        "to start empty"
    )
    return DamagedDatabase(
        f"the database {path} {problem}; not starting so as not to lose it — {advice}"
    )


def check_existing(url: str) -> None:
    """Raise :class:`DamagedDatabase` when the SQLite file at ``url`` exists but is not usable.

    A missing file is fine (a first start creates it); so is any non-SQLite URL.
    """
    path = sqlite_path(url)
    if path is None or not path.exists():
        return
    wal = Path(f"{path}-wal")
    size = path.stat().st_size
    if size == 0 and not (wal.exists() and wal.stat().st_size > 0):
        raise _refuse(path, "is an empty file")
    if size:
        with path.open("rb") as fh:
            if fh.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
                raise _refuse(path, "is not an SQLite database")
    try:
        conn = sqlite3.connect(path)
        try:
            verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
            tables = [
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            ]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise _refuse(path, f"cannot be read ({exc})") from None
    if verdict != "ok":
        raise _refuse(path, f"is damaged ({verdict})")
    if not tables:
        raise _refuse(path, "holds no tables (expected Errand's)")
