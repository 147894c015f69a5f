"""The chat lifecycle over a real SQLite file: upgrades move every row of a chat at once,
unreachable chats pause theirs once, and a resume gives them back."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.chats.lifecycle import ChatLifecycle
from bot.chats.store import ChatMigration, GoneChat, GoneReason
from bot.downloads.jobs import DownloadJob, JobState
from bot.reminders.service import Owner, ReminderService
from bot.reminders.store import Reminder, ReminderState
from bot.storage import open_database

pytestmark = pytest.mark.timeout(30)
OLD, NEW, NEWER, OTHER = -4001, -1004001, -1009009, -100555


@pytest.fixture
def sessions(tmp_path: Path):
    engine, factory = open_database(f"sqlite:///{tmp_path / 'errand.db'}")
    yield factory
    engine.dispose()


def reminder(sessions, chat_id: int, state: str = ReminderState.PENDING, **extra) -> int:
    with sessions.begin() as session:
        row = Reminder(
            kind="timer",
            chat_id=chat_id,
            chat_type="group",
            user_id=42,
            label="x",
            due_at=time.time() + 3600,
            state=state,
            created_at=time.time(),
            **extra,
        )
        session.add(row)
    return row.id


def job(sessions, chat_id: int, state: JobState = JobState.QUEUED, **extra) -> int:
    with sessions.begin() as session:
        row = DownloadJob(
            chat_id=chat_id,
            user_id=42,
            url="https://example.com/a",
            folder="f",
            state=state,
            **extra,
        )
        session.add(row)
    return row.id


def chat_of(sessions, model, row_id: int) -> int:
    with sessions() as session:
        return session.get(model, row_id).chat_id


def test_migrate_moves_every_row_of_the_chat_and_clears_old_message_ids(sessions) -> None:
    mine = [
        reminder(sessions, OLD, reply_to=5, status_message_id=6),
        reminder(sessions, OLD, state=ReminderState.DONE),
    ]
    theirs = reminder(sessions, OTHER, reply_to=5)
    download = job(sessions, OLD, request_message_id=7, status_message_id=8)
    lifecycle = ChatLifecycle(sessions)

    migration = lifecycle.migrate(OLD, NEW)

    assert migration.first_time and migration.moved == {"reminders": 2, "download_jobs": 1}
    assert [chat_of(sessions, Reminder, r) for r in mine] == [NEW, NEW]
    assert chat_of(sessions, Reminder, theirs) == OTHER
    with sessions() as session:
        moved = session.get(Reminder, mine[0])
        assert (moved.reply_to, moved.status_message_id) == (None, None)  # the old chat's messages
        assert session.get(Reminder, theirs).reply_to == 5
        moved_job = session.get(DownloadJob, download)
        assert (moved_job.chat_id, moved_job.request_message_id, moved_job.status_message_id) == (
            NEW,
            None,
            None,
        )


def test_the_same_upgrade_reported_three_times_moves_once(sessions) -> None:
    reminder(sessions, OLD)
    lifecycle = ChatLifecycle(sessions)
    assert lifecycle.migrate(OLD, NEW).total == 1
    again = lifecycle.migrate(OLD, NEW)
    assert not again.first_time and again.total == 0
    with sessions() as session:
        assert len(session.scalars(select(ChatMigration)).all()) == 1


def test_upgrades_are_followed_and_remembered_across_restarts(sessions) -> None:
    lifecycle = ChatLifecycle(sessions)
    lifecycle.migrate(OLD, NEW)
    lifecycle.migrate(NEW, NEWER)  # unlikely, but ids form a chain
    restarted = ChatLifecycle(sessions)
    restarted.load()
    assert restarted.current_id(OLD) == NEWER and restarted.current_id(OTHER) == OTHER
    assert sorted(restarted.earlier_ids(NEWER)) == sorted([OLD, NEW])
    assert restarted.earlier_ids(OTHER) == []


def test_mark_gone_pauses_pending_reminders_and_stops_open_downloads_once(sessions) -> None:
    pending, done, cancelled = (
        reminder(sessions, OLD),
        reminder(sessions, OLD, state=ReminderState.DONE),
        reminder(sessions, OLD, state=ReminderState.CANCELLED),
    )
    elsewhere = reminder(sessions, OTHER)
    queued, running = job(sessions, OLD), job(sessions, OLD, JobState.RUNNING)
    finished = job(sessions, OLD, JobState.DONE, delivered=True)
    waiting = job(sessions, OLD, JobState.DONE, delivered=False)  # finished, not sent yet
    stopped: list[int] = []
    lifecycle = ChatLifecycle(
        sessions, cancel_download=lambda job_id, by: stopped.append(job_id) or True
    )

    paused = lifecycle.mark_gone(OLD, GoneReason.REMOVED)

    assert [r.id for r in paused.reminders] == [pending]
    assert sorted(j.id for j in paused.downloads) == sorted([queued, running, waiting])
    assert sorted(stopped) == sorted([queued, running])  # the finished file is kept for the resume
    with sessions() as session:
        states = {i: session.get(Reminder, i).state for i in (pending, done, cancelled, elsewhere)}
    assert states == {
        pending: ReminderState.UNDELIVERABLE,
        done: ReminderState.DONE,
        cancelled: ReminderState.CANCELLED,
        elsewhere: ReminderState.PENDING,
    }
    assert finished not in stopped
    assert lifecycle.is_gone(OLD) and not lifecycle.is_gone(OTHER)
    assert lifecycle.mark_gone(OLD, GoneReason.FORBIDDEN) is None  # the next 403: nothing again
    assert stopped == sorted(stopped) and len(stopped) == 2

    restarted = ChatLifecycle(sessions)
    restarted.load()
    assert restarted.is_gone(OLD)
    with sessions() as session:
        assert session.get(GoneChat, OLD).reason == "removed"


def test_back_and_resume_give_paused_items_back_once(sessions, tmp_path) -> None:
    rid = reminder(sessions, OLD)
    jid = job(sessions, OLD)
    lifecycle = ChatLifecycle(sessions, cancel_download=lambda job_id, by: True)
    lifecycle.mark_gone(OLD, GoneReason.BLOCKED)
    assert lifecycle.mark_back(OLD) and not lifecycle.is_gone(OLD)
    listed = lifecycle.paused(OLD)
    assert [r.id for r in listed.reminders] == [rid] and [j.id for j in listed.downloads] == [jid]

    taken = lifecycle.take_paused(OLD)
    assert [j.id for j in taken.downloads] == [jid]
    assert not lifecycle.take_paused(OLD).downloads  # a second Resume cannot start it twice

    async def ring(row, late) -> None:
        pass

    service = ReminderService(sessions, ring)
    resumed = service.resume([r.id for r in taken.reminders])
    assert [r.id for r in resumed] == [rid]
    again = service.get(rid)  # pending, and claimable by the ring loop at once
    assert (again.state, again.claimed_by, again.claimed_until) == (
        ReminderState.PENDING,
        None,
        None,
    )
    assert service.resume([rid]) == []  # already pending
    assert not lifecycle.paused(OLD)


def test_a_snooze_stays_in_the_topic_of_the_original(sessions) -> None:
    async def ring(row, late) -> None:
        pass

    service = ReminderService(sessions, ring)
    original = service.add_timer(
        Owner(chat_id=OTHER, user_id=42, chat_type="supergroup", thread_id=77), "1h tea"
    )
    assert original.thread_id == 77
    snoozed = service.snooze(original.id, "5m", Owner(chat_id=OTHER, user_id=42, reply_to=9))
    assert snoozed.thread_id == 77
