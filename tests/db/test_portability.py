"""What SQLite lets pass and PostgreSQL refuses: string lengths. SQLite ignores ``VARCHAR(n)``;
PostgreSQL enforces it, so a state name longer than its column failed only there."""

from __future__ import annotations

import enum

import sqlalchemy as sa

from bot.reminders.store import Reminder, ReminderKind, ReminderState
from bot.storage import open_database
from bot.tables import all_tables


def test_every_enum_stored_in_a_string_column_fits_it():
    checked = []
    for table in all_tables().sorted_tables:
        for column in table.columns:
            default = getattr(column.default, "arg", None)
            if isinstance(default, enum.Enum) and isinstance(column.type, sa.String):
                longest = max(len(str(member.value)) for member in type(default))
                assert column.type.length is None or longest <= column.type.length, column
                checked.append(column.name)
    assert len(checked) >= 2, checked  # reminders.state and download_jobs.state at least


def test_each_reminder_state_is_stored_and_read_back(database_url):
    engine, sessions = open_database(database_url)
    try:
        with sessions.begin() as session:
            for state in ReminderState:
                session.add(
                    Reminder(
                        kind=ReminderKind.TIMER,
                        chat_id=1,
                        user_id=1,
                        label="",
                        due_at=1.0,
                        created_at=1.0,
                        state=state,
                    )
                )
        with sessions() as session:
            stored = set(session.scalars(sa.select(Reminder.state)))
        assert stored == {s.value for s in ReminderState}
    finally:
        engine.dispose()
