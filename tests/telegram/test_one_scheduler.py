"""One scheduler per process: download housekeeping, the inbox prune, rings and countdown edits
are all jobs on python-telegram-bot's JobQueue scheduler, and stopping the bot does not wait for a
ring that Telegram keeps refusing (it stays pending, rung at the next start).

The application is the real one (:func:`bot.telegram.app.build_application`), started in this
process against the Bot API emulator on loopback, without polling.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from apscheduler.schedulers.base import BaseScheduler

from bot.config import Settings, prepare_dirs
from bot.reminders.service import Owner
from bot.reminders.store import ReminderState
from bot.sandbox.emulator import DEFAULT_TOKEN, BotApiEmulator
from bot.telegram.app import build_application

USER = 42


@pytest.fixture
def emulator():
    with BotApiEmulator() as api:
        yield api


@pytest.fixture
def schedulers(monkeypatch) -> list[BaseScheduler]:
    """Every APScheduler constructed from now on (the library's class, counted, not replaced)."""
    made: list[BaseScheduler] = []
    original = BaseScheduler.__init__

    def counting(self, *args, **kwargs):
        made.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(BaseScheduler, "__init__", counting)
    return made


def _settings(tmp_path: Path, emulator: BotApiEmulator) -> Settings:
    settings = Settings(
        _env_file=None,
        bot_token=DEFAULT_TOKEN,
        data_dir=tmp_path,
        download_dir=tmp_path / "downloads",
        allowed_users=str(USER),
        telegram_api_url=emulator.url,
    )
    prepare_dirs(settings)
    return settings


async def _start(app) -> None:
    await app.initialize()
    await app.post_init(app)
    await app.start()


async def _stop(app) -> None:
    await app.stop()
    await app.post_stop(app)
    await app.shutdown()
    await app.post_shutdown(app)


def test_every_job_of_the_bot_is_on_the_job_queues_scheduler(
    tmp_path, emulator, schedulers
) -> None:
    app = build_application(_settings(tmp_path, emulator))
    services = app.bot_data["services"]

    async def scenario() -> set[str]:
        await _start(app)
        try:
            row = services.reminders.add_timer(Owner(chat_id=USER, user_id=USER), "1h tea")
            services.reminders.set_status_message(row.id, 1)
            row.status_message_id = 1
            services.reminder_notifier.schedule_tick(row)
            jobs = app.job_queue.scheduler.get_jobs()
            return {job.id for job in jobs} | {job.name for job in jobs}
        finally:
            await _stop(app)

    names = asyncio.run(scenario())
    assert schedulers == [app.job_queue.scheduler]  # the only scheduler the bot made
    assert services.reminders.scheduler is app.job_queue.scheduler
    assert services.reminder_notifier.alarms.scheduler is app.job_queue.scheduler
    # housekeeping and the inbox prune (JobQueue jobs) and a countdown edit, side by side (rings
    # are the ring loop's: no job per row, bot/reminders/ringing.py)
    assert {"download-housekeeping", "inbox-prune", "cd1"} <= names, names
    assert "t1" not in names


def test_stopping_does_not_wait_for_a_ring_telegram_keeps_refusing(tmp_path, emulator) -> None:
    """The JobQueue waits for running jobs when it stops; a ring retries until Telegram takes it.
    A ring is therefore a task its job starts, cancelled at stop, and the row stays pending."""
    app = build_application(_settings(tmp_path, emulator))
    services = app.bot_data["services"]
    emulator.add_fault("sendMessage", code=502, times=10_000)

    async def scenario() -> tuple[float, str]:
        await _start(app)
        try:
            row = services.reminders.add_timer(Owner(chat_id=USER, user_id=USER), "1 tea")
            await asyncio.to_thread(
                emulator.wait_for,
                lambda: (
                    sum(c.method == "sendMessage" and c.status == 502 for c in emulator.calls) >= 2
                ),
                30.0,
                "the ring to be refused twice",
            )
        finally:
            started = time.monotonic()
            await asyncio.wait_for(_stop(app), timeout=30)
        return time.monotonic() - started, services.reminders.get(row.id).state

    took, state = asyncio.run(scenario())
    assert state == ReminderState.PENDING  # not rung, not lost: it rings at the next start
    assert took < 15, f"stopping took {took:.1f}s"
