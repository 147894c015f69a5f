"""What one person, and all downloads together, may take: file size, daily quota, disk, open jobs.

One person must not be able to exhaust the disk or the bandwidth for everyone, so every limit is
checked at each moment something new is known, with the same arithmetic:

- on request, before anything is fetched: how many of this person's jobs are open, and whether
  their daily quota is already used up (:meth:`Limits.check_request`);
- once the probe knows the size: ``MAX_FILE_MB``, the quota with this file, the disk above its
  reserve and what queued jobs still have to write (:meth:`Limits.check_size`);
- when the job starts: the most bytes it may receive whatever the server announced, so a size that
  grows after the probe cannot walk around a limit (:meth:`Limits.budget`);
- as bytes arrive: the quota against what all this person's running downloads really received
  (:mod:`bot.downloads.ledger`), and the disk (:meth:`Limits.over_limit`);
- while bytes are written, by the download process itself: the disk's free space against its
  reserve and what others still have to write (:meth:`Limits.disk_floor`);
- when a download has all its bytes, before it is delivered: the quota with its real size
  (:meth:`Limits.over_quota_at_end`), since a fast one can end between two checks.

The engine's own check before its first byte (also for ``errandbot download``) measures the disk
with :func:`free_above`.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from bot.config import Settings
from bot.downloads.diskfloor import DiskFloor
from bot.downloads.errors import Refused
from bot.downloads.jobs import DownloadJob
from bot.downloads.jobstore import JobStore, midnight_utc
from bot.downloads.ledger import Ledger
from bot.downloads.reasons import Reason, Why
from bot.humanize import MiB

#: Queued plus running downloads of one person, so that one person cannot fill the queue. (Not the
#: reminders' MAX_PENDING_PER_USER setting, which counts pending timers and reminders.)
MAX_OPEN_DOWNLOADS_PER_USER = 20


def free_above(path: Path, reserve: int) -> int:
    """Bytes free on the disk holding ``path`` above ``reserve`` (negative when below it)."""
    return shutil.disk_usage(path).free - reserve


@dataclass(frozen=True)
class Budget:
    """The bytes a job may receive at most, and what to say when it reaches them."""

    max_bytes: int
    why: Why


class Limits:
    """The download limits of :class:`~bot.config.Settings`, checked against the job rows and the
    live byte counts of running downloads; thread-safe (it keeps no state of its own)."""

    def __init__(self, settings: Settings, store: JobStore, ledger: Ledger) -> None:
        self.store = store
        self.ledger = ledger
        # In bytes (the settings count MiB):
        self.max_upload = settings.max_upload_mb * MiB  # larger files are kept on the server
        self.max_file = settings.max_file_mb * MiB
        self.quota = settings.daily_quota_mb * MiB  # per user and day; 0: none
        self.reserve = settings.disk_reserve_mb * MiB  # disk space no download may take

    def bytes_today(self, user_id: int, exclude: int | None = None) -> int:
        """Bytes this user has downloaded or reserved since 00:00 UTC (failed jobs count what
        moved).

        Running downloads count what they have really received when that is more than their
        announced size (:mod:`bot.downloads.ledger`); ``exclude`` leaves one job out.
        """
        live = self.ledger.running_ids()
        skip = live | ({exclude} if exclude is not None else set())
        stored = self.store.bytes_since(user_id, midnight_utc(time.time()), skip)
        running = self.ledger.counted_for(user_id)
        if exclude is not None and exclude in live:
            running -= self.ledger.counted_for_job(exclude)
        return stored + running

    def check_request(self, user_id: int) -> None:
        """Raise :class:`~bot.downloads.errors.Refused` for what is known before probing: too
        many open jobs, or the quota already used up."""
        pending = self.store.open_count(user_id)
        if pending >= MAX_OPEN_DOWNLOADS_PER_USER:
            raise Refused(
                Reason.TOO_MANY_PENDING, pending=pending, limit=MAX_OPEN_DOWNLOADS_PER_USER
            )
        quota = self.quota
        if quota and self.bytes_today(user_id) >= quota:
            raise Refused(Reason.QUOTA_USED_UP, quota_bytes=quota)

    def check_size(self, user_id: int, size: int | None) -> None:
        """Raise :class:`~bot.downloads.errors.Refused` when a file of ``size`` bytes may not be
        fetched for this user."""
        if size is None:
            return  # unknown size: the engine enforces MAX_FILE_MB while streaming
        max_file = self.max_file
        if size > max_file:
            raise Refused(
                Reason.OVER_MAX_FILE,
                size_bytes=size,
                limit_bytes=max_file,
                over_bytes=size - max_file,
            )
        quota = self.quota
        if quota:
            used = self.bytes_today(user_id)  # includes this job only once its size is known
            if used + size > quota:
                raise Refused(
                    Reason.QUOTA_EXCEEDED,
                    quota_bytes=quota,
                    over_bytes=used + size - quota,
                    used_bytes=used,
                )
        free = shutil.disk_usage(self.store.root).free
        pending = self.store.pending_bytes()
        if size + pending + self.reserve > free:
            raise Refused(
                Reason.DISK_NEEDS, size_bytes=size, free_bytes=max(0, free - self.reserve - pending)
            )

    def budget(self, job: DownloadJob) -> Budget:
        """The bytes this job may receive at most, and what to say if it reaches them.

        The engine stops at this many bytes whatever the server announced: what MAX_FILE_MB, this
        user's quota and the disk (above the reserve and what others still have to write) can
        still take; the smallest one says why.
        """
        max_file = self.max_file
        limits = [Budget(max_file, Why.of(Reason.OVER_MAX_FILE_RUNNING, limit_bytes=max_file))]
        quota = self.quota
        if quota:
            used = self.bytes_today(job.user_id, exclude=job.id)
            limits.append(
                Budget(
                    max(0, quota - used),
                    Why.of(Reason.QUOTA_BUDGET, quota_bytes=quota, used_bytes=used),
                )
            )
        free = free_above(self.store.root, self.reserve) - self.store.pending_bytes(exclude=job.id)
        limits.append(Budget(free, Why.of(Reason.DISK_FREE, free_bytes=max(0, free))))
        smallest = min(limits, key=lambda limit: limit.max_bytes)
        return Budget(max(1, smallest.max_bytes), smallest.why)

    def over_quota_at_end(self, job_id: int, user_id: int, size: int) -> Why | None:
        """Checked when a download has all its ``size`` bytes, before it is delivered: the reason
        it may not be, or None.

        Several downloads of unknown size can each end between two checks while they run (at
        loopback speed in well under a second), so each one that ends is held to the quota with
        what it really received.
        """
        quota = self.quota
        if not quota:
            return None
        used = self._used_before(job_id, user_id)
        if used + size > quota:
            return Why.of(Reason.QUOTA_BUDGET, quota_bytes=quota, used_bytes=used)
        return None

    def _used_before(self, job_id: int, user_id: int) -> int:
        """What is stored for today and what the user's running downloads requested before
        ``job_id`` have received: what ``job_id`` must fit beside. Later ones do not count, so of
        downloads that cannot all fit the first requested goes on and the later ones give way."""
        # Running first, then stored: one that ends in between is counted twice, never not at all.
        running = self.ledger.counted_before(user_id, job_id)
        live = self.ledger.running_ids() | {job_id}
        stored = self.store.bytes_since(user_id, midnight_utc(time.time()), live, before=job_id)
        return running + stored

    def disk_floor(self, job_id: int) -> DiskFloor:
        """The free space the disk must keep while ``job_id`` writes: the reserve, plus what the
        other running downloads of known size have yet to write. The download process stops
        there itself (:mod:`bot.downloads.diskfloor`): this check is too slow for loopback."""
        others = self.ledger.still_to_come(exclude=job_id)
        return DiskFloor(self.reserve + others, self.reserve, self.ledger.size_of(job_id))

    def over_limit(self, job_id: int, user_id: int) -> Why | None:
        """Checked as bytes arrive: the reason to stop this job now, or None.

        The quota counts what this download and the user's running downloads requested before
        it really received (:meth:`_used_before`: the later one gives way); the disk must keep its
        reserve plus what running downloads of known size still have to write (reserved for them
        when they were accepted), so a download of unknown size, or one receiving more than it
        announced, is the one stopped.
        """
        quota = self.quota
        if quota:
            used = self._used_before(job_id, user_id) + self.ledger.counted_for_job(job_id)
            if used > quota:
                return Why.of(Reason.QUOTA_RUNNING, quota_bytes=quota, used_bytes=used)
        if self.ledger.counted_for_job(job_id) > self.ledger.announced_for_job(job_id):
            free = shutil.disk_usage(self.store.root).free - self.ledger.still_to_come()
            if free < self.reserve:
                return Why.of(Reason.DISK_RESERVE, reserve_bytes=self.reserve)
        return None
