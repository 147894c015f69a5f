"""``errandbot`` without a token: the sandbox chat, driven by a script as a person would type."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

#: Runs a real program (see tests/conftest.py): `make test-fast` skips this module.
pytestmark = pytest.mark.e2e

ERRANDBOT = str(Path(sys.executable).with_name("errandbot"))


@pytest.mark.timeout(90)
def test_no_token_starts_sandbox_and_chats(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("BOT_TOKEN", "ALLOWED_USERS")}
    script = "/start\n:as 43 group -1001\n/help@errand_test_bot\n:as 666\n/start\n:quit\n"
    result = subprocess.run(
        [ERRANDBOT], input=script, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=80
    )
    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert out.splitlines()[0] == "errandbot: sandbox (no BOT_TOKEN)"
    assert "[private] bot: 👋 I'm Errand" in out
    assert "[group -1001] bot: Commands:" in out
    assert "Your user id is 666" in out
    assert "Traceback" not in out + result.stderr
    assert (tmp_path / "data" / "sandbox" / "bot.log").exists()


def _sandbox(tmp_path: Path, script: str, *extra: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("BOT_TOKEN", "ALLOWED_USERS")}
    result = subprocess.run(
        [ERRANDBOT, "sandbox", *extra],
        input=script,
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=80,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.timeout(240)
def test_keep_starts_from_the_last_runs_state(tmp_path: Path) -> None:
    first = _sandbox(tmp_path, "/timer 1h kept-tea\n/timer 2h other\n:quit\n")
    assert "kept-tea" in first
    kept = _sandbox(tmp_path, "/timers\n:quit\n", "--keep")
    assert "Kept from the last run" in kept
    assert "t1 timer “kept-tea”" in kept and "t2 timer “other”" in kept
    # New messages were numbered after the old ones: a new timer is t3 and nothing was dropped
    # as an already-seen update.
    again = _sandbox(tmp_path, "/timer 5m third\n/timers\n:quit\n", "--keep")
    assert "t3" in again and "third" in again
    fresh = _sandbox(tmp_path, "/timers\n:quit\n")
    assert "Nothing pending" in fresh


def test_sleep_says_when_it_caps_and_output_is_drawn_above_the_prompt() -> None:
    import io

    from bot.sandbox.emulator import BotApiEmulator
    from bot.sandbox.terminal import TerminalChat

    with BotApiEmulator() as emulator:
        out = io.StringIO()
        chat = TerminalChat(emulator, out, interactive=True, max_sleep=0.05)
        chat.handle(":sleep 600")
        assert "watching for 0.05 s, the most :sleep waits" in out.getvalue()
        out.truncate(0)
        out.seek(0)
        chat.show("[private] bot: hi")
        # The line is cleared, the message printed, and the prompt drawn again below it.
        assert out.getvalue() == "\r\x1b[K[private] bot: hi\n> "
