"""What each process does (bot.work.role), and ``errandbot worker`` refusing SQLite."""

from __future__ import annotations

import pytest

from bot.cli import EXIT_BAD_SETTINGS, main
from bot.config import load_settings
from bot.work.role import Command, ProcessRole

PG = "postgresql+psycopg://errand:pw@127.0.0.1:5432/errand"


def settings(**values):
    return load_settings(_env_file=None, **values)


@pytest.mark.parametrize(
    ("command", "values", "updates", "work", "shared"),
    [
        (Command.RUN, {}, True, True, False),
        (Command.RUN, {"run_worker": False}, True, True, False),  # SQLite: one process does all
        (Command.RUN, {"database_url": PG}, True, True, True),
        (Command.RUN, {"database_url": PG, "run_worker": False}, True, False, True),
        (Command.WORKER, {"database_url": PG}, False, True, True),
        (Command.RUN, {"database_url": "postgres://h/db", "run_worker": False}, True, False, True),
    ],
)
def test_role_of_each_process(command, values, updates, work, shared, tmp_path) -> None:
    role = ProcessRole.of(command, settings(data_dir=tmp_path, **values))
    assert (role.receives_updates, role.runs_work, role.shared_database) == (updates, work, shared)


def test_worker_refuses_sqlite_with_one_line(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("BOT_TOKEN", "123:abc")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert main(["worker"]) == EXIT_BAD_SETTINGS
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "needs PostgreSQL" in err[0] and "DATABASE_URL" in err[0]
    assert not (tmp_path / "errand.db").exists()
