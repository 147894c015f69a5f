"""A Chinese-speaking user is told why a download failed in Chinese, end to end (issue #11).

The real bot against the emulator and a real local origin: an origin that answers 404, an address
the net guard refuses, and a server without ranges (the "using one connection" notice while it
runs), and the reasons that fail fast (a refused port, a name that does not resolve, a self-signed
certificate). The reasons are codes in the core; the chat layer words them; the job row keeps the
code, so /downloads words it again later.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess

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
    assert text == "❌ d1 · 127.0.0.1/gone.bin：服务器返回 HTTP 404 Not Found", text

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


@pytest.fixture
def self_signed(tmp_path) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1, made as an operator would with openssl."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (apt-get install openssl)")
    cert, key = str(tmp_path / "self.pem"), str(tmp_path / "self.key")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"]
        + ["-keyout", key, "-out", cert, "-subj", "/CN=localhost"]
        + ["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_fail_fast_reasons_read_in_chinese_with_full_width_punctuation(
    emulator: BotApiEmulator, make_bot, self_signed: tuple[str, str]
) -> None:
    """A refused port, a name that does not resolve and a self-signed certificate: the reason in
    Chinese, the OS's and OpenSSL's English words included, after a full-width colon."""
    make_bot()
    emulator.set_user_language(USER, "zh-hans")
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with Origin(tls=self_signed) as tls:
        tls.add_file("/t.bin", b"x" * 1000)
        cases = {
            f"http://127.0.0.1:{port}/x.bin": "连接被拒绝",
            "http://no-such-host.example/x.bin": "无法解析 no-such-host.example（",
            tls.url("/t.bin"): "证书不受信任：自签名证书",
        }
        for url, reason in cases.items():
            status = status_of(emulator, emulator.send_text(USER, USER, f"/download {url}"))
            text = final(emulator, status, "❌")
            head, _, said = text.partition("：")
            assert head.startswith("❌ d") and said.startswith(reason), text
            assert not re.search(r"[A-Za-z]{3,}", said.replace("no-such-host.example", "")), text
