"""``errandbot db copy``: a SQLite install moves to the private PostgreSQL server with every row
and id, the next ids follow on, and a target with rows or a source behind is refused."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.db import migrate
from bot.db.copy import CopyRefused, copy_database
from bot.db_base import Base
from bot.reminders.store import Reminder
from bot.storage import make_engine, open_database
from bot.tables import all_tables
from tests.db.rows import fill_every_table

IDS = (3, 7)  # with a gap, as deleted rows leave


def rows_of(url: str) -> dict[str, list[tuple]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {
                t.name: sorted(map(tuple, conn.execute(sa.select(t))), key=repr)
                for t in all_tables().sorted_tables
            }
    finally:
        engine.dispose()


@pytest.fixture
def sqlite_install(tmp_path) -> str:
    """An install's SQLite database: rows in every table, and an operator's own table."""
    url = f"sqlite:///{tmp_path / 'errand.db'}"
    engine, _ = open_database(url)
    fill_every_table(engine, IDS)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
    engine.dispose()
    return url


def test_every_table_holds_and_reads_back_its_rows(database_url):
    """Every model on both engines: rows written, then loaded through the ORM."""
    engine, sessions = open_database(database_url)
    try:
        fill_every_table(engine, IDS)
        with sessions() as session:
            for mapper in Base.registry.mappers:
                assert len(session.scalars(sa.select(mapper.class_)).all()) == len(IDS), mapper
    finally:
        engine.dispose()


def test_sqlite_install_copies_to_postgres_with_ids_and_sequences(sqlite_install, postgres_url):
    report = copy_database(sqlite_install, postgres_url)

    assert rows_of(postgres_url) == rows_of(sqlite_install)
    assert set(report.rows) == set(all_tables().tables)
    assert all(n == len(IDS) for n in report.rows.values()), report.rows
    assert report.left_alone == ["notes"]
    # the next timer gets the id after the largest copied one, not 1 (a collision)
    _, sessions = open_database(postgres_url)
    with sessions.begin() as session:
        row = Reminder(kind="timer", chat_id=1, user_id=1, label="", due_at=1.0, created_at=1.0)
        session.add(row)
        session.flush()
        assert row.id == max(IDS) + 1


def test_target_with_rows_is_refused_unless_replaced(sqlite_install, postgres_url):
    copy_database(sqlite_install, postgres_url)
    engine = make_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE user_zones SET tz = 'Asia/Tokyo'"))
    engine.dispose()

    with pytest.raises(CopyRefused, match=r"already holds rows: .*user_zones \(2\).*--replace"):
        copy_database(sqlite_install, postgres_url)
    assert {r[1] for r in rows_of(postgres_url)["user_zones"]} == {"Asia/Tokyo"}  # untouched

    copy_database(sqlite_install, postgres_url, replace=True)
    assert rows_of(postgres_url) == rows_of(sqlite_install)


def test_source_of_an_older_release_is_refused_until_upgraded(tmp_path, postgres_url):
    path = tmp_path / "old.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE download_jobs (id INTEGER PRIMARY KEY, url TEXT)"))
    engine.dispose()
    with pytest.raises(CopyRefused, match="errandbot db upgrade"):
        copy_database(f"sqlite:///{path}", postgres_url)
    assert migrate.status(make_engine(postgres_url)).state is migrate.State.EMPTY


@pytest.mark.e2e  # the CLI as a subprocess
def test_errandbot_db_copy_command(sqlite_install, postgres_url, tmp_path):
    """The real command line, as docs/scale.md tells an operator to run it."""
    command = [sys.executable, "-m", "bot", "db", "copy", sqlite_install, postgres_url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"reminders: {len(IDS)} rows" in done.stdout
    assert "not Errand's, not copied: notes" in done.stdout
    password = sa.make_url(postgres_url).password
    assert (
        password and password not in done.stdout + done.stderr
    )  # the target is shown with its password masked

    again = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert again.returncode == 1
    assert "not copied: the target already holds rows" in again.stdout


def test_postgres_install_copies_back_to_a_new_sqlite_file(sqlite_install, postgres_url, tmp_path):
    """The way back: PostgreSQL to a fresh SQLite file, the same rows."""
    copy_database(sqlite_install, postgres_url)
    back = f"sqlite:///{tmp_path / 'back.db'}"
    copy_database(postgres_url, back)
    assert rows_of(back) == rows_of(sqlite_install)


def test_last_pre_alembic_release_moves_to_postgres(tmp_path, postgres_url):
    """The real path of an old install: its frozen database (v4 snapshot), upgraded, then copied;
    its undeliverable reminder (13 characters, over the 12 PostgreSQL once had) comes along."""
    snapshot = Path(__file__).parents[1] / "deploy" / "schema_snapshots" / "v4-languages.sql"
    path = tmp_path / "errand.db"
    with sqlite3.connect(path) as raw:
        raw.executescript(snapshot.read_text())
    source = f"sqlite:///{path}"
    engine = make_engine(source)
    migrate.upgrade(engine)
    engine.dispose()

    copy_database(source, postgres_url)
    assert rows_of(postgres_url) == rows_of(source)
    target = make_engine(postgres_url)
    with target.connect() as conn:
        states = set(conn.scalars(sa.text("SELECT state FROM reminders")))
    target.dispose()
    assert "undeliverable" in states
