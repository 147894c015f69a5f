"""The queue on the private PostgreSQL server (bot.work): a download deferred and withdrawn, the
sweep that gives a dead worker's jobs back and requeues rows that lost their job, the take-over
wording, and the queue lines of ``errandbot check``."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import sqlalchemy as sa
from procrastinate.jobs import Status

from bot import inbox
from bot.config import load_settings
from bot.downloads.reasons import Reason
from bot.downloads.resume import control_path
from bot.downloads.sharing import Withdrawn
from bot.health import run_checks
from bot.work import sweeps
from bot.work.downloads import TASK, SharedDownloads, lock_of, takeover_reason
from bot.work.queue import STALLED_AFTER, WorkQueue
from tests.work.conftest import add_job


def settings(postgres_url: str, tmp_path: Path):
    return load_settings(
        _env_file=None,
        bot_token="1:x",
        telegram_api_url="http://127.0.0.1:9",
        data_dir=tmp_path / "data",
        database_url=postgres_url,
    )


def statuses(postgres_url: str) -> list[tuple[str, str]]:
    engine = sa.create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            return [
                (row[0], row[1])
                for row in conn.execute(
                    sa.text("SELECT lock, status FROM procrastinate_jobs ORDER BY id")
                )
            ]
    finally:
        engine.dispose()


def queue_line(postgres_url: str, tmp_path: Path):
    [line] = [r for r in run_checks(settings(postgres_url, tmp_path)) if r.name == "queue"]
    return line


def test_deferred_download_waits_then_is_withdrawn(postgres_url, sessions, store, tmp_path) -> None:
    job_id = add_job(store)

    async def scenario() -> tuple[Withdrawn, Withdrawn]:
        work = WorkQueue(postgres_url, concurrency=2)
        shared = SharedDownloads(work, sessions, settings(postgres_url, tmp_path))
        await work.open()
        try:
            await shared.requeue(job_id)
            await shared.requeue(job_id)  # a second defer of a waiting job is a no-op
            assert statuses(postgres_url) == [(lock_of(job_id), "todo")]
            first = await asyncio.to_thread(shared.withdraw, job_id)
            again = await asyncio.to_thread(shared.withdraw, job_id)
            return first, again
        finally:
            await work.close()

    assert asyncio.run(scenario()) == (Withdrawn.WAITING, Withdrawn.UNKNOWN)
    assert statuses(postgres_url) == [(lock_of(job_id), "cancelled")]


def test_sweep_gives_back_a_dead_workers_job_and_requeues_orphans(
    postgres_url, sessions, store, tmp_path
) -> None:
    running = add_job(store)
    orphan = add_job(store)
    store.update(orphan, created_at=0.0)  # stored long ago, never queued (its front died)
    requeued: list[int] = []

    async def scenario() -> Status:
        work = WorkQueue(postgres_url, concurrency=2)
        shared = SharedDownloads(work, sessions, settings(postgres_url, tmp_path))

        async def requeue(job_id: int) -> None:
            requeued.append(job_id)
            await shared.requeue(job_id)

        sweeps.register(work, sessions, requeue, lambda: 0)
        await work.open()
        try:
            manager = work.app.job_manager
            await shared.requeue(running)
            dead = await manager.register_worker()
            job = await manager.fetch_job(queues=None, worker_id=dead)
            assert job is not None and job.task_name == TASK
            await work.app.connector.execute_query_async(
                "UPDATE procrastinate_workers SET last_heartbeat = now() - make_interval("
                "secs => %(back)s) WHERE id = %(id)s",
                back=STALLED_AFTER * 2,
                id=dead,
            )
            await work.app.tasks["errand.sweep"].func(0)
            assert job.id is not None
            return await manager.get_job_status_async(job.id)
        finally:
            await work.close()

    assert asyncio.run(scenario()) is Status.TODO  # back in the queue for another worker
    assert requeued == [orphan]
    assert sorted(statuses(postgres_url)) == sorted(
        [(lock_of(running), "todo"), (lock_of(orphan), "todo")]
    )


def test_takeover_says_resumed_only_with_the_partial_file_here(store, tmp_path) -> None:
    job = store.get(add_job(store))
    job.size, job.done_bytes = 1000, 250
    root = tmp_path / "downloads"
    assert takeover_reason(root, job).code is Reason.WORKER_LOST_RESTARTED
    part = root / job.folder / "f.bin.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"x" * 250)
    assert takeover_reason(root, job).code is Reason.WORKER_LOST_RESTARTED  # no resume record
    control_path(part).write_text("{}")
    why = takeover_reason(root, job)
    assert why.code is Reason.WORKER_LOST_RESUMED and why.params == {"percent": 25}


def test_check_reports_waiting_jobs_and_workers(postgres_url, sessions, store, tmp_path) -> None:
    empty = queue_line(postgres_url, tmp_path)
    assert empty.ok and empty.warning, empty.message
    assert "0 job(s) waiting, 0 running; 0 worker(s) seen" in empty.message
    assert "start errandbot worker" in empty.message

    async def defer_and_register() -> None:
        work = WorkQueue(postgres_url, concurrency=2)
        shared = SharedDownloads(work, sessions, settings(postgres_url, tmp_path))
        await work.open()
        try:
            await shared.requeue(add_job(store))
            await work.app.job_manager.register_worker()
        finally:
            await work.close()

    asyncio.run(defer_and_register())
    line = queue_line(postgres_url, tmp_path)
    assert line.ok and not line.warning, line.message
    assert line.message.startswith("1 job(s) waiting (the oldest for ")
    assert "1 worker(s) seen in the last 60 s" in line.message


def test_check_says_nothing_of_a_queue_on_sqlite(tmp_path) -> None:
    results = run_checks(settings("", tmp_path))
    assert "queue" not in [r.name for r in results]


def test_hourly_housekeeping_also_forgets_old_update_ids(postgres_url, sessions) -> None:
    """With PostgreSQL no front prunes the inbox on its own timer: the deployment's one hourly
    housekeeping task does (bot.work.sweeps), keeping the ids handled recently."""
    for request_id in (1, 2):
        assert inbox.store(sessions, request_id, "{}")
        inbox.finish(sessions, request_id)
    with sessions.begin() as session:  # id 1 was handled three days ago
        session.execute(
            sa.update(inbox.ReceivedRequest)
            .where(inbox.ReceivedRequest.request_id == 1)
            .values(handled_at=time.time() - 3 * 86400)
        )

    async def scenario() -> None:
        work = WorkQueue(postgres_url, concurrency=1)

        async def requeue(job_id: int) -> None:
            raise AssertionError("nothing to requeue")

        sweeps.register(work, sessions, requeue, lambda: 0)
        await work.open()
        try:
            await work.app.tasks["errand.download-retention"].func(0)
        finally:
            await work.close()

    asyncio.run(scenario())
    with sessions() as session:
        left = session.scalars(sa.select(inbox.ReceivedRequest.request_id)).all()
    assert left == [2]
