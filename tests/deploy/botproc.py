"""Start the e2e harness's bot process with another command line or readiness condition.

``tests.e2e.harness.BotProcess.start`` runs ``errandbot run`` and waits until it polls; the
deployment tests also need a bot that never polls (webhook mode) and one started through a
sandboxing wrapper. They share this one launcher so that output, clean-up and the token-leak
check stay the harness's.
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from bot.sandbox.emulator import BotApiEmulator
from tests.e2e.harness import ERRANDBOT, BotProcess


def launch(
    bot: BotProcess,
    ready: Callable[[], bool],
    what: str,
    *,
    prefix: tuple[str, ...] = (),
    new_session: bool = False,
    timeout: float = 20.0,
) -> BotProcess:
    """Run ``prefix + (errandbot, run)`` for ``bot`` and wait (with a deadline) until
    ``ready()``. ``new_session`` gives the process its own process group, so that a test can
    signal it with its children (a machine that dies takes the download children too)."""
    bot.starts += 1
    with bot.log_path.open("a") as log:
        log.write(f"\n===== start {bot.starts} =====\n")
        log.flush()
        bot.proc = subprocess.Popen(
            [*prefix, ERRANDBOT, "run"],
            env=bot.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=bot.data_dir.parent,
            start_new_session=new_session,
        )

    def alive_and_ready() -> bool:
        if bot.proc.poll() is not None:
            raise RuntimeError(
                f"errandbot exited with {bot.proc.returncode}:\n{bot.output[-3000:]}"
            )
        return ready()

    bot.emulator.wait_for(alive_and_ready, timeout, what)
    return bot


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class WebhookBot(BotProcess):
    """The harness's bot process in webhook mode (WEBHOOK_URL and WEBHOOK_LISTEN in its env):
    ready when its webhook is registered and its port listens, since it never polls."""

    @property
    def port(self) -> int:
        """The loopback port it listens on (from WEBHOOK_LISTEN)."""
        return int(self.env["WEBHOOK_LISTEN"].rpartition(":")[2])

    def start(self, timeout: float = 20.0) -> WebhookBot:
        registered_before = len(self.emulator.calls_of("setWebhook"))
        port = self.port

        def listening() -> bool:
            if len(self.emulator.calls_of("setWebhook")) <= registered_before:
                return False
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return True
            except OSError:
                return False

        launch(self, listening, "the bot to register its webhook and listen", timeout=timeout)
        return self


@contextmanager
def webhook_bot_on_loopback(
    emulator: BotApiEmulator, data_dir: Path, path: str, secret: str
) -> Iterator[WebhookBot]:
    """A started bot in webhook mode that the emulator posts to directly, with no proxy between:
    it listens on a free loopback port and WEBHOOK_URL is that port and ``path``. Closed on exit,
    then checked: neither the bot token nor the webhook secret may appear in its output."""
    port = free_port()
    data_dir.mkdir()
    bot = WebhookBot(
        emulator,
        data_dir,
        {
            "WEBHOOK_URL": f"http://127.0.0.1:{port}{path}",
            "WEBHOOK_LISTEN": f"127.0.0.1:{port}",
            "WEBHOOK_SECRET": secret,
        },
    )
    bot.start()
    try:
        yield bot
    finally:
        bot.close()
    output = bot.output
    assert emulator.token.split(":", 1)[1] not in output, "the bot token leaked into its output"
    assert secret not in output, "the webhook secret leaked into the bot's output"
