"""Telegram's flood limits shared by every process of a deployment, kept in PostgreSQL.

Telegram allows a bot about 30 messages a second overall and 20 a minute in one group, however
many processes send for it. Each process's :class:`~bot.telegram.send_queue.FairRateLimiter`
keeps its own sends within those limits; with several processes (PostgreSQL mode) it also asks
this module before each message: one statement, one round trip, on one connection of its own.

The rule is the generic cell rate algorithm (GCRA), one row per key in ``send_pace``: ``tat``
(the "theoretical arrival time") moves ``step`` seconds on with each message granted, and a
message may go when ``tat - tolerance <= now``. A key whose limit is ``limit`` messages in
``seconds`` with bursts of ``burst`` gets ``step = seconds / (limit - burst)`` and ``tolerance =
(burst - 1) * step``: then no window of ``seconds`` holds more than ``limit`` messages, whatever the
processes do (any ``k`` consecutive grants span at least ``(k - burst) * step``). The keys are
``*`` (every message: 25 a second, sent evenly — see :class:`SharedLimits` for the margin under
Telegram's 30) and ``g:<chat id>`` for a group (20/min: bursts of 5, then one per 4 s). Times are
the database server's clock, so the processes' clocks need not agree.

A message is granted on all its keys or told how long to wait; a key that granted while another
refused loses that slot (rare: only when a group's limit binds; never more than allowed). Rings go
before progress edits across processes too: a progress edit takes a slot of ``*`` only when one
slot has gone unused (its tolerance is one step less), so while rings and replies keep the pace
busy, edits wait.

When the database cannot be reached, the process keeps to its own limits (logged): messages are
not held up by a database outage; they may then exceed the shared limit by the number of processes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Boolean, Float, String
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Mapped, mapped_column

from bot.db_base import Base

if TYPE_CHECKING:
    from psycopg import AsyncConnection

log = logging.getLogger(__name__)

#: After a failed statement, keep to local limits this long before connecting again.
RECONNECT_AFTER = 5.0


class SendPace(Base):
    """One flood-limit key (``*``, ``g:-100123``): when its next message may go (GCRA)."""

    __tablename__ = "send_pace"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: The theoretical arrival time: database epoch seconds.
    tat: Mapped[float] = mapped_column(Float)
    #: The step and tolerance of the last request, and its time and answer (the statement's
    #: scratch space: ``RETURNING`` sees only the row).
    step: Mapped[float] = mapped_column(Float)
    tolerance: Mapped[float] = mapped_column(Float)
    seen: Mapped[float] = mapped_column(Float)
    granted: Mapped[bool] = mapped_column(Boolean)


@dataclass(frozen=True)
class Pace:
    """At most ``limit`` messages in any ``seconds``, in bursts of at most ``burst``."""

    limit: int
    seconds: float
    burst: int = 1

    @property
    def step(self) -> float:
        return self.seconds / max(1, self.limit - self.burst)

    @property
    def tolerance(self) -> float:
        return (self.burst - 1) * self.step


@dataclass(frozen=True)
class SharedLimits:
    """The deployment's limits: overall, and per group.

    Overall, 25 a second evenly rather than Telegram's 30: Telegram counts messages when they
    arrive, and a process descheduled between its grant and its request sends late and bunches
    with the next ones. Granted at 29 a second, 31-36 arrived in one second on a loaded 2-core
    machine (BENCHMARKS.md, #16); the margin of five keeps arrivals within 30 there too."""

    overall: Pace = Pace(26, 1.0, 1)
    group: Pace = Pace(20, 60.0, 5)


#: The message's keys in, for each, (granted, seconds to wait) out. Keys are sorted so that two
#: processes lock the rows in the same order (no deadlock).
_TAKE = """
INSERT INTO send_pace AS p (key, tat, step, tolerance, seen, granted)
SELECT k.key, n.now + k.step, k.step, k.tolerance, n.now, true
FROM unnest(%(keys)s::text[], %(steps)s::float8[], %(tolerances)s::float8[])
     AS k(key, step, tolerance),
     (SELECT extract(epoch FROM clock_timestamp())::float8 AS now) AS n
ORDER BY k.key
ON CONFLICT (key) DO UPDATE SET
    granted = p.tat - excluded.tolerance <= excluded.seen,
    tat = CASE WHEN p.tat - excluded.tolerance <= excluded.seen
               THEN greatest(p.tat, excluded.seen) + excluded.step ELSE p.tat END,
    step = excluded.step,
    tolerance = excluded.tolerance,
    seen = excluded.seen
RETURNING key, granted, CASE WHEN granted THEN 0 ELSE tat - tolerance - seen END
"""


@dataclass(frozen=True)
class Verdict:
    """The shared pace's answer: go now, or wait ``overall`` / ``chat`` seconds (0: no need)."""

    overall: float = 0.0
    chat: float = 0.0

    @property
    def granted(self) -> bool:
        return self.overall <= 0 and self.chat <= 0


GO = Verdict()


class SharedPace:
    """The shared limiter's client: :meth:`take` before each message (one round trip)."""

    def __init__(self, url: str, limits: SharedLimits = SharedLimits()) -> None:
        parsed = make_url(url)
        self._conninfo = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        self._shown = parsed.render_as_string(hide_password=True)
        self.limits = limits
        self._conn: AsyncConnection[Any] | None = None
        self._lock = asyncio.Lock()
        self._down_until = 0.0

    async def take(self, chat_id: object, *, edit: bool, progress: bool) -> Verdict:
        """Ask for one message to ``chat_id`` now: a new message counts on ``*`` and, in a group,
        on its key; an edit on ``*`` only; a progress edit only when a slot went unused."""
        overall = self.limits.overall
        keys = ["*"]
        steps = [overall.step]
        tolerances = [overall.tolerance - (overall.step if progress else 0.0)]
        if not edit and _is_group(chat_id):
            keys.append(f"g:{chat_id}")
            steps.append(self.limits.group.step)
            tolerances.append(self.limits.group.tolerance)
        if time.monotonic() < self._down_until:
            return GO
        async with self._lock:
            try:
                rows = await self._execute(keys, steps, tolerances)
            except Exception as exc:  # keep to local limits; try the database again soon
                self._down_until = time.monotonic() + RECONNECT_AFTER
                await self.close()
                log.warning(
                    "shared flood limits at %s unavailable (%s); local limits only for %.0f s",
                    self._shown,
                    type(exc).__name__,
                    RECONNECT_AFTER,
                )
                return GO
        waits = {key: float(wait) for key, _granted, wait in rows}
        return Verdict(
            overall=waits.get("*", 0.0),
            chat=max((w for k, w in waits.items() if k != "*"), default=0.0),
        )

    async def _execute(
        self, keys: list[str], steps: list[float], tolerances: list[float]
    ) -> list[tuple[str, bool, float]]:
        import psycopg

        if self._conn is None:
            self._conn = await psycopg.AsyncConnection.connect(
                self._conninfo, autocommit=True, connect_timeout=5
            )
        cursor = await self._conn.execute(
            _TAKE, {"keys": keys, "steps": steps, "tolerances": tolerances}, prepare=True
        )
        return list(await cursor.fetchall())

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.close()
            except Exception:
                pass


def _is_group(chat_id: object) -> bool:
    """Groups, supergroups and channels have negative ids (or an ``@name``); people positive."""
    return not (isinstance(chat_id, int) and chat_id > 0)
