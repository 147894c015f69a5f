"""The emulator's sendDocument: multipart bodies streamed to disk and hashed, its upload limit,
a client that gives up mid-body, and documents by path in local mode.

Bodies are sent with ``http.client`` so a test can stop half-way through one, as a cancelled
upload does.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import urllib.parse
from pathlib import Path

import pytest

from bot.sandbox.emulator import BotApiEmulator

CHAT = 42
BOUNDARY = "errand-test-boundary"


def multipart(fields: dict[str, str], filename: str, data: bytes) -> bytes:
    out = b""
    for name, value in fields.items():
        out += (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        ).encode()
    out += (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="document"; '
        f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()
    return out + data + f"\r\n--{BOUNDARY}--\r\n".encode()


def post(
    emulator: BotApiEmulator, body: bytes, *, send: int | None = None
) -> tuple[int, dict | None]:
    """POST a multipart body to sendDocument; with ``send``, stop after that many bytes and hang
    up."""
    host, port = urllib.parse.urlsplit(emulator.url).netloc.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.putrequest("POST", f"/bot{emulator.token}/sendDocument")
    conn.putheader("Content-Type", f"multipart/form-data; boundary={BOUNDARY}")
    conn.putheader("Content-Length", str(len(body)))
    conn.endheaders()
    if send is not None:
        conn.send(body[:send])
        conn.close()
        return 0, None
    conn.send(body)
    response = conn.getresponse()
    answer = json.loads(response.read())
    conn.close()
    return response.status, answer


@pytest.fixture
def emulator():
    with BotApiEmulator(upload_limit=4 * 1024 * 1024) as emu:
        emu.send_text(CHAT, CHAT, "hello")
        yield emu


def test_upload_is_stored_hashed_with_its_fields(emulator) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    fields = {
        "chat_id": str(CHAT),
        "caption": "naïve 文件",
        "reply_parameters": json.dumps({"message_id": 1}),
    }
    status, answer = post(emulator, multipart(fields, "ré port.bin", data))
    assert status == 200, answer
    [message] = [m for m in emulator.bot_messages(CHAT) if m.document]
    assert message.caption == "naïve 文件" and message.reply_to == 1
    assert message.document["file_name"] == "ré port.bin"
    assert message.document["sha256"] == hashlib.sha256(data).hexdigest()
    assert message.document["sent_by"] == "upload"
    assert Path(message.document["stored_at"]).read_bytes() == data


def test_over_the_limit_is_413_and_nothing_is_kept(emulator) -> None:
    status, answer = post(
        emulator, multipart({"chat_id": str(CHAT)}, "big.bin", bytes(5 * 1024 * 1024))
    )
    assert status == 413 and answer["description"] == "Request Entity Too Large"
    assert not [m for m in emulator.bot_messages(CHAT) if m.document]
    assert not list(emulator.spool().iterdir())


def test_the_limit_can_be_raised(emulator) -> None:
    emulator.upload_limit = 6 * 1024 * 1024
    status, _ = post(emulator, multipart({"chat_id": str(CHAT)}, "big.bin", bytes(5 * 1024 * 1024)))
    assert status == 200


def test_a_client_hanging_up_mid_body_leaves_no_file(emulator) -> None:
    body = multipart({"chat_id": str(CHAT)}, "cut.bin", os.urandom(2 * 1024 * 1024))
    post(emulator, body, send=len(body) // 2)
    # the handler thread sees the end of the stream and removes its temporary file
    emulator.wait_for(lambda: not list(emulator.spool().iterdir()), 10, "the partial upload to go")
    assert not emulator.calls_of("sendDocument")  # never reached the API
    status, _ = post(emulator, multipart({"chat_id": str(CHAT)}, "ok.bin", b"fine"))
    assert status == 200  # and the emulator still answers


def test_file_paths_only_in_local_mode(emulator, tmp_path) -> None:
    path = tmp_path / "on disk.bin"
    path.write_bytes(b"by path")
    body = json.dumps({"chat_id": CHAT, "document": path.as_uri()}).encode()
    host, port = urllib.parse.urlsplit(emulator.url).netloc.split(":")

    def send() -> tuple[int, dict]:
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.request(
            "POST", f"/bot{emulator.token}/sendDocument", body, {"Content-Type": "application/json"}
        )
        response = conn.getresponse()
        return response.status, json.loads(response.read())

    status, answer = send()
    assert status == 400 and "wrong file identifier" in answer["description"]
    emulator.local_mode = True
    status, answer = send()
    assert status == 200, answer
    document = answer["result"]["document"]
    assert document["file_name"] == "on disk.bin"
    [message] = [m for m in emulator.bot_messages(CHAT) if m.document]
    assert message.document["sent_by"] == "path" and message.document["path"] == str(path)
    assert message.document["sha256"] == hashlib.sha256(b"by path").hexdigest()
