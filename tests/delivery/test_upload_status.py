"""What the status message says while a finished file is being sent (pure rendering)."""

from __future__ import annotations

from bot.downloads.jobs import DownloadJob
from bot.humanize import MiB
from bot.telegram import download_status as render
from bot.telegram.upload import UploadProgress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def job() -> DownloadJob:
    return DownloadJob(
        id=7, chat_id=1, user_id=1, url="https://example.com/x.iso", name="x.iso", folder="f"
    )


def test_bytes_sent_speed_and_eta() -> None:
    clock = Clock()
    progress = UploadProgress(300 * MiB, clock=clock)
    progress.add(64 * 1024)
    assert progress.speed is None  # not before a second has passed
    clock.now += 4.0
    progress.add(100 * MiB - 64 * 1024)
    text = render.uploading(job(), progress)
    assert text.splitlines() == [
        "📤 Sending x.iso — 300.0 MB",
        "████░░░░░░░░ 33%  100.0 MB / 300.0 MB",
        "25.0 MB/s · ETA 8 sec",
    ]


def test_a_retry_counts_from_the_start_again() -> None:
    progress = UploadProgress(10 * MiB)
    progress.add(10 * MiB)
    assert progress.finished
    progress.restart()
    assert progress.sent == 0 and not progress.finished and progress.started is None


def test_all_sent_waits_for_telegram_and_by_path_says_so() -> None:
    progress = UploadProgress(5 * MiB)
    progress.add(5 * MiB)
    assert "All sent; waiting for Telegram to confirm" in render.uploading(job(), progress)
    by_path = UploadProgress(5 * MiB, by_path=True)
    assert "reading it from disk (local mode)" in render.uploading(job(), by_path)
    assert render.upload_cancelled(job(), "@ann") == (
        "🚫 x.iso: sending cancelled by @ann; the file is removed from the server."
    )
