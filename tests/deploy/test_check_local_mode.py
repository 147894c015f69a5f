"""``errandbot check`` with TELEGRAM_LOCAL_MODE: files go to the Bot API server by path, so the
server must be a local one and able to read DOWNLOAD_DIR at the same path.

The Bot API is the project's emulator on loopback (getMe works); folders are made under a fresh
/tmp folder whose every parent other users can pass through, so that the modes set here are the
only thing that can make the check warn.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import load_settings
from bot.health import run_check
from bot.sandbox.emulator import BotApiEmulator


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="errand-check-", dir="/tmp"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def emulator() -> Iterator[BotApiEmulator]:
    with BotApiEmulator(local_mode=True) as emu:
        yield emu


def _check(capsys, emulator: BotApiEmulator, data: Path, **overrides) -> tuple[int, list[str]]:
    settings = load_settings(
        bot_token=emulator.token,
        telegram_api_url=emulator.url,
        data_dir=data,
        disk_reserve_mb=1,
        telegram_local_mode=True,
        _env_file=None,
        **overrides,
    )
    status = run_check(settings)
    return status, [line.strip() for line in capsys.readouterr().out.splitlines()]


def _line(lines: list[str], name: str) -> str:
    [line] = [line for line in lines if f" {name}: " in line]
    return line


def test_local_mode_with_a_readable_download_folder_passes(capsys, emulator, open_tmp) -> None:
    status, lines = _check(capsys, emulator, open_tmp / "data")
    assert status == 0, lines
    line = _line(lines, "local mode")
    assert line.startswith("ok") and f"sent by path under {open_tmp / 'data' / 'downloads'}" in line
    assert lines[-1] == "all good"


def test_download_folder_only_its_owner_may_read_is_a_warning(capsys, emulator, open_tmp) -> None:
    downloads = open_tmp / "downloads"
    downloads.mkdir(mode=0o700)
    downloads.chmod(0o700)
    status, lines = _check(capsys, emulator, open_tmp / "data", download_dir=downloads)
    assert status == 0, lines  # a warning: the server may run as the same user
    line = _line(lines, "local mode")
    assert line.startswith("warn")
    assert f"{downloads} (mode 0700) lets only its owner in" in line and "its group" in line
    assert lines[-1] == "all good, 1 warning(s)"


def test_parent_folder_closed_to_others_is_a_warning(capsys, emulator, open_tmp) -> None:
    closed = open_tmp / "private"
    (closed / "downloads").mkdir(parents=True)
    (closed / "downloads").chmod(0o755)
    closed.chmod(0o700)
    try:
        status, lines = _check(
            capsys, emulator, open_tmp / "data", download_dir=closed / "downloads"
        )
    finally:
        closed.chmod(0o755)
    assert status == 0
    assert f"{closed} (mode 0700) lets only its owner in" in _line(lines, "local mode")


def test_files_created_for_the_owner_only_are_a_warning(capsys, emulator, open_tmp) -> None:
    for folder in (open_tmp / "data", open_tmp / "data" / "downloads"):
        folder.mkdir()
        folder.chmod(0o755)  # open folders, but files made in them would not be
    previous = os.umask(0o077)
    try:
        status, lines = _check(capsys, emulator, open_tmp / "data")
    finally:
        os.umask(previous)
    assert status == 0
    line = _line(lines, "local mode")
    assert line.startswith("warn") and "umask 0077" in line


def test_local_mode_with_the_cloud_api_fails(capsys, tmp_path) -> None:
    settings = load_settings(
        bot_token=None,
        telegram_api_url="https://api.telegram.org",
        data_dir=tmp_path,
        disk_reserve_mb=1,
        telegram_local_mode=True,
        _env_file=None,
    )
    status = run_check(settings)
    lines = [line.strip() for line in capsys.readouterr().out.splitlines()]
    assert status == 1
    line = _line(lines, "local mode")
    assert (
        line.startswith("FAIL")
        and "TELEGRAM_LOCAL_MODE=true needs a telegram-bot-api server" in line
    )
