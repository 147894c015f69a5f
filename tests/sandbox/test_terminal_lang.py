"""The sandbox's ``:lang CODE`` makes the simulated user a Telegram user of that language."""

from __future__ import annotations

import io

from bot.sandbox.emulator import BotApiEmulator
from bot.sandbox.terminal import SANDBOX_USER, TerminalChat


def test_lang_sets_and_clears_the_users_language_code() -> None:
    with BotApiEmulator() as emulator:
        out = io.StringIO()
        chat = TerminalChat(emulator, out)
        assert chat.handle(":lang zh")
        assert emulator.user(SANDBOX_USER)["language_code"] == "zh"
        assert chat.handle("/help")
        assert chat.last_sent.raw["from"]["language_code"] == "zh"  # what the bot receives
        assert chat.handle(":lang none")
        assert "language_code" not in emulator.user(SANDBOX_USER)
        assert "Telegram language is now zh" in out.getvalue()
