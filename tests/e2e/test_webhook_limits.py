"""The webhook server judges a request by its headers before reading its body (issue #13).

Before, the server buffered bodies of up to 100 MB and only then checked the secret: 8
concurrent 95 MB POSTs without a secret took the bot from 78 to 714 MB.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.sandbox.emulator import BotApiEmulator
from tests.deploy.botproc import WebhookBot, webhook_bot_on_loopback
from tests.e2e.harness import USER
from tests.procmem import status_kib

pytestmark = pytest.mark.timeout(120)

SECRET = "webhook-secret-for-the-limits-test_987"
PATH = "/hook"


@pytest.fixture
def webhook_bot(emulator: BotApiEmulator, tmp_path: Path) -> Iterator[WebhookBot]:
    with webhook_bot_on_loopback(emulator, tmp_path / "data", PATH, SECRET) as bot:
        yield bot


def status_after_headers(port: int, headers: dict[str, str]) -> int:
    """Send only the request line and headers; the answer must come without any body sent."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        head = f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        sock.sendall(head.encode())
        answer = sock.recv(4096).decode("latin-1")
    return int(answer.split()[1])


def rss_kb(pid: int) -> int:
    return status_kib(pid, "VmRSS")["VmRSS"]


def test_no_secret_is_refused_before_the_body_is_read(webhook_bot: WebhookBot) -> None:
    assert status_after_headers(webhook_bot.port, {"Content-Length": str(95 * 1024 * 1024)}) == 403


def test_a_body_over_1_mb_is_refused_from_its_length(webhook_bot: WebhookBot) -> None:
    headers = {"Content-Length": str(2 * 1024 * 1024), "X-Telegram-Bot-Api-Secret-Token": SECRET}
    assert status_after_headers(webhook_bot.port, headers) == 413


def test_big_bodies_without_secret_do_not_grow_the_bot(
    emulator: BotApiEmulator, webhook_bot: WebhookBot
) -> None:
    port, pid = webhook_bot.port, webhook_bot.proc.pid
    before = rss_kb(pid)
    chunk = b"x" * (1024 * 1024)

    def flood() -> None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(
                    (
                        f"POST {PATH} HTTP/1.1\r\nHost: x\r\n"
                        f"Content-Length: {95 * 1024 * 1024}\r\n\r\n"
                    ).encode()
                )
                for _ in range(95):
                    sock.sendall(chunk)
        except OSError:
            pass  # the server closed the connection: what we want

    threads = [threading.Thread(target=flood) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    grew_mb = (rss_kb(pid) - before) / 1024
    assert grew_mb < 30, f"the bot grew by {grew_mb:.0f} MB"
    # And it still answers real updates.
    sent = emulator.send_text(USER, USER, "/help")
    assert "/timer" in emulator.wait_reply(USER, sent, timeout=20).text
