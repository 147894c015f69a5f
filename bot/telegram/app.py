"""Build the python-telegram-bot :class:`~telegram.ext.Application` for Errand.

The application talks to ``{TELEGRAM_API_URL}/bot{token}/``, sends through the fair send queue
(:mod:`bot.telegram.send_queue`: Telegram's limits, chats taking turns, rings first, failed sends
retried by one policy), takes updates in through :mod:`bot.telegram.intake` (stored before they are
acknowledged, each handled once, a flooding chat limited to its own slots), registers the command
menu with ``setMyCommands`` and hands each feature module its :class:`Services`. Adding a feature
means adding its module to :data:`FEATURES`; nothing else here changes.
"""

from __future__ import annotations

import importlib
import time

from telegram.ext import Application, ApplicationBuilder

from bot.config import Settings
from bot.storage import open_database
from bot.telegram import texts
from bot.telegram.i18n import set_menus
from bot.telegram.intake import (
    ErrandApplication,
    PerChatUpdateProcessor,
    StoringQueue,
    replay_unhandled,
)
from bot.telegram.send_queue import FairRateLimiter
from bot.telegram.services import Services
from bot.work.role import Command, ProcessRole

#: Feature modules, each with ``register(app, services)``. ``i18n`` and ``basic`` first: they
#: choose the reply language and install the gate.
FEATURES: tuple[str, ...] = (
    "bot.telegram.i18n",  # the reply language of each update, before anything answers
    "bot.telegram.handlers.basic",
    "bot.telegram.handlers.lang",
    "bot.telegram.handlers.cancel",
    "bot.telegram.handlers.stats",
    "bot.telegram.handlers.reminders",
    "bot.telegram.handlers.downloads",
    "bot.telegram.handlers.chats",  # after the features whose rows it moves and pauses
    "bot.telegram.handlers.fallback",  # last: answers commands nobody else took
)


async def _post_init(app: Application) -> None:
    services: Services = app.bot_data["services"]
    available = app.bot_data["available_commands"]
    if services.role.receives_updates:  # a worker leaves the menu and the inbox to the front
        await set_menus(
            app, [(c.name, c.description) for c in texts.COMMANDS if c.name in available]
        )
    await services.run_startup(app)
    if services.role.receives_updates:
        await replay_unhandled(app)  # after the features started: their handlers need them


async def _post_stop(app: Application) -> None:
    await app.bot_data["services"].run_shutdown(app)


async def _post_shutdown(app: Application) -> None:
    app.bot_data["engine"].dispose()


def _available(app: Application) -> set[str]:
    names: set[str] = set()
    for handlers in app.handlers.values():
        for handler in handlers:
            names.update(getattr(handler, "commands", ()))
    return names


def build_application(settings: Settings, role: ProcessRole | None = None) -> Application:
    """A ready-to-run Application: handlers registered, database open, nothing started yet.

    ``role`` (default: ``errandbot run``'s) says what the process does; one that receives no
    updates (``errandbot worker``) is built without an updater: no getUpdates, no webhook, the
    same Bot, send queue and services otherwise.
    """
    if not settings.token:
        raise ValueError("BOT_TOKEN is required to build the application")
    role = role or ProcessRole.of(Command.RUN, settings)
    engine, sessions = open_database(settings.db_url)
    services = Services(settings=settings, sessions=sessions, started_at=time.time(), role=role)
    builder = ApplicationBuilder()
    if not role.receives_updates:
        builder = builder.updater(None)
    app = (
        builder.token(settings.token)
        .base_url(f"{settings.telegram_api_url}/bot")
        .base_file_url(f"{settings.telegram_api_url}/file/bot")
        .local_mode(settings.telegram_local_mode)  # files by path: see bot/telegram/upload.py
        .application_class(ErrandApplication)
        .update_queue(StoringQueue(sessions))
        .rate_limiter(FairRateLimiter())
        .concurrent_updates(PerChatUpdateProcessor())
        .post_init(_post_init)
        .post_stop(_post_stop)
        .post_shutdown(_post_shutdown)
        .build()
    )
    app.bot_data["services"] = services
    app.bot_data["engine"] = engine
    for name in FEATURES:
        importlib.import_module(name).register(app, services)
    app.bot_data["available_commands"] = _available(app)
    return app
