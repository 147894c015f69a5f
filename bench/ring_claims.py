"""Rings claimed across processes, and the shared flood limiter's cost (issue #16).

Measurements on a private PostgreSQL server started for the run (``tests/pgcluster.py``):

1. **Ring lateness with K processes**: N one-off rows due over S seconds; K real processes run the
   real ring loop (``tests/reminders/ringproc.py``: its ring callback stands in for Telegram,
   5–30 ms per send, and writes the ring to a table). Lateness = when the ring callback was called
   − due time (as in ``bench/reminders.py``), p50/p99/max; rows lost (never rung) and rung twice.
   ``--kill`` ``kill -9``s one process when a third has rung: lateness is then reported before the
   kill and overall (the killed one's claims wait for their lease). Peer: the same rows in one
   process on a SQLite file (the single-process path).
2. **Limiter cost per message**: ``SharedPace.take`` (one statement, one round trip) called M times
   in a row with limits too high to bind, per call p50/p99; peer: ``SELECT 1`` on the same kind of
   connection (psycopg, autocommit), in the same run.
3. With ``--plan N``: the claim statement's plan with N pending rows far ahead and 3,000 due
   (``EXPLAIN ANALYZE``), and the time of a poll and of a claim.

Not a test: never fails on timing. Loopback only:

    .venv/bin/python bench/ring_claims.py [--rows 3000] [--seconds 30] [--procs 3] [--kill] \
        [--takes 2000] [--plan 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402

from bot.storage import open_database  # noqa: E402
from bot.telegram.shared_pace import Pace, SharedLimits, SharedPace  # noqa: E402
from tests.pgcluster import start_cluster  # noqa: E402
from tests.reminders.ringproc import (  # noqa: E402
    LOG_TABLE,
    LoopOptions,
    ring_log,
    start_ring_process,
)
from tests.reminders.rows import add_timers  # noqa: E402


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def fill(url: str, rows: int, first: float, seconds: float) -> None:
    engine, sessions = open_database(url)
    with engine.begin() as conn:
        conn.execute(sa.text(LOG_TABLE))
    add_timers(sessions, rows, first, seconds, chat_base=10_000)
    engine.dispose()


def lateness(url: str, rows: int, seconds: float, procs: int, kill: bool) -> str:
    open_database(url)[0].dispose()
    with sa.create_engine(url).begin() as conn:
        conn.execute(sa.text(LOG_TABLE))
    options = LoopOptions(lease=10.0, max_in_flight=100)  # the defaults of RingLoop
    processes = [start_ring_process(url, options) for _ in range(procs)]
    killed_at, orphans = None, 0
    try:
        fill(url, rows, time.time() + 2.0, seconds)
        deadline = time.time() + seconds + 120
        while time.time() < deadline:
            log = ring_log(url)
            if kill and killed_at is None and len(log) >= rows // 3:
                os.kill(processes[0].pid, signal.SIGKILL)
                killed_at = time.time()
                with sa.create_engine(url).connect() as conn:
                    orphans = conn.execute(
                        sa.text(
                            "SELECT count(*) FROM reminders WHERE state = 'pending' "
                            f"AND claimed_by LIKE '%:{processes[0].pid}:%'"
                        )
                    ).scalar()
            if len({r[0] for r in log}) >= rows:
                break
            time.sleep(0.2)
    finally:
        for process in processes:
            process.kill()
            process.join(10)
    log = ring_log(url)
    rung = collections.Counter(r[0] for r in log)
    late = [at - due for _, due, _, at in log]
    before = [at - due for _, due, _, at in log if killed_at is None or at < killed_at]
    line = (
        f"{rows} rows over {seconds:.0f} s, {procs} processes{' (one killed)' if kill else ''}: "
        f"lost {rows - len(rung)}, rung twice {sum(1 for n in rung.values() if n > 1)}; "
        f"lateness p50 {pct(before, 0.5) * 1000:.0f} ms, p99 {pct(before, 0.99) * 1000:.0f} ms"
        f"{' before the kill' if kill else ''}"
    )
    if kill:
        line += f"; {orphans} claimed by the killed one, not yet recorded"
        line += f"; overall p99 {pct(late, 0.99):.2f} s, max {max(late):.2f} s"
    return line


def cost(url: str, takes: int) -> str:
    open_database(url)[0].dispose()
    huge = SharedLimits(overall=Pace(10**9, 1.0), group=Pace(10**9, 1.0))

    async def ours() -> list[float]:
        pace = SharedPace(url, huge)
        await pace.take(-1, edit=False, progress=False)  # connect, prepare
        times = []
        for i in range(takes):
            started = time.perf_counter()
            verdict = await pace.take(-100 - i % 50, edit=False, progress=False)
            times.append(time.perf_counter() - started)
            assert verdict.granted
        await pace.close()
        return times

    async def peer() -> list[float]:
        import psycopg

        conninfo = sa.engine.make_url(url).set(drivername="postgresql")
        conn = await psycopg.AsyncConnection.connect(
            conninfo.render_as_string(hide_password=False), autocommit=True
        )
        times = []
        for _ in range(takes):
            started = time.perf_counter()
            await (await conn.execute("SELECT 1", prepare=True)).fetchall()
            times.append(time.perf_counter() - started)
        await conn.close()
        return times

    a, b = asyncio.run(ours()), asyncio.run(peer())
    return (
        f"shared limiter, {takes} group messages (2 keys each): "
        f"p50 {statistics.median(a) * 1e3:.2f} ms, p99 {pct(a, 0.99) * 1e3:.2f} ms per message "
        "(peer SELECT 1: p50 "
        f"{statistics.median(b) * 1e3:.2f} ms, p99 {pct(b, 0.99) * 1e3:.2f} ms; ratio "
        f"{statistics.median(a) / statistics.median(b):.1f}x)"
    )


def plan(url: str, pending: int) -> str:
    """The claim with ``pending`` rows far ahead and 3,000 due: PostgreSQL's plan (the due-time
    index, the subquery run once) and the time of a poll and of a claim of 100."""
    from sqlalchemy.dialects import postgresql

    from bot.reminders import claims
    from bot.reminders.store import Reminder

    engine, sessions = open_database(url)
    now = time.time()
    add_timers(sessions, pending, now + 3600, 30 * 86400)
    add_timers(sessions, 3000, now - 1, 0.5, chat_base=10_000_000)
    with engine.begin() as conn:
        conn.execute(sa.text("ANALYZE reminders"))
    where = claims.claimable(now) & (Reminder.due_at <= now) & (Reminder.due_at >= now - 86400)
    statement = claims.claim_statement(where, "bench", now + 10, 100)
    sql = statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    with engine.connect() as conn:
        lines = [r[0] for r in conn.execute(sa.text(f"EXPLAIN ANALYZE {sql}"))]
        conn.rollback()
    started = time.perf_counter()
    for _ in range(20):  # a poll that finds nothing due: only the next due time
        far = time.time() + 7200
        claims.claim_due(
            sessions, "bench", now=far, horizon=far, not_before=0.0, lease=10.0, limit=0
        )
    poll = (time.perf_counter() - started) / 20
    started = time.perf_counter()
    tick = claims.claim_due(
        sessions, "bench", now=now, horizon=now, not_before=0.0, lease=10.0, limit=100
    )
    took = time.perf_counter() - started
    engine.dispose()
    uses_index = any("ix_reminders_state_due" in line for line in lines)
    return (
        f"claim with {pending + 3000:,} pending, 3,000 due: {len(tick.claimed)} claimed in "
        f"{took * 1000:.1f} ms, a poll with nothing due {poll * 1000:.2f} ms; plan uses the "
        f"(state, due_at) index: {uses_index}\n    " + "\n    ".join(lines)
    )


def single_process(rows: int, seconds: float) -> str:
    """The peer: the same rows in one process on SQLite (the embedded default)."""
    from tests.reminders.test_service import Rings  # the recording ring callback

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/errand.db"
        fill(url, rows, time.time() + 2.0, seconds)
        from bot.reminders.service import ReminderService

        _, sessions = open_database(url)

        async def run() -> list[float]:
            rings = Rings()
            service = ReminderService(sessions, rings)
            service.start()
            await rings.wait(rows, timeout=seconds + 120)
            await service.stop()
            return [at - due for _, _, at, due in rings.got]

        late = asyncio.run(run())
    return (
        f"peer, one process on SQLite: p50 {pct(late, 0.5) * 1000:.0f} ms, "
        f"p99 {pct(late, 0.99) * 1000:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--procs", type=int, default=3)
    parser.add_argument("--kill", action="store_true")
    parser.add_argument("--takes", type=int, default=2000)
    parser.add_argument(
        "--plan", type=int, default=0, help="also show the claim's plan with this many pending"
    )
    args = parser.parse_args()
    cluster = start_cluster()
    try:
        name = "bench"
        cluster.admin(f'CREATE DATABASE "{name}"')
        print(lateness(cluster.url(name), args.rows, args.seconds, args.procs, args.kill))
        print(single_process(args.rows, args.seconds))
        cluster.admin('CREATE DATABASE "pace"')
        print(cost(cluster.url("pace"), args.takes))
        if args.plan:
            cluster.admin('CREATE DATABASE "plan"')
            print(plan(cluster.url("plan"), args.plan))
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
