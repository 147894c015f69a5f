"""Updates across several processes (issue #16), with the real processes on the private
PostgreSQL server:

- two ``errandbot run`` replicas in webhook mode behind nginx (one URL, round robin), the
  emulator delivering as Telegram does: an update posted to both is handled once; a chat's burst
  of commands is answered in the order sent although consecutive updates land on different
  replicas and the first reply is slow; a replica ``kill -9``ed mid-way, the next commands are
  still answered (the emulator retries until a 2xx, nginx passes to the live replica);
- updates a replica stored and left (``kill -9`` after its 200) are handled by a live one: first
  in the chat's turn when the chat writes again, else by the sweep;
- polling: a second ``errandbot run`` stands by while the first polls (no 409 between them) and
  takes over within 5 s of the first's ``kill -9``; on SQLite too (an flock beside the file),
  where a standby stops cleanly on SIGTERM.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.sandbox.emulator import BotApiEmulator
from bot.telegram.standby import POLL_KEY
from tests.deploy.botproc import WebhookBot, free_port, launch
from tests.deploy.test_nginx import NGINX
from tests.deploy.test_nginx import _nginx as nginx
from tests.e2e.harness import OTHER, USER, BotProcess

pytestmark = pytest.mark.timeout(240)

SECRET = "replicas-secret_0123456789"
PATH = "/errand/hook"


@contextmanager
def balancer(tmp: Path, port: int, upstreams: list[int]) -> Iterator[None]:
    """nginx on ``port`` passing ``PATH`` to ``upstreams`` in turn (a refused connection or a
    timeout goes to the next one, nginx's default)."""
    temp = {name: tmp / name for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for folder in temp.values():
        folder.mkdir(exist_ok=True)
    servers = "".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;\n" for p in upstreams)
    conf = tmp / "nginx.conf"
    conf.write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"worker_processes 1;\npid {tmp}/nginx.pid;\nerror_log {tmp}/error.log;\n"
        "events { worker_connections 256; }\nhttp {\n"
        f"  access_log {tmp}/access.log;\n"
        + "".join(f"  {name}_temp_path {path};\n" for name, path in temp.items())
        + f"  upstream replicas {{\n{servers}  }}\n"
        f"  server {{\n    listen 127.0.0.1:{port};\n"
        f"    location = {PATH} {{\n      proxy_pass http://replicas;\n"
        "      proxy_connect_timeout 2s;\n      proxy_read_timeout 20s;\n    }\n  }\n}\n"
    )
    with nginx(tmp, conf, port):
        yield


@pytest.fixture
def replicas(
    emulator: BotApiEmulator, tmp_path: Path, postgres_url: str
) -> Iterator[list[WebhookBot]]:
    if NGINX is None:
        pytest.skip("nginx is not installed")
    front, ports = free_port(), [free_port(), free_port()]
    bots = []
    with balancer(tmp_path, front, ports):
        try:
            for n, port in enumerate(ports):
                data = tmp_path / f"replica{n}"
                data.mkdir()
                bot = WebhookBot(
                    emulator,
                    data,
                    {
                        "DATABASE_URL": postgres_url,
                        "WEBHOOK_URL": f"http://127.0.0.1:{front}{PATH}",
                        "WEBHOOK_LISTEN": f"127.0.0.1:{port}",
                        "WEBHOOK_SECRET": SECRET,
                    },
                )
                bots.append(bot)
                bot.start(timeout=60)
            yield bots
        finally:
            for bot in bots:
                bot.close()
                assert emulator.token.split(":", 1)[1] not in bot.output, "the token leaked"


def _post(port: int, update: dict) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{PATH}",
        data=json.dumps(update).encode(),
        headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=20) as response:
        return response.status


NAMES = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot")


def _answers(emulator: BotApiEmulator, chat: int, word: str) -> list[str]:
    """The names that follow ``word`` in the bot's messages in ``chat``, in the order sent."""
    found = []
    for message in emulator.bot_messages(chat):
        named = re.search(rf"\b{word} ([a-z]+)", message.text or "")
        if named:
            found.append(named.group(1))
    return found


def test_replicas_behind_nginx_dedupe_keep_order_and_survive_a_kill(
    emulator: BotApiEmulator, replicas: list[WebhookBot]
) -> None:
    # The same update posted to both replicas at once (as a redelivery racing the first) is
    # handled once: one reply.
    update = emulator.forge_update(OTHER, OTHER, "/remind in 3h twice alpha")
    ports = [int(bot.env["WEBHOOK_LISTEN"].rpartition(":")[2]) for bot in replicas]
    statuses: list[int] = []
    threads = [
        threading.Thread(target=lambda p=p: statuses.append(_post(p, update))) for p in ports
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert statuses == [200, 200]
    emulator.wait_for(lambda: _answers(emulator, OTHER, "twice"), 30, "the forged command answered")
    emulator.wait_for(
        lambda: all(f"update {update['update_id']}" in bot.output for bot in replicas),
        30,
        "both replicas to have seen the update",
    )
    emulator.send_text(OTHER, OTHER, "/remind in 3h after alpha")  # handled after both
    emulator.wait_reply(OTHER, None, timeout=30, contains="after alpha")
    assert _answers(emulator, OTHER, "twice") == ["alpha"]

    # A burst of one chat, spread over both replicas by nginx; the first reply is slow.
    emulator.slow_down("sendMessage", 1.5)
    for name in NAMES:
        emulator.send_text(USER, USER, f"/remind in 3h burst {name}")
    emulator.wait_for(lambda: len(_answers(emulator, USER, "burst")) == 6, 60, "the burst answered")
    assert _answers(emulator, USER, "burst") == list(NAMES)
    took = [bot for bot in replicas if "handling update" in bot.output]
    assert len(took) == 2, "nginx should have passed updates to both replicas"

    # One replica is killed; the next commands are still answered, each once, in order.
    replicas[0].kill()
    for name in NAMES[:4]:
        emulator.send_text(USER, USER, f"/remind in 3h late {name}")
    emulator.wait_for(
        lambda: len(_answers(emulator, USER, "late")) == 4, 60, "the commands after the kill"
    )
    assert _answers(emulator, USER, "late") == list(NAMES[:4])
    assert emulator.pending_updates() == 0


def _left_behind(postgres_url: str, update: dict, age: float) -> None:
    """Store ``update`` as a replica does before its 200, and leave it unhandled, as a replica
    ``kill -9``ed right after its 200 does."""
    engine = sa.create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO received_requests (request_id, payload, chat_id, received_at) "
                    "VALUES (:id, :payload, :chat, :at)"
                ),
                {
                    "id": update["update_id"],
                    "payload": json.dumps(update),
                    "chat": OTHER,
                    "at": time.time() - age,
                },
            )
    finally:
        engine.dispose()


def test_updates_a_dead_replica_stored_are_taken_over(
    emulator: BotApiEmulator, replicas: list[WebhookBot], postgres_url: str
) -> None:
    # Left by a dead replica, then the chat writes again: its turn handles the older one first.
    orphan = emulator.forge_update(OTHER, OTHER, "/remind in 3h orphan alpha")
    _left_behind(postgres_url, orphan, 0)
    emulator.send_text(OTHER, OTHER, "/remind in 3h orphan bravo")
    emulator.wait_for(lambda: len(_answers(emulator, OTHER, "orphan")) == 2, 30, "both answered")
    assert _answers(emulator, OTHER, "orphan") == ["alpha", "bravo"]
    # Left by a dead replica in a chat that says nothing more: a live replica's sweep takes it.
    swept = emulator.forge_update(OTHER, OTHER, "/remind in 3h swept alpha")
    _left_behind(postgres_url, swept, 60)
    emulator.wait_for(lambda: _answers(emulator, OTHER, "swept"), 40, "the sweep")
    assert _answers(emulator, OTHER, "swept") == ["alpha"]


def _polls_since(emulator: BotApiEmulator, since: float) -> list[float]:
    return [call.at for call in emulator.calls_of("getUpdates") if call.at > since]


def test_standby_poller_takes_over_within_5_s_of_a_kill(
    emulator: BotApiEmulator, make_bot, postgres_url: str
) -> None:
    first: BotProcess = make_bot(database_url=postgres_url)
    second: BotProcess = make_bot(start=False, database_url=postgres_url)
    launch(second, lambda: "standing by" in second.output, "the second bot to stand by", timeout=60)

    # While both run, only the first polls: no poll is ended by another (409), all answered.
    sent = emulator.send_text(USER, USER, "/remind in 3h standby alpha")
    emulator.wait_reply(USER, sent, timeout=30, contains="standby alpha")
    assert [c for c in emulator.calls_of("getUpdates") if c.status == 409] == []
    assert "took over polling" not in second.output

    killed_at = time.monotonic()
    first.kill()
    emulator.wait_for(lambda: _polls_since(emulator, killed_at), 30, "the standby to poll")
    takeover = _polls_since(emulator, killed_at)[0] - killed_at
    sent = emulator.send_text(USER, USER, "/remind in 3h standby bravo")
    emulator.wait_reply(USER, sent, timeout=30, contains="standby bravo")
    print(f"standby took over polling {takeover:.2f} s after kill -9")
    assert takeover < 5, f"the standby took {takeover:.1f} s to poll"
    assert "took over polling" in second.output

    # The poller's lock connection drops (a database restart, a network cut) and another process
    # takes the lock first: the poller notices within seconds and stops, exiting with an error.
    third: BotProcess = make_bot(start=False, database_url=postgres_url)
    launch(third, lambda: "standing by" in third.output, "the third bot to stand by", timeout=60)
    with _lock_taken_from(postgres_url, second.proc.pid):
        assert second.proc.wait(30) == 1
        assert "lost the polling lock" in second.output
        assert "took over polling" not in third.output  # the lock is the test's meanwhile
    emulator.wait_for(lambda: "took over polling" in third.output, 30, "the third to take over")
    sent = emulator.send_text(USER, USER, "/remind in 3h standby charlie")
    emulator.wait_reply(USER, sent, timeout=30, contains="standby charlie")


@contextmanager
def _lock_taken_from(postgres_url: str, pid: int) -> Iterator[None]:
    """End the lock connection of errandbot ``pid`` and take the polling lock in the same round
    trip (queued before anyone's next try); hold it for the block."""
    engine = sa.create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE application_name = 'errandbot-poller pid {int(pid)}'; "
                f"SELECT pg_advisory_lock({POLL_KEY})"
            )
            yield
    finally:
        engine.dispose()


def test_a_standby_on_sqlite_stops_cleanly_on_sigterm(
    emulator: BotApiEmulator, make_bot, tmp_path: Path
) -> None:
    shared = f"sqlite:///{tmp_path / 'shared.db'}"  # one database, two processes
    make_bot(database_url=shared)
    second: BotProcess = make_bot(start=False, database_url=shared)
    launch(second, lambda: "standing by" in second.output, "the second bot to stand by", timeout=60)
    assert "shared.db.poll-lock" in second.output
    took = second.terminate(timeout=15)
    assert took < 10 and second.proc.returncode == 0, second.output[-2000:]
    assert "stopped while standing by" in second.output
    # the first went on polling alone: no poll of its was ended by another
    assert [c for c in emulator.calls_of("getUpdates") if c.status == 409] == []
