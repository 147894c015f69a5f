"""Housekeeping: delivered files go after RETENTION_HOURS; recent ones and other folders stay."""

from __future__ import annotations

import time
from pathlib import Path

from bot.config import load_settings
from bot.downloads.jobs import DownloadJob, JobState
from bot.downloads.service import DownloadService
from bot.storage import open_database


def make_job(
    service: DownloadService,
    sessions,
    folder: str,
    finished_hours_ago: float,
    state: JobState = JobState.DONE,
) -> tuple[int, Path]:
    path = service.root / folder / "file.bin"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"x" * 100)
    with sessions.begin() as session:
        job = DownloadJob(
            chat_id=1,
            user_id=1,
            url="https://example.com/file.bin",
            name="file.bin",
            folder=folder,
            state=state,
            size=100,
            done_bytes=100,
            delivered=True,
            finished_at=time.time() - finished_hours_ago * 3600,
        )
        session.add(job)
    return job.id, path


def test_housekeeping_removes_only_expired_folders(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, retention_hours=24)
    settings.downloads_path.mkdir(parents=True)
    _, sessions = open_database(settings.db_url)
    service = DownloadService(settings, sessions)
    try:
        old_id, old = make_job(service, sessions, "old-token", finished_hours_ago=25)
        new_id, new = make_job(service, sessions, "new-token", finished_hours_ago=1)
        failed_id, failed = make_job(service, sessions, "failed-token", 30, state=JobState.FAILED)
        stranger = service.root / "not-ours" / "keep.txt"
        stranger.parent.mkdir()
        stranger.write_text("operator's file")

        assert service.housekeeping() == 2
        assert not old.parent.exists() and not failed.parent.exists()
        assert new.exists() and stranger.exists()
        assert service.get(old_id).job_state == JobState.EXPIRED
        assert service.get(new_id).job_state == JobState.DONE
        assert service.get(failed_id).job_state == JobState.FAILED
        assert service.housekeeping() == 0  # nothing left to do
    finally:
        service.stop()
