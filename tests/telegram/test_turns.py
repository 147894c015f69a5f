"""What makes several processes safe to take updates from one database (issue #16), each test on
a SQLite file and on the private PostgreSQL server where it applies. Two engines stand for two
processes: each has its own connections, as separate processes do.

- :func:`bot.inbox.receive` is atomic: one update stored at once through both engines is new to
  exactly one of them, pending to the others, and handled once marked;
- a chat's turn (:class:`bot.telegram.turns.ChatTurns`) excludes the other process for that chat
  only, and a dead holder's turn is free at once (its connection ended); the application holds
  turns across processes where the process role says the database is shared;
- the polling lock (:class:`bot.telegram.standby.PollingLock`) is held by one process; the other
  takes it when the first ends, and the first notices a lost lock.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from telegram.ext import ApplicationBuilder

from bot import inbox
from bot.config import Settings
from bot.storage import open_database
from bot.telegram.intake import ErrandApplication
from bot.telegram.services import Services
from bot.telegram.standby import PollingLock, who_polls
from bot.telegram.turns import ChatTurns
from bot.work.role import ProcessRole

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'errand.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def two(database_url: str) -> Iterator[tuple[tuple[sa.Engine, sessionmaker], ...]]:
    """Two engines on one database, as two processes have."""
    pair = (open_database(database_url), open_database(database_url))
    yield pair
    for engine, _ in pair:
        engine.dispose()


def terminate_lock_connections(engine: sa.Engine, name: str) -> int:
    """What ``kill -9`` of a process does to its lock connection: the server ends it."""
    with engine.connect() as conn:
        ended = conn.execute(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = :name"
            ),
            {"name": name},
        ).scalar()
    return int(ended or 0)


def test_receive_is_atomic_across_processes(two) -> None:
    receipts: list[inbox.Receipt] = []
    start = threading.Barrier(8)

    def receive(sessions: sessionmaker) -> None:
        start.wait(10)
        receipts.append(inbox.receive(sessions, 7001, '{"update_id": 7001}', 42))

    threads = [threading.Thread(target=receive, args=(two[n % 2][1],)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(receipts) == sorted([inbox.Receipt.NEW] + [inbox.Receipt.PENDING] * 7)
    inbox.finish(two[1][1], 7001)
    assert inbox.receive(two[0][1], 7001, "{}", 42) is inbox.Receipt.HANDLED


def test_earlier_unhandled_is_the_chats_own_older_requests(two) -> None:
    sessions = two[0][1]
    for request_id, chat in ((1, 42), (2, 43), (3, 42), (4, 42), (5, 42)):
        inbox.receive(sessions, request_id, f'{{"n": {request_id}}}', chat)
    inbox.finish(sessions, 3)
    assert [p.request_id for p in inbox.earlier_unhandled(two[1][1], 42, 5)] == [1, 4]
    assert [p.payload for p in inbox.earlier_unhandled(two[1][1], 42, 5)] == [
        '{"n": 1}',
        '{"n": 4}',
    ]
    assert inbox.earlier_unhandled(two[1][1], 43, 2) == []


def test_turns_in_one_process_go_in_the_order_asked() -> None:
    turns = ChatTurns()
    order: list[int] = []

    async def take(n: int, hold: asyncio.Event) -> None:
        async with turns.turn(42):
            order.append(n)
            await hold.wait()

    async def main() -> None:
        holds = [asyncio.Event() for _ in range(4)]
        tasks = [asyncio.create_task(take(n, holds[n])) for n in range(4)]
        for n in range(4):
            while len(order) <= n:
                await asyncio.sleep(0.01)
            assert order == list(range(n + 1))  # the later ones wait for this one
            holds[n].set()
        await asyncio.gather(*tasks)

    asyncio.run(asyncio.wait_for(main(), 10))
    assert len(turns._local) == 0  # nothing kept for chats without updates in flight


@pytest.mark.parametrize("shared_database", [False, True])
def test_the_application_shares_turns_where_the_process_role_says(
    tmp_path, shared_database: bool
) -> None:
    """As every feature decides (``services.role``), not by a second look at the engine."""
    engine, sessions = open_database(f"sqlite:///{tmp_path / 'errand.db'}")
    settings = Settings(_env_file=None, bot_token="123:abc", data_dir=tmp_path)
    role = ProcessRole(receives_updates=True, runs_work=True, shared_database=shared_database)
    app = ApplicationBuilder().token("123:abc").application_class(ErrandApplication).build()
    app.bot_data["services"] = Services(settings=settings, sessions=sessions, role=role)
    app.bot_data["engine"] = engine
    try:
        assert app.chat_turns.shared is shared_database
    finally:
        engine.dispose()


def test_a_chats_turn_excludes_the_other_process_until_its_holder_dies(postgres_url: str) -> None:
    engines = [open_database(postgres_url)[0] for _ in range(2)]
    first, second = ChatTurns(engines[0], "turns-first"), ChatTurns(engines[1], "turns-second")

    async def main() -> None:
        holding, release = asyncio.Event(), asyncio.Event()

        async def hold() -> None:
            async with first.turn(-100123):
                holding.set()
                await release.wait()

        holder = asyncio.create_task(hold())
        await holding.wait()
        async with second.turn(42):  # another chat: no wait
            pass
        theirs = second.turn(-100123)
        waiter = asyncio.create_task(theirs.__aenter__())
        done, _ = await asyncio.wait({waiter}, timeout=0.5)
        assert not done, "the second process took a chat's turn the first holds"
        # The first process dies (its lock connection ends): the turn is free at once.
        assert terminate_lock_connections(engines[1], "turns-first") == 1
        await asyncio.wait_for(waiter, 5)
        release.set()
        await holder  # its unlock finds the connection gone: nothing to release, no error
        await theirs.__aexit__(None, None, None)

    try:
        asyncio.run(main())
    finally:
        first.close()
        second.close()
        for engine in engines:
            engine.dispose()


def test_one_polling_lock_the_other_takes_it_when_the_first_ends(database_url: str) -> None:
    first, second = PollingLock(database_url), PollingLock(database_url)
    try:
        assert who_polls(database_url) is None
        assert first.try_take()
        holder = who_polls(database_url)
        assert holder is not None and ("errandbot-poller pid" in holder or "flock" in holder)
        assert not second.try_take()
        assert first.still_held()
        first.release()
        assert second.try_take()
        assert not first.try_take()
    finally:
        first.release()
        second.release()


def test_a_poller_notices_it_lost_the_lock(postgres_url: str) -> None:
    first, second = PollingLock(postgres_url), PollingLock(postgres_url)
    admin = sa.create_engine(postgres_url)
    try:
        assert first.try_take()
        ended = terminate_lock_connections(admin, first._locks.name)  # type: ignore[union-attr]
        assert ended == 1
        assert second.try_take()  # the standby's next try
        assert not first.still_held()  # and the first knows, so it stops polling
    finally:
        first.release()
        second.release()
        admin.dispose()
