"""The bot still works under the restrictions the systemd unit imposes, as far as this machine can
apply them without systemd: no capabilities at all (CapabilityBoundingSet=), no_new_privs
(NoNewPrivileges=), and no writable-executable memory (MemoryDenyWriteExecute=, which is the
kernel's PR_SET_MDWE since Linux 6.3). The real ``errandbot run`` must start, create and upgrade
its SQLite database, talk HTTP to the Bot API (the emulator on loopback) and answer.

MemoryDenyWriteExecute is the directive most likely to break a Python program (anything that
JIT-compiles or builds ctypes/cffi callbacks), so the test first proves the rule is in force.
Skipped where setpriv or PR_SET_MDWE is unavailable.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.sandbox.emulator import BotApiEmulator
from tests.deploy.botproc import launch
from tests.e2e.harness import USER, BotProcess

pytestmark = pytest.mark.timeout(90)

SETPRIV = shutil.which("setpriv")
PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1
# Sets MDWE on itself, then becomes the command given after it (the rule survives execve).
MDWE_EXEC = (
    "import ctypes, os, sys\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    f"if libc.prctl({PR_SET_MDWE}, {PR_MDWE_REFUSE_EXEC_GAIN}, 0, 0, 0) != 0:\n"
    "    sys.exit(f'PR_SET_MDWE failed: errno {ctypes.get_errno()}')\n"
    "os.execv(sys.argv[1], sys.argv[1:])\n"
)
HARDENED = (
    SETPRIV or "setpriv",
    "--no-new-privs",
    "--bounding-set=-all",
    "--inh-caps=-all",
    sys.executable,
    "-c",
    MDWE_EXEC,
)
# Under MDWE, asking for memory that is writable and executable at once must fail.
WX_PROBE = (
    "import mmap\n"
    "try:\n"
    "    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)\n"
    "except OSError:\n"
    "    print('refused')\n"
    "else:\n"
    "    print('allowed')\n"
)


def _hardened_run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run([*HARDENED, *command], capture_output=True, text=True, timeout=30)


@pytest.fixture(scope="module")
def hardening_available() -> None:
    if not sys.platform.startswith("linux") or SETPRIV is None:
        pytest.skip("needs Linux and setpriv (util-linux)")
    probe = _hardened_run(sys.executable, "-c", WX_PROBE)
    if "PR_SET_MDWE failed" in probe.stderr:
        pytest.skip(f"this kernel has no PR_SET_MDWE (Linux >= 6.3): {probe.stderr.strip()}")
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "refused", "W+X memory allowed: the restriction is not in force"
    # and the capability bounding set is really empty in the wrapped process
    caps = _hardened_run("/bin/sh", "-c", "grep -E '^(CapBnd|NoNewPrivs)' /proc/self/status")
    assert "CapBnd:\t0000000000000000" in caps.stdout and "NoNewPrivs:\t1" in caps.stdout, caps


@pytest.fixture
def emulator() -> Iterator[BotApiEmulator]:
    with BotApiEmulator() as emu:
        yield emu


def test_bot_runs_answers_and_keeps_its_database_when_hardened(
    hardening_available, emulator: BotApiEmulator, tmp_path: Path
):
    data = tmp_path / "data"
    data.mkdir()
    bot = BotProcess(emulator, data)
    polls_before = len(emulator.calls_of("getUpdates"))
    try:
        launch(
            bot,
            lambda: len(emulator.calls_of("getUpdates")) > polls_before,
            "the hardened bot to start polling",
            prefix=HARDENED,
        )
        sent = emulator.send_text(USER, USER, "/start")
        reply = emulator.wait_reply(USER, sent, timeout=15)
        assert "Errand" in reply.text
    finally:
        bot.close()
    assert emulator.token.split(":", 1)[1] not in bot.output
    with sqlite3.connect(data / "errand.db") as db:
        [(revision,)] = db.execute("SELECT version_num FROM alembic_version").fetchall()
    from bot.db.migrate import scripts

    assert revision == scripts().get_current_head()
