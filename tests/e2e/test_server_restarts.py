"""A server that restarts in the middle of a ``/download`` (issue #12, session 6): the chat's
status says the download is retrying ("connection refused"), and the file arrives once the server
is back. Real bot process, the emulator, and the origin in a process of its own
(tests/origin_process.py), killed and started again on the same port."""

from __future__ import annotations

import pytest

from tests.e2e import test_downloads as chat
from tests.e2e.harness import USER
from tests.origin_process import OriginProcess

pytestmark = pytest.mark.timeout(150)


def test_the_status_says_retrying_while_the_server_restarts_then_the_file_arrives(
    emulator, make_bot, tmp_path
) -> None:
    data = chat.payload(2_400_000, seed=31)
    file = tmp_path / "served.bin"
    file.write_bytes(data)
    # 8 tries: the waits grow to 16 s, far longer than this restart takes even on a busy machine.
    make_bot(progress_interval="1", download_max_retries="7")
    with OriginProcess(file, rate=40_000) as server:
        port = server.start(flowing=len(data) // 4)
        sent = emulator.send_text(USER, USER, f"/download {server.url()}")
        status = chat.status_for(emulator, USER, sent)
        server.wait_flowing(60)
        server.kill()

        def retrying_refused() -> str | None:
            text = emulator.get_message(status.chat_id, status.message_id).text or ""
            return text if "Retrying" in text and "connection refused" in text else None

        shown = emulator.wait_for(retrying_refused, 30, "the status to say it retries")
        server.start(port)
        document = chat.document_for(emulator, USER, sent, timeout=90)
    assert document.document["sha256"] == chat.sha(data)
    assert "🔁 Retrying, " in shown and " of 8: connection refused" in shown, shown
    chat.wait_text(emulator, status, "✅")
    texts = chat.texts_of(emulator, status)
    assert not any(t.startswith("❌") for t in texts), texts  # never shown as failed
