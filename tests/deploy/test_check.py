"""``errandbot check``: exit 0 for a good installation, 1 with a FAIL line naming the problem for
each kind of bad one, 2 for a bad setting; never the token in its output.

The Bot API here is a small stub on 127.0.0.1 that answers ``getMe`` for one token and 401 for
any other, like api.telegram.org does.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.config import load_settings
from bot.health import run_check
from tests.privileges import without_root_powers

GOOD_TOKEN = "123456:AAGoodTokenForTheStubServer_xyz"
OTHER_TOKEN = "123456:AAOtherTokenTheStubRejects_xyz"


class _BotApiStub(BaseHTTPRequestHandler):
    paths: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.paths.append(self.path)
        if self.path == f"/bot{GOOD_TOKEN}/getMe":
            status, body = (
                200,
                {
                    "ok": True,
                    "result": {"id": 123456, "is_bot": True, "username": "errand_test_bot"},
                },
            )
        elif self.path.startswith("/bot"):
            status, body = 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        else:  # like a web server that is not a Bot API: a page, not JSON
            status, body = 200, None
        data = json.dumps(body).encode() if body else b"<html>It works!</html>"
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if body else "text/html")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def api_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _BotApiStub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def good(tmp_path, api_url):
    """Overrides for a configuration that passes every check."""
    return dict(
        bot_token=GOOD_TOKEN,
        telegram_api_url=api_url,
        data_dir=tmp_path / "data",
        disk_reserve_mb=1,
        _env_file=None,
    )


def _check(capsys, **overrides) -> tuple[int, str]:
    status = run_check(load_settings(**overrides))
    out = capsys.readouterr().out
    assert GOOD_TOKEN not in out and OTHER_TOKEN not in out
    return status, out


def _fail_lines(out: str) -> list[str]:
    return [line.strip() for line in out.splitlines() if line.strip().startswith("FAIL")]


def test_good_configuration_passes(capsys, good):
    status, out = _check(capsys, **good)
    assert status == 0, out
    assert "@errand_test_bot" in out
    assert _fail_lines(out) == []
    assert out.rstrip().endswith("all good")
    assert (good["data_dir"] / "downloads").is_dir()
    assert not (good["data_dir"] / "errand.db").exists()  # check never creates the database


def test_no_token(capsys, good):
    status, out = _check(capsys, **{**good, "bot_token": None})
    assert status == 1
    [line] = _fail_lines(out)
    assert "BOT_TOKEN is not set" in line


def test_token_rejected_by_the_api(capsys, good):
    status, out = _check(capsys, **{**good, "bot_token": OTHER_TOKEN})
    assert status == 1
    [line] = _fail_lines(out)
    assert "rejected the token (HTTP 401)" in line and "@BotFather" in line


def test_api_unreachable(capsys, good):
    with socket.socket() as sock:  # a port that was free a moment ago: connection refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    status, out = _check(capsys, **{**good, "telegram_api_url": f"http://127.0.0.1:{port}"})
    assert status == 1
    [line] = _fail_lines(out)
    assert "cannot reach http://127.0.0.1:" in line and "TELEGRAM_API_URL" in line


def test_api_url_is_not_a_bot_api(capsys, good, api_url):
    status, out = _check(capsys, **{**good, "telegram_api_url": f"{api_url}/elsewhere"})
    assert status == 1
    [line] = _fail_lines(out)
    assert "answered HTTP 200 to getMe" in line and "TELEGRAM_API_URL" in line


def test_unwritable_data_dir(capsys, good, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")  # works as root too, unlike chmod
    status, out = _check(capsys, **{**good, "data_dir": blocker / "data"})
    assert status == 1
    [line] = _fail_lines(out)
    assert "DATA_DIR" in line and "not a writable directory" in line


def test_unwritable_download_dir(capsys, good, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    status, out = _check(capsys, **{**good, "download_dir": blocker / "dl"})
    assert status == 1
    assert any("DOWNLOAD_DIR" in line for line in _fail_lines(out))


def test_low_disk(capsys, good):
    status, out = _check(capsys, **{**good, "disk_reserve_mb": 10**12})
    assert status == 1
    [line] = _fail_lines(out)
    assert "below DISK_RESERVE_MB" in line


def test_database_newer_than_this_release(capsys, good):
    import sqlalchemy as sa

    from bot.db import migrate
    from bot.storage import make_engine

    good["data_dir"].mkdir(parents=True)
    engine = make_engine(f"sqlite:///{good['data_dir'] / 'errand.db'}")
    migrate.upgrade(engine)
    with engine.begin() as conn:  # as a later release's migration leaves it
        conn.execute(sa.text("UPDATE alembic_version SET version_num = 'f00d'"))
    engine.dispose()
    status, out = _check(capsys, **good)
    assert status == 1
    [line] = _fail_lines(out)
    assert "newer than this release" in line


def test_database_unreachable(capsys, good):
    # a driver that is not installed, the usual mistake with a hand-written DATABASE_URL
    status, out = _check(capsys, **{**good, "database_url": "postgresql+nosuchdriver://db/errand"})
    assert status == 1
    [line] = _fail_lines(out)
    assert "database: cannot open it" in line and "DATABASE_URL" in line


def test_good_configuration_passes_against_the_emulator(capsys, good):
    """The same check against the project's Bot API emulator, as the sandbox and e2e tests use."""
    from bot.sandbox.emulator import BotApiEmulator

    with BotApiEmulator() as emulator:
        status, out = _check(
            capsys, **{**good, "bot_token": emulator.token, "telegram_api_url": emulator.url}
        )
        assert emulator.token.split(":")[1] not in out
    assert status == 0, out
    assert f"@{emulator.bot_username}" in out


def test_big_uploads_without_a_local_bot_api_server(capsys, good):
    # getMe is not reached here (no network in tests): the token is unset, so only two FAILs
    status, out = _check(
        capsys,
        **{
            **good,
            "bot_token": None,
            "max_upload_mb": 2000,
            "telegram_api_url": "https://api.telegram.org",
        },
    )
    assert status == 1
    assert any(
        "MAX_UPLOAD_MB=2000 needs a local Bot API server" in line for line in _fail_lines(out)
    )
    # the same limit with a local server (the stub) is fine
    status, out = _check(capsys, **{**good, "max_upload_mb": 2000})
    assert status == 0, out
    assert "up to 2000 MB" in out


@pytest.mark.e2e
def test_webhook_without_secret_is_a_bad_setting(tmp_path):
    result = _cli(
        tmp_path,
        {
            "BOT_TOKEN": GOOD_TOKEN,
            "DATA_DIR": str(tmp_path / "d"),
            "WEBHOOK_URL": "https://bot.example.org/tg",
        },
    )
    assert result.returncode == 2
    assert "WEBHOOK_SECRET" in result.stderr and "Traceback" not in result.stderr


def _cli(tmp_path, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    return subprocess.run(
        [sys.executable, "-m", "bot", "check"],
        cwd=tmp_path,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.e2e
@pytest.mark.timeout(90)
def test_cli_exit_codes(tmp_path, api_url):
    """The real command, as Docker's HEALTHCHECK runs it: 0 when good, 1 on a problem, 2 on a
    bad setting (with one line naming it)."""
    base = {"TELEGRAM_API_URL": api_url, "DATA_DIR": str(tmp_path / "d"), "DISK_RESERVE_MB": "1"}
    ok = _cli(tmp_path, {**base, "BOT_TOKEN": GOOD_TOKEN})
    assert ok.returncode == 0, ok.stdout + ok.stderr
    rejected = _cli(tmp_path, {**base, "BOT_TOKEN": OTHER_TOKEN})
    assert rejected.returncode == 1 and "FAIL" in rejected.stdout
    bad = _cli(tmp_path, {**base, "BOT_TOKEN": "not-a-token"})
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [bad.stderr.strip()] and "BOT_TOKEN" in bad.stderr
    for run in (ok, rejected, bad):
        assert GOOD_TOKEN not in run.stdout + run.stderr
        assert OTHER_TOKEN not in run.stdout + run.stderr


@pytest.mark.e2e
@pytest.mark.timeout(90)
@pytest.mark.parametrize("part", ["errand.db", "errand.db-wal"])
def test_read_only_database_is_not_healthy(tmp_path, api_url, part):
    """A database restored as another user (``docker cp`` makes it root's) reads fine but every
    write fails: ``check`` says so instead of "all good", and changes nothing while checking."""
    from bot.storage import open_database

    data = tmp_path / "d"
    data.mkdir()
    engine, _ = open_database(f"sqlite:///{data / 'errand.db'}")
    engine.dispose()
    env = {
        "TELEGRAM_API_URL": api_url,
        "DATA_DIR": str(data),
        "DISK_RESERVE_MB": "1",
        "BOT_TOKEN": GOOD_TOKEN,
    }
    prefix = without_root_powers()
    clean = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}

    def check() -> subprocess.CompletedProcess:
        return subprocess.run(
            [*prefix, sys.executable, "-m", "bot", "check"],
            cwd=tmp_path,
            env={**clean, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )

    healthy = check()
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    (data / "errand.db-wal").touch()  # as a copy taken mid-write could bring along
    (data / part).chmod(0o444)
    before = sorted(
        (p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in data.iterdir() if p.is_file()
    )
    result = check()
    assert result.returncode == 1, result.stdout + result.stderr
    [line] = _fail_lines(result.stdout)
    assert f"database: {data / part} is read-only for this user" in line
    assert "docs/deploy.md, Restore" in line
    after = sorted(
        (p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in data.iterdir() if p.is_file()
    )
    assert after == before  # nothing created, nothing written
