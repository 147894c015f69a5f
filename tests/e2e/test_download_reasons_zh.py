"""A Chinese-speaking user is told why a download failed in Chinese, end to end (issue #11).

The real bot against the emulator and a real local origin: an origin that answers 404, an address
the net guard refuses, and a server without ranges (the "using one connection" notice while it
runs). The reasons are codes in the core; the chat layer words them; the job row keeps the code,
so /downloads words it again later.
"""

from __future__ import annotations

import re

import pytest

from bot.sandbox.emulator import BotApiEmulator, Message
from tests.e2e.harness import USER
from tests.origin import Origin

pytestmark = pytest.mark.timeout(120)

HAN = re.compile(r"[\u4e00-\u9fff]")


def status_of(emulator: BotApiEmulator, request: Message) -> Message:
    return emulator.wait_reply(USER, request)


def final(emulator: BotApiEmulator, status: Message, needle: str) -> str:
    def text() -> str | None:
        shown = emulator.get_message(USER, status.message_id).text or ""
        return shown if needle in shown else None

    return emulator.wait_for(text, 60, f"{needle!r} in the status")


def test_http_404_and_a_private_address_are_worded_in_chinese(
    emulator: BotApiEmulator, make_bot, origin: Origin
) -> None:
    # Loopback allowed for the origin's port only through a narrower network: 127.0.0.2 stays refused.
    make_bot(download_allow_networks="127.0.0.1/32")
    emulator.set_user_language(USER, "zh-hans")

    missing = status_of(
        emulator, emulator.send_text(USER, USER, f"/download {origin.url('/gone.bin')}")
    )
    text = final(emulator, missing, "❌")
    assert text == "❌ d1 · 127.0.0.1/gone.bin: 服务器返回 HTTP 404 Not Found", text

    private = status_of(
        emulator, emulator.send_text(USER, USER, f"/download http://127.0.0.2:{origin.port}/x.bin")
    )
    text = final(emulator, private, "❌")
    assert text.endswith("已拒绝：127.0.0.2 是内网地址（不允许访问）"), text

    # The reason is kept as a code: /downloads words it in the reader's language, later.
    listing = emulator.wait_reply(USER, emulator.send_text(USER, USER, "/downloads")).text
    assert "服务器返回 HTTP 404 Not Found" in listing and "是内网地址（不允许访问）" in listing, (
        listing
    )
    emulator.wait_reply(USER, emulator.send_text(USER, USER, "/lang en"))
    listing = emulator.wait_reply(USER, emulator.send_text(USER, USER, "/downloads")).text
    assert (
        "❌ HTTP 404 Not Found" in listing
        and "refused: 127.0.0.2 is a private address (not allowed)" in listing
    )


def test_one_connection_notice_and_retries_in_chinese(
    emulator: BotApiEmulator, make_bot, origin: Origin
) -> None:
    make_bot(progress_interval="1")
    emulator.set_user_language(USER, "zh-hans")
    origin.add_file(
        "/plain.bin",
        bytes(range(256)) * 2048,
        ranges=False,
        rate=96 * 1024,
        fail_status=503,
        fail_times=1,
    )  # 512 KiB over about 5 s, after one 503
    status = status_of(
        emulator, emulator.send_text(USER, USER, f"/download {origin.url('/plain.bin')}")
    )
    final(emulator, status, "✅")
    history = [entry[1] or "" for entry in emulator.get_message(USER, status.message_id).history]
    assert any("ℹ️ 改用单连接：服务器不支持分段下载" in text for text in history), history
    assert any(
        "🔁 重试中" in text and "服务器返回 HTTP 503 Service Unavailable" in text
        for text in history
    ), history
    assert not any("using one connection" in text or "Retrying" in text for text in history), (
        history
    )


def test_a_bad_link_and_a_quota_refusal_are_worded_in_chinese(
    emulator: BotApiEmulator, make_bot, origin: Origin
) -> None:
    """Refusals before a download starts: the link's scheme (checked by the chat's parser) and the
    daily quota (the service's limits) come as codes too, not as the core's English."""
    origin.add_file("/big.bin", b"x" * (3 * 1024 * 1024))
    make_bot(download_allow_networks="127.0.0.1/32", daily_quota_mb="1")
    emulator.set_user_language(USER, "zh-hans")

    reply = emulator.wait_reply(
        USER, emulator.send_text(USER, USER, "/download ftp://example.com/file")
    ).text
    first_line = reply.splitlines()[0]
    assert HAN.search(first_line) and not re.search(r"\b(only|URLs?|can|be)\b", first_line), reply

    status = status_of(
        emulator, emulator.send_text(USER, USER, f"/download {origin.url('/big.bin')}")
    )
    text = final(emulator, status, "❌")
    assert HAN.search(text) and not re.search(r"\b(quota|used|left|today)\b", text, re.I), text
