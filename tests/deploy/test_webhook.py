"""Webhook mode, end to end: the real ``errandbot run`` process with WEBHOOK_URL set, against the
Bot API emulator on loopback.

The bot must register its webhook with the secret, never poll, answer updates that carry the
right ``X-Telegram-Bot-Api-Secret-Token``, and refuse (403, no reply) any without it: the
webhook port is reachable by anyone who finds it, and the secret is the only proof that a
request comes from Telegram.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.sandbox.emulator import BotApiEmulator
from tests.deploy.botproc import WebhookBot, webhook_bot_on_loopback
from tests.e2e.harness import USER

pytestmark = pytest.mark.timeout(90)

SECRET = "webhook-secret-for-the-test_0123456789"
PATH = "/errand/webhook"


@pytest.fixture
def emulator() -> Iterator[BotApiEmulator]:
    with BotApiEmulator() as emu:
        yield emu


@pytest.fixture
def webhook_bot(emulator: BotApiEmulator, tmp_path: Path) -> Iterator[WebhookBot]:
    with webhook_bot_on_loopback(emulator, tmp_path / "data", PATH, SECRET) as bot:
        yield bot


def _update(update_id: int, message_id: int, text: str) -> dict:
    """A private-chat message from USER, as Telegram would post it."""
    command = text.split()[0]
    return {
        "update_id": update_id,
        "message": {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": USER, "type": "private", "first_name": "Ann"},
            "from": {"id": USER, "is_bot": False, "first_name": "Ann"},
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(command)}],
        },
    }


def test_webhook_registered_with_the_secret(emulator: BotApiEmulator, webhook_bot: WebhookBot):
    assert emulator.webhook["url"] == webhook_bot.env["WEBHOOK_URL"]
    assert emulator.webhook["secret_token"] == SECRET
    assert emulator.calls_of("getUpdates") == []  # webhook mode never polls


def test_updates_without_the_right_secret_get_403_and_no_reply(
    emulator: BotApiEmulator, webhook_bot: WebhookBot
):
    # Forged /help updates: no secret, a wrong one, one character short.
    assert emulator.post_webhook(_update(9001, 1001, "/help"), secret=None) == 403
    assert emulator.post_webhook(_update(9002, 1002, "/help"), secret="wrong-secret") == 403
    assert emulator.post_webhook(_update(9003, 1003, "/help"), secret=SECRET[:-1]) == 403

    # A /start with the right secret, posted after them, is answered...
    assert emulator.post_webhook(_update(9004, 1004, "/start"), secret=SECRET) == 200
    greeting = emulator.wait_reply(USER, timeout=15)
    assert "Errand" in greeting.text
    # ...and by the time it is, the forged /help updates have drawn nothing (their answer would
    # start with "Commands:" and come first: updates are handled in order).
    texts = [m.text for m in emulator.bot_messages(USER)]
    assert texts == [greeting.text]
    assert "Commands:" not in greeting.text


def test_messages_delivered_by_telegram_get_replies(
    emulator: BotApiEmulator, webhook_bot: WebhookBot
):
    """The emulator's own delivery (as Telegram: every update POSTed with the registered secret)."""
    sent = emulator.send_text(USER, USER, "/help")
    reply = emulator.wait_reply(USER, sent, timeout=15)
    assert "/timer" in reply.text
    assert (1, 200) in emulator.webhook_deliveries


def test_sigterm_stops_the_webhook_server_promptly(
    emulator: BotApiEmulator, webhook_bot: WebhookBot
):
    took = webhook_bot.terminate(timeout=15)
    assert took < 10, f"stopping took {took:.1f}s"
    assert webhook_bot.proc.returncode == 0, webhook_bot.output[-2000:]
