"""``errandbot run`` refuses, in one line, to start on a damaged database or without the Bot API.

An empty or garbage ``errand.db`` used to be replaced by a fresh database (pending reminders
gone) or to end in tracebacks; a bad token or no network printed 50-100 lines of library traceback
before the one line that mattered.
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from bot.sandbox.emulator import BotApiEmulator
from tests.e2e.harness import ERRANDBOT, USER, BotProcess
from tests.privileges import without_root_powers

pytestmark = pytest.mark.timeout(90)


def run(
    tmp_path: Path, api_url: str, token: str, command: str = "run", **more: str
) -> subprocess.CompletedProcess:
    env = {
        "PATH": "/usr/bin:/bin",
        "BOT_TOKEN": token,
        "TELEGRAM_API_URL": api_url,
        "DATA_DIR": str(tmp_path / "data"),
        "ALLOWED_USERS": str(USER),
        **more,
    }
    return subprocess.run(
        [ERRANDBOT, command], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )


def closed_port() -> int:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("content", [b"", b"garbage " * 500, "half"])
def test_damaged_database_is_refused_naming_the_newest_backup(
    emulator: BotApiEmulator, make_bot, tmp_path: Path, content
) -> None:
    bot: BotProcess = make_bot()
    command = emulator.send_text(USER, USER, "/timer 1h keep me")
    emulator.wait_reply(USER, command, contains="⏳")
    bot.terminate()
    db = bot.data_dir / "errand.db"
    backup = bot.data_dir / "errand.db.bak"
    backup.write_bytes(db.read_bytes())
    if content == "half":  # a half-truncated file: the header is right, the pages are not
        data = db.read_bytes()
        content = data[: len(data) // 2]
    db.write_bytes(content)
    for side in ("errand.db-wal", "errand.db-shm"):
        (bot.data_dir / side).unlink(missing_ok=True)

    result = run_in(bot, emulator)
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("errandbot:")]
    assert len(lines) == 1 and str(db) in lines[0] and str(backup) in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert db.read_bytes() == content  # nothing was created over it


def run_in(bot: BotProcess, emulator: BotApiEmulator) -> subprocess.CompletedProcess:
    env = {k: v for k, v in bot.env.items()}
    return subprocess.run(
        [ERRANDBOT, "run"],
        env=env,
        cwd=bot.data_dir.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_no_network_is_one_clear_line_without_traceback(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    result = run(tmp_path, f"http://127.0.0.1:{closed_port()}", emulator.token)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr, result.stderr
    assert (
        result.stderr.strip().splitlines()[-1].startswith("errandbot: cannot reach the Bot API at ")
    )


def test_rejected_token_prints_no_traceback(emulator: BotApiEmulator, tmp_path: Path) -> None:
    result = run(tmp_path, emulator.url, "987654321:AAWrongTokenThatTheServerRejects_xyz")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr, result.stderr


@pytest.mark.parametrize("command", ["run", "worker"])
def test_unreachable_database_is_one_line_without_password(
    emulator: BotApiEmulator, tmp_path: Path, command: str
) -> None:
    pytest.importorskip("psycopg", reason="the postgres extra is not installed")
    url = f"postgresql+psycopg://errand:Sekr1tPass@127.0.0.1:{closed_port()}/errand"
    result = run(tmp_path, emulator.url, emulator.token, command, DATABASE_URL=url)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "Sekr1tPass" not in result.stderr, result.stderr
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("errandbot:")]
    assert line.startswith("errandbot: cannot reach the database at postgresql+psycopg://") and (
        "Connection refused" in line and "check DATABASE_URL" in line
    ), line


def test_database_restored_as_another_user_is_one_line_not_a_crash(
    emulator: BotApiEmulator, make_bot, tmp_path: Path
) -> None:
    """``docker cp`` of a backup leaves the database owned by root while the bot runs as its own
    user: reads work, and the first write (the inbox's prune at start) crashed with a 40-line
    traceback. Now one line, the check's words, before anything is opened; nothing changes."""
    bot: BotProcess = make_bot()
    command = emulator.send_text(USER, USER, "/timer 1h keep me")
    emulator.wait_reply(USER, command, contains="⏳")
    bot.terminate()
    db = bot.data_dir / "errand.db"
    db.chmod(0o444)
    before = sorted((p.name, p.stat().st_mtime_ns) for p in bot.data_dir.glob("errand.db*"))
    result = subprocess.run(
        [*without_root_powers(), ERRANDBOT, "run"],
        env=dict(bot.env),
        cwd=bot.data_dir.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("errandbot:")]
    assert f"{db} is read-only for this user" in line and "docs/deploy.md, Restore" in line, line
    assert sorted((p.name, p.stat().st_mtime_ns) for p in bot.data_dir.glob("errand.db*")) == before
