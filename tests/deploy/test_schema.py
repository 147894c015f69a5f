"""Schema upgrades keep every row: a database from a release before Alembic (v0-v4 of
``bot/schema.py``) comes out at the newest migration with the same data, a later migration applies
once, and a database from the future is refused."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot import schema
from bot.db import migrate
from bot.db_base import Base
from bot.storage import make_engine, open_database
from bot.tables import all_tables
from tests.db.rows import fill_every_table


def _dump(engine: sa.Engine) -> dict[str, list[tuple]]:
    with engine.connect() as conn:
        names = sa.inspect(conn).get_table_names()
        return {
            name: sorted(map(tuple, conn.execute(sa.text(f'SELECT * FROM "{name}"'))), key=repr)
            for name in names
            if name not in ("schema_version", "alembic_version")
        }


def _v0_database(path) -> sa.Engine:
    """What the release before versioning left: today's tables via create_all, plus a table
    this release does not know (an operator's own, or a later feature's), all with rows."""
    engine = make_engine(f"sqlite:///{path}")
    all_tables().create_all(engine)
    fill_every_table(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE legacy_notes (id INTEGER PRIMARY KEY, body TEXT)"))
        conn.execute(sa.text("INSERT INTO legacy_notes VALUES (1, 'keep me'), (2, 'and me')"))
    return engine


def test_v0_database_upgrades_with_every_row_kept(tmp_path):
    engine = _v0_database(tmp_path / "errand.db")
    before = _dump(engine)
    assert schema.current_version(engine) == 0
    assert migrate.status(engine).state is migrate.State.LEGACY

    migrate.upgrade(engine)

    assert migrate.status(engine).state is migrate.State.CURRENT
    assert _dump(engine) == before
    assert before["legacy_notes"] == [(1, "keep me"), (2, "and me")]
    assert set(all_tables().tables) <= set(before)  # every table of today's models...
    assert all(len(rows) == 2 for rows in before.values()), before  # ...held rows to keep
    # releases before Alembic now refuse the database (their newest version was 4)
    assert schema.current_version(engine) == migrate.ALEMBIC_MANAGED > 4
    # the backup taken before the upgrade holds the same rows
    backup = tmp_path / f"errand.db.before-{migrate.status(engine).head}"
    with sqlite3.connect(backup) as copy:
        assert copy.execute("SELECT body FROM legacy_notes ORDER BY id").fetchall() == [
            ("keep me",),
            ("and me",),
        ]


def test_upgrade_twice_changes_nothing(tmp_path):
    engine = _v0_database(tmp_path / "errand.db")
    migrate.upgrade(engine)
    after_first = _dump(engine)
    assert migrate.upgrade(engine).state is migrate.State.CURRENT
    assert _dump(engine) == after_first
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM schema_version")).scalar() == 1
        assert conn.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar() == 1


def test_empty_database_is_created_at_the_newest_migration(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'new.db'}")
    assert migrate.status(engine).state is migrate.State.EMPTY
    migrate.upgrade(engine)
    assert migrate.status(engine).state is migrate.State.CURRENT
    names = set(sa.inspect(engine).get_table_names())
    assert set(all_tables().tables) <= names
    assert not list(tmp_path.glob("*.before-*"))  # nothing to back up on a new database


@pytest.fixture
def later_release(tmp_path, monkeypatch):
    """This release's migrations plus one more (``0099``), as a later release would ship them;
    ``later_release(body)`` writes its upgrade() body."""
    scripts = tmp_path / "migrations"
    shutil.copytree(migrate.SCRIPT_LOCATION, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(migrate, "SCRIPT_LOCATION", scripts)
    migrate.scripts.cache_clear()
    head = migrate.scripts().get_current_head()

    def write(body: str) -> None:
        (scripts / "versions" / "0099_later.py").write_text(
            f"import sqlalchemy as sa\nfrom alembic import op\n\nrevision = '0099'\n"
            f"down_revision = {head!r}\n\n\ndef upgrade():\n    {body}\n"
        )
        migrate.scripts.cache_clear()

    yield write
    migrate.scripts.cache_clear()


def test_later_migration_adds_a_column_and_keeps_rows(tmp_path, later_release):
    engine = make_engine(f"sqlite:///{tmp_path / 'errand.db'}")
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO user_zones VALUES (7, 'Europe/Berlin')"))

    later_release(
        "op.add_column('user_zones', sa.Column('priority', sa.Integer(), "
        "nullable=False, server_default='0'))"
    )
    found = migrate.upgrade(engine)
    assert (found.state, found.pending) == (migrate.State.BEHIND, ("0099",))
    assert migrate.upgrade(engine).state is migrate.State.CURRENT  # not applied twice

    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT user_id, tz, priority FROM user_zones")).all()
    assert [tuple(r) for r in rows] == [(7, "Europe/Berlin", 0)]
    with sqlite3.connect(tmp_path / "errand.db.before-0099") as copy:  # the copy before it
        assert copy.execute("SELECT user_id FROM user_zones").fetchall() == [(7,)]


def test_failed_migration_leaves_the_previous_revision(tmp_path, later_release):
    engine = make_engine(f"sqlite:///{tmp_path / 'errand.db'}")
    migrate.upgrade(engine)
    head = migrate.status(engine).head

    later_release("op.execute('SELECT * FROM no_such_table')")
    with pytest.raises(sa.exc.OperationalError):
        migrate.upgrade(engine)
    assert migrate.status(engine).revision == head


def test_database_from_a_newer_release_is_refused(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'errand.db'}")
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = 'f00d'"))
    assert migrate.status(engine).state is migrate.State.AHEAD
    with pytest.raises(schema.SchemaError, match="does not know"):
        migrate.upgrade(engine)


SNAPSHOTS = sorted((Path(__file__).parent / "schema_snapshots").glob("*.sql"))


@pytest.mark.parametrize("snapshot", SNAPSHOTS, ids=[s.stem for s in SNAPSHOTS])
def test_released_database_upgrades_through_start_up(tmp_path, snapshot):
    """A database exactly as a past release left it (a frozen SQL dump, not today's models)
    goes through the real start-up path, ``open_database``: its rows survive, and every table
    and column today's models expect is there, so a model change without an upgrade step
    fails here."""
    path = tmp_path / "errand.db"
    with sqlite3.connect(path) as raw:
        raw.executescript(snapshot.read_text())
        old = {
            name: (
                cols := [c[1] for c in raw.execute(f'PRAGMA table_info("{name}")')],
                sorted(raw.execute(f'SELECT {", ".join(cols)} FROM "{name}"')),
            )
            for (name,) in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
    assert any(rows for _, rows in old.values()), "the snapshot should hold rows to keep"

    engine, sessions = open_database(f"sqlite:///{path}")
    try:
        assert migrate.status(engine).state is migrate.State.CURRENT
        with engine.connect() as conn:
            for name, (cols, rows) in old.items():
                if name == "schema_version":  # bookkeeping: now says Alembic manages the database
                    continue
                kept = conn.exec_driver_sql(f'SELECT {", ".join(cols)} FROM "{name}"').all()
                assert sorted(map(tuple, kept)) == rows, name
            assert schema.current_version(engine) == migrate.ALEMBIC_MANAGED
            inspector = sa.inspect(conn)
            for table in all_tables().sorted_tables:
                present = {c["name"] for c in inspector.get_columns(table.name)}
                missing = {c.name for c in table.columns} - present
                assert not missing, f"{table.name} lacks {missing}: add a migration"
        with sessions() as session:  # and the ORM reads the old rows through today's models
            for mapper in Base.registry.mappers:
                table = mapper.local_table.name
                loaded = session.scalars(sa.select(mapper.class_)).all()
                assert len(loaded) == len(old.get(table, ((), []))[1]), table
    finally:
        engine.dispose()
