"""The emulator delivers updates to a webhook as Telegram does (issue #16): POSTed as JSON with
the secret header, retried with growing waits until a 2xx, nothing lost while the receiver is
down, several at once up to ``max_connections`` but each chat's one after another, ``getUpdates``
refused with 409 while a webhook is set, and ``getWebhookInfo`` telling what is pending and the
last error.

Every call goes over HTTP to the real emulator; the receiver is a real HTTP server on loopback.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from bot.sandbox.emulator import BotApiEmulator

pytestmark = pytest.mark.timeout(60)

SECRET = "the-webhook-secret_42"


@dataclass
class Received:
    update_id: int
    chat_id: int
    secret: str | None
    content_type: str
    started: float
    ended: float = 0.0


@dataclass
class Receiver:
    """A webhook receiver: answers each POST with the next of ``statuses`` (then 200), after
    ``hold`` seconds; records what it took."""

    statuses: list[int] = field(default_factory=list)
    hold: float = 0.0
    got: list[Received] = field(default_factory=list)
    busy: int = 0
    most_busy: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                chat = next(v for k, v in body.items() if k != "update_id")["chat"]["id"]
                seen = Received(
                    body["update_id"],
                    chat,
                    self.headers.get("X-Telegram-Bot-Api-Secret-Token"),
                    self.headers.get("Content-Type", ""),
                    time.monotonic(),
                )
                with receiver.lock:
                    receiver.busy += 1
                    receiver.most_busy = max(receiver.most_busy, receiver.busy)
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                time.sleep(receiver.hold)  # the receiver's own pace, not the test waiting
                with receiver.lock:
                    receiver.busy -= 1
                    seen.ended = time.monotonic()
                    if 200 <= status < 300:
                        receiver.got.append(seen)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        return Handler


def serve(receiver: Receiver, port: int = 0) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", port), receiver.handler())
    server.daemon_threads = True
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    return server


def stop(server: ThreadingHTTPServer) -> None:
    server.shutdown()
    server.server_close()


def api(emulator: BotApiEmulator, method: str, **params: object) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{emulator.url}/bot{emulator.token}/{method}",
        data=json.dumps(params).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def until(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Like ``emulator.wait_for``, for predicates that call the API over HTTP (``wait_for``
    holds the emulator's lock, which the API's own thread needs)."""
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)
    return result


@pytest.fixture
def emulator() -> Iterator[BotApiEmulator]:
    with BotApiEmulator() as emu:
        emu.retry_first, emu.retry_cap = 0.05, 0.4
        yield emu


def url_of(server: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/hook"


def test_updates_are_posted_with_the_secret_and_getupdates_refused(
    emulator: BotApiEmulator,
) -> None:
    receiver = Receiver()
    server = serve(receiver)
    try:
        assert api(emulator, "setWebhook", url=url_of(server), secret_token=SECRET)[0] == 200
        status, answer = api(emulator, "getUpdates", timeout=0)
        assert status == 409 and "webhook is active" in answer["description"]
        emulator.send_text(42, 42, "/help")
        emulator.wait_for(lambda: receiver.got, 10, "the delivery")
        assert receiver.got[0].secret == SECRET
        assert receiver.got[0].content_type == "application/json"
        assert api(emulator, "getWebhookInfo")[1]["result"]["pending_update_count"] == 0
    finally:
        stop(server)
    # Back to polling: the queue is kept for getUpdates.
    assert api(emulator, "deleteWebhook")[0] == 200
    emulator.send_text(42, 42, "/timer 5")
    status, answer = api(emulator, "getUpdates", timeout=0)
    assert status == 200 and [u["message"]["text"] for u in answer["result"]] == ["/timer 5"]


def test_nothing_is_lost_while_the_receiver_is_down(emulator: BotApiEmulator) -> None:
    receiver = Receiver()
    server = serve(receiver)
    port = server.server_address[1]
    url = url_of(server)
    stop(server)  # the bot is down: its port refuses connections
    api(emulator, "setWebhook", url=url, secret_token=SECRET)
    for n in range(5):
        emulator.send_text(42 + n % 2, 42 + n % 2, f"/timer {n + 1}")

    def refused() -> dict | None:
        if len({update_id for update_id, _ in list(emulator.webhook_deliveries)}) < 2:
            return None  # each chat's first update tried once
        info = api(emulator, "getWebhookInfo")[1]["result"]
        return info if info.get("last_error_message") == "Connection refused" else None

    info = until(refused, 10, "a refused delivery reported")
    assert info["pending_update_count"] == 5
    assert info["last_error_date"] >= int(time.time()) - 10
    failed_before = len(emulator.webhook_deliveries)

    server = serve(receiver, port)  # the bot is back on the same port
    try:
        emulator.wait_for(lambda: len(receiver.got) == 5, 15, "every update delivered")
        assert sorted(r.update_id for r in receiver.got) == [1, 2, 3, 4, 5]
        assert api(emulator, "getWebhookInfo")[1]["result"]["pending_update_count"] == 0
        # Each chat's oldest update was tried and refused; the chat's later ones waited behind it.
        assert failed_before >= 2
        assert all(status == 0 for _, status in emulator.webhook_deliveries[:failed_before])
        for chat in (42, 43):
            mine = [r.update_id for r in receiver.got if r.chat_id == chat]
            assert mine == sorted(mine)
    finally:
        stop(server)


def test_an_error_status_is_retried_with_growing_waits(emulator: BotApiEmulator) -> None:
    receiver = Receiver(statuses=[502, 500, 503])
    server = serve(receiver)
    try:
        api(emulator, "setWebhook", url=url_of(server))
        emulator.send_text(42, 42, "/help")
        emulator.wait_for(lambda: receiver.got, 15, "the delivery after three failures")
        assert [status for _, status in emulator.webhook_deliveries] == [502, 500, 503, 200]
        info = api(emulator, "getWebhookInfo")[1]["result"]
        assert (
            info["last_error_message"] == "Wrong response from the webhook: 503 Service Unavailable"
        )
    finally:
        stop(server)


def test_parallel_up_to_max_connections_but_each_chat_in_order(emulator: BotApiEmulator) -> None:
    receiver = Receiver(hold=0.2)
    server = serve(receiver)
    try:
        api(emulator, "setWebhook", url=url_of(server), max_connections=2)
        chats = (42, 43, 44)
        for n in range(4):
            for chat in chats:
                emulator.send_text(chat, chat, f"/timer {n + 1}")
        emulator.wait_for(lambda: len(receiver.got) == 12, 20, "every update delivered")
    finally:
        stop(server)
    assert receiver.most_busy == 2  # two at once, never more
    for chat in chats:
        mine = [r for r in receiver.got if r.chat_id == chat]
        assert [r.update_id for r in mine] == sorted(r.update_id for r in mine)
        for earlier, later in zip(mine, mine[1:], strict=False):
            assert later.started >= earlier.ended  # the chat's next waited for the 2xx


def test_a_chat_waits_for_its_failed_update_while_others_go_on(emulator: BotApiEmulator) -> None:
    receiver = Receiver(statuses=[500, 500])  # the first two POSTs fail: chat 42's first update
    server = serve(receiver)
    try:
        api(emulator, "setWebhook", url=url_of(server), max_connections=1)
        emulator.send_text(42, 42, "/timer 1")
        emulator.wait_for(lambda: emulator.webhook_deliveries, 10, "the first (failed) try")
        emulator.send_text(42, 42, "/timer 2")
        emulator.send_text(43, 43, "/timer 3")
        emulator.wait_for(lambda: len(receiver.got) == 3, 15, "every update delivered")
    finally:
        stop(server)
    order = [(r.chat_id, r.update_id) for r in receiver.got]
    assert order.index((42, 1)) < order.index((42, 2))


def test_setwebhook_refuses_what_telegram_or_the_sandbox_would(emulator: BotApiEmulator) -> None:
    for params, words in (
        ({"url": "http://192.0.2.1/hook"}, "loopback"),
        ({"url": "ftp://127.0.0.1/hook"}, "loopback"),
        ({"url": "http://127.0.0.1:9/hook", "secret_token": "no spaces"}, "secret token"),
        ({"url": "http://127.0.0.1:9/hook", "max_connections": 101}, "max_connections"),
    ):
        status, answer = api(emulator, "setWebhook", **params)
        assert status == 400 and words in answer["description"], params
    assert emulator.webhook == {}


def test_drop_pending_updates_and_allowed_updates(emulator: BotApiEmulator) -> None:
    receiver = Receiver()
    server = serve(receiver)
    try:
        emulator.send_text(42, 42, "/old")
        api(
            emulator,
            "setWebhook",
            url=url_of(server),
            drop_pending_updates=True,
            allowed_updates=["callback_query"],
        )
        emulator.send_text(42, 42, "/not-wanted")
        assert api(emulator, "getWebhookInfo")[1]["result"]["allowed_updates"] == ["callback_query"]
        emulator.wait_for(lambda: emulator.pending_updates() == 0, 10, "the message dropped")
        assert receiver.got == []
    finally:
        stop(server)


def test_a_second_getupdates_ends_the_first_with_409(emulator: BotApiEmulator) -> None:
    answers: list[int] = []
    first = threading.Thread(
        target=lambda: answers.append(api(emulator, "getUpdates", timeout=5)[0])
    )
    first.start()
    emulator.wait_for(lambda: emulator.calls_of("getUpdates"), 10, "the first poll")
    assert api(emulator, "getUpdates", timeout=0)[0] == 200
    first.join(10)
    assert answers == [409]


def test_a_forged_update_takes_the_next_id_and_is_not_queued(emulator: BotApiEmulator) -> None:
    forged = emulator.forge_update(42, 42, "/help")
    assert forged["message"]["text"] == "/help"
    assert forged["message"]["entities"][0]["type"] == "bot_command"
    assert emulator.pending_updates() == 0
    emulator.send_text(42, 42, "/timer 5")
    queued = api(emulator, "getUpdates", timeout=0)[1]["result"]
    assert [u["update_id"] for u in queued] == [forged["update_id"] + 1]


def test_slow_down_delays_the_next_answers_only(emulator: BotApiEmulator) -> None:
    emulator.slow_down("getMe", 1.0)
    started = time.monotonic()
    assert api(emulator, "getMe")[0] == 200
    assert time.monotonic() - started >= 1.0
    started = time.monotonic()
    assert api(emulator, "getMe")[0] == 200
    assert time.monotonic() - started < 1.0
