"""``errandbot worker``: the bot without an updater, running downloads and rings until stopped.

It is built like ``errandbot run`` (:func:`bot.telegram.app.build_application`: the same Bot, send
queue, flood limits and services) but asks Telegram for no updates and serves no webhook; the
fronts do that. What it runs is whatever the features start where ``services.role.runs_work``.
The lifecycle is python-telegram-bot's, in its order: ``initialize``, ``post_init``, ``start``;
on SIGTERM or SIGINT ``stop``, ``post_stop``, ``shutdown``, ``post_shutdown``.
"""

from __future__ import annotations

import asyncio
import logging
import signal

from telegram.ext import Application

log = logging.getLogger(__name__)


async def serve_work(app: Application) -> None:
    """Run ``app`` (built without an updater) until SIGTERM or SIGINT, then stop it in order."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with app:  # initialize, and shutdown however the block ends
        if app.post_init:
            await app.post_init(app)
        await app.start()
        try:
            log.info("worker running; stop it with SIGTERM")
            await stop.wait()
            log.info("worker stopping")
        finally:
            await app.stop()
            if app.post_stop:
                await app.post_stop(app)
    if app.post_shutdown:
        await app.post_shutdown(app)
