"""``DATABASE_URL`` spellings: ``postgres://`` means psycopg 3, a password is never shown, and a
PostgreSQL URL without the driver installed stops with one line saying what to install."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bot.db.url import normalize, shown

pytest.importorskip("psycopg", reason="the postgres extra is not installed")


@pytest.mark.parametrize(
    "url",
    [
        "postgres://u:pw@db/errand",
        "postgresql://u:pw@db/errand",
        "postgresql+psycopg://u:pw@db/errand",
    ],
)
def test_postgres_spellings_mean_psycopg_3(url):
    assert normalize(url).drivername == "postgresql+psycopg"


def test_sqlite_is_left_as_it_is():
    assert str(normalize("sqlite:////srv/errand/errand.db")) == "sqlite:////srv/errand/errand.db"


def test_password_is_masked():
    assert (
        shown("postgresql+psycopg://errand:s3cret@db:5432/errand")
        == "postgresql+psycopg://errand:***@db:5432/errand"
    )


@pytest.mark.e2e  # the CLI as a subprocess
@pytest.mark.parametrize("command", [["db", "upgrade"], ["run"]])
def test_without_the_driver_start_up_says_what_to_install(tmp_path, command):
    hide_driver = (
        "import sys; sys.modules['psycopg'] = None; from bot.cli import main; "
        f"sys.exit(main({command!r}))"
    )
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    env.update(
        DATA_DIR=str(tmp_path / "data"),
        BOT_TOKEN="123:abc",
        TELEGRAM_API_URL="http://127.0.0.1:9",
        DATABASE_URL="postgresql://errand:s3cret@127.0.0.1:9/errand",
    )
    done = subprocess.run(
        [sys.executable, "-c", hide_driver],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout + done.stderr
    assert "pip install 'errandbot[postgres]'" in out and "Traceback" not in out
    assert "s3cret" not in out
