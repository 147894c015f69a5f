"""PostgreSQL session advisory locks held on one connection kept open for them.

A session advisory lock belongs to the connection that took it: the server releases it when that
connection ends, including when its process is killed (``kill -9`` closes the socket, the server
sees it at once). That is what makes these locks safe for "only one process does X": nothing is
left behind by a crash. They are taken with ``pg_try_advisory_lock`` (never the blocking form) so
that one connection can serve many locks and a caller that must wait does so without holding a
connection: :class:`AdvisoryLocks` is shared by every chat turn of a process
(:mod:`bot.telegram.turns`) and held by the standby poller (:mod:`bot.telegram.standby`).

Keys are one ``bigint`` or two ``int4`` (PostgreSQL keeps the two forms apart); see
:func:`two_keys` for folding a 64-bit id into the second form.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)


def two_keys(space: int, ident: int) -> tuple[int, int]:
    """``(space, ident folded into a signed int4)`` for ``pg_try_advisory_lock(int, int)``.

    Two ids that fold alike share a lock: they only wait for each other, never break anything.
    """
    folded = (ident ^ (ident >> 32)) & 0xFFFF_FFFF
    return space, folded - (1 << 32) if folded >= 1 << 31 else folded


class AdvisoryLocks:
    """Session advisory locks on one connection of ``engine`` (PostgreSQL), opened on first use
    and kept open: the locks live exactly as long as it does.

    Calls are serialised (one connection); each is a single quick statement. If the connection
    fails, every lock it held is gone with it: :meth:`alive` says so, and the next call opens a
    new connection.
    """

    def __init__(self, engine: Engine, name: str = "errandbot-locks") -> None:
        self.engine = engine
        self.name = name
        self._conn: Connection | None = None
        self._io = threading.Lock()

    def _connection(self) -> Connection:
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            conn = self.engine.connect()
            conn.execution_options(isolation_level="AUTOCOMMIT")  # no transaction left open
            conn.execute(select(func.set_config("application_name", self.name, False)))
            self._conn = conn
        return self._conn

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except DBAPIError:
                pass
            self._conn = None

    def try_lock(self, *keys: int) -> bool:
        """Take the lock of ``keys`` if free (or already ours: locks nest); never waits."""
        with self._io:
            try:
                return bool(
                    self._connection().execute(select(func.pg_try_advisory_lock(*keys))).scalar()
                )
            except DBAPIError:
                self._drop()
                raise

    def unlock(self, *keys: int) -> None:
        """Release one hold of ``keys``; a connection lost meanwhile released it already."""
        with self._io:
            if self._conn is None:
                return
            try:
                self._conn.execute(select(func.pg_advisory_unlock(*keys)))
            except DBAPIError:
                log.warning("the lock connection failed; its locks were released with it")
                self._drop()

    def alive(self) -> bool:
        """True while the connection holding the locks answers."""
        with self._io:
            if self._conn is None:
                return False
            try:
                self._conn.exec_driver_sql("SELECT 1")
                return True
            except DBAPIError:
                self._drop()
                return False

    def close(self) -> None:
        """Close the connection: the server releases every lock it held."""
        with self._io:
            self._drop()
