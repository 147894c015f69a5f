"""Download slots counted in PostgreSQL (bot.work.slots): the global and per-user limits hold
across workers claiming at once, a job of a worker that stopped keeps its slot, a finished one
is not run."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.downloads.jobs import JobState
from bot.work.slots import SlotBusy, Taken, claim
from tests.work.conftest import add_job


def test_global_and_per_user_limits(sessions, store) -> None:
    first, second, third = (add_job(store, user_id=1) for _ in range(3))
    other = add_job(store, user_id=2)
    assert claim(sessions, first, 3, 2).taken is Taken.NEW
    assert claim(sessions, second, 3, 2).taken is Taken.NEW
    with pytest.raises(SlotBusy):
        claim(sessions, third, 3, 2)  # user 1 has two running
    assert claim(sessions, other, 3, 2).taken is Taken.NEW
    late = add_job(store, user_id=3)
    with pytest.raises(SlotBusy):
        claim(sessions, late, 3, 2)  # three running in all
    store.finish(first, JobState.DONE)
    assert claim(sessions, late, 3, 2).taken is Taken.NEW
    assert store.get(late).job_state is JobState.RUNNING


def test_running_job_is_taken_over_and_finished_one_is_not_run(sessions, store) -> None:
    job_id = add_job(store)
    assert claim(sessions, job_id, 1, 1).taken is Taken.NEW
    # Its worker died; the same job comes back: it keeps its slot although the limit is 1.
    assert claim(sessions, job_id, 1, 1).taken is Taken.TAKEN_OVER
    store.finish(job_id, JobState.CANCELLED)
    assert claim(sessions, job_id, 1, 1).taken is Taken.FINISHED


def test_workers_claiming_at_once_never_pass_the_limit(sessions, store) -> None:
    jobs = [add_job(store, user_id=n) for n in range(12)]

    def one(job_id: int) -> bool:
        try:
            claim(sessions, job_id, 3, 2)
        except SlotBusy:
            return False
        return True

    with ThreadPoolExecutor(12) as pool:
        won = list(pool.map(one, jobs))
    assert sum(won) == 3
    assert store.open_counts() == (3, 9)
