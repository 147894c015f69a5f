"""``errandbot`` without a token: the sandbox chat, driven by a script as a person would type."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ERRANDBOT = str(Path(sys.executable).with_name("errandbot"))


@pytest.mark.timeout(90)
def test_no_token_starts_sandbox_and_chats(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("BOT_TOKEN", "ALLOWED_USERS")}
    script = "/start\n:as 43 group -1001\n/help@errand_test_bot\n:as 666\n/start\n:quit\n"
    result = subprocess.run([ERRANDBOT], input=script, env=env, cwd=tmp_path, capture_output=True,
                            text=True, timeout=80)
    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert out.splitlines()[0] == "errandbot: sandbox (no BOT_TOKEN)"
    assert "[private] bot: 👋 I'm Errand" in out
    assert "[group -1001] bot: Commands:" in out
    assert "Your user id is 666" in out
    assert "Traceback" not in out + result.stderr
    assert (tmp_path / "data" / "sandbox" / "bot.log").exists()
