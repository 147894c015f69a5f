"""Long polling by one process at a time; a second ``errandbot run`` stands by and takes over.

Telegram lets one ``getUpdates`` wait per bot: a second poller ends the first with 409 Conflict,
and two processes polling would take turns failing. So a polling process first takes the
polling lock of its database:

- PostgreSQL: a session advisory lock (:data:`POLL_KEY`) on a connection kept open while the
  process polls (:mod:`bot.db.locks`). If the process dies, even by ``kill -9``, its connection
  closes and the server releases the lock; a standby trying every :data:`TRY_EVERY` seconds takes
  it over at once, well within 5 s.
- SQLite: an ``flock`` on ``errand.db.poll-lock`` beside the database file, which the kernel
  releases when the process ends, however it ends. (In-memory SQLite: one process, no lock.)

A standby says so in its log and waits *before* its features start (no rings, no jobs: nothing
happens twice), with the application already built so that a take-over only has to start it. A
SIGTERM while standing by ends it cleanly. While polling, :meth:`PollingLock.watch` checks every
:data:`CHECK_EVERY` seconds that the lock is still held (a PostgreSQL connection can drop, taking
the lock with it); if it is lost and cannot be taken back at once, the process stops polling and
exits with an error, so that only one process polls and the service manager restarts it as a
standby.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import threading
import time
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from bot.db.locks import AdvisoryLocks
from bot.dbfile import sqlite_path

log = logging.getLogger(__name__)

#: ``pg_advisory_lock`` key of the polling lock ("ErrandP"; the migration lock is "Errand").
POLL_KEY = 0x4572_7261_6E64_50
TRY_EVERY = 0.5  # seconds between a standby's tries
CHECK_EVERY = 1.0  # seconds between the poller's checks that it still holds the lock


class PollingLock:
    """The right to poll for this database's bot: :meth:`wait` for it, hold it while polling."""

    def __init__(self, db_url: str) -> None:
        self._engine: Engine | None = None
        self._locks: AdvisoryLocks | None = None
        self._path: Path | None = None
        self._file: IO[str] | None = None
        self.held = False
        self.lost = False
        if db_url.startswith("postgres"):
            from bot.storage import make_engine

            self._engine = make_engine(db_url)
            self._locks = AdvisoryLocks(self._engine, f"errandbot-poller pid {os.getpid()}")
        elif (path := sqlite_path(db_url)) is not None:
            self._path = Path(f"{path}.poll-lock")

    @property
    def where(self) -> str:
        """Where the lock lives, for log lines."""
        if self._locks is not None:
            return f"PostgreSQL advisory lock {POLL_KEY:#x}"
        return str(self._path) if self._path else "none (in-memory database)"

    def try_take(self) -> bool:
        """Take the lock if it is free; never waits."""
        if self.held:
            return True
        if self._locks is not None:
            try:
                self.held = self._locks.try_lock(POLL_KEY)
            except DBAPIError as exc:
                log.warning(
                    "cannot reach the database for the polling lock (%s)", type(exc).__name__
                )
                self.held = False
        elif self._path is not None:
            handle = self._path.open("a+")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                return False
            self._file = handle  # empty: a file with bytes beside the database looks like a backup
            self.held = True
        else:
            self.held = True
        return self.held

    def wait(self) -> bool:
        """Block until the lock is ours (True) or SIGTERM/SIGINT came first (False)."""
        if self.try_take():
            return True
        stop = threading.Event()
        previous = {
            sig: signal.signal(sig, lambda *_: stop.set())
            for sig in (signal.SIGTERM, signal.SIGINT)
        }
        log.info(
            "another errandbot polls for this bot (%s is held); standing by to take over",
            self.where,
        )
        began = time.monotonic()
        try:
            while not stop.wait(TRY_EVERY):
                if self.try_take():
                    log.info(
                        "took over polling after standing by for %.1f s", time.monotonic() - began
                    )
                    return True
            log.info("stopped while standing by")
            return False
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def still_held(self) -> bool:
        """True while the lock is ours (a PostgreSQL connection that dropped released it)."""
        if not self.held:
            return False
        if self._locks is not None and not self._locks.alive():
            self.held = False
            return self.try_take()  # nobody took it meanwhile: ours again
        return True

    def watch(self, app: Any) -> None:
        """Check the lock every :data:`CHECK_EVERY` seconds while ``app`` polls; stop it if lost."""
        if self._locks is None or app.job_queue is None:
            return  # an flock cannot be lost while the process lives

        async def check(_context: Any) -> None:
            import asyncio

            if not await asyncio.to_thread(self.still_held):
                log.error("lost the polling lock (database connection dropped); stopping")
                self.lost = True
                app.stop_running()

        app.job_queue.run_repeating(check, CHECK_EVERY, first=CHECK_EVERY, name="polling-lock")

    def release(self) -> None:
        if self._locks is not None:
            self._locks.close()
        if self._engine is not None:
            self._engine.dispose()
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
        self.held = False


def who_polls(db_url: str) -> str | None:
    """Who holds the polling lock now, in words, or None if nobody does (``errandbot check``).

    Looks without creating anything: a SQLite lock file that does not exist means nobody.
    """
    if db_url.startswith("postgres"):
        from sqlalchemy import text

        from bot.storage import make_engine

        engine = make_engine(db_url)
        try:
            with engine.connect() as conn:
                row = conn.execute(
                    text(
                        "SELECT a.application_name, host(a.client_addr) FROM pg_locks l "
                        "JOIN pg_stat_activity a ON a.pid = l.pid "
                        "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
                        "AND l.classid::bigint = :high AND l.objid::bigint = :low"
                    ),
                    {"high": POLL_KEY >> 32, "low": POLL_KEY & 0xFFFF_FFFF},
                ).first()
        finally:
            engine.dispose()
        if row is None:
            return None
        name, host = row
        return f"{name or 'a process'} (from {host or 'a local socket'})"
    path = sqlite_path(db_url)
    lock_file = Path(f"{path}.poll-lock") if path is not None else None
    if lock_file is None or not lock_file.exists():
        return None
    with lock_file.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return f"a process on this machine (flock on {lock_file})"
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None
