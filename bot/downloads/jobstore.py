"""Download jobs' rows and folders: every read and write the service makes of them, in one place.

Each job has a row (:class:`~bot.downloads.jobs.DownloadJob`) and its own folder under
``DOWNLOAD_DIR`` named by an unguessable token, so a file kept on the server can be linked to
without being guessable and two jobs never clash over a name. Every method opens and closes its
own short transaction: no session is held across a download.
"""

from __future__ import annotations

import secrets
import shutil
import time
from pathlib import Path
from typing import Any

from sqlalchemy import and_, func, or_, select, true, update
from sqlalchemy.orm import Session, sessionmaker

from bot.downloads.jobs import DownloadJob, JobState
from bot.inbox import mark_handled

OPEN = (JobState.QUEUED, JobState.RUNNING)


def midnight_utc(now: float) -> float:
    return now - (now % 86400)


class JobStore:
    """Rows of download jobs and the folders under ``root`` that hold their files; thread-safe."""

    def __init__(self, sessions: sessionmaker[Session], root: Path) -> None:
        self.sessions = sessions
        self.root = root

    # ------------------------------------------------------------------ rows
    def get(self, job_id: int) -> DownloadJob | None:
        with self.sessions() as session:
            return session.get(DownloadJob, job_id)

    def add(
        self,
        *,
        chat_id: int,
        thread_id: int | None,
        user_id: int,
        user_name: str,
        url: str,
        name: str | None,
        request_message_id: int | None,
        status_message_id: int | None,
        request_id: int | None,
    ) -> DownloadJob:
        """Insert a queued job; ``request_id`` (the update that asked) is marked handled in the
        same transaction."""
        with self.sessions.begin() as session:
            job = DownloadJob(
                chat_id=chat_id,
                thread_id=thread_id,
                user_id=user_id,
                user_name=user_name[:128],
                url=url,
                requested_name=name,
                folder=secrets.token_urlsafe(18),
                request_message_id=request_message_id,
                status_message_id=status_message_id,
                state=JobState.QUEUED,
            )
            session.add(job)
            mark_handled(session, request_id)
        return job

    def update(self, job_id: int, **values: Any) -> None:
        with self.sessions.begin() as session:
            session.execute(update(DownloadJob).where(DownloadJob.id == job_id).values(**values))

    def finish(self, job_id: int, state: JobState, error: str | None = None) -> None:
        self.update(job_id, state=state, error=error, finished_at=time.time())

    def end(self, job: DownloadJob, state: JobState, error: str | None = None) -> None:
        """Finish the job and remove its folder (failed or cancelled: nothing to keep)."""
        self.finish(job.id, state, error=error)
        self.remove_folder(job)

    def open_counts(self) -> tuple[int, int]:
        """(running, queued) jobs of everyone, whichever process runs them."""
        with self.sessions() as session:
            rows = session.execute(
                select(DownloadJob.state, func.count())
                .where(DownloadJob.state.in_(OPEN))
                .group_by(DownloadJob.state)
            ).all()
        counts = {state: count for state, count in rows}
        return counts.get(JobState.RUNNING, 0), counts.get(JobState.QUEUED, 0)

    def open_count(self, user_id: int) -> int:
        """This user's jobs that are queued or running."""
        with self.sessions() as session:
            return (
                session.scalar(
                    select(func.count())
                    .select_from(DownloadJob)
                    .where(DownloadJob.user_id == user_id, DownloadJob.state.in_(OPEN))
                )
                or 0
            )

    def list_jobs(
        self, user_id: int | None, chat_id: int | None, recent: int = 5
    ) -> list[DownloadJob]:
        """Active and queued jobs, then the last ``recent`` finished ones, of one user and/or one
        chat (None: any)."""
        with self.sessions() as session:
            base = select(DownloadJob)
            if user_id is not None:
                base = base.where(DownloadJob.user_id == user_id)
            if chat_id is not None:
                base = base.where(DownloadJob.chat_id == chat_id)
            open_jobs = session.scalars(
                base.where(DownloadJob.state.in_(OPEN)).order_by(DownloadJob.id)
            ).all()
            finished = session.scalars(
                base.where(DownloadJob.state.not_in(OPEN))
                .order_by(DownloadJob.id.desc())
                .limit(recent)
            ).all()
        return [*open_jobs, *finished]

    def reopen(self) -> tuple[list[DownloadJob], list[DownloadJob]]:
        """After a restart: the jobs that were running or queued, running ones first (marked
        ``resumed`` and queued again), and the finished files never handed over."""
        with self.sessions.begin() as session:
            jobs = session.scalars(
                select(DownloadJob).where(DownloadJob.state.in_(OPEN)).order_by(DownloadJob.id)
            ).all()
            for job in jobs:
                if job.state == JobState.RUNNING:
                    job.resumed = True
                    job.state = JobState.QUEUED
                    job.done_bytes = self.kept_bytes(job)
            undelivered = session.scalars(
                select(DownloadJob).where(
                    DownloadJob.state == JobState.DONE, DownloadJob.delivered.is_(False)
                )
            ).all()
        running_first = [j for j in jobs if j.resumed] + [j for j in jobs if not j.resumed]
        return running_first, list(undelivered)

    def expire(self, cutoff: float) -> int:
        """Remove the folders of jobs finished before ``cutoff`` (done ones become expired);
        returns the folders removed."""
        removed = 0
        with self.sessions.begin() as session:
            old = session.scalars(
                select(DownloadJob).where(
                    or_(
                        DownloadJob.state == JobState.DONE,
                        DownloadJob.state.in_([JobState.FAILED, JobState.CANCELLED]),
                    ),
                    DownloadJob.finished_at < cutoff,
                )
            ).all()
            for job in old:
                if self.remove_folder(job):
                    removed += 1
                if job.state == JobState.DONE:
                    job.state = JobState.EXPIRED
        return removed

    # ------------------------------------------------------------------ byte sums
    def bytes_since(
        self, user_id: int, since: float, skip: set[int], *, before: int | None = None
    ) -> int:
        """Bytes of this user's jobs created since ``since`` (but ``skip``): the announced size of
        open and done ones, what moved of failed and cancelled ones. With ``before`` (a job id),
        jobs requested after it count only once delivered: of downloads that could not all fit,
        the later ones gave way, and what they moved must not then refuse the earlier one."""
        earlier = true() if before is None else DownloadJob.id < before
        delivered = [JobState.DONE, JobState.EXPIRED]
        with self.sessions() as session:
            total = session.scalar(
                select(
                    func.coalesce(
                        func.sum(func.coalesce(DownloadJob.size, DownloadJob.done_bytes)), 0
                    )
                ).where(
                    DownloadJob.user_id == user_id,
                    DownloadJob.created_at >= since,
                    DownloadJob.id.not_in(skip),
                    or_(
                        DownloadJob.state.in_(delivered),
                        and_(DownloadJob.state.in_([JobState.QUEUED, JobState.RUNNING]), earlier),
                    ),
                )
            )
            failed = session.scalar(
                select(func.coalesce(func.sum(DownloadJob.done_bytes), 0)).where(
                    DownloadJob.user_id == user_id,
                    DownloadJob.created_at >= since,
                    DownloadJob.id.not_in(skip),
                    DownloadJob.state.in_([JobState.FAILED, JobState.CANCELLED]),
                    earlier,
                )
            )
        return int(total or 0) + int(failed or 0)

    def moved_since(self, since: float) -> int:
        """Bytes every job created since ``since`` has received (``/stats``)."""
        with self.sessions() as session:
            return int(
                session.scalar(
                    select(func.coalesce(func.sum(DownloadJob.done_bytes), 0)).where(
                        DownloadJob.created_at >= since
                    )
                )
                or 0
            )

    def pending_bytes(self, exclude: int | None = None) -> int:
        """Bytes still to be written by queued and running jobs of known size (but ``exclude``)."""
        with self.sessions() as session:
            rows = session.execute(
                select(DownloadJob.size, DownloadJob.done_bytes).where(
                    DownloadJob.state.in_(OPEN),
                    DownloadJob.size.is_not(None),
                    DownloadJob.id != (exclude if exclude is not None else -1),
                )
            ).all()
        return sum(max(0, (size or 0) - done) for size, done in rows)

    # ------------------------------------------------------------------ folders
    def folder(self, job: DownloadJob) -> Path:
        return self.root / job.folder

    def file_path(self, job: DownloadJob) -> Path | None:
        if not job.name:
            return None
        return self.root / job.folder / job.name

    def kept_bytes(self, job: DownloadJob) -> int:
        """Bytes of a stopped job that its next run keeps: those its resume record holds for the
        same size (what the status says "resumed at"), 0 when it starts over (no record, or a
        server without ranges, whose one stream must start from the beginning again)."""
        if not job.name or job.size is None:
            return 0
        from bot.downloads import resume

        state = resume.load(self.folder(job) / (job.name + resume.SUFFIX))
        return state.done_bytes if state is not None and state.size == job.size else 0

    def finished_file(self, job: DownloadJob) -> Path | None:
        """The job's file when its download process finished it (``NAME.part`` renamed to
        ``NAME``) but the bot was stopped before the row said so; None otherwise.

        Run again, the engine would find ``NAME`` taken and fetch the whole file once more beside
        it, as ``NAME (1)``. A record left beside the finished file (the process stopped between
        the rename and removing it) is removed here.
        """
        path = self.file_path(job)
        if path is None or not path.is_file() or path.with_name(path.name + ".part").exists():
            return None
        if job.size is not None and path.stat().st_size != job.size:
            return None
        path.with_name(path.name + ".part.json").unlink(missing_ok=True)
        return path

    def remove_folder(self, job: DownloadJob) -> bool:
        folder = (self.root / job.folder).resolve()
        if folder.parent != self.root or not folder.exists():
            return False
        shutil.rmtree(folder, ignore_errors=True)
        return True
