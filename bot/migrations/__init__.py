"""Alembic migrations: every change to Errand's tables, in order, for SQLite and PostgreSQL alike.

Start-up (and ``errandbot db upgrade``) applies the ones a database lacks, through
:mod:`bot.db.migrate`, which also takes the lock and the SQLite backup; there is no ``alembic.ini``.
To change a table: change the model, then add a revision here whose ``down_revision`` is the
current head (``tests/db/test_migrations.py`` fails while the models and the migrations differ):

    .venv/bin/python -m bot.db.migrate revision "reminders get a priority"

writes ``versions/NNNN_reminders_get_a_priority.py`` with what Alembic's autogenerate finds
missing; read and correct it (autogenerate misses renames), and never edit a released revision.
At each release, freeze a database of it with rows as ``tests/deploy/schema_snapshots/vN-*.sql``
(``sqlite3 errand.db .dump``): the tests bring every snapshot to the models through start-up.
"""
