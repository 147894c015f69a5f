"""The words of a download's status message, computed from a job and its progress."""

from __future__ import annotations

from dataclasses import dataclass

from bot.downloads.jobs import DownloadJob, JobState
from bot.humanize import MiB, human_duration, human_size
from bot.telegram import download_status as render


@dataclass(frozen=True)
class FakeProgress:  # the engine's Progress has exactly these fields
    done: int
    total: int | None
    speed: float
    eta: float | None
    connections: int


def job(**kw) -> DownloadJob:
    values = dict(
        id=7,
        chat_id=1,
        user_id=1,
        user_name="@ann",
        url="https://u:p@example.com/a/b.iso?x=1",
        name="b.iso",
        folder="tok",
        state=JobState.RUNNING,
        size=142 * MiB,
        done_bytes=0,
    )
    values.update(kw)
    return DownloadJob(**values)


def test_display_url_hides_credentials_and_query() -> None:
    assert (
        render.display_url("https://user:secret@example.com/a/b.iso?token=abc")
        == "example.com/a/b.iso"
    )


def test_fate_says_kept_when_over_upload_limit() -> None:
    assert (
        render.fate(job(), 50 * MiB)
        == "142.0 MB is over the 50.0 MB upload limit: it will be kept on the server."
    )
    assert render.fate(job(size=10 * MiB), 50 * MiB) == "Will be sent here."


def test_running_shows_bar_percent_speed_eta_connections() -> None:
    text = render.running(job(), FakeProgress(71 * MiB, 142 * MiB, 4 * MiB, 17.5, 8), 200 * MiB)
    assert "██████░░░░░░ 50%  71.0 MB / 142.0 MB" in text
    assert "4.0 MB/s · ETA 18 sec · 8 connections" in text


def test_running_with_unknown_size() -> None:
    text = render.running(job(size=None), FakeProgress(3 * MiB, None, MiB, None, 1), 50 * MiB)
    assert "3.0 MB so far" in text and "1 connection" in text and "ETA" not in text


def test_resumed_says_where_it_stood() -> None:
    assert "Resumed after restart at 63%" in render.resumed(
        job(resumed=True, done_bytes=int(142 * MiB * 0.63) + 1), 1, 50 * MiB
    )


def test_listing_line() -> None:
    assert (
        render.listing_line(job(state=JobState.QUEUED), 2, show_owner=False)
        == "d7 b.iso — ⏳ #2 in line"
    )
    assert (
        render.listing_line(job(state=JobState.FAILED, error="HTTP 404"), None, show_owner=True)
        == "d7 b.iso (@ann) — ❌ HTTP 404"
    )


def test_human_units() -> None:
    assert human_size(512) == "512 B" and human_size(1536) == "1.5 KB" and human_size(None) == "?"
    assert (
        human_duration(42) == "42 sec"
        and human_duration(3725) == "1 hr 2 min"
        and human_duration(120) == "2 min"
    )


def test_checking_shows_retries():
    from bot.downloads.progress import Retrying

    text = render.checking(
        "http://example.com/a.iso", Retrying(attempt=2, total=6, reason="connection failed", wait=1)
    )
    assert text == "🔎 Checking example.com/a.iso…\n🔁 Retrying, 2 of 6: connection failed"
