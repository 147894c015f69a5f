"""Download slots across every worker: ``MAX_ACTIVE_DOWNLOADS`` and ``MAX_ACTIVE_PER_USER`` counted
in the database, so that the limits hold however many workers there are.

Why counting rows under a lock: the rows already say which downloads run (state ``running``),
including those of a worker that just died (they keep their slot until another worker takes them
over: the same row, so it needs no second slot). A transaction-level advisory lock makes "count,
then mark running" one step for every worker at once; it is held for two short statements. A job
that finds no free slot goes back to the queue for a second (:class:`SlotBusy`), keeping its
place: procrastinate fetches by id, and a retry keeps the id. So one person's waiting jobs never
hold a worker's task slots, and others' jobs behind them start as soon as a slot frees up.
(procrastinate's own locks run one job per lock string; they cannot count to N.)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.downloads.jobs import DownloadJob, JobState

#: ``pg_advisory_xact_lock`` key for the slot count ("Errand" + 1; the migration lock is "Errand").
SLOTS_KEY = 0x4572_7261_6E64 + 1


class SlotBusy(Exception):
    """No slot is free for this job now: it goes back to the queue and is tried again."""


class Taken(StrEnum):
    NEW = "new"  # the slot is this job's now
    TAKEN_OVER = "taken-over"  # it was running on a worker that stopped: its slot carries over
    FINISHED = "finished"  # nothing to run (cancelled or done meanwhile)


@dataclass(frozen=True)
class Claim:
    taken: Taken
    job: DownloadJob | None


def claim(
    sessions: sessionmaker[Session], job_id: int, max_active: int, max_per_user: int
) -> Claim:
    """Mark ``job_id`` running if a slot is free (or it held one already); raise
    :class:`SlotBusy` when none is."""
    with sessions.begin() as session:
        session.execute(select(func.pg_advisory_xact_lock(SLOTS_KEY)))
        job = session.get(DownloadJob, job_id)
        if job is None or job.job_state.finished:
            return Claim(Taken.FINISHED, job)
        if job.job_state is JobState.RUNNING:
            return Claim(Taken.TAKEN_OVER, job)
        owners = session.scalars(
            select(DownloadJob.user_id).where(
                DownloadJob.state == JobState.RUNNING, DownloadJob.id != job_id
            )
        ).all()
        if len(owners) >= max_active or owners.count(job.user_id) >= max_per_user:
            raise SlotBusy(f"d{job_id}: no download slot free")
        job.state = JobState.RUNNING
        return Claim(Taken.NEW, job)
