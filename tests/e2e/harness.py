"""Run the real ``errandbot run`` process against the Bot API emulator.

An end-to-end test gets an :class:`~bot.sandbox.emulator.BotApiEmulator` (in this process, on
loopback) and a :class:`BotProcess`: the unchanged ``errandbot`` console script in a subprocess,
with its own ``DATA_DIR`` (a real SQLite file) and its output captured to a file. Tests act as users
through the emulator and wait for replies with a deadline (``emulator.wait_reply``); they can stop
the bot with SIGTERM, ``kill -9`` it, and start it again on the same data.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from bot.sandbox.emulator import BotApiEmulator, Message

ERRANDBOT = str(Path(sys.executable).with_name("errandbot"))

#: Users and chats the default environment allows; ADMIN is in ADMIN_USERS; STRANGER in neither.
USER, OTHER, ADMIN, STRANGER = 42, 43, 1, 666
GROUP = -100123
#: What ``errandbot worker`` logs once it takes jobs (bot.work.process).
WORKER_READY = "worker running; stop it with SIGTERM"


def is_ring(message: Message) -> bool:
    """A timer's or reminder's ring: a message with its snooze buttons."""
    return any("snooze" in button.get("callback_data", "") for button in message.buttons)


def rings_of(emulator: BotApiEmulator, chat_id: int, command: Message) -> list[Message]:
    """The rings of the timer or reminder that ``command`` set in ``chat_id`` (replies to it)."""
    return [
        m for m in emulator.bot_messages(chat_id) if m.reply_to == command.message_id and is_ring(m)
    ]


def all_answered(emulator: BotApiEmulator, commands: Mapping[int, Message]) -> bool:
    """Whether the bot replied to each of ``commands`` (by the chat each was sent in)."""
    return all(
        any(m.reply_to == command.message_id for m in emulator.bot_messages(chat))
        for chat, command in commands.items()
    )


class BotProcess:
    """One ``errandbot run`` subprocess (or ``command="worker"``: ``errandbot worker``, PostgreSQL
    mode); :meth:`start` again after :meth:`kill` to test restarts."""

    def __init__(
        self,
        emulator: BotApiEmulator,
        data_dir: Path,
        env: dict[str, str] | None = None,
        command: str = "run",
    ):
        self.emulator = emulator
        self.command = command
        self.data_dir = data_dir
        self.log_path = data_dir.parent / f"{data_dir.name}-bot.log"
        self.env = {
            **{
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("BOT_", "DOWNLOAD_", "MAX_"))
            },
            "BOT_TOKEN": emulator.token,
            "TELEGRAM_API_URL": emulator.url,
            "DATA_DIR": str(data_dir),
            "ALLOWED_USERS": f"{USER},{OTHER},{GROUP}",
            "ADMIN_USERS": str(ADMIN),
            "DOWNLOAD_ALLOW_NETWORKS": "127.0.0.0/8",
            "LOG_LEVEL": "DEBUG",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self, timeout: float = 20.0) -> BotProcess:
        """Start the bot and wait until it polls for updates (it is then ready for messages); a
        worker, until it says it runs."""
        polls_before = len(self.emulator.calls_of("getUpdates"))
        self.starts += 1
        log = self.log_path.open("a")
        log.write(f"\n===== start {self.starts} =====\n")
        log.flush()
        self.proc = subprocess.Popen(
            [ERRANDBOT, self.command],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.data_dir.parent,
            start_new_session=True,  # its own process group, which terminate_group() signals
        )
        log.close()

        def ready() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"errandbot exited with {self.proc.returncode}:\n{self.output[-3000:]}"
                )
            if self.command == "worker":
                return self.output.count(WORKER_READY) >= self.starts
            return len(self.emulator.calls_of("getUpdates")) > polls_before

        self.emulator.wait_for(ready, timeout, "the bot to start polling")
        return self

    @property
    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def terminate(self, timeout: float = 10.0) -> float:
        """SIGTERM; wait for exit within ``timeout`` and return how long it took."""
        assert self.proc is not None
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout)
        return time.monotonic() - started

    def terminate_group(self, timeout: float = 10.0) -> float:
        """SIGTERM to the bot's whole process group (as ``systemctl stop`` without KillMode or
        ``docker stop`` do); wait for the bot to exit and return how long it took."""
        assert self.proc is not None
        started = time.monotonic()
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout)
        return time.monotonic() - started

    def kill(self) -> None:
        """``kill -9``: no clean-up of any kind, as in a crash."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def close(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
