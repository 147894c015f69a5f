"""A migrated PostgreSQL database (procrastinate's schema included) for the queue's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.downloads.jobstore import JobStore
from bot.storage import open_database


@pytest.fixture
def sessions(postgres_url) -> Iterator[sessionmaker[Session]]:
    engine, made = open_database(postgres_url)
    yield made
    engine.dispose()


@pytest.fixture
def store(sessions, tmp_path) -> JobStore:
    return JobStore(sessions, tmp_path / "downloads")


def add_job(store: JobStore, user_id: int = 42) -> int:
    job = store.add(
        chat_id=user_id,
        thread_id=None,
        user_id=user_id,
        user_name="someone",
        url="https://example.com/f.bin",
        name=None,
        request_message_id=None,
        status_message_id=None,
        request_id=None,
    )
    return job.id
