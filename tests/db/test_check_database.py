"""``errandbot check`` reports the database: reachable, which engine, pending migrations; never
its password."""

from __future__ import annotations

import sqlalchemy as sa

from bot.config import load_settings
from bot.db import migrate
from bot.health import run_checks
from bot.storage import make_engine


def database_line(tmp_path, url: str):
    settings = load_settings(
        bot_token="1:x",
        telegram_api_url="http://127.0.0.1:9",
        data_dir=tmp_path / "data",
        database_url=url,
        _env_file=None,
    )
    [result] = [r for r in run_checks(settings) if r.name == "database"]
    return result


def test_postgres_database_empty_then_current(tmp_path, postgres_url):
    password = sa.make_url(postgres_url).password
    empty = database_line(tmp_path, postgres_url)
    assert empty.ok and empty.message.startswith("postgresql at postgresql+psycopg://")
    assert "empty" in empty.message and password not in empty.message

    engine = make_engine(postgres_url)
    migrate.upgrade(engine)
    engine.dispose()
    current = database_line(tmp_path, postgres_url)
    assert (
        current.ok
        and f"migration {migrate.scripts().get_current_head()} (current)" in current.message
    )


def test_sqlite_database_of_an_older_release_shows_pending_migrations(tmp_path):
    (tmp_path / "data").mkdir()
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'errand.db'}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE download_jobs (id INTEGER PRIMARY KEY)"))
    engine.dispose()
    result = database_line(tmp_path, "")
    every = len(list(migrate.scripts().walk_revisions()))
    assert result.ok and f"{every} pending, applied on start" in result.message, result.message


def test_unreachable_postgres_fails_with_its_kind_and_no_password(tmp_path, postgres_cluster):
    url = "postgresql+psycopg://errand:hunter2secret@127.0.0.1:9/errand"  # nothing listens on 9
    result = database_line(tmp_path, url)
    assert not result.ok and "cannot open it (OperationalError)" in result.message
    assert "hunter2secret" not in result.message
