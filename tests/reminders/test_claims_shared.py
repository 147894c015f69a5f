"""Ring claiming with several processes on one PostgreSQL database (issue #16).

Three real processes run the real ring loop against the private test server
(:mod:`tests.pgcluster`); their ring callback writes each ring to a table, standing in for the
chat (:mod:`tests.reminders.ringproc`). Every due occurrence must be rung by exactly one of them;
when one is ``kill -9``-ed in the middle, the others ring what it had claimed once its lease runs
out, and only rings it had sent but not yet recorded may repeat.
"""

from __future__ import annotations

import collections
import os
import signal
import time

import pytest
import sqlalchemy as sa

from bot.storage import open_database
from tests.reminders.ringproc import LOG_TABLE, LoopOptions, ring_log, start_ring_process
from tests.reminders.rows import add, add_timers, pending

pytestmark = pytest.mark.timeout(180)


def prepare(url: str, count: int, first: float, spread: float, repeats: int = 0) -> None:
    """The schema (migrations), the ring log, and ``count`` one-off rows due from ``first`` over
    ``spread`` seconds, plus ``repeats`` rows repeating every second from ``first``."""
    engine, sessions = open_database(url)
    with engine.begin() as conn:
        conn.execute(sa.text(LOG_TABLE))
    add_timers(sessions, count, first, spread)
    add(
        sessions,
        *(pending(5000 + i, first, kind="reminder", recurrence="every 1") for i in range(repeats)),
    )
    engine.dispose()


def states(url: str) -> collections.Counter[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return collections.Counter(
                r[0]
                for r in conn.execute(
                    sa.text("SELECT state FROM reminders WHERE recurrence IS NULL")
                )
            )
    finally:
        engine.dispose()


def ids(url: str, query: str) -> set[int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {r[0] for r in conn.execute(sa.text(query))}
    finally:
        engine.dispose()


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


def test_three_processes_ring_every_due_row_once(postgres_url: str) -> None:
    # The schema first, then the processes, then rows due a little later: all three are polling
    # when the rows fall due, and race for each of them.
    prepare(postgres_url, 0, 0, 0)
    processes = [start_ring_process(postgres_url, LoopOptions()) for _ in range(3)]
    try:
        count, repeats = 240, 3
        first = time.time() + 1.0
        prepare(postgres_url, count, first, 2.0, repeats)
        wait_for(lambda: states(postgres_url)["done"] == count, 90, "every one-off rung")
        # The repeats ring every second: a few occurrences more.
        wait_for(
            lambda: len([r for r in ring_log(postgres_url) if r[0] > count]) >= 3 * repeats,
            30,
            "three rings of each repeat",
        )
    finally:
        for process in processes:
            process.kill()
            process.join(10)
    log = ring_log(postgres_url)
    occurrences = collections.Counter((row_id, due) for row_id, due, _, _ in log)
    twice = {key: n for key, n in occurrences.items() if n > 1}
    assert not twice, f"rung more than once: {twice}"
    assert {row_id for row_id, *_ in log} >= set(range(1, count + repeats + 1))
    # Each repeat's rings are at distinct due times a whole second apart (it moved on each time).
    for row_id in range(count + 1, count + repeats + 1):
        dues = sorted(due for rid, due, _, _ in log if rid == row_id)
        assert all(round(b - a, 6) >= 1 for a, b in zip(dues, dues[1:], strict=False)), dues
    # The work was shared: every process rang some.
    by_claimant = collections.Counter(claimant for *_, claimant, _ in log)
    assert len(by_claimant) == 3 and min(by_claimant.values()) > 0, by_claimant
    # None rang early.
    assert all(at >= due for _, due, _, at in log)


def test_a_killed_process_rings_are_taken_over_and_only_those_in_flight_repeat(
    postgres_url: str,
) -> None:
    prepare(postgres_url, 0, 0, 0)
    options = LoopOptions(lease=2.0, max_in_flight=10, send_delay=(0.05, 0.15))
    processes = [start_ring_process(postgres_url, options) for _ in range(3)]
    victim = processes[0]
    try:
        count = 240
        prepare(postgres_url, count, time.time() + 1.0, 3.0)
        wait_for(lambda: len(ring_log(postgres_url)) >= count // 3, 60, "a third rung")
        os.kill(victim.pid, signal.SIGKILL)
        victim.join(10)
        killed_at = time.time()
        # What it had claimed and not yet recorded: left to its lease.
        orphans = ids(
            postgres_url,
            "SELECT id FROM reminders WHERE state = 'pending' "
            f"AND claimed_by LIKE '%:{victim.pid}:%'",
        )
        wait_for(lambda: states(postgres_url)["done"] == count, 90, "every row rung and recorded")
    finally:
        for process in processes:
            process.kill()
            process.join(10)
    log = ring_log(postgres_url)
    rung = collections.Counter(row_id for row_id, *_ in log)
    assert set(rung) == set(range(1, count + 1)), "a row was never rung"
    repeated = {row_id for row_id, n in rung.items() if n > 1}
    # Only rings in flight in the killed process can repeat: its first ring of each was sent
    # before the kill, and it had at most max_in_flight rings at once.
    claimants = collections.Counter(claimant for *_, claimant, _ in log)
    first_by = {}
    for row_id, _, claimant, at in log:
        first_by.setdefault(row_id, (claimant, at))
    victims = {first_by[r][0] for r in repeated}
    assert len(victims) <= 1, victims
    assert all(first_by[r][1] <= killed_at for r in repeated)
    assert len(repeated) <= options.max_in_flight, repeated
    # The rows it had claimed were rung by the others: nothing waited on the dead process.
    assert len(claimants) == 3, claimants
    assert orphans, "the process was killed with no ring in flight: nothing to take over"
    for row_id in orphans:
        assert any(f":{victim.pid}:" not in c for rid, _, c, _ in log if rid == row_id)
