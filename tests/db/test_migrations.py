"""The migrations build exactly today's tables on SQLite and PostgreSQL, bring databases of
releases before Alembic there with their rows, and several processes starting at once on one
PostgreSQL database upgrade it once."""

from __future__ import annotations

import fcntl
import shutil
import sqlite3
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from bot.db import migrate
from bot.storage import make_engine
from bot.tables import all_tables

SNAPSHOTS = sorted((Path(__file__).parents[1] / "deploy" / "schema_snapshots").glob("*.sql"))


def differences(engine: sa.Engine) -> list:
    """What Alembic's autogenerate would change to make the database match today's models."""
    with engine.connect() as conn:
        found = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), all_tables()
        )
    return [d for d in found if not _not_errands(d)]


def _not_errands(difference: tuple) -> bool:
    """``schema_version`` (kept for old releases) and procrastinate's queue (0003) are not
    models of Errand's."""
    kind, item = difference[0], difference[1]
    if kind == "remove_table":
        return item.name == "schema_version" or item.name.startswith("procrastinate_")
    return kind == "remove_index" and item.table.name.startswith("procrastinate_")


def test_migrations_build_exactly_the_models(database_url):
    """A model changed without a migration (a column, a type, an index, a table) fails here."""
    engine = make_engine(database_url)
    try:
        migrate.upgrade(engine)
        assert differences(engine) == []
        assert migrate.status(engine).state is migrate.State.CURRENT
    finally:
        engine.dispose()


@pytest.mark.parametrize("snapshot", SNAPSHOTS, ids=[s.stem for s in SNAPSHOTS])
def test_released_sqlite_database_ends_exactly_at_the_models(tmp_path, snapshot):
    path = tmp_path / "errand.db"
    with sqlite3.connect(path) as raw:
        raw.executescript(snapshot.read_text())
    engine = make_engine(f"sqlite:///{path}")
    try:
        assert migrate.status(engine).state is migrate.State.LEGACY
        migrate.upgrade(engine)
        assert differences(engine) == []
    finally:
        engine.dispose()


def test_postgres_database_of_an_old_release_upgrades_with_its_rows(postgres_url):
    """What an early release's ``create_all`` made on PostgreSQL: reminders without the topic and
    language columns and with the 64-character repeat column, no chat or language tables."""
    engine = make_engine(postgres_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "CREATE TABLE reminders (id SERIAL PRIMARY KEY, kind VARCHAR(8) NOT NULL, "
                    "chat_id BIGINT NOT NULL, chat_type VARCHAR(16) NOT NULL, "
                    "user_id BIGINT NOT NULL, "
                    "user_name VARCHAR(64) NOT NULL, label VARCHAR(200) NOT NULL, "
                    "due_at FLOAT NOT NULL, recurrence VARCHAR(64), tz VARCHAR(64) NOT NULL, "
                    "reply_to BIGINT, status_message_id BIGINT, duration FLOAT, "
                    "state VARCHAR(12) NOT NULL, created_at FLOAT NOT NULL)"
                )
            )
            conn.execute(
                sa.text(
                    "INSERT INTO reminders (kind, chat_id, chat_type, user_id, user_name, label, "
                    "due_at, recurrence, tz, state, created_at) "
                    "VALUES ('reminder', 42, 'private', 42, "
                    "'Ann', 'standup', 1764320000.0, 'weekly', 'UTC', 'pending', 1764300000.0)"
                )
            )
        assert migrate.status(engine).state is migrate.State.LEGACY

        migrate.upgrade(engine)

        assert differences(engine) == []
        long_repeat = "x" * 150  # fits since the column was widened to 160
        with engine.begin() as conn:
            assert conn.execute(
                sa.text("SELECT id, label, recurrence, lang FROM reminders")
            ).all() == [(1, "standup", "weekly", None)]
            conn.execute(sa.text("UPDATE reminders SET recurrence = :r"), {"r": long_repeat})
    finally:
        engine.dispose()


def test_processes_starting_together_upgrade_once(postgres_url):
    """Replicas and workers start at once: the advisory lock lets one migrate, the others wait
    and find nothing left to do (without it, two CREATE TABLEs collide)."""
    engines = [make_engine(postgres_url) for _ in range(4)]
    found: list[migrate.State] = []
    errors: list[BaseException] = []
    start = threading.Barrier(len(engines))

    def start_up(engine: sa.Engine) -> None:
        try:
            start.wait(30)
            found.append(migrate.upgrade(engine).state)
        except BaseException as exc:  # reported below, with the others' outcomes
            errors.append(exc)

    threads = [threading.Thread(target=start_up, args=(e,), daemon=True) for e in engines]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    try:
        assert not [t for t in threads if t.is_alive()], "start-ups still waiting after 60 s"
        assert errors == []
        assert sorted(found) == sorted([migrate.State.EMPTY] + [migrate.State.CURRENT] * 3)
        with engines[0].connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar() == 1
    finally:
        for engine in engines:
            engine.dispose()


def test_sqlite_upgrade_waits_for_the_lock_beside_the_file(tmp_path):
    """``errandbot db upgrade`` by hand while the bot starts: one waits for the other's flock."""
    path = tmp_path / "errand.db"
    engine = make_engine(f"sqlite:///{path}")
    finished = threading.Event()

    def start_up() -> None:
        migrate.upgrade(engine)
        finished.set()

    with open(f"{path}.upgrade-lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process is upgrading
        threading.Thread(target=start_up, daemon=True).start()
        assert not finished.wait(1.0), "upgraded while another process held the lock"
        assert migrate.status(engine).state is migrate.State.EMPTY
    assert finished.wait(30), "did not upgrade once the lock was free"
    assert migrate.status(engine).state is migrate.State.CURRENT
    engine.dispose()


def test_new_revision_of_unchanged_models_changes_nothing(tmp_path, monkeypatch):
    """The developer's tool (``python -m bot.db.migrate revision``) on today's models: the next
    number, after the head, with nothing to do (no table of ours, nor ``schema_version``,
    dropped)."""
    scripts = tmp_path / "migrations"
    shutil.copytree(migrate.SCRIPT_LOCATION, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(migrate, "SCRIPT_LOCATION", scripts)
    migrate.scripts.cache_clear()
    try:
        head = migrate.scripts().get_current_head()
        written = migrate.new_revision("nothing changed")
    finally:
        migrate.scripts.cache_clear()
    assert written.name == f"{int(head) + 1:04d}_nothing_changed.py"
    source = written.read_text()
    assert f"down_revision = {head!r}" in source
    assert "op." not in source.split("def upgrade")[1], source
