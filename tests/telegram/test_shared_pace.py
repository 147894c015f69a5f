"""Flood limits shared by several processes through PostgreSQL (issue #16).

Two real processes, each with the real send queue whose own limits are loosened, send at once
through one private PostgreSQL server (:mod:`tests.pgcluster`): together they keep to 30 messages
in any second, a group's limit holds across them, and one process's progress edits wait while the
other's rings go.
"""

from __future__ import annotations

import pytest

from bot.storage import open_database
from bot.telegram.shared_pace import Pace, SharedLimits
from tests.telegram.paceproc import Send, peak, run_senders

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def pace_url(postgres_url: str) -> str:
    engine, _ = open_database(postgres_url)  # the schema, send_pace included
    engine.dispose()
    return postgres_url


def test_two_processes_keep_to_30_a_second_together(pace_url: str) -> None:
    plans = [[Send(chat_id=1000 * (p + 1) + i) for i in range(60)] for p in range(2)]
    sent = run_senders(pace_url, SharedLimits(), plans, timeout=60)
    times = [s.at for s in sent]
    assert len(sent) == 120
    # Alone, each process would send its 60 at once (its own limits are loosened).
    assert peak(times, 1.0) <= 30, peak(times, 1.0)
    # 120 messages at 25 a second take about 4.8 s: the limit binds, it does not just happen.
    assert max(times) - min(times) >= (120 - 30) / 30


def test_a_groups_limit_holds_across_processes(pace_url: str) -> None:
    # Scaled down so the test is short: 6 messages in any 2 s, bursts of 3 (Telegram's is 20 a
    # minute, bursts of 5: the same rule).
    limits = SharedLimits(group=Pace(6, 2.0, 3))
    group = -100555
    plans = [[Send(chat_id=group) for _ in range(9)] for _ in range(2)]
    sent = run_senders(pace_url, limits, plans, timeout=60)
    times = [s.at for s in sent]
    assert len(sent) == 18 and {s.process for s in sent} == {0, 1}
    assert peak(times, 2.0) <= 6, sorted(round(t - min(times), 2) for t in times)


def test_one_processes_rings_go_before_anothers_progress_edits(pace_url: str) -> None:
    edits = [
        Send(chat_id=2000 + i, endpoint="editMessageText", priority="PROGRESS") for i in range(150)
    ]
    rings = [Send(chat_id=3000 + i, priority="RING", delay=1.0) for i in range(60)]
    sent = run_senders(pace_url, SharedLimits(), [edits, rings], timeout=90)
    ring_times = sorted(s.at for s in sent if s.priority == "RING")
    assert len(ring_times) == 60
    during = [s for s in sent if s.priority == "PROGRESS" and ring_times[0] < s.at < ring_times[-1]]
    # While the rings go (about 2.4 s at 25/s), the edits get at most the slots the rings leave.
    assert len(during) <= 6, len(during)
    assert peak([s.at for s in sent], 1.0) <= 30
